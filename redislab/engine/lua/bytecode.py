"""Rewrites compiled Lua 5.1 chunks so that ``return f(...)`` is an ordinary call.

Redis's script API is made of C functions: a script's ``return redis.call(...)`` leaves the
script's own frame on the stack, and errors name its line (``on @user_script:1.``). Our API
functions are Lua functions, and Lua replaces the caller's frame on a tail call, which would
lose that line. So every script chunk is compiled, dumped, and each OP_TAILCALL turned into
OP_CALL (its B and C fields already mean "these arguments, all results"); the OP_RETURN the
compiler always emits after it then returns those results. Only our own compiler's output is
patched and loaded back; scripts can never load binary chunks themselves.

The one visible difference: unbounded tail recursion in a script ends in "stack overflow"
after about 16000 levels instead of running in constant space.
"""

from __future__ import annotations

import struct

_HEADER = b"\x1bLuaQ\x00\x01\x04\x08\x04\x08\x00"
OP_CALL = 28
OP_TAILCALL = 29


class _Patcher:
    def __init__(self, data: bytes) -> None:
        self.buf = bytearray(data)
        self.pos = len(_HEADER)

    def int(self) -> int:
        v = struct.unpack_from("<i", self.buf, self.pos)[0]
        self.pos += 4
        return v  # type: ignore[no-any-return]

    def size_t(self) -> int:
        v = struct.unpack_from("<Q", self.buf, self.pos)[0]
        self.pos += 8
        return v  # type: ignore[no-any-return]

    def string(self) -> None:
        n = self.size_t()
        self.pos += n

    def function(self) -> None:
        buf = self.buf
        self.string()          # source
        self.pos += 4 + 4      # linedefined, lastlinedefined
        self.pos += 4          # nups, numparams, is_vararg, maxstacksize
        n = self.int()
        for i in range(n):
            at = self.pos + 4 * i
            word = struct.unpack_from("<I", buf, at)[0]
            if word & 0x3F == OP_TAILCALL:
                struct.pack_into("<I", buf, at, (word & ~0x3F) | OP_CALL)
        self.pos += 4 * n
        for _ in range(self.int()):  # constants
            kind = buf[self.pos]
            self.pos += 1
            if kind == 1:
                self.pos += 1
            elif kind == 3:
                self.pos += 8
            elif kind == 4:
                self.string()
            elif kind != 0:
                raise ValueError("unknown constant type")
        for _ in range(self.int()):  # nested functions
            self.function()
        n = self.int()               # line info
        self.pos += 4 * n
        for _ in range(self.int()):  # local variables
            self.string()
            self.pos += 8
        for _ in range(self.int()):  # upvalue names
            self.string()


def without_tail_calls(dump: bytes) -> bytes | None:
    """The chunk with every tail call made a plain call; None if ``dump`` is not one we know."""
    if not dump.startswith(_HEADER):
        return None
    try:
        p = _Patcher(dump)
        p.function()
        if p.pos != len(dump):
            return None
        return bytes(p.buf)
    except (struct.error, ValueError, IndexError):
        return None
