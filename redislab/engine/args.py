"""Argument parsing helpers with Redis's exact error texts (util.c string2ll, string2ld ...).

Handlers read ``argv`` (a list of bytes) directly for the fixed part of a command and use these
helpers for numbers and option lists, so that every command words a bad argument the same way.
"""

from __future__ import annotations

import math
import re

from ..protocol.reply import ErrorReply
from . import errors

LLONG_MIN = -(2**63)
LLONG_MAX = 2**63 - 1

NOT_INTEGER = ErrorReply(errors.NOT_INTEGER)
NOT_FLOAT = ErrorReply(errors.NOT_FLOAT)
SYNTAX = ErrorReply(errors.SYNTAX)
OUT_OF_RANGE = ErrorReply(errors.OUT_OF_RANGE)

_FLOAT_RE = re.compile(rb"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)$",
                       re.IGNORECASE)
_HEXFLOAT_RE = re.compile(rb"^[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)"
                          rb"(?:[pP][+-]?\d+)?$")


def parse_int(data: bytes) -> int | None:
    """string2ll: a strictly formatted signed 64-bit integer, or None."""
    n = len(data)
    if n == 0 or n > 20:
        return None
    c = data[0]
    if c == 0x2D:
        if n == 1 or data[1] == 0x30:
            return None
        if not data[1:].isdigit():
            return None
    else:
        if not data.isdigit():
            return None
        if c == 0x30 and n > 1:
            return None
    v = int(data)
    if v < LLONG_MIN or v > LLONG_MAX:
        return None
    return v


def to_int(data: bytes, error: ErrorReply = NOT_INTEGER) -> int:
    """A 64-bit integer argument, or raise ``ERR value is not an integer or out of range``."""
    v = parse_int(data)
    if v is None:
        raise error
    return v


def to_nonneg_int(data: bytes, error: ErrorReply = OUT_OF_RANGE) -> int:
    """getPositiveLongFromObjectOrReply: a non-negative integer."""
    v = parse_int(data)
    if v is None:
        raise NOT_INTEGER
    if v < 0:
        raise error
    return v


def parse_float(data: bytes, allow_nan: bool = False) -> float | None:
    """strtod as Redis uses it (string2ld/string2d): no spaces, no empty string.

    Accepts ``inf``, ``-inf``, ``+inf`` and hex floats like strtod; NaN is refused unless
    ``allow_nan``.
    """
    if not data or len(data) > 5000:
        return None
    if data[0] in b" \t\n\r\v\f" or data[-1] in b" \t\n\r\v\f":
        return None
    if _FLOAT_RE.match(data):
        try:
            v = float(data)
        except ValueError:
            return None
    elif _HEXFLOAT_RE.match(data):
        text = data.decode()
        if "p" not in text.lower():
            text += "p0"
        try:
            v = float.fromhex(text)
        except (ValueError, OverflowError):
            # strtod reports ERANGE for hex floats beyond a double: not a valid float.
            return None
    else:
        return None
    if math.isnan(v) and not allow_nan:
        return None
    return v


def to_float(data: bytes, error: ErrorReply = NOT_FLOAT) -> float:
    v = parse_float(data)
    if v is None:
        raise error
    return v


def format_float(value: float) -> bytes:
    """Format a score or float result as Redis does for replies (%.17g, inf, -inf)."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return b"%.17g" % value


def format_long_double(value: float) -> bytes:
    """INCRBYFLOAT's output: ``%.17Lf`` trimmed of trailing zeros (humanfriendly mode)."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    text = "%.17f" % value
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.encode()


def upper(data: bytes) -> bytes:
    return data.upper()


class Options:
    """Walks optional trailing arguments: ``for tok in opts: if tok == b"NX": ...``."""

    __slots__ = ("argv", "i")

    def __init__(self, argv: list[bytes], start: int) -> None:
        self.argv = argv
        self.i = start

    def __iter__(self) -> "Options":
        return self

    def __next__(self) -> bytes:
        if self.i >= len(self.argv):
            raise StopIteration
        tok = self.argv[self.i].upper()
        self.i += 1
        return tok

    def has_next(self) -> bool:
        return self.i < len(self.argv)

    def value(self) -> bytes:
        """The argument after an option token, or ``ERR syntax error`` if there is none."""
        if self.i >= len(self.argv):
            raise SYNTAX
        v = self.argv[self.i]
        self.i += 1
        return v

    def int_value(self, error: ErrorReply = NOT_INTEGER) -> int:
        return to_int(self.value(), error)


def parse_timeout(data: bytes, now_ms: int, seconds: bool) -> int:
    """getTimeoutFromObjectOrReply: an absolute deadline in ms, or 0 for "wait forever".

    Seconds may be fractional (BLPOP ... 0.5); milliseconds must be an integer (XREAD BLOCK).
    """
    if seconds:
        from .longdouble import parse_ld

        value = parse_ld(data)
        if value is None:
            raise ErrorReply("ERR timeout is not a float or out of range")
        # C's (long long) cast of an out-of-range double gives LLONG_MIN on x86_64, which
        # Redis then reports as a negative timeout.
        ms = LLONG_MIN if isinstance(value, float) else int(value * 1000)
        if not LLONG_MIN <= ms <= LLONG_MAX:
            ms = LLONG_MIN
    else:
        v = parse_int(data)
        if v is None:
            raise ErrorReply("ERR timeout is not an integer or out of range")
        ms = v
    if ms < 0:
        raise ErrorReply("ERR timeout is negative")
    if ms > 0:
        if ms > LLONG_MAX - now_ms:
            raise ErrorReply("ERR timeout is out of range")
        ms += now_ms
    return ms
