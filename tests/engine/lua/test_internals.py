"""The sandbox's own Lua code: no run-time use of globals, bytecode rewriting, codecs."""

from __future__ import annotations

import struct
from importlib import resources

import pytest
from lupa import lua51

from redislab.engine.lua import bytecode, rdbcodec

SOURCES = ["sandbox.lua", "patterns.lua", "cjson.lua", "cmsgpack.lua", "serialize.lua"]
OP_GETGLOBAL, OP_SETGLOBAL = 5, 7


def _dump(source: bytes) -> bytes:
    rt = lua51.LuaRuntime(encoding=None)
    f = rt.compile(source)
    return rt.eval("string.dump")(f)  # type: ignore[no-any-return]


def _globals_in_nested_functions(dump: bytes) -> set[str]:
    """Names read or written as globals by any function below the main chunk."""
    pos = 12
    found: set[str] = set()

    def i32() -> int:
        nonlocal pos
        v = struct.unpack_from("<i", dump, pos)[0]
        pos += 4
        return v

    def string() -> bytes:
        nonlocal pos
        n = struct.unpack_from("<Q", dump, pos)[0]
        pos += 8
        s = dump[pos:pos + n]
        pos += n
        return s[:-1]

    def function(depth: int) -> None:
        nonlocal pos
        string()
        pos += 12
        code = [struct.unpack_from("<I", dump, pos + 4 * i)[0] for i in range(i32())]
        pos += 4 * len(code)
        consts: list[object] = []
        for _ in range(i32()):
            kind = dump[pos]
            pos += 1
            if kind == 1:
                consts.append(bool(dump[pos]))
                pos += 1
            elif kind == 3:
                consts.append(struct.unpack_from("<d", dump, pos)[0])
                pos += 8
            elif kind == 4:
                consts.append(string())
            else:
                consts.append(None)
        if depth > 0:
            for word in code:
                if word & 0x3F in (OP_GETGLOBAL, OP_SETGLOBAL):
                    bx = word >> 14
                    found.add(consts[bx].decode())  # type: ignore[union-attr]
        for _ in range(i32()):
            function(depth + 1)
        n = i32()
        pos += 4 * n
        for _ in range(i32()):
            string()
            pos += 8
        for _ in range(i32()):
            string()

    function(0)
    return found


@pytest.mark.parametrize("name", SOURCES)
def test_internal_code_reads_no_globals_at_run_time(name: str) -> None:
    # The real globals are emptied once the sandbox is built: a function that still looked a
    # global up when called would fail inside a script.
    source = resources.files("redislab.engine.lua").joinpath(name).read_bytes()
    assert _globals_in_nested_functions(_dump(source)) == set()


def test_tail_calls_become_calls() -> None:
    rt = lua51.LuaRuntime(encoding=None)
    dump = _dump(b"local function f() return 1 end return f()")
    patched = bytecode.without_tail_calls(dump)
    assert patched is not None and patched != dump
    f = rt.eval("loadstring")(patched)
    assert f() == 1
    # The only difference is the opcode of one instruction.
    diff = [i for i in range(len(dump)) if dump[i] != patched[i]]
    assert len(diff) == 1
    assert dump[diff[0]] & 0x3F == bytecode.OP_TAILCALL
    assert patched[diff[0]] & 0x3F == bytecode.OP_CALL


def test_unknown_dumps_are_left_alone() -> None:
    assert bytecode.without_tail_calls(b"not bytecode") is None
    assert bytecode.without_tail_calls(_dump(b"return 1")[:-3]) is None


def test_crc64_check_value() -> None:
    assert rdbcodec.crc64(b"123456789") == 0xE9C6D914C4B8D9CA


@pytest.mark.parametrize("data", [
    b"#!lua name=mylib\nredis.register_function('f', function() return 1 end)",
    b"a" * 300,
    bytes(range(256)) * 3,
    b"abcabcabcabcabcabcabcabcabcabcabcxyz" * 20,
])
def test_lzf_round_trip(data: bytes) -> None:
    packed = rdbcodec.lzf_compress(data, len(data) - 4)
    if packed is None:
        return
    assert rdbcodec.lzf_decompress(packed, len(data)) == data


def test_rdb_string_round_trip() -> None:
    for data in (b"", b"x", b"y" * 100, bytes(range(256)) * 2):
        reader = rdbcodec.Reader(rdbcodec.encode_string(data))
        assert reader.string() == data
