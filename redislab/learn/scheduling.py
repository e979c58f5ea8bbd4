"""Spaced repetition: each quiz item is an FSRS card, rated from what the learner did.

The learner never rates themselves (except the explain items' rubric): the rating comes from
evidence. Wrong, or the answer revealed: Again. Right after using hints (or an explain answer
that only just passed): Hard, which FSRS counts as a pass. Right: Good. Right, without hints
and faster than the item's "fast" time: Easy.

Time always comes from an injected ``now`` function returning an aware UTC datetime, so tests
move a fake clock instead of sleeping.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Sequence

from fsrs import Card, Rating, Scheduler, State

__all__ = ["Now", "utc_now", "Evidence", "rating_for", "CardRecord", "Scheduling",
           "order_queue", "Rating", "State", "RATING_NAMES"]

Now = Callable[[], datetime]
RATING_NAMES = {Rating.Again: "again", Rating.Hard: "hard", Rating.Good: "good",
                Rating.Easy: "easy"}
# A card counts as learned once it has graduated and is this likely to be recalled.
LEARNED_RETRIEVABILITY = 0.8
# Below this, or with this many lapses, a seen card counts as weak.
WEAK_RETRIEVABILITY = 0.6
WEAK_LAPSES = 2
HISTORY = 20   # reviews kept per item (the full log is not needed to schedule)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Evidence:
    """What happened when the learner answered one item."""

    correct: bool
    revealed: bool = False      # gave up and looked at the answer
    hints: int = 0
    seconds: float = 0.0
    fast_seconds: float = 0.0   # 0: this kind of item is never "fast"
    score: float = 1.0          # explain items: the share of rubric points covered
    pass_ratio: float = 1.0


def rating_for(ev: Evidence) -> Rating:
    if ev.revealed or not ev.correct:
        return Rating.Again
    if ev.hints > 0:
        return Rating.Hard
    if ev.score < 1.0:
        # an explain answer that passed but missed points
        return Rating.Hard
    if ev.fast_seconds > 0 and ev.seconds <= ev.fast_seconds:
        return Rating.Easy
    return Rating.Good


@dataclass
class CardRecord:
    """Everything kept about one item: its FSRS card and a short history."""

    card: Card
    reviews: int = 0
    correct: int = 0
    lapses: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any] | None:
        return self.history[-1] if self.history else None

    def to_json(self) -> dict[str, Any]:
        return {"card": self.card.to_dict(), "reviews": self.reviews, "correct": self.correct,
                "lapses": self.lapses, "history": self.history}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CardRecord":
        card = Card.from_dict(data["card"])
        if card.due.tzinfo is None:
            raise ValueError("card due time has no time zone")
        history = data.get("history", [])
        if not isinstance(history, list):
            raise ValueError("history must be a list")
        return cls(card, int(data.get("reviews", 0)), int(data.get("correct", 0)),
                   int(data.get("lapses", 0)), history)


def card_id(item_id: str) -> int:
    return zlib.crc32(item_id.encode()) + 1


class Scheduling:
    """FSRS with the project's settings; every method takes the time explicitly."""

    def __init__(self, *, retention: float = 0.9, fuzz: bool = True) -> None:
        self.scheduler = Scheduler(desired_retention=retention, enable_fuzzing=fuzz)

    def new_record(self, item_id: str, now: datetime) -> CardRecord:
        return CardRecord(Card(card_id=card_id(item_id), due=now))

    def review(self, record: CardRecord, ev: Evidence, now: datetime) -> Rating:
        rating = rating_for(ev)
        was_review = record.card.state == State.Review
        record.card, _log = self.scheduler.review_card(record.card, rating, review_datetime=now)
        record.reviews += 1
        if ev.correct and not ev.revealed:
            record.correct += 1
        if rating == Rating.Again and (was_review or record.reviews > 1):
            record.lapses += 1
        record.history.append({"at": now.isoformat(), "rating": int(rating),
                               "correct": bool(ev.correct and not ev.revealed),
                               "seconds": round(ev.seconds, 1), "hints": ev.hints})
        del record.history[:-HISTORY]
        return rating

    def retrievability(self, record: CardRecord, now: datetime) -> float:
        if record.card.last_review is None:
            return 0.0
        return float(self.scheduler.get_card_retrievability(record.card, now))

    @staticmethod
    def is_due(record: CardRecord, now: datetime) -> bool:
        return record.card.due <= now

    def is_learned(self, record: CardRecord, now: datetime) -> bool:
        return record.card.state == State.Review and \
            self.retrievability(record, now) >= LEARNED_RETRIEVABILITY

    def is_weak(self, record: CardRecord, now: datetime) -> bool:
        if record.reviews == 0:
            return False
        last = record.last
        if last is not None and not last.get("correct", True):
            return True
        return record.lapses >= WEAK_LAPSES or (
            record.card.state == State.Review
            and self.retrievability(record, now) < WEAK_RETRIEVABILITY)


def order_queue(item_ids: Sequence[str], topics: dict[str, str],
                records: dict[str, CardRecord], now: datetime, count: int,
                new_limit: int | None = None) -> list[str]:
    """Due items first (most overdue first), then new items, topics taken in turn.

    Items seen before but not due yet are left out: the point of the schedule is to wait.
    """
    due = [i for i in item_ids if i in records and records[i].card.due <= now]
    due.sort(key=lambda i: records[i].card.due)
    fresh = [i for i in item_ids if i not in records]
    queue = due[:count]
    room = count - len(queue)
    if new_limit is not None:
        room = min(room, new_limit)
    if room > 0:
        queue += _round_robin(fresh, topics)[:room]
    return queue


def _round_robin(item_ids: Iterable[str], topics: dict[str, str]) -> list[str]:
    by_topic: dict[str, list[str]] = {}
    for i in item_ids:
        by_topic.setdefault(topics.get(i, ""), []).append(i)
    lanes = list(by_topic.values())
    out: list[str] = []
    k = 0
    while any(lanes):
        for lane in lanes:
            if k < len(lane):
                out.append(lane[k])
        k += 1
        if all(k >= len(lane) for lane in lanes):
            break
    return out


def forecast(records: Iterable[CardRecord], now: datetime, days: int = 14) -> list[int]:
    """How many cards fall due on each of the next ``days`` days (day 0: due by tonight)."""
    counts = [0] * days
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for r in records:
        d = (r.card.due - start) // timedelta(days=1)
        if d < 0:
            d = 0
        if d < days:
            counts[int(d)] += 1
    return counts
