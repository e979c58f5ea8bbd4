"""The quiz bank's content check: every item usable, and every gradable answer proven.

For each item: the schema (done by the loader), tags and a lesson link, well-formed choices
(one right answer, a reason for every wrong one), that the stated answer of a short or predict
item is accepted and each listed wrong answer rejected (predict answers are checked against
the reply the commands really produce on a fresh engine), and that a hands-on item's reference
solution passes on every hidden variant while the untouched start state and every listed wrong
answer fail. A lesson link to a lesson that does not exist (yet) is a warning, not a problem.

``check_quiz_bank(path)`` returns the problems as text; ``redislab dev check`` and the tests
call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..engine.commands import TABLE
from ..protocol import split_args
from .quiz import lesson_titles
from .quiz_bank import Bank, Item, load_bank
from .quiz_grade import check_hands_on, grade_short, predict_reply
from .quiz_replies import reply_matches, reply_summary

__all__ = ["Report", "validate_bank", "check_quiz_bank", "check_item", "REQUIRED_TAGS",
           "MIN_ITEMS"]

MIN_ITEMS = 200
Say = Callable[[str], None]
# Replies that only depend on the clock: the sandbox's clock stands still, so they are fixed.
CLOCK_ONLY = frozenset({"TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "OBJECT IDLETIME"})
# (XADD is random only when Redis picks the ID: with explicit IDs its reply is fixed.)
# Every one of these must be the topic or a tag of at least one item of the real bank.
REQUIRED_TAGS = (
    "architecture", "io-threads", "data-structures", "complexity", "caching", "invalidation",
    "stampede", "persistence", "rdb", "aof", "fsync", "fork", "eviction", "oom",
    "replication", "sentinel", "cluster", "hash-slots", "moved", "hash-tags", "locking",
    "fencing", "redlock", "pipelining", "pooling", "scan", "memory", "lua", "transactions",
    "rate-limiting", "hyperloglog", "geo", "bitmaps", "streams", "pitfalls",
    "scenario-leaderboard", "scenario-cron", "scenario-full", "scenario-stampede",
    "scenario-unique-ips", "scenario-memcached",
)


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    items: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _where(item: Item) -> str:
    return f"{item.path.name if item.path else '?'}:{item.line}: item {item.id}"


def check_item(item: Item, lessons: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """Problems and warnings of one item."""
    problems: list[str] = []
    warnings: list[str] = []
    p = problems.append
    if not item.tags:
        p("has no tags")
    if not item.lesson:
        p("has no lesson link (lesson = \"...\" on the item or the file)")
    elif lessons is not None and lessons and item.lesson not in lessons:
        warnings.append(f"links to lesson {item.lesson!r}, which does not exist (yet)")
    if not item.prompt:
        p("has no prompt")
    if item.kind in ("choice", "complexity"):
        _check_choices(item, p)
    elif item.kind == "short":
        _check_short(item, p)
    elif item.kind == "predict":
        _check_predict(item, p, warnings.append)
    elif item.kind == "hands-on":
        _check_hands_on(item, p)
    elif item.kind == "explain":
        if len(item.rubric) < 2:
            p("an explain item needs at least two rubric points")
        if not item.model.strip():
            p("an explain item needs a model answer")
    return problems, warnings


def _check_choices(item: Item, p: Say) -> None:
    rights = [c for c in item.choices if c.correct]
    if len(rights) != 1:
        p(f"needs exactly one right choice, has {len(rights)}")
    if len(item.choices) < 3:
        p("needs at least three choices")
    texts = [c.text.strip().lower() for c in item.choices]
    if len(set(texts)) != len(texts):
        p("two choices have the same text")
    for c in item.choices:
        if not c.correct and not c.why.strip():
            p(f"wrong choice {c.text!r} has no why (say why it is wrong)")
        if not c.text.strip():
            p("a choice has no text")


def _check_short(item: Item, p: Say) -> None:
    if not grade_short(item, item.answer).correct:
        p(f"its own answer {item.answer!r} is not accepted")
    for w in item.wrong:
        if grade_short(item, w).correct:
            p(f"the wrong answer {w!r} is accepted")


def _check_commands(lines: tuple[str, ...], p: Say, what: str) -> None:
    for line in lines:
        if line.strip().startswith(":advance"):
            continue
        argv = split_args(line)
        if argv is None:
            p(f"{what} {line!r}: unbalanced quotes")
            continue
        if not argv:
            continue
        spec = TABLE.lookup(argv[0])
        if spec is None:
            p(f"{what} {line!r}: unknown command {argv[0].decode(errors='replace')}")


def _check_predict(item: Item, p: Say, warn: Say) -> None:
    _check_commands(item.commands, p, "command")
    for line in item.commands:
        argv = split_args(line) or []
        spec = TABLE.lookup(argv[0]) if argv else None
        if spec is not None and "nondeterministic_output" in spec.tips \
                and spec.name not in CLOCK_ONLY \
                and not (spec.name == "XADD" and b"*" not in argv[2:]):
            p(f"{line!r} has a random reply: a prediction cannot be checked")
    last = split_args(item.commands[-1]) or []
    spec = TABLE.lookup(last[0]) if last else None
    if spec is not None and "nondeterministic_output_order" in spec.tips and not item.unordered \
            and spec.name not in ("HGETALL", "HKEYS", "HVALS", "ZRANGE"):
        warn(f"{item.commands[-1]!r} replies in no guaranteed order; consider unordered = true")
    reply = predict_reply(item)
    msg = getattr(reply, "message", "")
    if msg.startswith("ERR the question's commands did not run"):
        p(msg)
        return
    if not reply_matches(reply, item.answer, resp=item.resp, unordered=item.unordered):
        p(f"its answer {item.answer!r} does not match the real reply {reply_summary(reply)}")
    if not item.wrong:
        p("needs at least one wrong = [...] reply that must be rejected")
    for w in item.wrong:
        if reply_matches(reply, w, resp=item.resp, unordered=item.unordered):
            p(f"the wrong reply {w!r} is accepted")


def _check_hands_on(item: Item, p: Say) -> None:
    names = [n for n, _ in item.vars]
    for n in names:
        if "{" + n + "}" in item.prompt:
            p(f"the prompt shows hidden variable {{{n}}}: the learner cannot know its value "
              "on hidden data (show the data through setup instead)")
        if "{" + n + "}" in item.solution:
            p(f"the solution uses hidden variable {{{n}}}: it must work on any data")
    for case in item.cases:
        _check_commands(case.setup, p, "setup")
        for g in case.goals:
            if g.probe:
                _check_commands((g.probe,), p, "probe")
    if item.answer_kind == "commands":
        _check_commands(tuple(line for line in item.solution.splitlines()
                              if line.strip() and not line.strip().startswith("#")),
                        p, "solution line")
        for line in item.solution.splitlines():
            argv = split_args(line) or []
            if argv and argv[0].upper().decode("latin-1") in item.forbidden:
                p(f"the solution uses the forbidden command {argv[0].decode()}")
    seeds = list(range(item.variants))
    result = check_hands_on(item, item.solution, seeds)
    if not result.passed:
        p("its reference solution fails: " + "; ".join(result.failures))
        return
    empty = "return nil" if item.answer_kind == "lua" else "PING"
    if check_hands_on(item, empty, seeds).passed:
        p("the goal already holds without doing anything")
    if not item.wrong:
        p("needs at least one wrong = [...] answer that must be rejected")
    for w in item.wrong:
        if check_hands_on(item, w, seeds).passed:
            p(f"the wrong answer {w.splitlines()[0]!r}... passes")


def validate_bank(path: str | Path | None = None, *, coverage: bool | None = None,
                  lessons_base: str | Path | None = None) -> Report:
    """Check every item of the bank at ``path`` (the real bank when None).

    ``coverage`` (on by default for the real bank) also requires at least MIN_ITEMS items
    and every topic of REQUIRED_TAGS.
    """
    bank: Bank = load_bank(path)
    report = Report(items=len(bank))
    for err in bank.errors:
        report.problems.append(str(err))
    lessons = lesson_titles(lessons_base)
    if not lessons:
        report.warnings.append("no lessons found: lesson links could not be checked")
    for item in bank:
        probs, warns = check_item(item, lessons)
        report.problems.extend(f"{_where(item)}: {m}" for m in probs)
        report.warnings.extend(f"{_where(item)}: {m}" for m in warns)
    if coverage if coverage is not None else path is None:
        if len(bank) < MIN_ITEMS:
            report.problems.append(f"the bank has {len(bank)} items; it needs at least "
                                   f"{MIN_ITEMS}")
        have = {t for i in bank for t in (i.topic,) + i.tags}
        for tag in REQUIRED_TAGS:
            if tag not in have:
                report.problems.append(f"no item covers {tag!r}")
        kinds = {i.kind for i in bank}
        for kind in ("choice", "short", "predict", "hands-on", "complexity", "explain"):
            if kind not in kinds:
                report.problems.append(f"no item of kind {kind!r}")
    return report


def check_quiz_bank(path: str | Path | None = None) -> list[str]:
    """Problems of the quiz bank at ``path`` (the real bank when None); empty when it is fine."""
    return validate_bank(path).problems


def _main() -> int:  # pragma: no cover - a convenience for authors
    import sys

    report = validate_bank(sys.argv[1] if len(sys.argv) > 1 else None)
    for w in report.warnings:
        print("warning:", w)
    for prob in report.problems:
        print("problem:", prob)
    print(f"{report.items} items, {len(report.problems)} problems, "
          f"{len(report.warnings)} warnings")
    return 1 if report.problems else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())

