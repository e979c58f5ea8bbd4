"""RESP2/RESP3 codec: reply encoding, request parsing and reply parsing, all incremental.

Request parsing follows what redis-server accepts from a client (networking.c): multibulk
frames and inline commands, with Redis's exact protocol error texts. Errors are raised as
:class:`ProtocolError`; a server answers ``-ERR <text>`` and closes the connection.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

from .reply import (
    NULL_ARRAY,
    BigNumber,
    Bool,
    Double,
    ErrorReply,
    MapReply,
    Push,
    SetReply,
    Status,
    Verbatim,
    _NoReply,
    _NullArray,
)

INLINE_MAX = 64 * 1024
INT_MAX = 2**31 - 1


class ProtocolError(Exception):
    """Malformed input on the wire. ``str(e)`` is Redis's text without the ``ERR`` prefix."""


# --------------------------------------------------------------------------------------------
# Encoding

def format_double(value: float) -> bytes:
    """Format a double as Redis does in replies (``%.17g``, with inf/-inf/nan spelled out)."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    if math.isnan(value):
        return b"nan"
    text = "%.17g" % value
    return text.encode()


def encode(reply: Any, resp3: bool = False) -> bytes:
    """Encode one reply value for a RESP2 or RESP3 client."""
    out: list[bytes] = []
    _encode_into(reply, resp3, out)
    return b"".join(out)


def _encode_into(reply: Any, resp3: bool, out: list[bytes]) -> None:
    t = type(reply)
    if t is bytes:
        out.append(b"$%d\r\n%s\r\n" % (len(reply), reply))
    elif t is int:
        out.append(b":%d\r\n" % reply)
    elif reply is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif t is list:
        out.append(b"*%d\r\n" % len(reply))
        for item in reply:
            _encode_into(item, resp3, out)
    elif t is Status:
        out.append(b"+%s\r\n" % reply.encode("utf-8", "surrogateescape"))
    elif isinstance(reply, ErrorReply):
        msg = reply.message.replace("\r", " ").replace("\n", " ")
        out.append(b"-%s\r\n" % msg.encode("utf-8", "surrogateescape"))
    elif t is Double:
        text = reply.text or format_double(reply)
        if resp3:
            out.append(b",%s\r\n" % text)
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(text), text))
    elif t is MapReply:
        if resp3:
            out.append(b"%%%d\r\n" % len(reply))
            for k, v in reply:
                _encode_into(k, resp3, out)
                _encode_into(v, resp3, out)
        else:
            out.append(b"*%d\r\n" % (2 * len(reply)))
            for k, v in reply:
                _encode_into(k, resp3, out)
                _encode_into(v, resp3, out)
    elif t is SetReply:
        out.append(b"%s%d\r\n" % (b"~" if resp3 else b"*", len(reply)))
        for item in reply:
            _encode_into(item, resp3, out)
    elif t is Push:
        out.append(b"%s%d\r\n" % (b">" if resp3 else b"*", len(reply)))
        for item in reply:
            _encode_into(item, resp3, out)
    elif t is Verbatim:
        if resp3:
            body = reply.fmt.encode() + b":" + bytes(reply)
            out.append(b"=%d\r\n%s\r\n" % (len(body), body))
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(reply), bytes(reply)))
    elif t is Bool:
        if resp3:
            out.append(b"#t\r\n" if reply else b"#f\r\n")
        else:
            out.append(b":%d\r\n" % int(reply))
    elif t is BigNumber:
        text = b"%d" % int(reply)
        out.append(b"(%s\r\n" % text if resp3 else b"$%d\r\n%s\r\n" % (len(text), text))
    elif t is _NullArray:
        out.append(b"_\r\n" if resp3 else b"*-1\r\n")
    elif t is _NoReply:
        pass
    elif t is bool:
        out.append(b":%d\r\n" % int(reply))
    elif isinstance(reply, (bytes, bytearray, memoryview)):
        data = bytes(reply)
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    elif isinstance(reply, int):
        out.append(b":%d\r\n" % int(reply))
    elif isinstance(reply, (list, tuple)):
        out.append(b"*%d\r\n" % len(reply))
        for item in reply:
            _encode_into(item, resp3, out)
    elif isinstance(reply, str):
        out.append(b"+%s\r\n" % reply.encode())
    elif isinstance(reply, float):
        _encode_into(Double(reply), resp3, out)
    else:
        raise TypeError(f"cannot encode reply of type {t.__name__}")


def encode_command(*args: bytes | str | int | float) -> bytes:
    """Encode a command as a multibulk request (what clients send and the AOF stores)."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, (int, float)):
            a = repr(a).encode() if isinstance(a, float) else b"%d" % a
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


# --------------------------------------------------------------------------------------------
# Quoting as redis-cli and inline commands parse it (sds.c sdssplitargs)

_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("a"): b"\a"}
_SPACE = b" \n\r\t\v\f"
_HEX = b"0123456789abcdefABCDEF"


def split_args(line: bytes | str) -> list[bytes] | None:
    """Split a command line into arguments with redis-cli's quoting rules.

    Returns ``None`` for unbalanced quotes, as sdssplitargs does.
    """
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogateescape")
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if (c == 0x5C and i + 3 < n and line[i + 1] == ord("x")
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    cur += _ESCAPES.get(line[i], bytes([line[i]]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in _SPACE:
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in _SPACE:
                    break
                if c == 0x22:
                    inq = True
                elif c == 0x27:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))


# --------------------------------------------------------------------------------------------
# Request parsing (server side)

class RequestParser:
    """Incremental parser of client requests, multibulk or inline.

    ``feed(data)`` then iterate ``commands()``; each item is a list of byte strings. A
    malformed frame raises :class:`ProtocolError` with Redis's text.
    """

    __slots__ = ("buf", "pos", "max_bulk_len", "authenticated")

    def __init__(self, max_bulk_len: int = 512 * 1024 * 1024) -> None:
        self.buf = bytearray()
        self.pos = 0
        self.max_bulk_len = max_bulk_len
        self.authenticated = True

    def feed(self, data: bytes) -> None:
        if self.pos and self.pos > 65536:
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += data

    def pending(self) -> int:
        return len(self.buf) - self.pos

    def commands(self) -> Iterator[list[bytes]]:
        while True:
            cmd = self.next_command()
            if cmd is None:
                return
            if cmd:
                yield cmd

    def next_command(self) -> list[bytes] | None:
        """Return the next complete command, ``[]`` for an empty one, or ``None`` if incomplete."""
        buf, pos = self.buf, self.pos
        if pos >= len(buf):
            return None
        if buf[pos] == 0x2A:  # '*'
            return self._multibulk()
        return self._inline()

    def _inline(self) -> list[bytes] | None:
        buf, pos = self.buf, self.pos
        nl = _strchr(buf, pos, b"\n")
        if nl < 0:
            if len(buf) - pos > INLINE_MAX:
                raise ProtocolError("Protocol error: too big inline request")
            return None
        end = nl - 1 if nl > pos and buf[nl - 1] == 0x0D else nl
        line = bytes(buf[pos:end])
        self.pos = nl + 1
        args = split_args(line)
        if args is None:
            raise ProtocolError("Protocol error: unbalanced quotes in request")
        return args

    def _multibulk(self) -> list[bytes] | None:
        buf = self.buf
        pos = self.pos
        cr = _strchr(buf, pos, b"\r")
        if cr < 0 or cr + 1 >= len(buf):
            if len(buf) - pos > INLINE_MAX:
                raise ProtocolError("Protocol error: too big mbulk count string")
            return None
        count = _parse_ll(buf, pos + 1, cr)
        if count is None or count > INT_MAX:
            raise ProtocolError("Protocol error: invalid multibulk length")
        if not self.authenticated and count > 10:
            raise ProtocolError("Protocol error: unauthenticated multibulk length")
        pos = cr + 2
        if count <= 0:
            self.pos = pos
            return []
        args: list[bytes] = []
        n = len(buf)
        for _ in range(count):
            if pos >= n:
                return None
            cr = _strchr(buf, pos, b"\r")
            if cr < 0 or cr + 1 >= n:
                if n - pos > INLINE_MAX:
                    raise ProtocolError("Protocol error: too big bulk count string")
                return None
            if buf[pos] != 0x24:  # '$'
                raise ProtocolError(
                    "Protocol error: expected '$', got '%s'" % chr(buf[pos]))
            size = _parse_ll(buf, pos + 1, cr)
            if size is None or size < 0 or size > self.max_bulk_len:
                raise ProtocolError("Protocol error: invalid bulk length")
            if not self.authenticated and size > 16384:
                raise ProtocolError("Protocol error: unauthenticated bulk length")
            start = cr + 2
            if start + size + 2 > n:
                return None
            args.append(bytes(buf[start:start + size]))
            pos = start + size + 2
        self.pos = pos
        return args


def _strchr(buf: bytearray, pos: int, byte: bytes) -> int:
    """Find a line end as Redis's strchr does: a NUL byte before it hides it (-1)."""
    end = buf.find(byte, pos)
    if buf.find(b"\x00", pos, end if end >= 0 else len(buf)) >= 0:
        return -1
    return end


def _parse_ll(buf: bytearray, start: int, end: int) -> int | None:
    """Parse a strictly formatted signed 64-bit decimal, as string2ll does."""
    text = bytes(buf[start:end])
    if not text or len(text) > 20:
        return None
    if text == b"0":
        return 0
    body = text[1:] if text[:1] == b"-" else text
    if not body or not body.isdigit() or body[:1] == b"0":
        return None
    value = int(text)
    if value < -(2**63) or value > 2**63 - 1:
        return None
    return value


# --------------------------------------------------------------------------------------------
# Reply parsing (client side: tests, the TCP backend, tools)

class ReplyParser:
    """Incremental parser of RESP2/RESP3 replies into reply values."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.pos = 0

    def feed(self, data: bytes) -> None:
        self.buf += data

    def replies(self) -> Iterator[Any]:
        while True:
            start = self.pos
            try:
                value, pos = self._parse(self.pos)
            except _Incomplete:
                self.pos = start
                return
            self.pos = pos
            if self.pos > 65536:
                del self.buf[: self.pos]
                self.pos = 0
            yield value

    def _line(self, pos: int) -> tuple[bytes, int]:
        cr = self.buf.find(b"\r\n", pos)
        if cr < 0:
            raise _Incomplete
        return bytes(self.buf[pos:cr]), cr + 2

    def _parse(self, pos: int) -> tuple[Any, int]:
        if pos >= len(self.buf):
            raise _Incomplete
        kind = self.buf[pos]
        line, pos = self._line(pos + 1)
        if kind == 0x2B:  # +
            return Status(line.decode("utf-8", "surrogateescape")), pos
        if kind == 0x2D:  # -
            return ErrorReply(line.decode("utf-8", "surrogateescape")), pos
        if kind == 0x3A:  # :
            return int(line), pos
        if kind in (0x24, 0x3D, 0x21):  # $ = !
            size = int(line)
            if size < 0:
                return None, pos
            if pos + size + 2 > len(self.buf):
                raise _Incomplete
            data = bytes(self.buf[pos:pos + size])
            pos += size + 2
            if kind == 0x3D:
                return Verbatim(data[4:], data[:3].decode()), pos
            if kind == 0x21:
                return ErrorReply(data.decode("utf-8", "surrogateescape")), pos
            return data, pos
        if kind in (0x2A, 0x7E, 0x3E):  # * ~ >
            size = int(line)
            if size < 0:
                return NULL_ARRAY, pos
            items = []
            for _ in range(size):
                item, pos = self._parse(pos)
                items.append(item)
            if kind == 0x7E:
                return SetReply(items), pos
            if kind == 0x3E:
                return Push(items), pos
            return items, pos
        if kind == 0x25:  # %
            pairs = MapReply()
            for _ in range(int(line)):
                k, pos = self._parse(pos)
                v, pos = self._parse(pos)
                pairs.append((k, v))
            return pairs, pos
        if kind == 0x5F:  # _
            return None, pos
        if kind == 0x2C:  # ,
            text = line.decode()
            return Double(float(text)), pos
        if kind == 0x23:  # #
            return Bool(line == b"t"), pos
        if kind == 0x28:  # (
            return BigNumber(int(line)), pos
        raise ProtocolError("Protocol error: unknown reply type %r" % chr(kind))


class _Incomplete(Exception):
    pass
