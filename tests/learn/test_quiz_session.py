"""Quiz sessions driven by scripted answers: ratings from evidence, the schedule across
restarts (on a fake clock), the progress file, and timed interviews."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from redislab.learn.quiz import Interview, QuizSession, progress_overview
from redislab.learn.quiz_bank import load_bank
from redislab.learn.quiz_progress import ProgressError, QuizProgress, default_path
from redislab.learn.scheduling import (
    Evidence, Rating, Scheduling, State, forecast, order_queue, rating_for,
)

GOOD = Path(__file__).parent / "fixtures" / "quiz" / "good"

# Right answers for the fixture bank, by item id (choices are answered by text).
RIGHT = {
    "a-choice": "INCR",
    "a-short": "-2",
    "a-predict": '1) "a"\n2) "b"',
    "a-complexity": "O(1)",
    "a-explain": "Commands run one at a time; INCR is atomic; no round trip in between.",
    "b-hands-on": "ZRANGESTORE top scores 0 2 REV",
    "b-lua": "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
             "end return 0",
    "b-choice": "Sorted set",
}
WRONG = {k: "nonsense" for k in RIGHT}


class FakeClock:
    """Aware UTC time that moves only when told to."""

    def __init__(self) -> None:
        self.t = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


@pytest.fixture
def bank():
    return load_bank(GOOD)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def answer_all(session: QuizSession, answers: dict[str, str], clock: FakeClock,
               seconds: float = 40.0) -> list:
    out = []
    for q in session:
        clock.advance(seconds=seconds)
        covered = [0, 1, 2] if q.item.kind == "explain" else None
        out.append(session.submit(q, answers[q.item.id], covered))
    return out


# ------------------------------------------------------------------------------------------
# Ratings

@pytest.mark.parametrize("ev,rating", [
    (Evidence(correct=False), Rating.Again),
    (Evidence(correct=True, revealed=True), Rating.Again),
    (Evidence(correct=True, hints=1), Rating.Hard),
    (Evidence(correct=True, seconds=40, fast_seconds=15), Rating.Good),
    (Evidence(correct=True, seconds=5, fast_seconds=15), Rating.Easy),
    (Evidence(correct=True, seconds=5, fast_seconds=0), Rating.Good),
    (Evidence(correct=True, score=0.67, pass_ratio=0.6), Rating.Hard),
    (Evidence(correct=True, hints=2, seconds=1, fast_seconds=15), Rating.Hard),
])
def test_rating_from_evidence(ev: Evidence, rating: Rating) -> None:
    assert rating_for(ev) == rating


def test_session_ratings(bank, clock) -> None:
    progress = QuizProgress(None)
    session = QuizSession(bank, progress, [bank.get("a-choice"), bank.get("a-short"),
                                           bank.get("b-choice"), bank.get("a-predict")],
                          now=clock, seed=1)
    q = session.next_question()
    assert session.hint(q) == "It is a single command."
    clock.advance(seconds=3)
    assert session.submit(q, "INCR").rating == Rating.Hard           # right after a hint
    q = session.next_question()
    clock.advance(seconds=3)
    assert session.submit(q, "-2").rating == Rating.Easy             # right and fast
    q = session.next_question()
    clock.advance(seconds=60)
    assert session.submit(q, "Sorted set").rating == Rating.Good      # right
    q = session.next_question()
    out = session.reveal(q)
    assert out.rating == Rating.Again and out.revealed                # gave up
    assert out.grade.expected == [b"a", b"b"]
    assert session.next_question() is None
    assert session.score() == (3, 4)
    assert progress.items["a-predict"].lapses == 0
    assert progress.items["a-choice"].correct == 1


def test_wrong_answer_is_again_and_comes_back_soon(bank, clock) -> None:
    progress = QuizProgress(None)
    session = QuizSession(bank, progress, [bank.get("a-short")], now=clock)
    q = session.next_question()
    out = session.submit(q, "-1")
    assert out.rating == Rating.Again and not out.correct
    assert out.due - clock() <= timedelta(minutes=10)


# ------------------------------------------------------------------------------------------
# Scheduling survives restarts

def test_schedule_survives_a_restart(bank, clock, tmp_path: Path) -> None:
    path = tmp_path / "quiz.json"
    sched = Scheduling(fuzz=False)
    progress = QuizProgress.load(path)
    session = QuizSession.plan(bank, progress, count=20, now=clock, seed=3, scheduling=sched)
    assert len(session.items) == 8                     # all new
    answer_all(session, RIGHT, clock)
    assert path.exists()
    first_due = {k: r.card.due for k, r in progress.items.items()}

    # A new process: reload from disk. Nothing is due yet, and there is nothing new.
    clock.advance(seconds=30)
    progress = QuizProgress.load(path)
    assert set(progress.items) == set(RIGHT)
    assert {k: r.card.due for k, r in progress.items.items()} == first_due
    assert QuizSession.plan(bank, progress, now=clock, scheduling=sched).items == []

    # Later, the items are due again; answering them right pushes the due dates further out.
    clock.t = max(first_due.values()) + timedelta(minutes=1)
    session = QuizSession.plan(bank, progress, count=20, now=clock, scheduling=sched)
    assert {i.id for i in session.items} == set(RIGHT)
    before = {k: r.card.due - r.card.last_review for k, r in progress.items.items()}
    answer_all(session, RIGHT, clock)
    progress = QuizProgress.load(path)
    for k, r in progress.items.items():
        assert r.reviews == 2
        assert r.card.due > clock()
        assert r.card.due - r.card.last_review >= before[k]


def test_intervals_grow_with_each_good_review(bank, clock, tmp_path: Path) -> None:
    path = tmp_path / "quiz.json"
    sched = Scheduling(fuzz=False)
    item = bank.get("b-choice")
    intervals = []
    for _ in range(5):
        progress = QuizProgress.load(path)
        rec = progress.items.get(item.id)
        if rec is not None:
            clock.t = rec.card.due
        session = QuizSession(bank, progress, [item], now=clock, scheduling=sched)
        q = session.next_question()
        clock.advance(seconds=30)
        out = session.submit(q, "Sorted set")
        intervals.append(out.due - clock())
    assert intervals == sorted(intervals)
    assert intervals[-1] > timedelta(days=5)
    assert QuizProgress.load(path).items[item.id].card.state == State.Review


def test_due_items_first_then_new(bank, clock) -> None:
    progress = QuizProgress(None)
    sched = Scheduling(fuzz=False)
    s = QuizSession(bank, progress, [bank.get("a-short"), bank.get("b-choice")], now=clock,
                    scheduling=sched)
    for q in s:
        s.submit(q, "wrong")
    clock.advance(hours=1)
    plan = QuizSession.plan(bank, progress, count=4, now=clock, scheduling=sched, seed=0)
    ids = [i.id for i in plan.items]
    assert set(ids[:2]) == {"a-short", "b-choice"}
    assert len(ids) == 4 and not set(ids[2:]) & {"a-short", "b-choice"}


def test_new_items_alternate_topics() -> None:
    topics = {"a1": "a", "a2": "a", "a3": "a", "b1": "b", "b2": "b"}
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert order_queue(list(topics), topics, {}, now, 5) == ["a1", "b1", "a2", "b2", "a3"]


def test_topic_and_kind_filters(bank, clock) -> None:
    progress = QuizProgress(None)
    plan = QuizSession.plan(bank, progress, topic="beta", now=clock)
    assert {i.topic for i in plan.items} == {"beta"}
    plan = QuizSession.plan(bank, progress, kind="hands-on", now=clock)
    assert {i.kind for i in plan.items} == {"hands-on"}
    plan = QuizSession.plan(bank, progress, kind="choice", count=1, now=clock)
    assert len(plan.items) == 1


# ------------------------------------------------------------------------------------------
# The progress file

def test_default_path_is_in_the_data_directory(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDISLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_path() == tmp_path / "redislab" / "quiz.json"
    monkeypatch.setenv("REDISLAB_DATA_DIR", str(tmp_path / "d"))
    assert default_path() == tmp_path / "d" / "quiz.json"


def test_the_file_is_plain_json(bank, clock, tmp_path: Path) -> None:
    path = tmp_path / "quiz.json"
    progress = QuizProgress.load(path)
    s = QuizSession(bank, progress, [bank.get("a-short")], now=clock)
    s.submit(s.next_question(), "-2")
    data = json.loads(path.read_text())
    assert data["format"] == 1
    rec = data["items"]["a-short"]
    assert rec["reviews"] == 1 and rec["history"][0]["correct"] is True
    assert rec["card"]["due"].endswith("+00:00")


@pytest.mark.parametrize("content", ["{not json", '{"format": 1, "items": []}', "[1, 2]",
                                     '{"format": 1, "items": {"x": {"card": {}}}}', "\xff"])
def test_a_corrupt_file_is_set_aside_not_lost(tmp_path: Path, clock, content: str) -> None:
    path = tmp_path / "quiz.json"
    path.write_text(content, encoding="latin-1")
    progress = QuizProgress.load(path, clock())
    assert progress.items == {}
    assert "quiz.json.corrupt-20250301-090000" in progress.problem
    kept = tmp_path / "quiz.json.corrupt-20250301-090000"
    assert kept.read_bytes() == content.encode("latin-1")
    assert not path.exists()
    # A second corrupt file in the same second gets its own name.
    path.write_text("garbage")
    again = QuizProgress.load(path, clock())
    assert "quiz.json.corrupt-20250301-090000-1" in again.problem
    assert kept.read_bytes() == content.encode("latin-1")


def test_a_newer_format_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "quiz.json"
    path.write_text('{"format": 99, "items": {}}')
    with pytest.raises(ProgressError, match="newer redislab"):
        QuizProgress.load(path)
    assert path.read_text() == '{"format": 99, "items": {}}'


def test_export_import_and_reset(bank, clock, tmp_path: Path) -> None:
    mine = QuizProgress.load(tmp_path / "mine.json")
    s = QuizSession(bank, mine, [bank.get("a-short"), bank.get("b-choice")], now=clock)
    answer_all(s, RIGHT, clock)
    exported = mine.export(tmp_path / "export.json")

    other = QuizProgress.load(tmp_path / "other.json")
    clock.advance(days=1)
    s = QuizSession(bank, other, [bank.get("b-choice"), bank.get("a-choice")], now=clock)
    answer_all(s, RIGHT, clock)
    # Merge: the most recent review of each item wins.
    taken = other.import_from(exported)
    assert taken == 1                                   # a-short; b-choice is newer here
    assert set(other.items) == {"a-short", "b-choice", "a-choice"}
    assert other.items["b-choice"].card.last_review.date() == clock().date()
    # Replace.
    assert other.import_from(exported, replace=True) == 2
    assert set(other.items) == {"a-short", "b-choice"}
    # Reset one, then all.
    assert other.reset(["a-short", "nope"]) == 1
    assert set(other.items) == {"b-choice"}
    assert other.reset() == 1 and other.items == {}
    with pytest.raises(ProgressError):
        other.import_from(tmp_path / "missing.json")


def test_overview_and_forecast(bank, clock) -> None:
    progress = QuizProgress(None)
    sched = Scheduling(fuzz=False)
    s = QuizSession(bank, progress, [bank.get("a-short"), bank.get("a-choice"),
                                     bank.get("b-choice")], now=clock, scheduling=sched)
    answers = dict(RIGHT, **{"a-choice": "APPEND"})
    answer_all(s, answers, clock)
    rows = {r.topic: r for r in progress_overview(bank, progress, clock(), sched)}
    assert rows["alpha"].total == 5 and rows["alpha"].seen == 2
    assert rows["alpha"].weak == 1 and rows["alpha"].weak_items == ["a-choice"]
    assert rows["beta"].seen == 1 and rows["beta"].weak == 0
    days = forecast(progress.items.values(), clock(), 14)
    assert sum(days) == 3 and days[0] >= 1


# ------------------------------------------------------------------------------------------
# Interviews

def test_interview_mixes_kinds_and_reports(bank, clock) -> None:
    progress = QuizProgress(None)
    iv = Interview.plan(bank, progress, minutes=15, now=clock, seed=7)
    kinds = [i.kind for i in iv.items]
    assert len(set(kinds)) >= 4
    assert kinds[0] == "explain"
    answers = dict(RIGHT, **{"b-hands-on": "ZRANGESTORE top scores 0 2"})
    for q in iv:
        clock.advance(seconds=30)
        covered = [0, 1] if q.item.kind == "explain" else None
        iv.submit(q, answers[q.item.id], covered)
    report = iv.finish()
    assert report.asked == len(iv.items)
    assert report.right == report.asked - 1
    beta = next(t for t in report.topics if t.topic == "beta")
    assert beta.right == beta.asked - 1
    assert report.weakest and report.weakest[0].topic == "beta"
    assert report.lessons[0] == "leaderboard"
    assert len(report.explains) == 1
    assert report.explains[0].covered == (0, 1)
    assert progress.interviews[-1]["asked"] == report.asked


def test_interview_stops_when_time_is_up(bank, clock) -> None:
    progress = QuizProgress(None)
    iv = Interview.plan(bank, progress, minutes=3, now=clock, seed=1)
    q = iv.next_question()
    assert q is not None and iv.time_left() == 180
    clock.advance(minutes=4)
    iv.submit(q, RIGHT[q.item.id], [0, 1, 2])
    assert iv.over and iv.next_question() is None
    report = iv.finish()
    assert report.asked == 1
    assert report.elapsed == 180
    assert len(report.unanswered) == len(iv.items) - 1
