"""Every shipped lesson passes ``redislab dev check`` (the rustlings ``dev check``)."""

from __future__ import annotations

from redislab.learn.loader import load_all
from redislab.learn.validate import validate

from .conftest import LESSONS

CARD = {"distributed-locking", "rate-limiting", "cache-stampede"}
TOPICS = {"strings-counters-ttl", "choosing-data-structures", "leaderboard", "unique-visitors",
          "caching-patterns", "lua-atomicity", "transactions-watch", "persistence",
          "memory-eviction", "performance", "event-loop", "streams-consumer-groups",
          "queues-pubsub", "hot-big-keys", "geo"}


def test_every_lesson_passes_dev_check() -> None:
    report = validate(LESSONS)
    assert report.errors == []
    # only steps whose engine feature is missing may be skipped, and they say which
    assert all("needs" in s for s in report.skipped)


def test_the_course_covers_the_topics() -> None:
    lessons, errors = load_all(LESSONS)
    assert errors == []
    ids = {lesson.id for lesson in lessons}
    assert len(lessons) >= 16
    assert CARD | TOPICS <= ids
    for lesson in lessons:
        assert lesson.summary and lesson.minutes and lesson.tags
        for p in lesson.prerequisites:
            assert p in ids
