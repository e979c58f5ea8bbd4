"""Lessons run on a real redis-server (``--url``) instead of the embedded engine."""

from __future__ import annotations

from typing import Iterator

import pytest

from redislab.learn.loader import load_all
from redislab.learn.model import fill
from redislab.learn.remote import ServerTarget, needs_engine, server_lesson_run

from ..support.real_redis import RedisServer

pytestmark = pytest.mark.real

LESSONS, _ = load_all()

# Steps whose outcome on a real server differs from the embedded engine's, and why.
DIFFERENT_ON_A_SERVER = {
    "volatile-without-ttl": "its 1 MB maxmemory is below what a real redis-server uses when "
                            "empty (about 1.05 MB), so the first write is refused before "
                            "any key can get a TTL and be evicted",
}


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    # A server of their own: lessons change its configuration.
    s = RedisServer()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def target(server: RedisServer) -> Iterator[ServerTarget]:
    t = ServerTarget(f"redis://127.0.0.1:{server.port}/9")
    try:
        yield t
    finally:
        t.close()


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_lesson_steps_pass_on_the_server_or_say_why_not(lesson, target: ServerTarget) -> None:
    """Every checked step: failing at the start, passing after the reference solution, with
    the commands run and the state checked on the server; or skipped with its reason."""
    run = server_lesson_run(lesson, target, isolate=False, start=0, seed=7)
    for index, step in enumerate(lesson.steps):
        run.goto(index)
        if run.skip_reason:
            v = run.check()
            assert not v.passed and v.skipped == run.skip_reason
            continue
        if not step.checks:
            continue
        assert not run.check().passed, f"{step.id} passes before any command"
        for line in step.solution:
            sub = run.submit(fill(line, run.values))
            assert sub.refused is None, (step.id, line, sub.refused)
        v = run.check()
        if step.id in DIFFERENT_ON_A_SERVER:
            assert not v.passed, f"{step.id} now passes on a server: drop it from the list"
            continue
        assert v.passed, (step.id, v.summary, v.current)


def test_the_learners_data_lives_on_the_server(target: ServerTarget) -> None:
    lesson = next(lesson for lesson in LESSONS if lesson.id == "strings-counters-ttl")
    run = server_lesson_run(lesson, target, isolate=False, start=0, seed=7)
    sub = run.submit("SET on-the-server yes")
    assert sub.reply == "OK"
    assert target.control.call("GET", "on-the-server") == b"yes"
    assert run.engine.dbs[0].data.get(b"on-the-server") is None  # not the embedded engine
    assert run.submit(":advance 5s").refused == needs_engine([":advance 5s"])


def test_engine_only_lines_are_named() -> None:
    assert "manual clock" in (needs_engine(["SET a 1", ":advance 5s"]) or "")
    assert "crashes" in (needs_engine([":crash"]) or "")
    assert "simulated clients" in (needs_engine([], simulated=True) or "")
    assert needs_engine(["SET a 1", "GET a"]) is None
