"""Learner code that raises, loops, hangs or kills its process is stopped and reported.

Learner Python runs in a child process (``learn/worker.py``); these tests go through it,
with short time limits so they stay quick.
"""

from __future__ import annotations

import pytest

from redislab.learn.solutions import Solution
from redislab.learn.worker import run_isolated


@pytest.fixture(autouse=True)
def quick_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDISLAB_SIM_WALL_TIMEOUT", "1.0")


def _check(source: str, time_limit: float = 60.0):  # type: ignore[no-untyped-def]
    return run_isolated("counter", Solution("python", source, "increment.py"), {}, (1,),
                        "two clients", time_limit=time_limit)


def test_correct_code_passes_in_the_child() -> None:
    v = _check("def increment(r, key):\n    r.incr(key)\n")
    assert v.passed, v.current


def test_an_exception_is_reported_with_its_line() -> None:
    v = _check("def increment(r, key):\n    r.incr(key)\n    raise ValueError('oops')\n")
    assert not v.passed and "error" in v.violations
    assert any("ValueError at line 3 of increment.py: oops" in c for c in v.current)


def test_a_syntax_error_names_the_line() -> None:
    v = _check("def increment(r, key)\n    pass\n")
    assert not v.passed and any("line 1" in c and "syntax error" in c for c in v.current)


def test_a_missing_function_is_named() -> None:
    v = _check("def incr(r, key):\n    pass\n")
    assert not v.passed and any("must define a function increment()" in c for c in v.current)


def test_an_endless_loop_is_stopped() -> None:
    v = _check("def increment(r, key):\n    while True:\n        pass\n")
    assert not v.passed and "hang" in v.violations
    assert any("without sending a command" in c for c in v.current)


def test_a_command_loop_without_sleep_is_a_livelock() -> None:
    v = _check("def increment(r, key):\n    while True:\n        r.get(key)\n")
    assert not v.passed and "livelock" in v.violations


def test_a_hang_while_loading_hits_the_time_limit() -> None:
    v = _check("import time\ntime.sleep(60)\n", time_limit=3.0)
    assert not v.passed and "hang" in v.violations
    assert any("stopped after 3s" in c for c in v.current)


def test_killing_the_process_is_reported() -> None:
    v = _check("import os\ndef increment(r, key):\n    os._exit(3)\n")
    assert not v.passed and "error" in v.violations
    assert any("exit status 3" in c for c in v.current)


def test_a_memory_bomb_is_reported() -> None:
    v = _check("def increment(r, key):\n    x = 'a' * (10 ** 13)\n")
    assert not v.passed and "error" in v.violations


def test_runaway_lua_in_process_is_killed() -> None:
    from redislab.learn.scenarios import run_scenario, verdict_from
    from redislab.sim import scheduler

    old = scheduler.DEFAULT_WALL_TIMEOUT
    scheduler.DEFAULT_WALL_TIMEOUT = 0.5
    try:
        results = run_scenario("lock", Solution("lua", "while true do end", "release.lua"),
                               {"part": "release", "explore": False}, (1,))
    finally:
        scheduler.DEFAULT_WALL_TIMEOUT = old
    v = verdict_from("lock", results, params={"part": "release"})
    assert not v.passed and "error" in v.violations
