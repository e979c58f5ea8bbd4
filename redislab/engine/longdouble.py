"""x87 80-bit long double arithmetic, exact enough to print what Redis prints.

INCRBYFLOAT and HINCRBYFLOAT compute in C ``long double`` (a 64-bit significand on x86_64)
and print with ``%.17Lf``. Python floats have 53 bits, so ``10.5 + 0.1`` would print
``10.59999999999999964`` where Redis prints ``10.6``. Values here are exact fractions rounded
to 64 significant bits after every step, then printed by exact decimal rounding as glibc does.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

MANTISSA_BITS = 64
MAX_EXP = 16384  # values at or above 2**16384 overflow to infinity

_DEC_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_DEC_PARTS = re.compile(r"^([+-]?)(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?$")
_INF = float("inf")
# Half the smallest subnormal long double: strtold rounds anything this small to zero and
# reports ERANGE, which Redis treats as "not a float".
_UNDERFLOW = Fraction(1, 2**16446)
# Python refuses int <-> decimal string conversions beyond 4300 digits by default, but a
# long double can print with ~4950 digits; convert in chunks below that limit.
_CHUNK = 4000
_CHUNK_POW = 10**_CHUNK

LongDouble = Fraction | float  # a float only for +/-inf


def round_ld(value: Fraction) -> LongDouble:
    """Round an exact value to the nearest long double (ties to even)."""
    if value == 0:
        return Fraction(0)
    sign = -1 if value < 0 else 1
    v = abs(value)
    exp = v.numerator.bit_length() - v.denominator.bit_length()
    if Fraction(2) ** exp > v:
        exp -= 1
    # v is in [2**exp, 2**(exp+1)); keep MANTISSA_BITS significant bits.
    shift = MANTISSA_BITS - 1 - exp
    scaled = v * (Fraction(2) ** shift)
    q, r = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * r
    if twice > scaled.denominator or (twice == scaled.denominator and q & 1):
        q += 1
    result = Fraction(q) / (Fraction(2) ** shift)
    if result >= Fraction(2) ** MAX_EXP:
        return sign * _INF
    return sign * result


def parse_ld(data: bytes) -> LongDouble | None:
    """strtold as Redis's string2ld uses it; None for anything it rejects (and for NaN)."""
    if not data or len(data) > 5000 or data[:1].isspace() or data[-1:].isspace():
        return None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    low = text.lower().lstrip("+-")
    if low in ("inf", "infinity"):
        return -_INF if text.startswith("-") else _INF
    if low.startswith("0x"):
        try:
            f = float.fromhex(text if "p" in low else text + "p0")
        except ValueError:
            return None
        return Fraction(f) if not math.isinf(f) else f
    if not _DEC_RE.match(text):
        return None
    return _parse_decimal(text)


def _parse_decimal(text: str) -> LongDouble | None:
    """A decimal (already validated) rounded to a long double; None on overflow/underflow."""
    m = _DEC_PARTS.match(text)
    assert m is not None
    sign, int_part, frac_part, exp = m.groups()
    digits = (int_part + frac_part).lstrip("0")
    if not digits:
        return Fraction(0)
    if exp is not None and len(exp.lstrip("+-").lstrip("0")) > 6:
        return None  # |exponent| >= 10**6 with a nonzero mantissa: far out of range
    e10 = (int(exp) if exp else 0) - len(frac_part)
    magnitude = len(digits) + e10  # the value lies in [10**(magnitude-1), 10**magnitude)
    if magnitude > 4934 or magnitude < -4952:
        return None
    mant = _int_from_digits(digits)
    value = Fraction(mant * 10**e10) if e10 >= 0 else Fraction(mant, 10**-e10)
    result = round_ld(-value if sign == "-" else value)
    if isinstance(result, float) or abs(result) <= _UNDERFLOW:
        return None
    return result


def _int_from_digits(digits: str) -> int:
    if len(digits) <= _CHUNK:
        return int(digits)
    return _int_from_digits(digits[:-_CHUNK]) * _CHUNK_POW + int(digits[-_CHUNK:])


def _int_to_digits(n: int) -> str:
    if n < _CHUNK_POW:
        return str(n)
    high, low = divmod(n, _CHUNK_POW)
    return _int_to_digits(high) + str(low).rjust(_CHUNK, "0")


def add_ld(a: LongDouble, b: LongDouble) -> LongDouble:
    if isinstance(a, float) or isinstance(b, float):
        return float(a) + float(b)
    return round_ld(a + b)


def is_finite(value: LongDouble) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def format_ld_human(value: LongDouble) -> bytes:
    """``%.17Lf`` with trailing zeros (and a bare point) removed; ``-0`` becomes ``0``."""
    if isinstance(value, float):
        if math.isinf(value):
            return b"inf" if value > 0 else b"-inf"
        value = Fraction(value)
    neg = value < 0
    scaled = abs(value) * 10**17
    q, r = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * r
    if twice > scaled.denominator or (twice == scaled.denominator and q & 1):
        q += 1
    digits = _int_to_digits(q).rjust(18, "0")
    text = digits[:-17] + "." + digits[-17:]
    text = text.rstrip("0").rstrip(".")
    if neg and text != "0":
        text = "-" + text
    return text.encode()
