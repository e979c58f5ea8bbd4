"""``redislab dev check``: proves every lesson can be used and solved.

For each lesson file: the schema (via the loader, with file, line and field), unique ids,
prerequisites that exist, command names and arities (against the command table) in
``commands``, setups, solutions and mistake examples. For each step with a check, on
several seeds: the start state (and, for simulation steps, the exercise file as shipped)
fails the check; the reference solution passes it; every known-mistake message is reached
by its example. Steps that need an engine feature not built yet are skipped, with the
reason. Nothing here prints: the result is a :class:`Report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..engine import TABLE
from ..protocol import split_args
from .loader import LessonError, load_all
from .model import Lesson, Step, fill
from .runner import LessonRun, exercise_template
from .topology import LINE_WORDS, check_line

__all__ = ["Report", "validate", "validate_lesson", "check_command_line", "SEEDS"]

SEEDS = (11, 23, 37)
SIM_SEEDS = (11, 23)


@dataclass
class Report:
    lessons: int = 0
    steps: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_command_line(line: str) -> str | None:
    """Why ``line`` is not a valid command for the table (None if it is)."""
    if line.startswith(":"):
        words = line.split()
        if words[0] in (":advance", ":wait") and len(words) == 2:
            return None
        if words[0] == ":crash" and len(words) <= 2:
            return None
        if words[0][1:] in LINE_WORDS:
            return check_line(words)
        return f"unknown lesson line {line!r}"
    if line.startswith("@"):
        _, _, line = line.partition(" ")
    argv = split_args(line)
    if not argv:
        return f"not a command line: {line!r}"
    name = argv[0].decode("utf-8", "replace")
    spec = TABLE.lookup(argv[0])
    if spec is None:
        return f"unknown command {name!r} in {line!r}"
    if spec.subcommands and len(argv) > 1:
        sub = spec.subcommands.get(argv[1].decode("utf-8", "replace").upper())
        if sub is None:
            return f"unknown subcommand in {line!r}"
        spec = sub
    a = spec.arity
    if (len(argv) != a) if a > 0 else (len(argv) < -a):
        return f"wrong number of arguments for {spec.full_name} in {line!r}"
    return None


def validate(base: str | Path | None = None,
             progress: Callable[[str], None] | None = None) -> Report:
    """Validate every lesson under ``base`` (the lessons folder)."""
    report = Report()
    lessons, errors = load_all(base)
    report.errors += [str(e) for e in errors]
    ids = {lesson.id for lesson in lessons}
    for lesson in lessons:
        if progress is not None:
            progress(lesson.id)
        for p in lesson.prerequisites:
            if p not in ids:
                report.errors.append(f"{lesson.path}: prerequisites: no lesson {p!r}")
        validate_lesson(lesson, report)
    return report


def _where(lesson: Lesson, step: Step | None = None) -> str:
    where = str(lesson.path)
    if step is not None:
        where += f": step {step.index + 1} ({step.id})"
    return where


def validate_lesson(lesson: Lesson, report: Report) -> None:
    report.lessons += 1
    for name in lesson.commands:
        if TABLE.lookup(name.split()[0].encode()) is None:
            report.errors.append(f"{lesson.path}: commands: unknown command {name!r}")
    for step in lesson.steps:
        report.steps += 1
        try:
            _validate_step(lesson, step, report)
        except Exception as e:  # a broken lesson must not stop the others being checked
            report.errors.append(f"{_where(lesson, step)}: validating it failed: "
                                 f"{type(e).__name__}: {e}")


def _lines_ok(lesson: Lesson, step: Step, what: str, lines: tuple[str, ...] | list[str],
              report: Report) -> None:
    values = step.values(SEEDS[0])
    for line in lines:
        problem = check_command_line(fill(line, values))
        if problem:
            report.errors.append(f"{_where(lesson, step)}: {what}: {problem}")


def _validate_step(lesson: Lesson, step: Step, report: Report) -> None:
    where = _where(lesson, step)
    _lines_ok(lesson, step, "setup", step.setup, report)
    if isinstance(step.solution, tuple):
        _lines_ok(lesson, step, "solution", step.solution, report)
    for m in step.mistakes:
        if isinstance(m.example, tuple):
            _lines_ok(lesson, step, "mistake example", m.example, report)
    if not step.checks:
        return
    if len(step.hints) != 3:
        report.errors.append(f"{where}: hints: a checked step needs three hints (a nudge, the "
                             f"concept, nearly the answer), not {len(step.hints)}")
    if not step.solution:
        report.errors.append(f"{where}: solution: a checked step needs a reference solution")
        return
    if step.simulated:
        template = exercise_template(lesson, step)
        if template is None or not template.exists():
            report.errors.append(f"{where}: exercise: {step.exercise} is not in "
                                 f"{lesson.path.parent / 'exercises' if lesson.path else '?'}")
            return
        if not isinstance(step.solution, str):
            report.errors.append(f"{where}: solution: a simulation step's solution is the "
                                 "text of the exercise file")
            return
    run = LessonRun(lesson, seed=SEEDS[0], isolate=False, start=step.index,
                    workspace=Path("/nonexistent"))
    if run.skip_reason:
        report.skipped.append(f"{where}: skipped: {run.skip_reason}")
        return
    if step.simulated:
        _validate_simulated(lesson, step, run, report)
    else:
        _validate_commands(lesson, step, report)


def _validate_commands(lesson: Lesson, step: Step, report: Report) -> None:
    where = _where(lesson, step)
    for seed in SEEDS:
        run = LessonRun(lesson, seed=seed, isolate=False, start=step.index)
        if run.check().passed:
            report.errors.append(f"{where}: the check already passes before the learner does "
                                 f"anything (seed {seed})")
            return
        run = LessonRun(lesson, seed=seed, isolate=False, start=step.index)
        assert isinstance(step.solution, tuple)
        for line in step.solution:
            sub = run.submit(fill(line, run.values))
            if sub.refused:
                report.errors.append(f"{where}: solution line {line!r} is refused: "
                                     f"{sub.refused}")
                return
        v = run.check()
        if not v.passed:
            report.errors.append(f"{where}: the reference solution does not pass (seed {seed}):"
                                 f" {v.summary}; goal {v.goal}; now {v.current}")
            return
    for i, m in enumerate(step.mistakes):
        if m.example is None:
            report.errors.append(f"{where}: mistake {i + 1} has no example to prove its "
                                 "message can be reached")
            continue
        run = LessonRun(lesson, seed=SEEDS[0], isolate=False, start=step.index)
        lines = [m.example] if isinstance(m.example, str) else list(m.example)
        for line in lines:
            run.submit(fill(line, run.values))
        v = run.check()
        expected = fill(m.message, run.values)
        if v.passed or v.misconception != expected:
            report.errors.append(f"{where}: mistake {i + 1} is not reached by its example "
                                 f"(passed={v.passed}, message={v.misconception!r})")


def _validate_simulated(lesson: Lesson, step: Step, run: LessonRun, report: Report) -> None:
    where = _where(lesson, step)
    template = exercise_template(lesson, step)
    assert template is not None
    shipped = run.check(source=template.read_text("utf-8"), seeds=SIM_SEEDS[:1])
    if shipped.passed:
        report.errors.append(f"{where}: the exercise file as shipped already passes")
    assert isinstance(step.solution, str)
    v = run.check(source=step.solution, seeds=SIM_SEEDS)
    if not v.passed:
        report.errors.append(f"{where}: the reference solution does not pass: {v.summary}; "
                             f"{v.current}")
    for i, m in enumerate(step.mistakes):
        if not isinstance(m.example, str):
            report.errors.append(f"{where}: mistake {i + 1} needs an example (the text of a "
                                 "wrong exercise file)")
            continue
        v = run.check(source=m.example, seeds=SIM_SEEDS[:1])
        if v.passed or v.misconception != fill(m.message, run.values):
            report.errors.append(f"{where}: mistake {i + 1} is not reached by its example "
                                 f"(passed={v.passed}, violations={v.violations}, "
                                 f"message={v.misconception!r})")


__all__ += ["LessonError"]
