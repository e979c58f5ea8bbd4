"""Replies printed as redis-cli prints them, checked against the real redis-cli binary."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any, Iterator

import pytest

from redislab.protocol import (
    NO_REPLY, NULL_ARRAY, OK, QUEUED, BigNumber, Bool, Double, ErrorReply, MapReply, Push,
    SetReply, Status, Verbatim,
)
from redislab.ui.render import quote_bulk, render

from ..support.real_redis import RedisServer

# ------------------------------------------------------------------------------------------
# Table: (reply, resp, raw, expected text)

CASES: list[tuple[str, Any, int, bool, str]] = [
    ("status", OK, 2, False, "OK\n"),
    ("queued", QUEUED, 2, False, "QUEUED\n"),
    ("integer", 1, 2, False, "(integer) 1\n"),
    ("negative", -42, 2, False, "(integer) -42\n"),
    ("nil", None, 2, False, "(nil)\n"),
    ("null array", NULL_ARRAY, 2, False, "(nil)\n"),
    ("bulk", b"hello", 2, False, '"hello"\n'),
    ("empty bulk", b"", 2, False, '""\n'),
    ("escapes", b'x\ty\x01\xff"\\\xc3\xa9\n\r\a\b', 2, False,
     '"x\\ty\\x01\\xff\\"\\\\\\xc3\\xa9\\n\\r\\a\\b"\n'),
    ("error", ErrorReply("ERR boom"), 2, False, "(error) ERR boom\n"),
    ("error with newline", ErrorReply("ERR a\nb"), 2, False, "(error) ERR a b\n"),
    ("empty array", [], 2, False, "(empty array)\n"),
    ("array", [b"a", b"b", b"c"], 2, False, '1) "a"\n2) "b"\n3) "c"\n'),
    ("nested", [1, [2, [3, b"x"]], [], b"a"], 2, False,
     '1) (integer) 1\n2) 1) (integer) 2\n   2) 1) (integer) 3\n      2) "x"\n'
     '3) (empty array)\n4) "a"\n'),
    ("ten elements", [str(i).encode() for i in range(1, 11)], 2, False,
     "".join(f'{i:>2}) "{i}"\n' for i in range(1, 11))),
    ("wide nested", [[*range(1, 11), [1, 2]], 2], 2, False,
     "1)  1) (integer) 1\n" + "".join(f"   {i:>2}) (integer) {i}\n" for i in range(2, 11))
     + "   11) 1) (integer) 1\n       2) (integer) 2\n2) (integer) 2\n"),
    ("error inside array", [1, ErrorReply("E x"), 3], 2, False,
     "1) (integer) 1\n2) (error) E x\n3) (integer) 3\n"),
    # RESP2 clients see RESP3 types downgraded.
    ("map resp2", MapReply([(b"a", 1), (b"b", 2)]), 2, False,
     '1) "a"\n2) (integer) 1\n3) "b"\n4) (integer) 2\n'),
    ("double resp2", Double(1.5), 2, False, '"1.5"\n'),
    ("bool resp2", Bool(True), 2, False, "(integer) 1\n"),
    ("set resp2", SetReply([b"x"]), 2, False, '1) "x"\n'),
    ("verbatim resp2", Verbatim(b"line1\nline2"), 2, False, '"line1\\nline2"\n'),
    ("bignum resp2", BigNumber(12345678901234567890), 2, False, '"12345678901234567890"\n'),
    ("push resp2", Push([b"message", b"ch", b"hi"]), 2, False,
     '1) "message"\n2) "ch"\n3) "hi"\n'),
    # RESP3 as redis-cli 7 shows it.
    ("map", MapReply([(b"a", 1), (b"b", Bool(False))]), 3, False,
     '1# "a" => (integer) 1\n2# "b" => (false)\n'),
    ("empty map", MapReply(), 3, False, "(empty hash)\n"),
    ("set", SetReply([b"x", b"y"]), 3, False, '1~ "x"\n2~ "y"\n'),
    ("empty set", SetReply(), 3, False, "(empty set)\n"),
    ("double", Double(3.141), 3, False, "(double) 3.141\n"),
    ("double inf", Double(float("inf")), 3, False, "(double) inf\n"),
    ("true", Bool(True), 3, False, "(true)\n"),
    ("verbatim", Verbatim(b"line1\nline2", "txt"), 3, False, "line1\nline2\n"),
    ("bignum", BigNumber(12345678901234567890), 3, False, "(big number) 12345678901234567890\n"),
    ("null resp3", None, 3, False, "(nil)\n"),
    ("map of arrays", MapReply([(b"k", [b"a", b"b"]), (b"one", [b"c"])]), 3, False,
     '1# "k" => \n   1) "a"\n   2) "b"\n2# "one" => 1) "c"\n'),
    ("array of maps", [MapReply([(b"a", 1)]), 2], 3, False,
     '1) 1# "a" => (integer) 1\n2) (integer) 2\n'),
    ("push", Push([b"message", b"ch", b"hi"]), 3, False, '1) "message"\n2) "ch"\n3) "hi"\n'),
    # --raw
    ("raw bulk", b"x\ty", 2, True, "x\ty\n"),
    ("raw nil", None, 2, True, "\n"),
    ("raw integer", 7, 2, True, "7\n"),
    ("raw status", OK, 2, True, "OK\n"),
    ("raw error", ErrorReply("ERR x"), 2, True, "ERR x\n\n"),
    ("raw array", [b"a", b"b"], 2, True, "a\nb\n"),
    ("raw empty array", [], 2, True, "\n"),
    ("raw nested", [1, [2, [3, b"x"]], [], b"a"], 2, True, "1\n2\n3\nx\n\na\n"),
    ("raw error inside array", [1, ErrorReply("E x"), 3], 2, True, "1\nE x\n\n3\n"),
    ("raw map", MapReply([(b"a", 1), (b"b", Bool(True))]), 3, True, "a 1\nb (true)\n"),
    ("raw double", Double(1.5), 3, True, "1.5\n"),
    ("raw binary", b"\xff\x00", 2, True, "\udcff\x00\n"),
]


@pytest.mark.parametrize("reply,resp,raw,expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_render_table(reply: Any, resp: int, raw: bool, expected: str) -> None:
    assert render(reply, resp=resp, raw=raw) == expected


def test_no_reply_prints_nothing() -> None:
    assert render(NO_REPLY) == ""
    assert render(NO_REPLY, raw=True) == ""


def test_status_subclass_and_plain_types() -> None:
    assert render(Status("PONG")) == "PONG\n"
    assert render(True) == "(integer) 1\n"
    assert render((b"a",)) == '1) "a"\n'


def test_quote_bulk_plain_fast_path() -> None:
    assert quote_bulk(b"abc def") == '"abc def"'
    assert quote_bulk(b"\x7f") == '"\\x7f"'


def test_raw_delimiter() -> None:
    assert render([b"a", b"b"], raw=True, delim=",") == "a,b\n"


# ------------------------------------------------------------------------------------------
# The real redis-cli, on replies from a real redis-server

SETUP = [
    ["SET", "s", "hello"],
    ["SET", "bin", b'\x00\xff"\\\n\r\t\x07\x08 \xc3\xa9 end'],
    ["RPUSH", "l", "a", "b", "c"],
    ["RPUSH", "big", *[str(i) for i in range(1, 13)]],
    ["HSET", "h", "f1", "v1", "f2", "v2"],
    ["SADD", "st", "x"],
    ["ZADD", "z", "1.5", "a", "2", "b", "0.1", "c"],
    ["SET", "n", "10"],
]

COMMANDS = [
    ["GET", "s"], ["GET", "bin"], ["GET", "nope"], ["INCR", "n"], ["SET", "s2", "x"],
    ["LRANGE", "l", "0", "-1"], ["LRANGE", "big", "0", "-1"], ["LRANGE", "none", "0", "-1"],
    ["HGETALL", "h"], ["HGETALL", "noh"], ["SMEMBERS", "st"], ["SMEMBERS", "nos"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZSCORE", "z", "a"], ["ZSCORE", "z", "c"],
    ["EVAL", "return {1,{2,{3,'x'}},{},'a'}", "0"],
    ["EVAL", "return {{1,2,3,4,5,6,7,8,9,10,{1,2}},2}", "0"],
    ["EVAL", "return {err='My Error'}", "0"], ["EVAL", "return {ok='FINE'}", "0"],
    ["EVAL", "return {1,{err='E x'},3}", "0"],
    ["EVAL", "return {map={a={1,2}, b={3}, c={}}}", "0"],
    ["EVAL", "return {map={a={map={x={1,2}}}}, {set={q=true}}}", "0"],
    ["EVAL", "return {double='3.5'}", "0"],
    ["FOO"], ["GET"], ["CONFIG", "GET", "maxmemory*"], ["COMMAND", "INFO", "get"],
    ["OBJECT", "ENCODING", "z"],
    *[["DEBUG", "PROTOCOL", t] for t in ("string", "integer", "double", "map", "set",
                                         "true", "false", "verbatim", "null", "push")],
]


@pytest.fixture(scope="module")
def real(redis_server: RedisServer) -> Iterator[RedisServer]:
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed")
    c = redis_server.client()
    c.execute("FLUSHALL")
    for cmd in SETUP:
        c.execute(*cmd)
    yield redis_server
    c.close()


def _cli(port: int, args: list[str], resp3: bool, raw: bool) -> str:
    flags = ["--raw" if raw else "--no-raw"] + (["-3"] if resp3 else [])
    out = subprocess.run(["redis-cli", "-p", str(port), *flags, *args], capture_output=True,
                         timeout=20, check=False)
    return out.stdout.decode("utf-8", "surrogateescape")


@pytest.mark.real
@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("raw", [False, True], ids=["tty", "raw"])
def test_render_matches_redis_cli(real: RedisServer, resp3: bool, raw: bool) -> None:
    client = real.client()
    try:
        if resp3:
            client.execute("HELLO", "3")
        for cmd in COMMANDS:
            reply = client.execute(*cmd)
            if cmd[:2] == ["DEBUG", "PROTOCOL"] and cmd[2] == "push" and resp3:
                reply = client.read()  # the push arrives first; redis-cli shows the reply
            if cmd[0] in ("INCR", "SET"):
                client.execute("SET", "n", "10")  # keep redis-cli's view identical
            ours = render(reply, resp=3 if resp3 else 2, raw=raw)
            theirs = _cli(real.port, cmd, resp3, raw)
            if cmd[0] == "INCR":
                client.execute("SET", "n", "10")
            if ours != theirs:
                pytest.fail(f"{cmd}: ours {ours!r} != redis-cli {theirs!r}")
    finally:
        client.close()
