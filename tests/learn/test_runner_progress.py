"""LessonRun without a terminal, and the progress file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redislab.learn.loader import load_lesson
from redislab.learn.progress import Progress, ProgressError
from redislab.learn.runner import LessonRun

from .conftest import COURSE


@pytest.fixture
def lesson():  # type: ignore[no-untyped-def]
    return load_lesson(COURSE / "010-good.toml")


def test_submit_checks_after_each_command(lesson, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    progress = Progress()
    run = LessonRun(lesson, progress=progress, seed=5, isolate=False)
    v = run.values["v"]
    assert run.task() == f"SET k {v}"
    assert run.submit("SET k 0").verdict is None
    verdict = run.check()
    assert not verdict.passed and verdict.misconception == f"zero is not {v}"
    assert verdict.goal == [f'k: exists, value "{v}"']
    sub = run.submit(f"SET k {v}")
    assert sub.verdict is not None and sub.verdict.passed and run.passed
    assert progress.done_steps("good") == ["set-a-key"]
    assert json.loads((data_dir / "progress.json").read_text())["lessons"]["good"]["done"] \
        == ["set-a-key"]


def test_forbidden_hints_solution_goal(lesson) -> None:  # type: ignore[no-untyped-def]
    progress = Progress()
    run = LessonRun(lesson, progress=progress, seed=5, isolate=False)
    assert "MSET is not allowed" in (run.submit("MSET k 1").refused or "")
    v = run.values["v"]
    assert run.hint() == (1, "one command")
    assert run.hint() == (2, "SET key value")
    assert run.hint() == (3, f"SET k {v}")
    assert run.hint() == (3, f"SET k {v}")
    assert run.solution() == f"SET k {v}"
    assert run.goal() == [f'k: exists, value "{v}"']
    entry = progress.lessons["good"]
    assert entry["hints"] == {"set-a-key": 3} and entry["solutions"] == ["set-a-key"]


def test_steps_reset_and_navigation(lesson) -> None:  # type: ignore[no-untyped-def]
    run = LessonRun(lesson, seed=5, isolate=False)
    run.submit("SET other 1")
    seen = {run.values["v"]}
    for _ in range(10):
        run.reset()
        seen.add(run.values["v"])
    assert len(seen) > 1  # a reset draws new hidden values
    assert run.session.execute("EXISTS", "other") == 0  # and starts from a fresh engine
    assert run.next() and run.step.id == "read"
    assert run.check().passed  # a reading step passes on :check
    assert run.next() and run.at_end and not run.next()
    assert run.prev() and run.prev() and not run.prev()
    run.goto(2)
    assert run.step.id == "counter"


def test_meta_lines_advance_and_other_clients(lesson) -> None:  # type: ignore[no-untyped-def]
    run = LessonRun(lesson, seed=5, isolate=False)
    run.submit("SET t x PX 500")
    assert run.submit(":advance 1s").meta == "clock advanced 1s"
    assert run.submit("GET t").reply is None
    run.submit("@bob SET k 1")
    assert "bob" in run.others


def test_exercise_file_and_simulation(lesson, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    run = LessonRun(lesson, seed=5, isolate=False, start=2)
    path = run.exercise_path()
    assert path is not None and path.exists() and str(path).startswith(str(data_dir))
    v = run.check(seeds=(1,))
    assert not v.passed and v.misconception == "read-modify-write"
    assert "lost-update" in v.violations
    path.write_text("def increment(r, key):\n    r.incr(key)\n")
    assert run.check(seeds=(1,)).passed
    run.reset_exercise()
    assert "r.set(key, n + 1)" in path.read_text()


def test_position_is_remembered(lesson) -> None:  # type: ignore[no-untyped-def]
    progress = Progress()
    run = LessonRun(lesson, progress=progress, seed=5, isolate=False)
    run.next()
    again = LessonRun(lesson, progress=Progress(), seed=5, isolate=False)
    assert again.index == 1


def test_progress_export_import_reset(tmp_path: Path) -> None:
    p = Progress(tmp_path / "p.json")
    p.mark_step("a", "s1", ["s1", "s2"])
    assert not p.completed("a")
    assert p.mark_step("a", "s2", ["s1", "s2"]) and p.completed("a")
    p.mark_step("b", "x", ["x", "y"])
    p.export(tmp_path / "out.json")
    q = Progress(tmp_path / "q.json")
    q.mark_step("b", "y", ["x", "y"])
    assert q.import_(tmp_path / "out.json") == 2
    assert sorted(q.done_steps("b")) == ["x", "y"] and q.completed("a")
    q.import_(tmp_path / "out.json", replace=True)
    assert q.done_steps("b") == ["x"]
    q.reset("a")
    assert "a" not in q.lessons and "b" in q.lessons
    q.reset()
    assert q.lessons == {}
    (tmp_path / "junk.json").write_text("[1, 2]")
    with pytest.raises(ProgressError):
        q.import_(tmp_path / "junk.json")


def test_corrupt_progress_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    path.write_text("{ not json")
    p = Progress(path)
    assert p.lessons == {} and p.warning is not None and "moved aside" in p.warning
    aside = list(tmp_path.glob("progress.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{ not json"
    p.mark_step("a", "s", ["s"])
    assert json.loads(path.read_text())["lessons"]["a"]["done"] == ["s"]
