"""The lesson schema: Lesson, Step, Mistake and Verdict (documented field by field in
lessons/README.md).

A lesson is plain data loaded from one TOML file; nothing here runs anything. Steps carry
their check as a plain table (``{"kind": "key", ...}``) that ``checks.py`` interprets, so a
new lesson never needs code.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FORMAT_VERSION", "LEVELS", "Lesson", "Step", "Mistake", "Verdict", "fill"]

FORMAT_VERSION = 1
LEVELS = ("beginner", "intermediate", "advanced")


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer and what to say about it.

    Exactly one of ``when`` (a check that *passes* on the wrong state) or ``violation``
    (an invariant name a simulation reports) says how to recognise it; ``example`` is a wrong
    answer that shows it (command lines, or the source of a wrong exercise file), which
    ``redislab dev check`` uses to prove the message is reachable.
    """

    message: str
    when: dict[str, Any] | None = None
    violation: str | None = None
    example: list[str] | str | None = None


@dataclass(frozen=True)
class Step:
    index: int
    id: str
    title: str
    text: str
    task: str = ""
    setup: tuple[str, ...] = ()
    vars: dict[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    checks: tuple[dict[str, Any], ...] = ()
    hints: tuple[str, ...] = ()
    solution: tuple[str, ...] | str = ()
    exercise: str = ""
    mistakes: tuple[Mistake, ...] = ()
    explain: str = ""
    checkpoint: bool = False
    topology: str = ""                 # "replicas 2", "sentinel", "cluster 3": see topology.py

    @property
    def has_check(self) -> bool:
        return bool(self.checks)

    @property
    def simulated(self) -> bool:
        return any(c.get("kind") == "simulation" for c in self.checks)

    def values(self, seed: int) -> dict[str, str]:
        """The step's variables drawn for ``seed`` (the hidden inputs of this attempt)."""
        rng = random.Random(f"{seed}/{self.id}")
        out: dict[str, str] = {}
        for name, spec in self.vars.items():
            out[name] = draw(spec, rng)
        return out


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    level: str
    tags: tuple[str, ...]
    steps: tuple[Step, ...]
    prerequisites: tuple[str, ...] = ()
    minutes: int = 0
    summary: str = ""
    commands: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    topology: str = ""                 # the steps' default topology ("" or "none": one engine)
    path: Path | None = None
    number: int = 0

    def topology_of(self, step: Step) -> str:
        """What ``step`` runs on: its own ``topology``, else the lesson's."""
        return step.topology or self.topology

    def step(self, ref: int | str) -> Step:
        if isinstance(ref, int):
            return self.steps[ref]
        for s in self.steps:
            if s.id == ref:
                return s
        raise KeyError(ref)


@dataclass
class Verdict:
    """The outcome of checking a step: passed or not, and why, in the learner's terms."""

    passed: bool
    summary: str
    goal: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    misconception: str | None = None
    details: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)
    series_unit: str = ""
    skipped: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Verdict":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


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


VAR_KINDS = ("int", "choice", "token", "word")


def fill(text: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` for the step's own variables only (Lua's braces stay as they are)."""
    if not values or "{" not in text:
        return text
    pattern = re.compile(r"\{(" + "|".join(re.escape(k) for k in values) + r")\}")
    return pattern.sub(lambda m: values[m.group(1)], text)


def fill_any(value: Any, values: dict[str, str]) -> Any:
    """:func:`fill` applied through strings, lists and tables."""
    if isinstance(value, str):
        return fill(value, values)
    if isinstance(value, list):
        return [fill_any(v, values) for v in value]
    if isinstance(value, tuple):
        return tuple(fill_any(v, values) for v in value)
    if isinstance(value, dict):
        return {k: fill_any(v, values) for k, v in value.items()}
    return value
