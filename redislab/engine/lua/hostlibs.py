"""Script libraries computed on the host: bit, struct, msgpack floats and Redis's random.

Lua 5.1 has no integer or bit access to its numbers, so the parts of LuaBitOp, the struct
library and lua-cmsgpack that need the bits of a number are done here, following the C code's
casts exactly (doubles rounded with the 2^52+2^51 trick, C truncation, 64-bit wrap-around).
Every function returns plain values; errors come back as tuples the sandbox turns into Lua
errors, because an exception must never travel into the Lua state.
"""

from __future__ import annotations

import math
import re
import struct as _struct
from typing import Any

from lupa import lua51

_U64 = (1 << 64) - 1
_lua_type = lua51.lua_type

# ---------------------------------------------------------------------------------------------
# C conversions


def c_int64(x: float) -> int:
    """``(long long)x`` on x86-64: truncation, INT64_MIN for NaN and out-of-range values."""
    if isinstance(x, int):
        return x if -(1 << 63) <= x < (1 << 63) else -(1 << 63)
    if x != x or x >= 9.223372036854775807e18 or x < -9.223372036854775808e18:
        return -(1 << 63)
    return int(x)


def c_uint64(x: float) -> int:
    """``(unsigned long)x`` as gcc compiles it on x86-64."""
    if x != x:
        return 0
    if x < 9.223372036854775807e18:
        return c_int64(x) & _U64
    return (c_int64(x - 9.223372036854775808e18) ^ (1 << 63)) & _U64


def c_int32(x: float) -> int:
    """``(int)(lua_Integer)x``: luaL_checkint."""
    v = c_int64(x) & 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


_STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)"
    rb"(?:[pP][+-]?[0-9]+)?|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    rb"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?))"
    rb"[ \t\n\v\f\r]*")


def lua_str2number(data: bytes) -> float | None:
    """Lua 5.1's string-to-number conversion (strtod, surrounding spaces allowed)."""
    m = _STRTOD.fullmatch(data)
    if m is None:
        return None
    text = m.group(1)
    body = text.lstrip(b"+-")
    neg = text.startswith(b"-")
    low = body.lower()
    if low.startswith(b"0x"):
        value = float.fromhex(body.decode())
    elif low.startswith(b"inf"):
        value = math.inf
    elif low.startswith(b"nan"):
        value = math.nan
    else:
        value = float(body)
    return -value if neg else value


def tonumber(v: Any) -> float | int | None:
    """lua_tonumber for a value as it reaches the host: numbers and numeric strings."""
    t = type(v)
    if t is int or t is float:
        return v
    if t is bytes:
        return lua_str2number(v)
    return None


def type_name(v: Any, present: bool = True) -> str:
    """lua_typename of a value the host received (``no value`` when the argument is absent)."""
    if not present:
        return "no value"
    if v is None:
        return "nil"
    t = type(v)
    if t is bool:
        return "boolean"
    if t is bytes:
        return "string"
    if t is int or t is float:
        return "number"
    name = _lua_type(v)
    return name or "userdata"


class ArgError(Exception):
    """luaL_argerror: raised inside these helpers, returned to the sandbox as a tuple."""

    def __init__(self, narg: int, message: str) -> None:
        super().__init__(message)
        self.narg = narg
        self.message = message


class LuaFail(Exception):
    """luaL_error: the message gets the caller's position in the sandbox."""


def _check_number(args: tuple, i: int) -> float:
    v = args[i - 1] if i <= len(args) else None
    n = tonumber(v)
    if n is None:
        raise ArgError(i, "number expected, got " + type_name(v, i <= len(args)))
    return n


def _check_string(args: tuple, i: int) -> bytes:
    v = args[i - 1] if i <= len(args) else None
    t = type(v)
    if t is bytes:
        return v
    if t is int or t is float:
        return lua_number_text(v)
    raise ArgError(i, "string expected, got " + type_name(v, i <= len(args)))


def lua_number_text(n: float) -> bytes:
    """lua_tostring of a number: ``%.14g``."""
    if isinstance(n, int) and -(10**14) < n < 10**14:
        return b"%d" % n
    f = float(n)
    if f != f:
        return b"-nan" if math.copysign(1.0, f) < 0 else b"nan"
    if math.isinf(f):
        return b"inf" if f > 0 else b"-inf"
    return (b"%.14g" % f)


def protect(fn):  # type: ignore[no-untyped-def]
    """Run ``fn`` and turn any failure into the sandbox's error tuples; never raise."""

    def wrapper(*args: Any) -> Any:
        try:
            return (0,) + fn(*args)
        except ArgError as e:
            return (2, e.narg, e.message.encode("utf-8", "surrogateescape"))
        except LuaFail as e:
            return (1, str(e).encode("utf-8", "surrogateescape"))
        except Exception as e:  # a bug here must not become a Lua-visible object
            return (1, f"internal error: {type(e).__name__}".encode())

    return wrapper


# ---------------------------------------------------------------------------------------------
# bit (LuaBitOp 1.0)

def tobit(x: float) -> int:
    """LuaBitOp's barg: add 2^52+2^51 and keep the low 32 bits of the double."""
    if isinstance(x, int) and -(1 << 51) <= x < (1 << 51):
        return x & 0xFFFFFFFF
    try:
        bits = _struct.unpack("<Q", _struct.pack("<d", float(x) + 6755399441055744.0))[0]
    except OverflowError:
        bits = _struct.unpack("<Q", _struct.pack("<d", math.inf if x > 0 else -math.inf))[0]
    return bits & 0xFFFFFFFF


def _signed(b: int) -> int:
    b &= 0xFFFFFFFF
    return b - (1 << 32) if b & 0x80000000 else b


def bit_op(op: bytes, *args: float) -> Any:
    """One LuaBitOp function on already checked numbers; returns a Lua number or string."""
    try:
        if op == b"band":
            b = tobit(args[0])
            for a in args[1:]:
                b &= tobit(a)
            return _signed(b)
        if op == b"bor":
            b = tobit(args[0])
            for a in args[1:]:
                b |= tobit(a)
            return _signed(b)
        if op == b"bxor":
            b = tobit(args[0])
            for a in args[1:]:
                b ^= tobit(a)
            return _signed(b)
        if op == b"tobit":
            return _signed(tobit(args[0]))
        if op == b"bnot":
            return _signed(~tobit(args[0]))
        if op == b"bswap":
            b = tobit(args[0])
            return _signed(int.from_bytes(b.to_bytes(4, "little"), "big"))
        if op == b"tohex":
            b = tobit(args[0])
            n = 8 if len(args) < 2 else _signed(tobit(args[1]))
            digits = "0123456789abcdef"
            if n == -(1 << 31):
                n = -(1 << 31) + 1
            if n < 0:
                n = -n
                digits = digits.upper()
            n = min(n, 8)
            out = []
            for _ in range(n):
                out.append(digits[b & 15])
                b >>= 4
            return "".join(reversed(out)).encode()
        b, n = tobit(args[0]), tobit(args[1]) & 31
        if op == b"lshift":
            return _signed(b << n)
        if op == b"rshift":
            return _signed(b >> n)
        if op == b"arshift":
            return _signed(_signed(b) >> n)
        if op == b"rol":
            return _signed((b << n) | (b >> ((32 - n) & 31))) if n else _signed(b)
        if op == b"ror":
            return _signed((b >> n) | (b << ((32 - n) & 31))) if n else _signed(b)
    except Exception:
        return 0
    return 0


# ---------------------------------------------------------------------------------------------
# struct (Roberto Ierusalimschy's struct library as Redis 7.0 ships it)

_MAXINTSIZE = 32
_MAXALIGN = 8
_INT_MAX = 2**31 - 1
_SIZES = {ord("b"): 1, ord("B"): 1, ord("h"): 2, ord("H"): 2, ord("l"): 8, ord("L"): 8,
          ord("T"): 8, ord("f"): 4, ord("d"): 8, ord("x"): 1}
_INTEGERS = frozenset(b"bBhHlLTiI")


def _isp2(x: int) -> bool:
    return x > 0 and (x & (x - 1)) == 0


class _Fmt:
    __slots__ = ("fmt", "at", "little", "align")

    def __init__(self, fmt: bytes) -> None:
        z = fmt.find(b"\0")
        self.fmt = fmt if z < 0 else fmt[:z]
        self.at = 0
        self.little = True
        self.align = 1

    def getnum(self, default: int) -> int:
        fmt = self.fmt
        if self.at >= len(fmt) or not (48 <= fmt[self.at] <= 57):
            return default
        a = 0
        while self.at < len(fmt) and 48 <= fmt[self.at] <= 57:
            d = fmt[self.at] - 48
            if a > _INT_MAX // 10 or a * 10 > _INT_MAX - d:
                raise LuaFail("integral size overflow")
            a = a * 10 + d
            self.at += 1
        return a

    def optsize(self, opt: int) -> int:
        size = _SIZES.get(opt)
        if size is not None:
            return size
        if opt == 99:  # 'c'
            return self.getnum(1)
        if opt in (105, 73):  # 'i', 'I'
            sz = self.getnum(4)
            if sz > _MAXINTSIZE:
                raise LuaFail(f"integral size {sz} is larger than limit of {_MAXINTSIZE}")
            return sz
        return 0

    def toalign(self, length: int, opt: int, size: int) -> int:
        if size == 0 or opt == 99:
            return 0
        if size > self.align:
            size = self.align
        return (size - (length & (size - 1))) & (size - 1)

    def control(self, opt: int) -> None:
        if opt == 32:
            return
        if opt == 62:  # '>'
            self.little = False
        elif opt == 60:  # '<'
            self.little = True
        elif opt == 33:  # '!'
            a = self.getnum(_MAXALIGN)
            if not _isp2(a):
                raise LuaFail(f"alignment {a} is not a power of 2")
            self.align = a
        else:
            raise ArgError(1, "invalid format option '%s'" % chr(opt))


def _putinteger(n: float, size: int, little: bool) -> bytes:
    value = c_int64(n) & _U64 if n < 0 else c_uint64(n)
    out = bytearray(size)
    for i in range(size):
        out[i] = value & 0xFF
        value >>= 8
    if not little:
        out.reverse()
    return bytes(out)


def _getinteger(data: bytes, little: bool, signed: bool, size: int) -> float:
    raw = data if not little else data[::-1]
    value = 0
    for byte in raw:
        value = ((value << 8) | byte) & _U64
    if signed:
        shift = (size * 8 - 1) & 63
        mask = (_U64 << shift) & _U64
        if value & mask:
            value |= mask
        if value & (1 << 63):
            value -= 1 << 64
    return float(value)


def struct_pack(*args: Any) -> tuple:
    f = _Fmt(_check_string(args, 1))
    out = bytearray()
    arg = 2
    total = 0
    fmt = f.fmt
    while f.at < len(fmt):
        opt = fmt[f.at]
        f.at += 1
        size = f.optsize(opt)
        pad = f.toalign(total, opt, size)
        total += pad
        out += b"\0" * pad
        if opt in _INTEGERS:
            n = _check_number(args, arg)
            arg += 1
            out += _putinteger(n, size, f.little)
        elif opt == 120:  # 'x'
            out += b"\0"
        elif opt == 102:  # 'f'
            n = float(_check_number(args, arg))
            arg += 1
            try:
                out += _struct.pack("<f" if f.little else ">f", n)
            except OverflowError:
                out += _struct.pack("<f" if f.little else ">f", math.copysign(math.inf, n))
        elif opt == 100:  # 'd'
            n = float(_check_number(args, arg))
            arg += 1
            out += _struct.pack("<d" if f.little else ">d", n)
        elif opt in (99, 115):  # 'c', 's'
            s = _check_string(args, arg)
            arg += 1
            if size == 0:
                size = len(s)
            if len(s) < size:
                raise ArgError(arg, "string too short")
            out += s[:size]
            if opt == 115:
                out += b"\0"
                size += 1
        else:
            f.control(opt)
        total += size
    return (bytes(out),)


def struct_unpack(*args: Any) -> tuple:
    f = _Fmt(_check_string(args, 1))
    data = _check_string(args, 2)
    ld = len(data)
    pos = 1
    if len(args) >= 3 and args[2] is not None:
        pos = c_int64(_check_number(args, 3)) & _U64
    if pos == 0:
        raise ArgError(3, "offset must be 1 or greater")
    pos -= 1
    results: list[Any] = []
    fmt = f.fmt
    while f.at < len(fmt):
        opt = fmt[f.at]
        f.at += 1
        size = f.optsize(opt)
        pos += f.toalign(pos, opt, size)
        if not (size <= ld and pos <= ld - size):
            raise ArgError(2, "data string too short")
        if len(results) + len(args) + 2 > 8000:
            raise LuaFail("stack overflow (too many results)")
        if opt in _INTEGERS:
            results.append(_getinteger(data[pos:pos + size], f.little, opt in b"bhli", size))
        elif opt == 120:
            pass
        elif opt == 102:
            results.append(_struct.unpack("<f" if f.little else ">f", data[pos:pos + 4])[0])
        elif opt == 100:
            results.append(_struct.unpack("<d" if f.little else ">d", data[pos:pos + 8])[0])
        elif opt == 99:
            if size == 0:
                prev = results[-1] if results else None
                n = tonumber(prev) if results else None
                if n is None:
                    raise LuaFail("format 'c0' needs a previous size")
                results.pop()
                size = c_uint64(n)
                if not (size <= ld and pos <= ld - size):
                    raise ArgError(2, "data string too short")
            results.append(data[pos:pos + size])
        elif opt == 115:
            end = data.find(b"\0", pos)
            if end < 0:
                raise LuaFail("unfinished string in data")
            size = end - pos + 1
            results.append(data[pos:end])
        else:
            f.control(opt)
        pos += size
    results.append(pos + 1)
    return tuple(_lua_number(r) for r in results)


def _lua_number(v: Any) -> Any:
    # Whole floats travel as ints so that Lua sees the same number either way.
    if type(v) is float and v.is_integer() and abs(v) < 2**63:
        return int(v)
    return v


def struct_size(*args: Any) -> tuple:
    f = _Fmt(_check_string(args, 1))
    pos = 0
    fmt = f.fmt
    while f.at < len(fmt):
        opt = fmt[f.at]
        f.at += 1
        size = f.optsize(opt)
        pos += f.toalign(pos, opt, size)
        if opt == 115:
            raise ArgError(1, "option 's' has no fixed size")
        if opt == 99 and size == 0:
            raise ArgError(1, "option 'c0' has no fixed size")
        if not (48 <= opt <= 57 or 65 <= opt <= 90 or 97 <= opt <= 122):
            f.control(opt)
        pos += size
    return (pos,)


_STRUCT = {b"pack": protect(struct_pack), b"unpack": protect(struct_unpack),
           b"size": protect(struct_size)}


def struct_call(op: bytes, *args: Any) -> tuple:
    return _STRUCT[op](*args)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# cmsgpack floats

def pack_float(n: float) -> bytes:
    """mp_encode_double: a float when it converts back exactly, else a double."""
    d = float(n)
    try:
        f = _struct.unpack(">f", _struct.pack(">f", d))[0]
    except OverflowError:
        f = None
    if f is not None and f == d:
        return b"\xca" + _struct.pack(">f", d)
    return b"\xcb" + _struct.pack(">d", d)


def unpack_float(data: bytes) -> float:
    if len(data) == 4:
        return _lua_number(_struct.unpack(">f", data)[0])  # type: ignore[no-any-return]
    return _lua_number(_struct.unpack(">d", data)[0])  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# math.random: Redis's lrand48 clone, one state per engine

class Rand48:
    """The 48-bit linear congruential generator behind Redis's math.random."""

    MAX = 2147483647  # REDIS_LRAND48_MAX = INT32_MAX

    def __init__(self) -> None:
        self.x = 0x1234ABCD330E

    def seed(self, value: int) -> None:
        v = value & 0xFFFFFFFF
        self.x = (v << 16) | 0x330E

    def next(self) -> int:
        self.x = (0x5DEECE66D * self.x + 0xB) & 0xFFFFFFFFFFFF
        return self.x >> 17

    def random(self, *args: Any) -> tuple:
        """math.random with C's behaviour: the number is drawn before the arguments are checked."""
        r = (self.next() % self.MAX) / self.MAX
        n = len(args)
        if n == 0:
            return (_lua_number(r),)
        if n == 1:
            u = c_int32(_check_number(args, 1))
            if not 1 <= u:
                raise ArgError(1, "interval is empty")
            return (_lua_number(math.floor(r * u) + 1),)
        if n == 2:
            lo = c_int32(_check_number(args, 1))
            hi = c_int32(_check_number(args, 2))
            if not lo <= hi:
                raise ArgError(2, "interval is empty")
            span = c_int32(hi - lo + 1)
            return (_lua_number(math.floor(r * span) + lo),)
        raise LuaFail("wrong number of arguments")

    def randomseed(self, *args: Any) -> tuple:
        self.seed(c_int32(_check_number(args, 1)))
        return ()
