"""Conversions between command replies and Lua values, both ways, as Redis 7.0 does them.

Reply -> Lua (what ``redis.call`` returns) depends on the protocol the script selected with
``redis.setresp``; Lua -> reply (what a script returns) reads the table fields ``err``, ``ok``,
``double``, ``big_number``, ``verbatim_string``, ``map`` and ``set`` in that order. The sandbox
flattens a returned table into a compact text (serialize.lua) that :func:`decode_result` turns
back into reply values.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ...protocol.reply import (
    BigNumber,
    Bool,
    Double,
    ErrorReply,
    MapReply,
    Push,
    SetReply,
    Status,
    Verbatim,
    _NullArray,
)
from ...protocol.resp import format_double

INT64_MIN = -(1 << 63)


def c_number_to_int(x: Any) -> int:
    """Lua number -> integer reply: a C ``(long long)`` cast (INT64_MIN when out of range)."""
    if type(x) is int:
        return x if INT64_MIN <= x < (1 << 63) else INT64_MIN
    if x != x or x >= 9.223372036854775807e18 or x < -9.223372036854775808e18:
        return INT64_MIN
    return int(x)


def c_text(data: bytes) -> bytes:
    """A Lua string seen through ``lua_tostring`` + a C ``%s``: cut at the first NUL."""
    z = data.find(b"\0")
    return data if z < 0 else data[:z]


def lua_error_text(message: str) -> str:
    """luaPushErrorBuff on ``-<message>``: the first word is the code, ERR when there is none."""
    sp = message.find(" ")
    if sp < 0:
        code, msg = "ERR", message
    else:
        code, msg = message[:sp], message[sp + 1:]
    return code + " " + msg.strip("\r\n")


def format_arg(n: Any) -> bytes:
    """A Lua number passed to redis.call, formatted with ``%.17g``."""
    if type(n) is int and -(1 << 53) <= n <= (1 << 53):
        return b"%d" % n
    f = float(n)
    if f != f:
        return b"-nan" if math.copysign(1.0, f) < 0 else b"nan"
    if f == math.inf:
        return b"inf"
    if f == -math.inf:
        return b"-inf"
    return b"%.17g" % f


# ---------------------------------------------------------------------------------------------
# Reply -> Lua

def _status_bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _error_dict(e: ErrorReply) -> dict:
    return {b"err": lua_error_text(e.message).encode("utf-8", "surrogateescape"),
            b"ignore_error_stats_update": True}


def to_lua_value(reply: Any, resp3: bool) -> Any:
    """A reply value as plain Python data for ``table_from``: bytes, numbers, booleans,
    lists (arrays) and dicts with bytes keys (the special tables)."""
    t = type(reply)
    if t is bytes:
        return reply
    if t is int:
        return reply
    if reply is None or t is _NullArray:
        return None if resp3 else False
    if t is list or t is Push:
        return [to_lua_value(x, resp3) for x in reply]
    if t is Status:
        return {b"ok": _status_bytes(reply)}
    if isinstance(reply, ErrorReply):
        return _error_dict(reply)
    if t is Double or t is float:
        if resp3:
            return {b"double": float(reply)}
        return format_double(reply)
    if t is MapReply:
        if resp3:
            return {b"map": {_key(to_lua_value(k, resp3)): to_lua_value(v, resp3)
                             for k, v in reply}}
        flat: list[Any] = []
        for k, v in reply:
            flat.append(to_lua_value(k, resp3))
            flat.append(to_lua_value(v, resp3))
        return flat
    if t is SetReply:
        if resp3:
            return {b"set": {_key(to_lua_value(x, resp3)): True for x in reply}}
        return [to_lua_value(x, resp3) for x in reply]
    if t is Verbatim:
        if resp3:
            return {b"verbatim_string": {b"format": reply.fmt.encode(), b"string": bytes(reply)}}
        return bytes(reply)
    if t is Bool:
        return bool(reply) if resp3 else int(reply)
    if t is BigNumber:
        text = b"%d" % int(reply)
        return {b"big_number": text} if resp3 else text
    if t is bool:
        return bool(reply) if resp3 else int(reply)
    if isinstance(reply, (bytes, bytearray, memoryview)):
        return bytes(reply)
    if isinstance(reply, int):
        return int(reply)
    if isinstance(reply, str):
        return {b"ok": _status_bytes(reply)}
    if isinstance(reply, (list, tuple)):
        return [to_lua_value(x, resp3) for x in reply]
    return None if resp3 else False


def _key(k: Any) -> Any:
    # Python dict keys must be hashable (a nested array as a map key cannot be one), and Lua
    # refuses nil and NaN keys.
    if isinstance(k, (list, dict)):
        return repr(k).encode()
    if k is None or k != k:
        return b""
    return k


def estimated_size(reply: Any, limit: int) -> int:
    """A generous estimate of the Lua memory a reply needs, counting no further than limit."""
    total = 0
    stack = [reply]
    while stack and total <= limit:
        r = stack.pop()
        if isinstance(r, (bytes, bytearray, str)):
            total += len(r) + 64
        elif isinstance(r, list):
            total += 64 + 48 * len(r)
            for x in r:
                stack.append(x[0] if type(x) is tuple else x)
                if type(x) is tuple:
                    stack.append(x[1])
        else:
            total += 48
    return total


def reply_to_lua(reply: Any, resp3: bool, table_from: Callable[..., Any]) -> tuple:
    """What the redis.call callback hands back: (kind, value), see sandbox.lua ``rcall``."""
    t = type(reply)
    if t is bytes or t is int:
        return 0, reply
    if t is Status:
        return 1, _status_bytes(reply)
    if isinstance(reply, ErrorReply):
        return 2, lua_error_text(reply.message).encode("utf-8", "surrogateescape")
    value = to_lua_value(reply, resp3)
    if type(value) is list or type(value) is dict:
        return 0, table_from(value, recursive=True)
    return 0, value


# ---------------------------------------------------------------------------------------------
# Lua -> reply

def script_error(err: bytes | None, source: bytes | None, line: Any, name: str) -> ErrorReply:
    """A script that failed with an error table: ``-<err> script: <name>, on <source>:<line>.``"""
    if err is None:
        text = "ERR Error running script %s, the error object has no 'err' field" % name
        return ErrorReply(text)
    msg = c_text(err).decode("utf-8", "surrogateescape")
    if source is not None and line is not None:
        where = c_text(source).decode("utf-8", "surrogateescape")
        line_text = str(line) if not isinstance(line, float) else "%.14g" % line
        msg = "%s script: %s, on %s:%s." % (msg, name, where, line_text)
    return ErrorReply(msg.strip("\r\n"))


def run_failure(message: bytes | None, name: str) -> ErrorReply:
    """A non-table error (out of memory, error in error handling)."""
    text = "execution failure" if message is None else \
        c_text(message)[:100].decode("utf-8", "surrogateescape")
    return ErrorReply("ERR Error running script %s, %s" % (name, text))


def scalar_result(value: Any, script_resp3: bool) -> Any:
    t = type(value)
    if t is bytes:
        return value
    if t is bool:
        if script_resp3:
            return Bool(1 if value else 0)
        return 1 if value else None
    if t is int or t is float:
        return c_number_to_int(value)
    return None


def _reply_error(data: bytes) -> ErrorReply:
    text = c_text(data).rstrip(b"\r\n").decode("utf-8", "surrogateescape")
    return ErrorReply(text)


def _status(data: bytes) -> Status:
    return Status(c_text(data).decode("utf-8", "replace").replace("\r", " ").replace("\n", " "))


def decode_result(text: bytes, script_resp3: bool) -> Any:
    """Decode serialize.lua's output into a reply value."""
    pos = 0

    def item() -> Any:
        nonlocal pos
        tag = text[pos]
        colon = text.index(b":", pos + 1)
        n = int(text[pos + 1:colon])
        pos = colon + 1
        if tag == 36:  # '$'
            data = text[pos:pos + n]
            pos += n
            return data
        if tag == 42:  # '*'
            return [item() for _ in range(n)]
        if tag == 58:  # ':' number
            data = text[pos:pos + n]
            pos += n
            return c_number_to_int(float(data))
        if tag == 45:  # '-'
            data = text[pos:pos + n]
            pos += n
            return _reply_error(data)
        if tag == 43:  # '+'
            data = text[pos:pos + n]
            pos += n
            return _status(data)
        if tag == 44:  # ',' double
            data = text[pos:pos + n]
            pos += n
            return Double(float(data))
        if tag == 40:  # '(' big number
            data = text[pos:pos + n]
            pos += n
            return _big_number(data)
        if tag == 61:  # '=' verbatim: two strings follow
            fmt = item()
            body = item()
            shown = (c_text(fmt) + b"   ")[:3].decode("latin-1")
            return Verbatim(body, shown)
        if tag == 37:  # '%' map
            pairs = []
            for _ in range(n):
                k = item()
                pairs.append((k, item()))
            return MapReply(pairs)
        if tag == 126:  # '~' set
            return SetReply([item() for _ in range(n)])
        if tag == 84:  # 'T'
            return Bool(1) if script_resp3 else 1
        if tag == 70:  # 'F'
            return Bool(0) if script_resp3 else None
        if tag == 33:  # '!'
            return ErrorReply("ERR reached lua stack limit")
        return None

    return item()


def _big_number(data: bytes) -> Any:
    try:
        value = int(data)
    except ValueError:
        return data
    if b"%d" % value != data:
        return data
    return BigNumber(value)


__all__ = ["reply_to_lua", "decode_result", "scalar_result", "script_error", "run_failure",
           "format_arg", "lua_error_text", "c_number_to_int"]
