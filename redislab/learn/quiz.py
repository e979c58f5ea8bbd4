"""Quiz sessions and mock interviews, independent of any terminal.

A front end (or a test with scripted answers) drives a :class:`QuizSession`: it takes the
next :class:`Question`, may ask for hints, then submits the learner's text (or reveals the
answer). Each submission is graded by ``quiz_grade``, turned into an FSRS rating from the
evidence (right or wrong, hints, time taken), recorded in the progress file and returned as
an :class:`Outcome`. An :class:`Interview` is a session with a deadline and a planned mix of
kinds across topics, which ends with an :class:`InterviewReport`.
"""

from __future__ import annotations

import random
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator, Sequence

from .quiz_bank import Bank, Choice, Item
from .quiz_grade import (
    Grade, grade_choice, grade_explain, grade_hands_on, grade_predict, grade_short,
    predict_reply, server_skip, shown_inputs, shown_setup, suggest_covered,
)
from .quiz_progress import QuizProgress
from .scheduling import Evidence, Now, Rating, Scheduling, order_queue, utc_now

__all__ = ["Question", "Outcome", "QuizSession", "Interview", "InterviewReport",
           "TopicScore", "lesson_titles", "INTERVIEW_MINUTES", "progress_overview",
           "TopicProgress"]

INTERVIEW_MINUTES = 20
# Minutes a question of each kind takes in an interview, to plan a mix that fits the time.
KIND_MINUTES = {"explain": 2.5, "choice": 1.0, "predict": 1.5, "short": 1.0,
                "hands-on": 3.0, "complexity": 0.5}
# The order kinds are taken in while planning an interview: talk, recall, run, build.
INTERVIEW_PATTERN = ("explain", "choice", "predict", "hands-on", "short", "explain",
                     "choice", "complexity", "predict", "choice")


@dataclass
class Question:
    """One item as put to the learner: choice order, visible data, hints taken, start time."""

    item: Item
    number: int
    started: datetime
    order: list[int] = field(default_factory=list)
    seed: int = 0
    hints_used: int = 0
    done: bool = False

    @property
    def choices(self) -> list[Choice]:
        return [self.item.choices[i] for i in self.order]

    @property
    def setup(self) -> list[str]:
        return shown_setup(self.item, self.seed) if self.item.kind == "hands-on" else []

    @property
    def lua_inputs(self) -> tuple[list[str], list[str]]:
        return shown_inputs(self.item, self.seed)

    @property
    def has_hint(self) -> bool:
        return self.hints_used < len(self.item.hints)

    def suggest(self, text: str) -> list[int]:
        """Explain items: rubric points the text seems to cover (for pre-ticking)."""
        return suggest_covered(self.item, text)


@dataclass
class Outcome:
    question: Question
    response: str
    grade: Grade
    rating: Rating | None
    seconds: float
    revealed: bool = False
    due: datetime | None = None
    covered: tuple[int, ...] = ()

    @property
    def item(self) -> Item:
        return self.question.item

    @property
    def correct(self) -> bool:
        return self.grade.correct and not self.revealed


class QuizSession:
    """A run of questions; every answer updates the schedule (and the file, if it has one)."""

    def __init__(self, bank: Bank, progress: QuizProgress, items: Sequence[Item], *,
                 now: Now = utc_now, scheduling: Scheduling | None = None,
                 seed: int | None = None, save: bool = True) -> None:
        self.bank = bank
        self.progress = progress
        self.items = list(items)
        self.now = now
        self.scheduling = scheduling or Scheduling()
        self.rng = random.Random(seed)
        self.save = save
        self.outcomes: list[Outcome] = []
        self._next = 0

    @classmethod
    def plan(cls, bank: Bank, progress: QuizProgress, *, count: int = 10,
             topic: str | None = None, kind: str | None = None, now: Now = utc_now,
             scheduling: Scheduling | None = None, seed: int | None = None,
             save: bool = True) -> "QuizSession":
        """Due items first, then new ones, filtered by topic (or tag) and kind."""
        # On a real server (quiz_grade.use_server), items that need the engine sit out.
        pool = [i for i in bank.select(topic, kind) if server_skip(i) is None]
        rng = random.Random(seed)
        ids = [i.id for i in pool]
        topics = {i.id: i.topic for i in pool}
        # New items come in a shuffled order within each topic, so two sessions differ.
        fresh_order = ids[:]
        rng.shuffle(fresh_order)
        queue = order_queue(fresh_order, topics, progress.items, now(), count)
        return cls(bank, progress, [bank.get(i) for i in queue if bank.get(i)], now=now,
                   scheduling=scheduling, seed=seed, save=save)

    # ------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Question]:
        while True:
            q = self.next_question()
            if q is None:
                return
            yield q

    @property
    def remaining(self) -> int:
        return len(self.items) - self._next

    def next_question(self) -> Question | None:
        if self._next >= len(self.items):
            return None
        item = self.items[self._next]
        self._next += 1
        return self.ask(item, self._next)

    def ask(self, item: Item, number: int = 0) -> Question:
        order = list(range(len(item.choices)))
        self.rng.shuffle(order)
        q = Question(item, number or len(self.outcomes) + 1, self.now(), order=order,
                     seed=self.rng.randrange(1_000_000))
        if item.kind == "predict":
            predict_reply(item)   # run the commands now, not while the clock is ticking
        return q

    def hint(self, q: Question) -> str | None:
        if not q.has_hint:
            return None
        q.hints_used += 1
        return q.item.hints[q.hints_used - 1]

    def grade(self, q: Question, text: str, covered: Sequence[int] | None = None) -> Grade:
        item = q.item
        if item.kind in ("choice", "complexity"):
            return grade_choice(item, text, q.order)
        if item.kind == "short":
            return grade_short(item, text)
        if item.kind == "predict":
            return grade_predict(item, text)
        if item.kind == "hands-on":
            return grade_hands_on(item, text, q.seed)
        return grade_explain(item, text, covered if covered is not None
                             else suggest_covered(item, text))

    def submit(self, q: Question, text: str, covered: Sequence[int] | None = None) -> Outcome:
        grade = self.grade(q, text, covered)
        seconds = max(0.0, (self.now() - q.started).total_seconds())
        item = q.item
        ev = Evidence(correct=grade.correct, hints=q.hints_used, seconds=seconds,
                      fast_seconds=item.fast_seconds,
                      score=grade.score if item.kind == "explain" else 1.0,
                      pass_ratio=item.pass_ratio)
        return self._record(q, text, grade, ev, seconds,
                            tuple(covered) if covered is not None else ())

    def reveal(self, q: Question) -> Outcome:
        """The learner gives up: show the answer, rate Again."""
        item = q.item
        if item.kind in ("choice", "complexity"):
            right = item.correct_index
            letter = "abcdefghij"[q.order.index(right)] if right in q.order else "?"
            grade = Grade(False, "revealed", expected_text=f"{letter}) "
                                                           f"{item.choices[right].text}")
        elif item.kind == "predict":
            grade = Grade(False, "revealed", expected=predict_reply(item))
        elif item.kind == "explain":
            grade = Grade(False, "revealed", expected_text=item.model)
        else:
            grade = Grade(False, "revealed", expected_text=item.answer or item.solution)
        seconds = max(0.0, (self.now() - q.started).total_seconds())
        ev = Evidence(correct=False, revealed=True, hints=q.hints_used, seconds=seconds)
        return self._record(q, "", grade, ev, seconds, (), revealed=True)

    def _record(self, q: Question, text: str, grade: Grade, ev: Evidence, seconds: float,
                covered: tuple[int, ...], revealed: bool = False) -> Outcome:
        q.done = True
        now = self.now()
        rec = self.progress.items.get(q.item.id)
        if rec is None:
            rec = self.scheduling.new_record(q.item.id, now)
            self.progress.items[q.item.id] = rec
        rating = self.scheduling.review(rec, ev, now)
        out = Outcome(q, text, grade, rating, seconds, revealed, rec.card.due, covered)
        self.outcomes.append(out)
        if self.save and self.progress.path is not None:
            self.progress.save()
        return out

    # ------------------------------------------------------------------------------------

    def score(self) -> tuple[int, int]:
        return sum(1 for o in self.outcomes if o.correct), len(self.outcomes)


# ------------------------------------------------------------------------------------------
# Interviews

@dataclass
class TopicScore:
    topic: str
    title: str
    asked: int = 0
    right: int = 0
    points: float = 0.0

    @property
    def score(self) -> float:
        return self.points / self.asked if self.asked else 0.0


@dataclass
class InterviewReport:
    minutes: float
    elapsed: float
    asked: int
    right: int
    topics: list[TopicScore]
    weakest: list[TopicScore]
    lessons: list[str]
    explains: list[Outcome]
    unanswered: list[Item]
    outcomes: list[Outcome]
    at: datetime

    @property
    def score(self) -> float:
        pts = sum(t.points for t in self.topics)
        return pts / self.asked if self.asked else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "minutes": self.minutes,
                "elapsed": round(self.elapsed, 1), "asked": self.asked, "right": self.right,
                "score": round(self.score, 3),
                "topics": {t.topic: round(t.score, 3) for t in self.topics},
                "lessons": self.lessons}


class Interview(QuizSession):
    """A timed mock interview: a planned mix of kinds across topics, then a report."""

    def __init__(self, bank: Bank, progress: QuizProgress, items: Sequence[Item], *,
                 minutes: float = INTERVIEW_MINUTES, **kw: Any) -> None:
        super().__init__(bank, progress, items, **kw)
        self.minutes = minutes
        self.started = self.now()
        self.deadline = self.started + timedelta(minutes=minutes)
        self.finished_at: datetime | None = None

    @classmethod
    def plan(cls, bank: Bank, progress: QuizProgress, *, minutes: float = INTERVIEW_MINUTES,
             topic: str | None = None, kind: str | None = None, now: Now = utc_now,
             scheduling: Scheduling | None = None, seed: int | None = None,
             save: bool = True, **_: Any) -> "Interview":
        rng = random.Random(seed)
        # On a real server (quiz_grade.use_server), items that need the engine sit out.
        pool = [i for i in bank.select(topic, kind) if server_skip(i) is None]
        sched = scheduling or Scheduling()
        t = now()
        # Weak and unseen material first: that is what an interview should find out about.
        def weight(item: Item) -> float:
            rec = progress.items.get(item.id)
            if rec is None:
                return 1.0 + rng.random()
            if sched.is_weak(rec, t):
                return 1.5 + rng.random()
            return rng.random()

        by_kind: dict[str, list[Item]] = {}
        for item in sorted(pool, key=weight, reverse=True):
            by_kind.setdefault(item.kind, []).append(item)
        chosen: list[Item] = []
        used_topics: Counter[str] = Counter()
        budget = 0.0
        pattern = [k for k in INTERVIEW_PATTERN if by_kind.get(k)] or list(by_kind)
        i = 0
        while budget < minutes and any(by_kind.values()) and pattern:
            k = pattern[i % len(pattern)]
            i += 1
            lane = by_kind.get(k) or []
            if not lane:
                pattern = [p for p in pattern if by_kind.get(p)]
                continue
            # the least used topic among the best few candidates, to spread the interview
            candidates = lane[:6]
            pick = min(candidates, key=lambda it: used_topics[it.topic])
            lane.remove(pick)
            chosen.append(pick)
            used_topics[pick.topic] += 1
            budget += KIND_MINUTES.get(pick.kind, 1.0)
        return cls(bank, progress, chosen, minutes=minutes, now=now, scheduling=scheduling,
                   seed=seed, save=save)

    def time_left(self) -> float:
        return max(0.0, (self.deadline - self.now()).total_seconds())

    @property
    def over(self) -> bool:
        return self.finished_at is not None or self.now() >= self.deadline

    def next_question(self) -> Question | None:
        if self.over:
            return None
        return super().next_question()

    def finish(self) -> InterviewReport:
        if self.finished_at is None:
            self.finished_at = min(self.now(), self.deadline)
        report = self.report()
        self.progress.interviews.append(report.to_json())
        if self.save and self.progress.path is not None:
            self.progress.save()
        return report

    def report(self) -> InterviewReport:
        topics: dict[str, TopicScore] = {}
        missed_lessons: Counter[str] = Counter()
        for o in self.outcomes:
            item = o.item
            ts = topics.setdefault(item.topic, TopicScore(item.topic,
                                                          self.bank.title(item.topic)))
            ts.asked += 1
            if o.correct:
                ts.right += 1
                ts.points += 1.0 if item.kind != "explain" else o.grade.score
            else:
                ts.points += o.grade.score if item.kind == "explain" and not o.revealed else 0
                if item.lesson:
                    missed_lessons[item.lesson] += 1
        answered = {o.item.id for o in self.outcomes}
        unanswered = [i for i in self.items if i.id not in answered]
        ranked = sorted(topics.values(), key=lambda t: (t.score, -t.asked))
        weakest = [t for t in ranked if t.score < 0.75][:3]
        lessons = [lesson for lesson, _ in missed_lessons.most_common()]
        for t in weakest:
            for o in self.outcomes:
                if o.item.topic == t.topic and o.item.lesson and o.item.lesson not in lessons:
                    lessons.append(o.item.lesson)
        end = self.finished_at or self.now()
        return InterviewReport(
            minutes=self.minutes, elapsed=(end - self.started).total_seconds(),
            asked=len(self.outcomes), right=sum(1 for o in self.outcomes if o.correct),
            topics=sorted(topics.values(), key=lambda t: t.title), weakest=weakest,
            lessons=lessons, explains=[o for o in self.outcomes if o.item.kind == "explain"],
            unanswered=unanswered, outcomes=list(self.outcomes), at=self.started)


# ------------------------------------------------------------------------------------------
# What the learner knows, per topic

@dataclass
class TopicProgress:
    topic: str
    title: str
    total: int = 0
    seen: int = 0
    learned: int = 0
    due: int = 0
    weak: int = 0
    retrievability: float = 0.0   # mean over seen items
    weak_items: list[str] = field(default_factory=list)


def progress_overview(bank: Bank, progress: QuizProgress, now: datetime,
                      scheduling: Scheduling | None = None) -> list[TopicProgress]:
    sched = scheduling or Scheduling()
    rows: dict[str, TopicProgress] = {}
    for item in bank:
        row = rows.setdefault(item.topic, TopicProgress(item.topic, bank.title(item.topic)))
        row.total += 1
        rec = progress.items.get(item.id)
        if rec is None or rec.reviews == 0:
            continue
        row.seen += 1
        r = sched.retrievability(rec, now)
        row.retrievability += r
        if sched.is_learned(rec, now):
            row.learned += 1
        if sched.is_due(rec, now):
            row.due += 1
        if sched.is_weak(rec, now):
            row.weak += 1
            row.weak_items.append(item.id)
    for row in rows.values():
        if row.seen:
            row.retrievability /= row.seen
    return list(rows.values())


def lesson_titles(base: str | Path | None = None) -> dict[str, str]:
    """Lesson id -> title for every readable lesson file (quietly skips broken ones)."""
    folder = Path(base) if base else _lessons_folder()
    out: dict[str, str] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        lid, title = data.get("id"), data.get("title")
        if isinstance(lid, str):
            out[lid] = title if isinstance(title, str) else lid
    return out


def _lessons_folder() -> Path:
    import os

    env = os.environ.get("REDISLAB_LESSONS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    checkout = here.parent.parent / "lessons"
    if checkout.is_dir() and any(checkout.glob("*.toml")):
        return checkout
    return here.parent / "_lessons"
