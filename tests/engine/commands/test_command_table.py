"""The command table: its integrity, and COMMAND and its subcommands compared with Redis."""

from __future__ import annotations

from typing import Any

import pytest

from redislab.engine.commands import TABLE, integrity_problems
from redislab.engine.commands.introspection import visible
from redislab.protocol import ErrorReply

from ...support.real_redis import normalize, wire

# ------------------------------------------------------------------------------------------
# Integrity


def test_every_handler_has_a_table_entry():
    problems = [p for p in integrity_problems()
                if "has no entry in the command table" in p or p.startswith("duplicate")
                or "but has a handler" in p or "without a reason" in p]
    assert problems == []


def test_every_entry_has_a_handler_or_a_status():
    assert integrity_problems() == []


def test_table_has_every_command_of_a_7_0_server():
    top = [s for s in TABLE.commands.values() if visible(s)]
    assert len(top) == 240
    assert TABLE.get("config|get") is TABLE.commands["CONFIG"].subcommands["GET"]


# ------------------------------------------------------------------------------------------
# Unit behaviour on the engine


def test_command_alone_and_count(run):
    everything = run("COMMAND")
    assert len(everything) == run("COMMAND COUNT") == 240
    assert all(isinstance(e, list) and len(e) == 10 for e in everything)


def test_command_info_unknown_and_subcommand(run):
    reply = run("COMMAND INFO get nosuch config|get")
    assert reply[0][0] == b"get" and reply[1] is None and reply[2][0] == b"config|get"


def test_command_getkeys_errors(run):
    assert run("COMMAND GETKEYS nosuch a") == ErrorReply("ERR Invalid command specified")
    assert run("COMMAND GETKEYS ping x") == ErrorReply("ERR The command has no key arguments")
    assert run("COMMAND GETKEYS get a b") == ErrorReply(
        "ERR Invalid number of arguments specified for command")
    assert run("COMMAND GETKEYS zunionstore d 2 a") == ErrorReply(
        "ERR Invalid arguments specified for command")
    assert run("COMMAND GETKEYS eval x 0") == []


# ------------------------------------------------------------------------------------------
# Differential: the table as Redis 7.0.15 describes itself


def _pairs(value: Any, resp3: bool) -> list[tuple[Any, Any]]:
    """Key/value pairs of a normalised map (RESP3) or flat key/value array (RESP2)."""
    kind, items = value
    if resp3:
        return list(items)
    return list(zip(items[::2], items[1::2]))


def _canon_info(entry: Any) -> Any:
    """A COMMAND INFO entry with its subcommands sorted (Redis lists them in hash order)."""
    if not isinstance(entry, tuple) or entry[0] != "list":
        return entry
    items = list(entry[1])
    kind, subs = items[9]
    items[9] = (kind, sorted((_canon_info(s) for s in subs), key=repr))
    return ("list", items)


def _canon_docs(doc: Any, resp3: bool) -> dict[Any, Any]:
    """A COMMAND DOCS entry without what is ours by design.

    The summary is written in our own words, and Redis's per-version ``history`` notes are
    Redis's prose, which redislab leaves out; every other field must match.
    """
    out = {}
    for key, value in _pairs(doc, resp3):
        if key in (b"summary", b"history"):
            continue
        if key == b"subcommands":
            value = sorted((k, _canon_docs(v, resp3)) for k, v in _pairs(value, resp3))
        out[key] = value
    return out


def _both(differ: Any, *args: Any) -> tuple[Any, Any]:
    ours = normalize(wire(differ.session.execute(*args), differ.resp3))
    theirs = normalize(differ.real.execute(*args))
    return ours, theirs


@pytest.mark.parametrize("proto", [2, 3])
def test_command_info_matches_for_every_command(redis_server, proto):
    from ...conftest import Differ

    d = Differ(redis_server, resp=proto)
    try:
        ours, theirs = _both(d, "COMMAND")
        ours_by_name = {e[1][0]: _canon_info(e) for e in ours[1]}
        theirs_by_name = {e[1][0]: _canon_info(e) for e in theirs[1]}
        assert sorted(ours_by_name) == sorted(theirs_by_name)
        mismatched = [n for n in theirs_by_name if ours_by_name[n] != theirs_by_name[n]]
        assert mismatched == []
        # COMMAND INFO with names, including unknown ones and subcommands.
        for names in (["get", "set", "nosuch", "config|get", "CONFIG|SET", "config|nosuch"],
                      ["sort", "migrate", "xread", "eval", "zunionstore", "georadius"]):
            o, t = _both(d, "COMMAND", "INFO", *names)
            assert [_canon_info(x) for x in o[1]] == [_canon_info(x) for x in t[1]], names
    finally:
        d.close()


@pytest.mark.parametrize("proto", [2, 3])
def test_command_docs_match_except_our_own_words(redis_server, proto):
    from ...conftest import Differ

    d = Differ(redis_server, resp=proto)
    resp3 = proto == 3
    try:
        ours, theirs = _both(d, "COMMAND", "DOCS")
        o = {k: _canon_docs(v, resp3) for k, v in _pairs(ours, resp3)}
        t = {k: _canon_docs(v, resp3) for k, v in _pairs(theirs, resp3)}
        assert sorted(o) == sorted(t)
        assert [n for n in t if o[n] != t[n]] == []
        o2, t2 = _both(d, "COMMAND", "DOCS", "set", "nosuch", "client|kill", "geoadd")
        assert [(k, _canon_docs(v, resp3)) for k, v in _pairs(o2, resp3)] == \
            [(k, _canon_docs(v, resp3)) for k, v in _pairs(t2, resp3)]
    finally:
        d.close()


@pytest.mark.parametrize("args", [
    (),
    ("FILTERBY", "ACLCAT", "hash"),
    ("FILTERBY", "ACLCAT", "dangerous"),
    ("FILTERBY", "ACLCAT", "slow"),
    ("filterby", "aclcat", "nosuchcategory"),
    ("FILTERBY", "PATTERN", "x*"),
    ("FILTERBY", "PATTERN", "CONFIG|*"),
    ("FILTERBY", "PATTERN", "*|*"),
    ("FILTERBY", "MODULE", "json"),
])
def test_command_list_matches(differ, args):
    ours, theirs = _both(differ, "COMMAND", "LIST", *args)
    assert sorted(ours[1]) == sorted(theirs[1])


def test_command_count_and_errors(differ):
    differ.check_all("""
    COMMAND COUNT
    COMMAND COUNT extra
    COMMAND LIST FILTERBY
    COMMAND LIST FILTERBY PATTERN
    COMMAND LIST FILTERBY NOPE x
    COMMAND LIST FILTERBY PATTERN x extra
    COMMAND LIST FOO
    COMMAND NOSUCH
    COMMAND GETKEYS
    COMMAND GETKEYS get
    COMMAND GETKEYSANDFLAGS get
    """)


GETKEYS_CASES = r"""
get a
get a b
nosuch a
ping x
set a b
set a b get
set a b GET
set a b ex 10 get
mset a 1 b
mset a 1 b 2
mget a b c
del a b c
eval x 0
eval x 1 a
eval x 2 a
eval x 2 a b
eval x -1
eval x abc
eval x 1abc a
evalsha x 1 a b
fcall f 2 a b c
fcall_ro f 1 a
eval_ro x 1
zunionstore d 0 a
zunionstore d 2 a
zunionstore d 1 a b
zunionstore d 2 a b weights 1 2
zinterstore d 1 a
zdiffstore d 2 a b
zunion 2 a b
zinter 2 a b withscores
zdiff 1 a
zintercard 2 a b limit 1
sintercard 3 a b
sintercard 2 a b
lmpop 2 a b left
lmpop 0 left
lmpop 1 a right count 2
blmpop 0 2 a b left
bzmpop 0 1 a min
zmpop 1 a max
sort a
sort a by b store c
sort a store c store d
sort a limit 0 1 store c
sort a get # get x store c
sort a store
sort_ro a by b
migrate h p k 0 5
migrate h p "" 0 5 keys a b
migrate h p "" 0 5 copy replace keys a b
migrate h p "" 0 5 auth pw keys a
migrate h p "" 0 5 auth2 u pw keys a b c
migrate h p k 0 5 keys a
xread streams a b 1 2
xread streams a b 1
xread count 1 streams a 0
xread count 1
xread block 0 streams a b 0 0
xreadgroup group g c streams a 0
xreadgroup group g c count 1 noack streams a b 0 0
georadius a 1 1 1 km store b
georadius a 1 1 1 km storedist b
georadius a 1 1 1 km store
georadius a 1 1 1 km store b storedist c
georadiusbymember a m 1 km store b
georadius_ro a 1 1 1 km
geosearchstore d s frommember m byradius 1 km
bitfield a get u8 0
bitfield a set u8 0 1
bitfield a overflow wrap incrby u8 0 1
bitfield a bogus
bitfield_ro a get u8 0
config get x
memory usage a
object encoding a
xinfo stream s
xgroup create s g $
spublish a b
ssubscribe a
rename a b
smove a b m
lmove a b left right
blmove a b left right 0
brpoplpush a b 0
blpop a b 0
copy a b
restore a 0 x
touch a b
unlink a b
watch a b
pfcount a b
pfmerge d a b
bitop and d a b
lcs a b
msetnx a 1 b 2
object freq a
debug object a
"""


@pytest.mark.parametrize("with_flags", [False, True])
def test_command_getkeys_matches(differ, with_flags):
    from redislab.protocol import split_args

    sub = "GETKEYSANDFLAGS" if with_flags else "GETKEYS"
    for line in GETKEYS_CASES.strip().splitlines():
        args = split_args(line)
        assert args is not None
        differ.check("COMMAND", sub, *args)


def _sample(args: Any, twice: bool) -> list[str]:
    """A plausible argument list from a command's grammar: required parts only."""
    out: list[str] = []
    counter = [0]

    def value(arg: dict[str, Any]) -> list[str]:
        kind = arg["type"]
        if kind == "key":
            counter[0] += 1
            return [f"k{counter[0]}"]
        if kind == "pure-token":
            return [arg["token"]]
        if kind == "oneof":
            return walk(arg["arguments"][:1])
        if kind == "block":
            return walk(arg["arguments"])
        return {"integer": ["1"], "double": ["1.5"], "unix-time": ["1"],
                "pattern": ["*"]}.get(kind, ["v"])

    def walk(items: Any) -> list[str]:
        got: list[str] = []
        for arg in items:
            if arg.get("optional"):
                continue
            one = ([arg["token"]] if "token" in arg and arg["type"] != "pure-token" else []) \
                + value(arg)
            got += one
            if twice and arg.get("multiple"):
                again = value(arg)
                got += ([arg["token"]] if arg.get("multiple_token") else []) + again
        return got

    out += walk(args)
    return out


@pytest.mark.parametrize("twice", [False, True])
def test_command_getkeysandflags_matches_for_every_command_with_keys(differ, twice):
    mismatched = []
    for spec in TABLE.all:
        if not spec.key_specs or spec.subcommands or not visible(spec):
            continue
        argv = spec.name.split(" ") + _sample(spec.arguments, twice)
        ours, theirs = _both(differ, "COMMAND", "GETKEYSANDFLAGS", *argv)
        if ours != theirs:
            mismatched.append((argv, ours, theirs))
    assert mismatched == []
