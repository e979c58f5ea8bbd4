"""The three card lessons grade correct and incorrect solutions, subtle ones included.

Each wrong answer below is a mistake people make in production; each must fail its step
with the invariant it breaks, and each right answer must pass (on hidden seeds other than
the validator's).
"""

from __future__ import annotations

import pytest

from redislab.learn.loader import load_lesson
from redislab.learn.runner import LessonRun

from .conftest import LESSONS

SEEDS = (101, 202)

SAFE_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

LOCK_GOOD = '''
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

def acquire(r, name, token, ttl_ms):
    return bool(r.set(name, token, nx=True, px=ttl_ms))

def release(r, name, token):
    return r.eval(RELEASE, 1, name, token) == 1
'''

LOCK_RETRY_GOOD = LOCK_GOOD.replace(
    "    return bool(r.set(name, token, nx=True, px=ttl_ms))",
    "    for _ in range(3):\n"
    "        if r.set(name, token, nx=True, px=ttl_ms):\n"
    "            return True\n"
    "    return False")

LOCK_RELEASE_NO_TOKEN = LOCK_GOOD.replace(
    "    return r.eval(RELEASE, 1, name, token) == 1", "    return r.delete(name) == 1")
LOCK_RELEASE_GET_THEN_DEL = LOCK_GOOD.replace(
    "    return r.eval(RELEASE, 1, name, token) == 1",
    "    if r.get(name) == token.encode():\n        r.delete(name)\n        return True\n"
    "    return False")
LOCK_NO_TTL = LOCK_GOOD.replace("nx=True, px=ttl_ms", "nx=True")
LOCK_SETNX_THEN_EXPIRE = LOCK_GOOD.replace(
    "    return bool(r.set(name, token, nx=True, px=ttl_ms))",
    "    ok = r.setnx(name, token)\n    if ok:\n        r.pexpire(name, ttl_ms)\n"
    "    return bool(ok)")
LOCK_NO_NX = LOCK_GOOD.replace("nx=True, px=ttl_ms", "px=ttl_ms")

FIXED_GOOD = """
def allow(r, user, now_ms, limit, window_ms):
    key = f"rl:{user}:{now_ms // window_ms}"
    pipe = r.pipeline(transaction=True)
    pipe.incr(key)
    pipe.pexpire(key, window_ms)
    count, _ = pipe.execute()
    return count <= limit
"""
FIXED_LUA_GOOD = """
def allow(r, user, now_ms, limit, window_ms):
    key = f"rl:{user}:{now_ms // window_ms}"
    return r.eval("local n = redis.call('INCR', KEYS[1]) "
                  "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
                  "return n", 1, key, window_ms) <= limit
"""
FIXED_INCR_THEN_EXPIRE = """
def allow(r, user, now_ms, limit, window_ms):
    key = f"rl:{user}:{now_ms // window_ms}"
    count = r.incr(key)
    if count == 1:
        r.pexpire(key, window_ms)
    return count <= limit
"""
FIXED_GET_THEN_SET = """
def allow(r, user, now_ms, limit, window_ms):
    key = f"rl:{user}:{now_ms // window_ms}"
    count = int(r.get(key) or 0)
    if count >= limit:
        return False
    r.set(key, count + 1, px=window_ms)
    return True
"""
FIXED_TOO_STRICT = FIXED_GOOD.replace("return count <= limit", "return count < limit")

MUTEX_GOOD = '''
def get(r, key, ttl, load, ctx):
    lock = f"{key}:lock"
    while True:
        value = r.get(key)
        if value is not None:
            return value
        if r.set(lock, "1", nx=True, ex=3):
            value = r.get(key)
            if value is None:
                value = load()
                r.set(key, value, ex=ttl)
            r.delete(lock)
            return value
        ctx.sleep(0.05)
'''
MUTEX_NO_TTL = MUTEX_GOOD.replace('nx=True, ex=3', 'nx=True')
MUTEX_NO_SECOND_LOOK = MUTEX_GOOD.replace(
    "            value = r.get(key)\n            if value is None:\n"
    "                value = load()\n                r.set(key, value, ex=ttl)\n",
    "            value = load()\n            r.set(key, value, ex=ttl)\n")
NAIVE = '''
def get(r, key, ttl, load, ctx):
    value = r.get(key)
    if value is None:
        value = load()
        r.set(key, value, ex=ttl)
    return value
'''


def _grade(lesson_id: str, step_id: str, source: str):  # type: ignore[no-untyped-def]
    lesson = load_lesson(next(LESSONS.glob(f"*-{lesson_id}.toml")))
    step = lesson.step(step_id)
    run = LessonRun(lesson, seed=7, isolate=False, start=step.index)
    return run.check(source=source, seeds=SEEDS)


@pytest.mark.parametrize("lesson, step, source", [
    ("distributed-locking", "safe-release", SAFE_RELEASE),
    ("distributed-locking", "whole-lock", LOCK_GOOD),
    ("distributed-locking", "whole-lock", LOCK_RETRY_GOOD),
    ("rate-limiting", "fixed-window", FIXED_GOOD),
    ("rate-limiting", "fixed-window", FIXED_LUA_GOOD),
    ("cache-stampede", "mutex", MUTEX_GOOD),
], ids=["lua-release", "lock", "lock-with-retries", "fixed-multi", "fixed-lua", "mutex"])
def test_right_answers_pass(lesson: str, step: str, source: str) -> None:
    v = _grade(lesson, step, source)
    assert v.passed, v.current


@pytest.mark.parametrize("lesson, step, source, broken", [
    ("distributed-locking", "safe-release", "return redis.call('DEL', KEYS[1])",
     "deleted-others-lock"),
    ("distributed-locking", "safe-release",
     "redis.call('DEL', KEYS[1]) return 1", "deleted-others-lock"),
    ("distributed-locking", "whole-lock", LOCK_RELEASE_NO_TOKEN, "deleted-others-lock"),
    ("distributed-locking", "whole-lock", LOCK_RELEASE_GET_THEN_DEL, "deleted-others-lock"),
    ("distributed-locking", "whole-lock", LOCK_NO_TTL, "no-ttl"),
    ("distributed-locking", "whole-lock", LOCK_SETNX_THEN_EXPIRE, "no-ttl"),
    ("distributed-locking", "whole-lock", LOCK_NO_NX, "stole-lock"),
    ("rate-limiting", "fixed-window", FIXED_INCR_THEN_EXPIRE, "no-ttl"),
    ("rate-limiting", "fixed-window", FIXED_GET_THEN_SET, "over-limit"),
    ("rate-limiting", "fixed-window", FIXED_TOO_STRICT, "over-rejection"),
    ("cache-stampede", "mutex", NAIVE, "recompute-once"),
    ("cache-stampede", "mutex", MUTEX_NO_TTL, "wait-bound"),
    ("cache-stampede", "mutex", MUTEX_NO_SECOND_LOOK, "recompute-once"),
], ids=["lua-plain-del", "lua-del-return-1", "release-without-token", "release-get-then-del",
        "lock-without-ttl", "setnx-then-expire", "set-without-nx", "incr-then-expire-race",
        "get-then-set-race", "off-by-one", "naive-cache-aside", "mutex-without-ttl",
        "mutex-without-second-look"])
def test_wrong_answers_fail_with_the_invariant_they_break(lesson: str, step: str, source: str,
                                                          broken: str) -> None:
    v = _grade(lesson, step, source)
    assert not v.passed
    assert broken in v.violations, (v.violations, v.current)
    assert any(line.startswith("✗") for line in v.current)
    assert v.misconception  # a known mistake explains it


def test_stampede_verdict_carries_the_database_load_series() -> None:
    v = _grade("cache-stampede", "mutex", NAIVE)
    load = v.series["database queries"]
    assert max(load) >= 500 and v.series_unit == "queries per 100 ms"


def test_wrong_lua_is_an_error_not_a_crash() -> None:
    v = _grade("distributed-locking", "safe-release", "this is not lua (")
    assert not v.passed and "error" in v.violations
