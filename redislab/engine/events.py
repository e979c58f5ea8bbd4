"""Typed engine events and the bus they travel on.

Everything noteworthy a command causes (a key expiring or being evicted, an encoding
conversion, a client blocking, an AOF fsync) is published once as an event. The REPL's
annotations, keyspace notifications, lessons' checks and the ``--watch`` log all subscribe to
the same bus, so no front end has to know where a fact came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(slots=True)
class Event:
    """Base class. ``kind`` is a short stable name such as ``expired`` or ``evicted``."""

    kind = "event"

    def describe(self) -> str:
        return self.kind


@dataclass(slots=True)
class KeyExpired(Event):
    db: int
    key: bytes
    how: str  # "lazy" or "active"
    kind = "expired"

    def describe(self) -> str:
        return f"key {self.key!r} expired ({self.how})"


@dataclass(slots=True)
class KeyDeleted(Event):
    db: int
    key: bytes
    kind = "deleted"

    def describe(self) -> str:
        return f"key {self.key!r} deleted"


@dataclass(slots=True)
class KeyEvicted(Event):
    db: int
    key: bytes
    policy: str
    reason: str = ""
    freed: int = 0
    kind = "evicted"

    def describe(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"key {self.key!r} evicted by {self.policy}{why}"


@dataclass(slots=True)
class EncodingChanged(Event):
    db: int
    key: bytes
    old: str
    new: str
    reason: str = ""
    kind = "encoding"

    def describe(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"{self.key!r} {self.old} -> {self.new}{why}"


@dataclass(slots=True)
class ClientBlocked(Event):
    client_id: int
    command: str
    keys: tuple[bytes, ...]
    timeout_ms: int | None
    kind = "blocked"

    def describe(self) -> str:
        return f"client {self.client_id} blocked on {self.command}"


@dataclass(slots=True)
class ClientUnblocked(Event):
    client_id: int
    reason: str  # "served", "timeout", "unblocked", "error"
    kind = "unblocked"

    def describe(self) -> str:
        return f"client {self.client_id} unblocked ({self.reason})"


@dataclass(slots=True)
class Published(Event):
    channel: bytes
    receivers: int
    kind = "published"

    def describe(self) -> str:
        return f"message on {self.channel!r} reached {self.receivers} subscriber(s)"


@dataclass(slots=True)
class Persistence(Event):
    """A persistence step: ``what`` is e.g. ``aof-append``, ``aof-fsync``, ``rdb-save``."""

    what: str
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    kind = "persistence"

    def describe(self) -> str:
        return f"{self.what} {self.detail}".strip()


@dataclass(slots=True)
class Notice(Event):
    """A free-form fact worth showing (a config change, a flush)."""

    text: str
    kind = "notice"

    def describe(self) -> str:
        return self.text


Listener = Callable[[Event], None]


class EventBus:
    """Publish/subscribe for events; also collects the events of the command being run."""

    __slots__ = ("_listeners", "_collect", "active")

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._collect: list[list[Event]] = []
        self.active = False

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        self.active = True

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
            self._refresh()

        return unsubscribe

    def _refresh(self) -> None:
        self.active = bool(self._listeners or self._collect)

    def publish(self, event: Event) -> None:
        for sink in self._collect:
            sink.append(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a faulty listener must never break a command
                pass

    def start_collect(self) -> list[Event]:
        sink: list[Event] = []
        self._collect.append(sink)
        self.active = True
        return sink

    def stop_collect(self, sink: list[Event]) -> None:
        if sink in self._collect:
            self._collect.remove(sink)
        self._refresh()
