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


# --------------------------------------------------------------------------------------------
# Quiz

@pytest.fixture
def quiz_on_server(target: ServerTarget) -> Iterator[ServerTarget]:
    from redislab.learn import quiz_grade

    quiz_grade.use_server(target)
    try:
        yield target
    finally:
        quiz_grade.use_server(None)


def _bank():  # type: ignore[no-untyped-def]
    from redislab.learn.quiz_bank import load_bank

    return load_bank()


def test_quiz_items_grade_on_the_server_as_on_the_engine(quiz_on_server: ServerTarget) -> None:
    """Predict items: the server's reply is what the engine predicted; hands-on items: the
    reference solution passes on the server. Items needing the engine are named, not run."""
    from redislab.learn import quiz_grade
    from redislab.learn.quiz_replies import canonical
    from redislab.learn.remote import item_needs_engine

    bank = _bank()
    ran = skipped = 0
    for item in bank.items:
        if item.kind not in ("predict", "hands-on"):
            continue
        reason = item_needs_engine(item)
        if reason is not None:
            assert "needs the embedded engine" in reason
            skipped += 1
            continue
        if item.kind == "predict":
            on_server = quiz_grade.predict_reply(item)
            quiz_grade.use_server(None)
            on_engine = quiz_grade.predict_reply(item)
            quiz_grade.use_server(quiz_on_server)
            same = canonical(on_server) == canonical(on_engine)
            if item.unordered and not same:
                same = sorted(map(repr, canonical(on_server)[1])) == \
                    sorted(map(repr, canonical(on_engine)[1]))
            assert same, (item.id, on_server, on_engine)
        else:
            grade = quiz_grade.grade_hands_on(item, item.solution, seed=3)
            assert grade.correct, (item.id, grade.details)
        ran += 1
    assert ran >= 10 and skipped >= 1


def test_a_quiz_session_on_the_server(quiz_on_server: ServerTarget) -> None:
    from redislab.learn.quiz import QuizSession
    from redislab.learn.quiz_progress import QuizProgress
    from redislab.learn.remote import item_needs_engine

    bank = _bank()
    session = QuizSession.plan(bank, QuizProgress(None), count=len(bank.items), seed=1,
                               kind="predict", save=False)
    assert session.items and all(item_needs_engine(i) is None for i in session.items)
    q = session.next_question()
    assert q is not None
    outcome = session.submit(q, "certainly not this")
    assert not outcome.correct


def test_redislab_learn_and_quiz_take_url(server: RedisServer, tmp_path) -> None:
    import subprocess
    import sys

    url = f"redis://127.0.0.1:{server.port}/9"
    lesson = subprocess.run(
        [sys.executable, "-m", "redislab", "learn", "strings-counters-ttl", "--url", url,
         "--progress-file", str(tmp_path / "progress.json")],
        input="SET cli-was-here 1\n:advance 5s\n", capture_output=True, text=True, timeout=60)
    assert lesson.returncode == 0, lesson.stderr
    assert f"on {url}: each step empties database 9" in lesson.stdout
    assert "needs the embedded engine" in lesson.stdout
    check = RedisServer.client(server)
    check.execute("SELECT", "9")
    assert check.execute("GET", "cli-was-here") == b"1"
    check.close()
    quiz = subprocess.run(
        [sys.executable, "-m", "redislab", "quiz", "--url", url, "--kind", "predict", "-n", "1",
         "--seed", "3", "--progress-file", str(tmp_path / "quiz.json")],
        input="(integer) 12345\n\n", capture_output=True, text=True, timeout=60)
    assert quiz.returncode == 0, quiz.stderr
    assert "Redis replies:" in quiz.stdout
