"""The quiz bank: items read from lessons/quiz/*.toml (format in lessons/quiz/README.md).

An item is plain data: a question of one of six kinds, its tags, the lesson that teaches it
and what is needed to grade it. Nothing here runs an engine; ``quiz_grade`` does. Complexity
items are the exception to "written by hand": a file names the command and the question, the
choices and their explanations come from the command table, so they never drift from it.

A file that cannot be used is reported with its path, line and field, like a lesson file.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

__all__ = [
    "KINDS", "LEVELS", "Choice", "Goal", "Case", "RubricPoint", "Item", "Bank", "BankError",
    "quiz_dir", "load_file", "load_bank", "draw", "fill", "FAST_SECONDS",
]

KINDS = ("choice", "short", "predict", "hands-on", "complexity", "explain")
LEVELS = ("beginner", "intermediate", "advanced")
ANSWER_KINDS = ("commands", "lua")
VAR_KINDS = ("int", "choice", "token", "word")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
ENV = "REDISLAB_QUIZ"

# Seconds under which a right answer with no hints counts as "fast" (an Easy review).
FAST_SECONDS = {"choice": 15.0, "complexity": 10.0, "short": 20.0, "predict": 30.0,
                "hands-on": 120.0, "explain": 0.0}


class BankError(Exception):
    """A quiz file that cannot be used: which file, line and field, and why."""

    def __init__(self, path: Path | str, line: int | None, field: str | None,
                 message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.message = message
        where = str(path) + (f":{line}" if line else "")
        what = f"{field}: " if field else ""
        super().__init__(f"{where}: {what}{message}")


@dataclass(frozen=True)
class Choice:
    text: str
    correct: bool = False
    why: str = ""          # for a wrong option: why it is wrong


@dataclass(frozen=True)
class Goal:
    """One predicate over the state a hands-on answer leaves (or over its last reply).

    ``probe`` is a command run by a separate client after the answer; ``result`` checks the
    reply of the answer itself instead. Then exactly one test: ``equals`` (reply text in
    redis-cli form), ``between`` (an integer range) or ``same`` (the reply the reference
    solution gets on the same data).
    """

    probe: str = ""
    result: bool = False
    equals: str | None = None
    between: tuple[float, float] | None = None
    same: bool = False
    unordered: bool = False
    advance: float = 0.0   # seconds the clock moves before the probe runs
    message: str = ""      # said when this predicate fails (the likely misconception)

    def describe(self) -> str:
        what = "the reply of your answer" if self.result else f"`{self.probe}`"
        if self.equals is not None:
            test = f"replies {self.equals}"
        elif self.between is not None:
            test = f"is between {_num(self.between[0])} and {_num(self.between[1])}"
        else:
            test = "matches the reference solution" + (" (any order)" if self.unordered else "")
        later = f"after {_num(self.advance)} s, " if self.advance else ""
        return f"{later}{what} {test}"


@dataclass(frozen=True)
class Case:
    """A scenario a hands-on answer must handle: extra setup and the goals that must hold."""

    setup: tuple[str, ...]
    goals: tuple[Goal, ...]
    title: str = ""


@dataclass(frozen=True)
class RubricPoint:
    point: str
    keywords: tuple[str, ...] = ()   # words that suggest the point is covered (pre-ticked)


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    topic: str
    prompt: str
    tags: tuple[str, ...]
    lesson: str
    explanation: str = ""
    hints: tuple[str, ...] = ()
    level: str = "intermediate"
    fast: float = 0.0
    # choice / complexity
    choices: tuple[Choice, ...] = ()
    # short
    accept: tuple[str, ...] = ()
    case_sensitive: bool = False
    spaces: str = "collapse"           # collapse | ignore
    # predict
    commands: tuple[str, ...] = ()
    answer: str = ""                   # the reply as redis-cli prints it (predict, short)
    unordered: bool = False
    resp: int = 2
    # hands-on
    answer_kind: str = "commands"
    setup: tuple[str, ...] = ()
    cases: tuple[Case, ...] = ()
    vars: tuple[tuple[str, str], ...] = ()
    keys: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    solution: str = ""
    forbidden: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()        # admin commands this question lets the answer use
    variants: int = 3
    max_commands: int = 50
    # wrong answers that must be rejected (short, predict, hands-on)
    wrong: tuple[str, ...] = ()
    # explain
    rubric: tuple[RubricPoint, ...] = ()
    model: str = ""
    pass_ratio: float = 0.6
    # complexity
    command: str = ""
    # where it came from
    path: Path | None = None
    line: int = 0

    @property
    def fast_seconds(self) -> float:
        return self.fast or FAST_SECONDS.get(self.kind, 0.0)

    @property
    def correct_index(self) -> int:
        for i, c in enumerate(self.choices):
            if c.correct:
                return i
        return -1

    def values(self, seed: int) -> dict[str, str]:
        """The hidden variables of this item drawn for ``seed``."""
        rng = random.Random(f"{seed}/{self.id}")
        return {name: draw(spec, rng) for name, spec in self.vars}

    def matches(self, topic: str | None = None, kind: str | None = None) -> bool:
        if kind and self.kind != kind and not (kind == "choice" and self.kind == "complexity"):
            return False
        if topic:
            t = topic.lower()
            return self.topic == t or t in self.tags
        return True


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


# ------------------------------------------------------------------------------------------
# Variables

def draw(spec: str, rng: random.Random) -> str:
    """One value for a variable spec: ``int LO HI``, ``choice A B ...``, ``token``, ``word``."""
    kind, _, rest = spec.strip().partition(" ")
    args = rest.split()
    if kind == "int":
        return str(rng.randint(int(args[0]), int(args[1])))
    if kind == "choice":
        return rng.choice(args)
    if kind == "token":
        return "%016x" % rng.getrandbits(64)
    if kind == "word":
        return "".join(rng.choice("abcdefghijkmnopqrstuvwxyz") for _ in range(6))
    raise ValueError(f"unknown variable kind {kind!r} (int, choice, token, word)")


def fill(text: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` for this item's variables only (Lua's own braces are left alone)."""
    if not values or "{" not in text:
        return text
    pattern = re.compile(r"\{(" + "|".join(re.escape(k) for k in values) + r")\}")
    return pattern.sub(lambda m: values[m.group(1)], text)


# ------------------------------------------------------------------------------------------
# Where quiz files live

def quiz_dir(override: str | Path | None = None) -> Path:
    """The quiz folder: an explicit path, ``$REDISLAB_QUIZ``, ``$REDISLAB_LESSONS/quiz``,
    a source checkout's ``lessons/quiz``, then the copy packaged in the wheel."""
    if override:
        return Path(override)
    env = os.environ.get(ENV)
    if env:
        return Path(env)
    lessons = os.environ.get("REDISLAB_LESSONS")
    if lessons and (Path(lessons) / "quiz").is_dir():
        return Path(lessons) / "quiz"
    here = Path(__file__).resolve().parent
    checkout = here.parent.parent / "lessons" / "quiz"
    if checkout.is_dir() and any(checkout.glob("*.toml")):
        return checkout
    return here.parent / "_lessons" / "quiz"


# ------------------------------------------------------------------------------------------
# Locating fields in the source text, for error messages

class _Lines:
    HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"-]+)\s*\]\]?")
    KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.items: list[int] = []
        for n, line in enumerate(self.lines, 1):
            m = self.HEADER.match(line)
            if m and line.lstrip().startswith("[[") and m.group(1) == "item":
                self.items.append(n)

    def item_line(self, index: int | None) -> int:
        if index is None:
            return 1
        return self.items[index] if index < len(self.items) else len(self.lines)

    def find(self, key: str, index: int | None) -> int:
        if index is None:
            start, end = 1, (self.items[0] - 1 if self.items else len(self.lines))
        else:
            start = self.item_line(index)
            end = self.items[index + 1] - 1 if index + 1 < len(self.items) else len(self.lines)
        for n in range(start, end + 1):
            m = self.KEY.match(self.lines[n - 1]) if n - 1 < len(self.lines) else None
            if m and m.group(1) == key:
                return n
        return start


@dataclass
class _Ctx:
    path: Path
    where: _Lines
    index: int | None = None
    item_id: str = ""

    def fail(self, field: str | None, message: str) -> BankError:
        line = self.where.find((field or "").split(".")[-1], self.index)
        if self.index is not None:
            name = f"item {self.item_id or self.index + 1}" + (f": {field}" if field else "")
        else:
            name = field
        return BankError(self.path, line, name, message)


def _get_str(ctx: _Ctx, data: dict[str, Any], key: str, required: bool = False,
             default: str = "") -> str:
    if key not in data:
        if required:
            raise ctx.fail(key, "missing (a string is required)")
        return default
    value = data[key]
    if not isinstance(value, str):
        raise ctx.fail(key, f"must be a string, not {type(value).__name__}")
    return value


def _get_strs(ctx: _Ctx, data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.fail(key, "must be a list of strings")
    return tuple(value)


def _get_bool(ctx: _Ctx, data: dict[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ctx.fail(key, "must be true or false")
    return value


def _get_num(ctx: _Ctx, data: dict[str, Any], key: str, default: float = 0.0) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.fail(key, "must be a number")
    return float(value)


def _get_int(ctx: _Ctx, data: dict[str, Any], key: str, default: int,
             lo: int, hi: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ctx.fail(key, f"must be a whole number from {lo} to {hi}")
    return value


# ------------------------------------------------------------------------------------------
# Reading one file

FILE_KEYS = {"format_version", "topic", "title", "lesson", "tags", "level", "item"}
COMMON_KEYS = {"id", "kind", "prompt", "tags", "lesson", "explanation", "hints", "level",
               "fast", "topic"}
KIND_KEYS = {
    "choice": {"choices"},
    "short": {"accept", "answer", "case_sensitive", "spaces", "wrong"},
    "predict": {"commands", "answer", "unordered", "resp", "wrong"},
    "hands-on": {"answer_kind", "setup", "case", "goal", "vars", "keys", "args", "solution",
                 "forbidden", "allow", "variants", "max_commands", "wrong"},
    "complexity": {"command"},
    "explain": {"rubric", "model", "pass_ratio"},
}
GOAL_KEYS = {"probe", "result", "equals", "between", "same", "unordered", "advance", "message"}
CASE_KEYS = {"setup", "goal", "title"}
FORMAT_VERSION = 1


def load_file(path: str | Path, table: Any = None) -> tuple[dict[str, str], list[Item]]:
    """Read one quiz file: its header (topic, title ...) and its items.

    Raises :class:`BankError` naming the file, line and field of the first problem.
    """
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BankError(path, None, None, f"cannot read: {e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        raise BankError(path, int(m.group(1)) if m else None, None,
                        f"not valid TOML: {e}") from None
    ctx = _Ctx(path, _Lines(text))
    for key in data:
        if key not in FILE_KEYS:
            raise ctx.fail(key, f"unknown field (known: {', '.join(sorted(FILE_KEYS))})")
    if data.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise ctx.fail("format_version", f"must be {FORMAT_VERSION}")
    topic = _get_str(ctx, data, "topic", required=True)
    if not ID_PATTERN.match(topic):
        raise ctx.fail("topic", "use lowercase letters, digits and dashes")
    header = {
        "topic": topic,
        "title": _get_str(ctx, data, "title", default=topic.replace("-", " ").capitalize()),
        "lesson": _get_str(ctx, data, "lesson"),
        "level": _get_str(ctx, data, "level", default="intermediate"),
    }
    if header["level"] not in LEVELS:
        raise ctx.fail("level", f"must be one of {', '.join(LEVELS)}")
    file_tags = _get_strs(ctx, data, "tags")
    raw_items = data.get("item", [])
    if not isinstance(raw_items, list) or not raw_items:
        raise ctx.fail("item", "a quiz file needs at least one [[item]]")
    items = []
    for i, raw in enumerate(raw_items):
        ctx.index = i
        ctx.item_id = raw.get("id", "") if isinstance(raw, dict) else ""
        items.append(_item(ctx, raw, header, file_tags, table))
    return header, items


def _item(ctx: _Ctx, raw: Any, header: dict[str, str], file_tags: tuple[str, ...],
          table: Any) -> Item:
    if not isinstance(raw, dict):
        raise ctx.fail(None, "each [[item]] must be a table")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ctx.fail("kind", f"must be one of {', '.join(KINDS)}")
    allowed = COMMON_KEYS | KIND_KEYS[kind]
    for key in raw:
        if key not in allowed:
            raise ctx.fail(key, f"not a field of a {kind} item (it takes "
                                f"{', '.join(sorted(allowed))})")
    if kind == "complexity":
        return _complexity_item(ctx, raw, header, file_tags, table)
    item_id = _get_str(ctx, raw, "id", required=True)
    if not ID_PATTERN.match(item_id):
        raise ctx.fail("id", "use lowercase letters, digits and dashes")
    common = _common(ctx, raw, header, file_tags, item_id, kind)
    if kind == "choice":
        return Item(**common, choices=_choices(ctx, raw))
    if kind == "short":
        accept = _get_strs(ctx, raw, "accept")
        answer = _get_str(ctx, raw, "answer")
        if not accept and not answer:
            raise ctx.fail("accept", "a short item needs accept = [...] (or answer)")
        spaces = _get_str(ctx, raw, "spaces", default="collapse")
        if spaces not in ("collapse", "ignore"):
            raise ctx.fail("spaces", "must be collapse or ignore")
        return Item(**common, accept=accept or (answer,), answer=answer or accept[0],
                    case_sensitive=_get_bool(ctx, raw, "case_sensitive"), spaces=spaces,
                    wrong=_get_strs(ctx, raw, "wrong"))
    if kind == "predict":
        commands = _get_strs(ctx, raw, "commands")
        if not commands:
            raise ctx.fail("commands", "a predict item needs the commands it shows")
        resp = _get_int(ctx, raw, "resp", 2, 2, 3)
        return Item(**common, commands=commands, answer=_get_str(ctx, raw, "answer",
                                                                 required=True),
                    unordered=_get_bool(ctx, raw, "unordered"), resp=resp,
                    wrong=_get_strs(ctx, raw, "wrong"))
    if kind == "hands-on":
        return _hands_on(ctx, raw, common)
    # explain
    rubric_raw = raw.get("rubric")
    if not isinstance(rubric_raw, list) or not rubric_raw:
        raise ctx.fail("rubric", "an explain item needs rubric = [...] key points")
    rubric = []
    for point in rubric_raw:
        if isinstance(point, str):
            rubric.append(RubricPoint(point))
        elif isinstance(point, dict) and isinstance(point.get("point"), str):
            extra = set(point) - {"point", "keywords"}
            if extra:
                raise ctx.fail("rubric", f"a rubric point takes point and keywords, "
                                         f"not {', '.join(sorted(extra))}")
            kws = point.get("keywords", [])
            if not isinstance(kws, list) or not all(isinstance(k, str) for k in kws):
                raise ctx.fail("rubric", "keywords must be a list of strings")
            rubric.append(RubricPoint(point["point"], tuple(k.lower() for k in kws)))
        else:
            raise ctx.fail("rubric", "each point is a string or { point = ..., keywords = "
                                     "[...] }")
    ratio = _get_num(ctx, raw, "pass_ratio", 0.6)
    if not 0 < ratio <= 1:
        raise ctx.fail("pass_ratio", "must be above 0 and at most 1")
    return Item(**common, rubric=tuple(rubric), model=_get_str(ctx, raw, "model",
                                                               required=True),
                pass_ratio=ratio)


def _common(ctx: _Ctx, raw: dict[str, Any], header: dict[str, str],
            file_tags: tuple[str, ...], item_id: str, kind: str) -> dict[str, Any]:
    tags = tuple(dict.fromkeys(file_tags + _get_strs(ctx, raw, "tags")))
    level = _get_str(ctx, raw, "level", default=header["level"])
    if level not in LEVELS:
        raise ctx.fail("level", f"must be one of {', '.join(LEVELS)}")
    topic = _get_str(ctx, raw, "topic", default=header["topic"])
    fast = _get_num(ctx, raw, "fast", 0.0)
    if fast < 0:
        raise ctx.fail("fast", "must be a number of seconds, at least 0")
    prompt = _get_str(ctx, raw, "prompt", required=kind != "complexity")
    explanation = _get_str(ctx, raw, "explanation", required=kind not in ("explain",
                                                                          "complexity"))
    return dict(
        id=item_id, kind=kind, topic=topic, prompt=prompt.strip(), tags=tags,
        lesson=_get_str(ctx, raw, "lesson", default=header["lesson"]),
        explanation=explanation.strip(), hints=_get_strs(ctx, raw, "hints"), level=level,
        fast=fast, path=ctx.path, line=ctx.where.item_line(ctx.index))


def _choices(ctx: _Ctx, raw: dict[str, Any]) -> tuple[Choice, ...]:
    value = raw.get("choices")
    if not isinstance(value, list) or len(value) < 2:
        raise ctx.fail("choices", "a choice item needs at least two choices")
    out = []
    for c in value:
        if not isinstance(c, dict) or not isinstance(c.get("text"), str):
            raise ctx.fail("choices", "each choice is { text = ..., correct = true } or "
                                      "{ text = ..., why = ... }")
        extra = set(c) - {"text", "correct", "why"}
        if extra:
            raise ctx.fail("choices", f"a choice takes text, correct and why, not "
                                      f"{', '.join(sorted(extra))}")
        correct = c.get("correct", False)
        why = c.get("why", "")
        if not isinstance(correct, bool) or not isinstance(why, str):
            raise ctx.fail("choices", "correct must be true/false and why a string")
        out.append(Choice(c["text"], correct, why))
    return tuple(out)


def _goal(ctx: _Ctx, raw: Any) -> Goal:
    if not isinstance(raw, dict):
        raise ctx.fail("goal", "each goal is a table")
    extra = set(raw) - GOAL_KEYS
    if extra:
        raise ctx.fail("goal", f"a goal takes {', '.join(sorted(GOAL_KEYS))}, not "
                               f"{', '.join(sorted(extra))}")
    probe = _get_str(ctx, raw, "probe")
    result = _get_bool(ctx, raw, "result")
    if bool(probe) == result:
        raise ctx.fail("goal", "a goal needs exactly one of probe = \"COMMAND ...\" or "
                               "result = true")
    equals = raw.get("equals")
    if equals is not None and not isinstance(equals, str):
        raise ctx.fail("goal", "equals must be reply text in redis-cli form")
    between = raw.get("between")
    if between is not None:
        if (not isinstance(between, list) or len(between) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                           for x in between) or between[0] > between[1]):
            raise ctx.fail("goal", "between must be [low, high]")
        between = (float(between[0]), float(between[1]))
    same = _get_bool(ctx, raw, "same")
    if sum((equals is not None, between is not None, same)) != 1:
        raise ctx.fail("goal", "a goal needs exactly one of equals, between or same = true")
    advance = _get_num(ctx, raw, "advance", 0.0)
    if advance < 0:
        raise ctx.fail("goal", "advance must be seconds, at least 0")
    return Goal(probe=probe, result=result, equals=equals, between=between, same=same,
                unordered=_get_bool(ctx, raw, "unordered"), advance=advance,
                message=_get_str(ctx, raw, "message"))


def _goals(ctx: _Ctx, raw: Any) -> tuple[Goal, ...]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ctx.fail("goal", "must be [[item.goal]] tables")
    return tuple(_goal(ctx, g) for g in raw)


def _hands_on(ctx: _Ctx, raw: dict[str, Any], common: dict[str, Any]) -> Item:
    answer_kind = _get_str(ctx, raw, "answer_kind", default="commands")
    if answer_kind not in ANSWER_KINDS:
        raise ctx.fail("answer_kind", f"must be one of {', '.join(ANSWER_KINDS)}")
    setup = _get_strs(ctx, raw, "setup")
    goals = _goals(ctx, raw.get("goal", []))
    cases_raw = raw.get("case", [])
    if not isinstance(cases_raw, list):
        raise ctx.fail("case", "must be [[item.case]] tables")
    cases = []
    for c in cases_raw:
        if not isinstance(c, dict):
            raise ctx.fail("case", "must be [[item.case]] tables")
        extra = set(c) - CASE_KEYS
        if extra:
            raise ctx.fail("case", f"a case takes setup, goal and title, not "
                                   f"{', '.join(sorted(extra))}")
        cases.append(Case(setup + _get_strs(ctx, c, "setup"),
                          goals + _goals(ctx, c.get("goal", [])),
                          _get_str(ctx, c, "title")))
    if not cases:
        cases.append(Case(setup, goals))
    for case in cases:
        if not case.goals:
            raise ctx.fail("goal", "a hands-on item needs at least one goal")
    variables = raw.get("vars", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str)
                                                  for v in variables.values()):
        raise ctx.fail("vars", "must be a table of name = \"kind args\" strings")
    for name, spec in variables.items():
        if spec.split(" ", 1)[0] not in VAR_KINDS or not re.match(r"^[a-z_][a-z0-9_]*$",
                                                                    name):
            raise ctx.fail("vars", f"{name} = {spec!r}: a variable is int LO HI, "
                                   "choice A B ..., token or word")
        try:
            draw(spec, random.Random(0))
        except (ValueError, IndexError):
            raise ctx.fail("vars", f"{name} = {spec!r} cannot be drawn") from None
    solution = raw.get("solution")
    if isinstance(solution, list) and all(isinstance(s, str) for s in solution):
        solution = "\n".join(solution)
    if not isinstance(solution, str) or not solution.strip():
        raise ctx.fail("solution", "a hands-on item needs its reference solution")
    wrong = raw.get("wrong", [])
    if isinstance(wrong, str):
        wrong = [wrong]
    if not isinstance(wrong, list) or not all(isinstance(w, (str, list)) for w in wrong):
        raise ctx.fail("wrong", "must be a list of wrong answers")
    wrong = ["\n".join(w) if isinstance(w, list) else w for w in wrong]
    return Item(
        **common, answer_kind=answer_kind, setup=setup, cases=tuple(cases),
        vars=tuple(variables.items()), keys=_get_strs(ctx, raw, "keys"),
        args=_get_strs(ctx, raw, "args"), solution=solution.strip("\n"),
        forbidden=tuple(f.upper() for f in _get_strs(ctx, raw, "forbidden")),
        allow=_allowed(ctx, raw),
        variants=_get_int(ctx, raw, "variants", 3, 1, 20),
        max_commands=_get_int(ctx, raw, "max_commands", 50, 1, 1000), wrong=tuple(wrong))


# Admin commands a question may let answers use; the rest (SHUTDOWN, DEBUG, SAVE ...) never.
ALLOWABLE = ("CONFIG", "SLOWLOG", "LATENCY", "CLIENT", "ACL")


def _allowed(ctx: _Ctx, raw: dict[str, Any]) -> tuple[str, ...]:
    names = tuple(a.upper() for a in _get_strs(ctx, raw, "allow"))
    for name in names:
        if name not in ALLOWABLE:
            raise ctx.fail("allow", f"{name} cannot be allowed in answers (only "
                                    f"{', '.join(ALLOWABLE)})")
    return names


# ------------------------------------------------------------------------------------------
# Complexity items, built from the command table

GENERIC_COSTS = ("O(1)", "O(log N)", "O(N)", "O(N log N)", "O(N*M)", "O(log N + M)")


def _spec_for(table: Any, name: str) -> Any:
    parts = name.upper().split()
    spec = table.commands.get(parts[0])
    if spec is not None and len(parts) > 1:
        spec = spec.subcommands.get(parts[1])
    return spec


def _norm_cost(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def _cost_words(spec: Any) -> str:
    c = spec.cost
    parts = []
    for letter in ("n", "m", "k"):
        meaning = getattr(c, letter)
        if meaning and letter.upper() in c.big_o:
            parts.append(f"{letter.upper()} = {meaning}")
    return "; ".join(parts)


def _complexity_item(ctx: _Ctx, raw: dict[str, Any], header: dict[str, str],
                     file_tags: tuple[str, ...], table: Any) -> Item:
    if table is None:
        from ..engine.commands import TABLE as table  # noqa: N811 - the one command table
    name = _get_str(ctx, raw, "command", required=True).upper()
    ctx.item_id = raw.get("id") or "complexity-" + re.sub(r"[^a-z0-9]+", "-", name.lower())
    spec = _spec_for(table, name)
    if spec is None:
        raise ctx.fail("command", f"{name} is not in the command table")
    if not spec.cost.big_o.startswith("O("):
        raise ctx.fail("command", f"{name} has no machine-readable cost in the table")
    common = _common(ctx, raw, header, file_tags, ctx.item_id, "complexity")
    tags = tuple(dict.fromkeys(common["tags"] + ("complexity", spec.group.replace("_", "-"))))
    common["tags"] = tags
    right = spec.cost.big_o
    # Distractors: other costs found in the same group, each explained by a command that has
    # it; generic costs only fill in when the group is too uniform.
    others: dict[str, Any] = {}
    for other in sorted(table.all, key=lambda s: s.name):
        if other.group != spec.group or not other.cost.big_o.startswith("O(") \
                or other.handler is None:
            continue
        if _norm_cost(other.cost.big_o) == _norm_cost(right):
            continue
        others.setdefault(_norm_cost(other.cost.big_o), other)
    rng = random.Random(hashlib.sha1(name.encode()).hexdigest())
    keys = sorted(others)
    rng.shuffle(keys)
    wrong: list[Choice] = []
    for k in keys[:3]:
        o = others[k]
        words = _cost_words(o)
        wrong.append(Choice(o.cost.big_o, False,
                            f"That is the cost of {o.name}" + (f" ({words})" if words else "")
                            + "."))
    for generic in GENERIC_COSTS:
        if len(wrong) >= 3:
            break
        if _norm_cost(generic) in {_norm_cost(right)} | {_norm_cost(w.text) for w in wrong}:
            continue
        wrong.append(Choice(generic, False, f"No: {name} is {right}, not {generic}."))
    choices = [Choice(right, True)] + wrong
    words = _cost_words(spec)
    summary = f" {spec.summary}" if spec.summary else ""
    explanation = f"{name} is {right}" + (f", where {words}" if words else "") + "." + summary
    common["prompt"] = common["prompt"] or (f"What is the time complexity of `{name}`?"
                                            + (f" ({words})" if words else ""))
    common["explanation"] = common["explanation"] or explanation
    return Item(**common, choices=tuple(choices), command=name)


# ------------------------------------------------------------------------------------------
# The whole bank

@dataclass
class Bank:
    """Every item of the quiz folder, in file order, with the problems of unusable files."""

    items: list[Item] = field(default_factory=list)
    errors: list[BankError] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)   # topic -> display title
    folder: Path | None = None

    def __post_init__(self) -> None:
        self._by_id = {item.id: item for item in self.items}

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Any:
        return iter(self.items)

    def get(self, item_id: str) -> Item | None:
        return self._by_id.get(item_id)

    @property
    def topics(self) -> list[str]:
        return list(dict.fromkeys(i.topic for i in self.items))

    @property
    def tags(self) -> list[str]:
        return sorted({t for i in self.items for t in i.tags})

    def select(self, topic: str | None = None, kind: str | None = None) -> list[Item]:
        return [i for i in self.items if i.matches(topic, kind)]

    def title(self, topic: str) -> str:
        return self.titles.get(topic, topic.replace("-", " ").capitalize())


def load_bank(folder: str | Path | None = None, table: Any = None) -> Bank:
    """Load every ``*.toml`` under the quiz folder; bad files are listed in ``errors``."""
    base = quiz_dir(folder)
    items: list[Item] = []
    errors: list[BankError] = []
    titles: dict[str, str] = {}
    if not base.is_dir():
        return Bank([], [BankError(base, None, None, "no quiz folder here")], {}, base)
    seen: dict[str, Item] = {}
    for path in sorted(base.glob("*.toml")):
        try:
            header, found = load_file(path, table)
        except BankError as e:
            errors.append(e)
            continue
        titles.setdefault(header["topic"], header["title"])
        for item in found:
            if item.id in seen:
                first = seen[item.id]
                errors.append(BankError(path, item.line, f"item {item.id}",
                                        f"the id is also used at {first.path}:{first.line}"))
                continue
            seen[item.id] = item
            items.append(item)
    return Bank(items, errors, titles, base)


def iter_lines(text: str) -> Iterable[str]:
    """Non-empty command lines of an answer (blank lines and ``#`` comments dropped)."""
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            yield s
