"""The check kinds on a real engine: replies with ordering rules, key state, predicates."""

from __future__ import annotations

from typing import Any

from redislab.engine import Engine, ManualClock
from redislab.learn.checks import CheckEnv, normalize, run_check


def _env(*lines: str, history: list[tuple[list[bytes], Any]] | None = None,
         values: dict[str, str] | None = None) -> CheckEnv:
    eng = Engine(ManualClock())
    s = eng.session()
    hist = history if history is not None else []
    for line in lines:
        argv = [a.encode() for a in line.split()]
        hist.append((argv, s.execute_argv(argv)))
    return CheckEnv(eng, history=hist, values=values or {})


def test_reply_of_last_command_and_probe() -> None:
    env = _env("RPUSH l a b c", "LRANGE l 0 -1")
    assert run_check({"kind": "reply", "equals": ["a", "b", "c"]}, env).passed
    assert not run_check({"kind": "reply", "equals": ["c", "b", "a"]}, env).passed
    assert run_check({"kind": "reply", "equals": ["c", "b", "a"], "order": "any"}, env).passed
    assert run_check({"kind": "reply", "command": "LLEN l", "equals": 3}, env).passed
    # an integer reply is not the string "3"
    assert not run_check({"kind": "reply", "command": "LLEN l", "equals": "3"}, env).passed
    v = run_check({"kind": "reply", "command_is": "GET", "equals": "x"}, env)
    assert not v.passed and "no GET run yet" in v.current[0]


def test_reply_pairs_and_equals_command() -> None:
    env = _env("HSET h a 1 b 2", "HGETALL h")
    assert run_check({"kind": "reply", "equals": ["b", "2", "a", "1"], "order": "pairs"},
                     env).passed
    assert not run_check({"kind": "reply", "equals": ["b", "1", "a", "2"], "order": "pairs"},
                         env).passed
    env = _env("ZADD z 1 a 2 b 3 c", "ZRANGE z 0 1 REV")
    v = run_check({"kind": "reply", "equals_command": "ZREVRANGE z 0 1"}, env)
    assert v.passed and "what ZREVRANGE z 0 1 answers" in v.goal[0]
    assert run_check({"kind": "reply", "command": "GET nope", "nil": True}, env).passed


def test_key_state_goal_and_current() -> None:
    env = _env("SET lock tok PX 30000", "HSET h f v", "SADD s x y", "ZADD z 5 m")
    assert run_check({"kind": "key", "key": "lock", "type": "string", "value": "tok",
                      "ttl": [1, 30]}, env).passed
    v = run_check({"kind": "key", "key": "lock", "no_ttl": True}, env)
    assert not v.passed and v.summary == "lock has a TTL (30s)"
    assert v.current == ['lock: string, "tok", 3 bytes, TTL 30s, encoding embstr']
    assert run_check({"kind": "key", "key": "h", "fields": {"f": "v"}, "encoding": "listpack"},
                     env).passed
    assert run_check({"kind": "key", "key": "s", "members": ["y", "x"]}, env).passed
    assert run_check({"kind": "key", "key": "z", "scores": {"m": 5}}, env).passed
    assert run_check({"kind": "key", "key": "nope", "exists": False}, env).passed
    v = run_check({"kind": "key", "key": "nope", "type": "hash"}, env)
    assert not v.passed and v.current == ["nope: absent"]
    v = run_check({"kind": "key", "key": "h", "max_memory": 10_000}, env)
    assert v.passed  # skipped with a note while MEMORY USAGE is missing, else within bound


def test_keyspace_predicate_and_variables() -> None:
    env = _env("SET user:1 a", "SET user:2 b", "SET other c", values={"n": "2"})
    assert run_check({"kind": "keyspace", "expr": "len(keys('user:*')) == n",
                      "describe": "{n} users"}, env).passed
    v = run_check({"kind": "keyspace", "expr": "len(keys('user:*')) == 5",
                   "describe": "five users"}, env)
    assert not v.passed and v.goal == ["five users"] and "3 keys" in v.current[0]
    # an expression cannot reach Python
    v = run_check({"kind": "keyspace", "expr": "__import__('os').system('true')",
                   "describe": "escape"}, env)
    assert not v.passed and v.details and "NameError" in v.details[0]


def test_used() -> None:
    env = _env("SCAN 0", "GET a")
    assert run_check({"kind": "used", "command": "SCAN"}, env).passed
    assert not run_check({"kind": "used", "command": "KEYS"}, env).passed
    assert not run_check({"kind": "used", "command": "GET", "never": True}, env).passed


def test_normalize() -> None:
    from redislab.protocol.reply import Double, ErrorReply, MapReply, Status

    assert normalize([b"a", 1, None, Status("OK"), Double(1.5)]) == ["a", 1, None, "OK", 1.5]
    assert normalize(MapReply([(b"k", b"v")])) == ["k", "v"]
    assert normalize(ErrorReply("ERR x")) == "(error) ERR x"


def test_a_broken_check_reports_itself() -> None:
    env = _env()
    v = run_check({"kind": "reply", "command": "NOSUCHCMD", "equals": 1}, env)
    assert not v.passed
