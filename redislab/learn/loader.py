"""Finding and reading lesson files; a malformed file is named with its line and field.

Where lessons come from, first match wins: an explicit path, the ``REDISLAB_LESSONS``
environment variable, the ``lessons/`` folder of a source checkout, then the copy packaged
inside the wheel (``redislab/_lessons``). Each ``NNN-slug.toml`` file is one lesson.

TOML syntax errors carry tomllib's own line and column; schema errors (a missing title, a
level that is not one of the three, an unknown check kind) are reported at the line where
the field is, or where it should have been.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import FORMAT_VERSION, LEVELS, VAR_KINDS, Lesson, Mistake, Step

__all__ = ["LessonError", "lessons_dir", "load_lesson", "load_all", "exercises_dir",
           "LESSON_FILE"]

LESSON_FILE = re.compile(r"^(\d{3})-([a-z0-9][a-z0-9-]*)\.toml$")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ENV = "REDISLAB_LESSONS"


class LessonError(Exception):
    """A lesson file that cannot be used: says which file, line and field."""

    def __init__(self, path: Path | str, line: int | None, field: str | None,
                 message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.message = message
        where = str(path) + (f":{line}" if line else "")
        what = f"{field}: " if field else ""
        super().__init__(f"{where}: {what}{message}")


def lessons_dir(override: str | Path | None = None) -> Path:
    """The folder lessons are read from (see the module docstring for the order)."""
    if override:
        return Path(override)
    env = os.environ.get(ENV)
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    checkout = here.parent.parent / "lessons"
    if checkout.is_dir() and any(checkout.glob("*.toml")):
        return checkout
    return here.parent / "_lessons"


def exercises_dir(base: Path) -> Path:
    return base / "exercises"


# ------------------------------------------------------------------------------------------
# Locating fields in the source text

class _Lines:
    """Where tables and keys sit in a lesson file, to point at them in error messages."""

    HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"-]+)\s*\]\]?")
    KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        # (line number, header) for each table header; step k starts at the k-th [[step]]
        self.steps: list[int] = []
        for n, line in enumerate(self.lines, 1):
            m = self.HEADER.match(line)
            if m and m.group(1) == "[[" and m.group(2) == "step":
                self.steps.append(n)

    def _span(self, step: int | None) -> tuple[int, int]:
        if step is None:
            return 1, (self.steps[0] - 1 if self.steps else len(self.lines))
        if step >= len(self.steps):
            return len(self.lines), len(self.lines)
        start = self.steps[step]
        end = self.steps[step + 1] - 1 if step + 1 < len(self.steps) else len(self.lines)
        return start, end

    def find(self, key: str, step: int | None = None, table: str | None = None) -> int:
        """Line of ``key =`` (inside ``table`` if given) in the top level or in a step."""
        start, end = self._span(step)
        in_table = table is None
        for n in range(start, end + 1):
            line = self.lines[n - 1] if n - 1 < len(self.lines) else ""
            h = self.HEADER.match(line)
            if h:
                name = h.group(2)
                if table is not None:
                    in_table = name == table or name.endswith("." + table)
                    if in_table and key == "":
                        return n
                elif name != "step":
                    # keys after a sub-table header belong to it, not to the step
                    if n != start:
                        in_table = key == name.split(".")[-1]
                        if in_table:
                            return n
                continue
            m = self.KEY.match(line)
            if m and m.group(1) == key and in_table:
                return n
        return start


# ------------------------------------------------------------------------------------------
# Reading one file

@dataclass
class _Ctx:
    path: Path
    where: _Lines

    def fail(self, message: str, field: str | None = None, step: int | None = None,
             key: str | None = None, table: str | None = None) -> LessonError:
        line = self.where.find(key or (field or "").split(".")[-1], step, table)
        name = field if step is None else f"step {step + 1}: {field}" if field else \
            f"step {step + 1}"
        return LessonError(self.path, line, name, message)


def _str(ctx: _Ctx, data: dict[str, Any], key: str, step: int | None = None,
         required: bool = True, default: str = "") -> str:
    if key not in data:
        if required:
            raise ctx.fail(f"missing (a string is required)", key, step, key)
        return default
    value = data[key]
    if not isinstance(value, str):
        raise ctx.fail(f"must be a string, not {type(value).__name__}", key, step, key)
    return value


def _bool(ctx: _Ctx, data: dict[str, Any], key: str, step: int | None = None) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ctx.fail("must be true or false", key, step, key)
    return value


def _strs(ctx: _Ctx, data: dict[str, Any], key: str, step: int | None = None) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.fail("must be a list of strings", key, step, key)
    return tuple(value)


TOP_KEYS = {"format_version", "id", "title", "level", "tags", "prerequisites", "minutes",
            "summary", "commands", "requires", "topology", "step"}
STEP_KEYS = {"id", "title", "text", "task", "setup", "vars", "requires", "forbidden", "check",
             "hints", "solution", "exercise", "mistakes", "explain", "checkpoint",
             "topology"}
MISTAKE_KEYS = {"message", "when", "violation", "example"}


def load_lesson(path: str | Path) -> Lesson:
    """Read and check one lesson file; raises :class:`LessonError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LessonError(path, None, None, f"cannot read: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        line = int(m.group(1)) if m else None
        raise LessonError(path, line, None, f"not valid TOML: {e}") from None
    ctx = _Ctx(path, _Lines(text))
    for key in data:
        if key not in TOP_KEYS:
            raise ctx.fail(f"unknown field (known: {', '.join(sorted(TOP_KEYS))})", key)
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ctx.fail(f"must be {FORMAT_VERSION} (this redislab reads lesson format "
                       f"{FORMAT_VERSION})", "format_version")
    lesson_id = _str(ctx, data, "id")
    if not ID_PATTERN.match(lesson_id):
        raise ctx.fail("use lowercase letters, digits and dashes", "id")
    m = LESSON_FILE.match(path.name)
    number = int(m.group(1)) if m else 0
    title = _str(ctx, data, "title")
    level = _str(ctx, data, "level")
    if level not in LEVELS:
        raise ctx.fail(f"must be one of {', '.join(LEVELS)}", "level")
    tags = _strs(ctx, data, "tags")
    prereq = _strs(ctx, data, "prerequisites")
    minutes = data.get("minutes", 0)
    if not isinstance(minutes, int) or minutes < 0:
        raise ctx.fail("must be a whole number of minutes", "minutes")
    steps_raw = data.get("step")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise ctx.fail("a lesson needs at least one [[step]]", "step")
    steps = tuple(_step(ctx, i, raw) for i, raw in enumerate(steps_raw))
    seen_ids: set[str] = set()
    for s in steps:
        if s.id in seen_ids:
            raise ctx.fail(f"two steps have the id {s.id!r}", "id", s.index)
        seen_ids.add(s.id)
    return Lesson(
        id=lesson_id, title=title, level=level, tags=tags, steps=steps,
        prerequisites=prereq, minutes=minutes, summary=_str(ctx, data, "summary",
                                                            required=False),
        commands=_strs(ctx, data, "commands"), requires=_strs(ctx, data, "requires"),
        topology=_topology(ctx, data, None), path=path, number=number)


def _step(ctx: _Ctx, i: int, raw: Any) -> Step:
    if not isinstance(raw, dict):
        raise ctx.fail("each [[step]] must be a table", None, i)
    for key in raw:
        if key not in STEP_KEYS:
            raise ctx.fail(f"unknown field (known: {', '.join(sorted(STEP_KEYS))})", key, i)
    sid = _str(ctx, raw, "id", i, required=False, default=f"step-{i + 1}")
    if not ID_PATTERN.match(sid):
        raise ctx.fail("use lowercase letters, digits and dashes", "id", i)
    checks_raw = raw.get("check", [])
    if isinstance(checks_raw, dict):
        checks_raw = [checks_raw]
    if not isinstance(checks_raw, list):
        raise ctx.fail("must be a table ([step.check]) or tables ([[step.check]])", "check", i)
    checks = tuple(_check(ctx, i, c, "check") for c in checks_raw)
    variables = raw.get("vars", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str)
                                                  for v in variables.values()):
        raise ctx.fail("must be a table of name = \"kind args\" strings", "vars", i)
    for name, spec in variables.items():
        kind = spec.split(" ", 1)[0]
        if kind not in VAR_KINDS or not re.match(r"^[a-z_][a-z0-9_]*$", name):
            raise ctx.fail(f"{name} = {spec!r}: a variable is int LO HI, choice A B ..., "
                           "token or word", "vars", i, name, "vars")
    hints = _strs(ctx, raw, "hints", i)
    solution = raw.get("solution", [])
    if isinstance(solution, list):
        if not all(isinstance(s, str) for s in solution):
            raise ctx.fail("must be command lines or the text of a file", "solution", i)
        solution = tuple(solution)
    elif not isinstance(solution, str):
        raise ctx.fail("must be command lines or the text of a file", "solution", i)
    exercise = _str(ctx, raw, "exercise", i, required=False)
    mistakes_raw = raw.get("mistakes", [])
    if not isinstance(mistakes_raw, list):
        raise ctx.fail("must be [[step.mistakes]] tables", "mistakes", i)
    mistakes = []
    for m in mistakes_raw:
        if not isinstance(m, dict):
            raise ctx.fail("must be [[step.mistakes]] tables", "mistakes", i)
        for key in m:
            if key not in MISTAKE_KEYS:
                raise ctx.fail(f"unknown field in a mistake (known: "
                               f"{', '.join(sorted(MISTAKE_KEYS))})", key, i, key)
        message = _str(ctx, m, "message", i)
        when = m.get("when")
        violation = m.get("violation")
        if (when is None) == (violation is None):
            raise ctx.fail("a mistake needs exactly one of when (a check) or violation",
                           "mistakes", i, "message")
        if when is not None:
            when = _check(ctx, i, when, "when")
        if violation is not None and not isinstance(violation, str):
            raise ctx.fail("must be the name of an invariant", "violation", i)
        example = m.get("example")
        if example is not None and not (isinstance(example, str) or (
                isinstance(example, list) and all(isinstance(e, str) for e in example))):
            raise ctx.fail("must be command lines or the text of a file", "example", i)
        mistakes.append(Mistake(message, when, violation,
                                tuple(example) if isinstance(example, list) else example))
    step = Step(
        index=i, id=sid, title=_str(ctx, raw, "title", i), text=_str(ctx, raw, "text", i),
        task=_str(ctx, raw, "task", i, required=False), setup=_strs(ctx, raw, "setup", i),
        vars=dict(variables), requires=_strs(ctx, raw, "requires", i),
        forbidden=tuple(f.upper() for f in _strs(ctx, raw, "forbidden", i)),
        checks=checks, hints=hints, solution=solution, exercise=exercise,
        mistakes=tuple(mistakes), explain=_str(ctx, raw, "explain", i, required=False),
        checkpoint=_bool(ctx, raw, "checkpoint", i), topology=_topology(ctx, raw, i))
    if step.simulated and not step.exercise:
        raise ctx.fail("a simulation check needs the exercise file the learner edits",
                       "exercise", i, "check")
    return step


def _topology(ctx: _Ctx, data: dict[str, Any], step: int | None) -> str:
    from .topology import parse_topology

    text = _str(ctx, data, "topology", step, required=False)
    try:
        parse_topology(text)
    except ValueError as e:
        raise ctx.fail(str(e), "topology", step) from None
    return text


def _check(ctx: _Ctx, i: int, raw: Any, name: str) -> dict[str, Any]:
    from .checks import KINDS

    if not isinstance(raw, dict):
        raise ctx.fail("must be a table", name, i)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ctx.fail(f"unknown check kind {kind!r} (known: {', '.join(sorted(KINDS))})",
                       f"{name}.kind", i, "kind")
    spec = KINDS[kind]
    for key in raw:
        if key != "kind" and key not in spec.params:
            raise ctx.fail(f"check kind {kind!r} has no parameter {key!r} (it takes "
                           f"{', '.join(sorted(spec.params))})", f"{name}.{key}", i, key)
    for key in spec.required:
        if key not in raw:
            raise ctx.fail(f"check kind {kind!r} needs {key!r}", f"{name}.{key}", i, "kind")
    problem = spec.validate(raw) if spec.validate else None
    if problem:
        raise ctx.fail(problem, f"{name}", i, "kind")
    return dict(raw)


def load_all(base: str | Path | None = None) -> tuple[list[Lesson], list[LessonError]]:
    """Every lesson under the lessons folder, in file order, with the errors of bad files."""
    folder = lessons_dir(base)
    lessons: list[Lesson] = []
    errors: list[LessonError] = []
    if not folder.is_dir():
        return lessons, [LessonError(folder, None, None, "no lessons folder here")]
    for path in sorted(folder.glob("*.toml")):
        if not LESSON_FILE.match(path.name):
            errors.append(LessonError(path, None, None,
                                      "lesson files are named NNN-slug.toml"))
            continue
        try:
            lessons.append(load_lesson(path))
        except LessonError as e:
            errors.append(e)
    seen: dict[str, Path] = {}
    for lesson in lessons:
        if lesson.id in seen:
            errors.append(LessonError(lesson.path or folder, 1, "id",
                                      f"{lesson.id!r} is also the id of {seen[lesson.id].name}"))
        seen.setdefault(lesson.id, lesson.path or folder)
    return lessons, errors
