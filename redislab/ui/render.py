"""Reply values as redis-cli prints them: the interactive style and the ``--raw`` style.

A pure function of the reply, the protocol version the client speaks and the output mode, so
the REPL, ``redislab exec``, piped input and the lessons all print exactly what redis-cli
would print for the same reply (redis-cli.c cliFormatReplyTTY / cliFormatReplyRaw).

What the client sees depends on the protocol: a RESP2 client receives maps as flat arrays,
doubles and big numbers as bulk strings and booleans as integers, so those values are
downgraded first, as the RESP encoder does on the wire.
"""

from __future__ import annotations

import math
from typing import Any

from ..protocol.reply import (
    BigNumber, Bool, Double, ErrorReply, MapReply, Push, SetReply, Status, Verbatim, _NoReply,
    _NullArray,
)

__all__ = ["render", "quote_bulk", "format_double"]


def _escape_table() -> list[str]:
    """How each byte appears inside a quoted bulk string (sds.c sdscatrepr)."""
    table = []
    for b in range(256):
        c = chr(b)
        if c in '\\"':
            table.append("\\" + c)
        elif c == "\n":
            table.append("\\n")
        elif c == "\r":
            table.append("\\r")
        elif c == "\t":
            table.append("\\t")
        elif c == "\a":
            table.append("\\a")
        elif c == "\b":
            table.append("\\b")
        elif 0x20 <= b < 0x7F:
            table.append(c)
        else:
            # Anything outside printable ASCII, UTF-8 included, shows as hex bytes.
            table.append("\\x%02x" % b)
    return table


_ESCAPE = _escape_table()
_PLAIN = frozenset(range(0x20, 0x7F)) - {ord("\\"), ord('"')}


def quote_bulk(data: bytes) -> str:
    """A bulk string in double quotes with redis-cli's escapes: ``"a\\x00b"``."""
    if all(b in _PLAIN for b in data):
        return '"' + data.decode("ascii") + '"'
    esc = _ESCAPE
    return '"' + "".join([esc[b] for b in data]) + '"'


def format_double(value: float) -> str:
    """A double as Redis 7.0 writes it in replies (``%.17g``, ``inf``, ``-inf``, ``nan``)."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if math.isnan(value):
        return "nan"
    return "%.17g" % value


def _text(data: bytes) -> str:
    # Raw output writes the bytes unchanged; surrogateescape lets them round-trip to stdout.
    return data.decode("utf-8", "surrogateescape")


def _error_text(err: ErrorReply) -> str:
    # The wire cannot carry newlines inside an error line; the encoder turns them into spaces.
    return err.message.replace("\r", " ").replace("\n", " ")


# ------------------------------------------------------------------------------------------
# The wire shape a client sees

# Kinds after downgrading: each reply becomes (kind, payload).
_STATUS, _ERROR, _INT, _BULK, _NIL, _DOUBLE, _BOOL, _BIG, _VERB = range(9)
_ARRAY, _MAP, _SET, _PUSH = range(9, 13)


def _shape(reply: Any, resp3: bool) -> tuple[int, Any]:
    """Classify a reply as the client would receive it."""
    t = type(reply)
    if t is bytes:
        return _BULK, reply
    if t is int:
        return _INT, reply
    if reply is None:
        return _NIL, None
    if t is list:
        return _ARRAY, reply
    if t is Status:
        return _STATUS, str(reply)
    if isinstance(reply, ErrorReply):
        return _ERROR, _error_text(reply)
    if t is Double:
        return (_DOUBLE, format_double(reply)) if resp3 else (_BULK, format_double(reply).encode())
    if t is MapReply:
        if resp3:
            return _MAP, reply
        flat: list[Any] = []
        for k, v in reply:
            flat.append(k)
            flat.append(v)
        return _ARRAY, flat
    if t is SetReply:
        return (_SET if resp3 else _ARRAY), reply
    if t is Push:
        return (_PUSH if resp3 else _ARRAY), reply
    if t is Verbatim:
        return (_VERB if resp3 else _BULK), bytes(reply)
    if t is Bool:
        return (_BOOL, bool(reply)) if resp3 else (_INT, int(reply))
    if t is BigNumber:
        return (_BIG, str(int(reply))) if resp3 else (_BULK, str(int(reply)).encode())
    if t is _NullArray:
        return _NIL, None
    if t is bool:
        return _INT, int(reply)
    if isinstance(reply, (bytes, bytearray, memoryview)):
        return _BULK, bytes(reply)
    if isinstance(reply, int):
        return _INT, int(reply)
    if isinstance(reply, float):
        return _shape(Double(reply), resp3)
    if isinstance(reply, (list, tuple)):
        return _ARRAY, list(reply)
    if isinstance(reply, str):
        return _STATUS, reply
    raise TypeError(f"cannot render a reply of type {t.__name__}")


# ------------------------------------------------------------------------------------------
# Interactive style

_EMPTY = {_ARRAY: "(empty array)", _MAP: "(empty hash)", _SET: "(empty set)",
          _PUSH: "(empty push)"}
_SEPARATOR = {_ARRAY: ")", _MAP: "#", _SET: "~", _PUSH: ")"}


def _tty(reply: Any, resp3: bool, prefix: str, out: list[str]) -> None:
    kind, value = _shape(reply, resp3)
    if kind == _BULK:
        out.append(quote_bulk(value))
    elif kind == _INT:
        out.append(f"(integer) {value}")
    elif kind == _STATUS:
        out.append(value)
    elif kind == _NIL:
        out.append("(nil)")
    elif kind == _ERROR:
        out.append(f"(error) {value}")
    elif kind == _DOUBLE:
        out.append(f"(double) {value}")
    elif kind == _BOOL:
        out.append("(true)" if value else "(false)")
    elif kind == _BIG:
        out.append(f"(big number) {value}")
    elif kind == _VERB:
        out.append(_text(value))
    else:
        _tty_aggregate(kind, value, resp3, prefix, out)
        return
    out.append("\n")


def _tty_aggregate(kind: int, items: list[Any], resp3: bool, prefix: str,
                   out: list[str]) -> None:
    if not items:
        out.append(_EMPTY[kind] + "\n")
        return
    count = len(items)
    width = len(str(count))
    # Nested replies line up under the first character after "N) ".
    child_prefix = prefix + " " * (width + 2)
    sep = _SEPARATOR[kind]
    for i, item in enumerate(items):
        # The parent already wrote the prefix of our first line (its own "N) ").
        out.append(f"{prefix if i else ''}{i + 1:>{width}}{sep} ")
        if kind == _MAP:
            key, val = item
            _tty(key, resp3, child_prefix, out)
            out[-1] = out[-1][:-1] if out[-1].endswith("\n") else out[-1]
            out.append(" => ")
            value: list[str] = []
            _tty(val, resp3, child_prefix, value)
            text = "".join(value)
            if text.count("\n") > 1:
                # A value spanning lines starts on its own line, indented like the rest.
                out.append("\n" + child_prefix)
            out.append(text)
        else:
            _tty(item, resp3, child_prefix, out)


# ------------------------------------------------------------------------------------------
# Raw style

def _raw(reply: Any, resp3: bool, delim: str, out: list[str]) -> None:
    kind, value = _shape(reply, resp3)
    if kind == _BULK or kind == _VERB:
        out.append(_text(value))
    elif kind == _INT:
        out.append(str(value))
    elif kind == _STATUS or kind == _DOUBLE or kind == _BIG:
        out.append(value)
    elif kind == _NIL:
        pass
    elif kind == _ERROR:
        # redis-cli ends a raw error with its own newline, before the command delimiter.
        out.append(value + "\n")
    elif kind == _BOOL:
        out.append("(true)" if value else "(false)")
    elif kind == _MAP:
        for i, (k, v) in enumerate(value):
            if i:
                out.append(delim)
            _raw(k, resp3, delim, out)
            out.append(" ")
            _raw(v, resp3, delim, out)
    else:
        for i, item in enumerate(value):
            if i:
                out.append(delim)
            _raw(item, resp3, delim, out)


# ------------------------------------------------------------------------------------------

def render(reply: Any, *, resp: int = 2, raw: bool = False, delim: str = "\n") -> str:
    """The text redis-cli writes for ``reply``, including the final newline.

    Args:
        reply: a reply value (see :mod:`redislab.protocol.reply`).
        resp: the protocol the session speaks (2 or 3); decides how maps, doubles and
            booleans reach the client.
        raw: ``--raw`` output: no quotes, no type tags, one element per line.
        delim: the separator between aggregate elements in raw mode (redis-cli ``-d``).

    A command that sends no reply (``NO_REPLY``) renders as an empty string.
    """
    if isinstance(reply, _NoReply):
        return ""
    resp3 = resp >= 3
    out: list[str] = []
    if raw:
        _raw(reply, resp3, delim, out)
        out.append("\n")
    else:
        _tty(reply, resp3, "", out)
    return "".join(out)
