"""The slow log (slowlog.c): commands that ran longer than ``slowlog-log-slower-than`` µs."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Session

MAX_ARGC = 32
MAX_STRING = 128

# Arguments Redis never writes to the slow log, by command (the secret is replaced).
_REDACT = {
    "auth": lambda argv: range(1, len(argv)),
    "hello": lambda argv: [i + 2 for i, a in enumerate(argv[:-2]) if a.upper() == b"AUTH"],
    "migrate": lambda argv: [i + 1 for i, a in enumerate(argv[:-1])
                             if a.upper() in (b"AUTH", b"AUTH2")],
}


def redacted(argv: list[bytes]) -> list[bytes]:
    """``argv`` with secrets (AUTH passwords ...) replaced by ``(redacted)``."""
    if not argv:
        return argv
    redact = _REDACT.get(argv[0].decode("latin-1").lower())
    if redact is None:
        return argv
    hidden = set(redact(argv))
    return [b"(redacted)" if i in hidden else a for i, a in enumerate(argv)]


@dataclass(slots=True)
class SlowlogEntry:
    id: int
    time: int           # unix seconds
    duration_us: int
    argv: list[bytes]
    client_addr: str
    client_name: str


class Slowlog:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.entries: deque[SlowlogEntry] = deque()
        self.next_id = 0

    def threshold_changed(self, old: int, new: int) -> None:
        # A negative threshold turns logging off; 0 logs every command.
        self.engine.slowlog_us = new if new >= 0 else 1 << 62
        self.engine.slowlog_ns = self.engine.slowlog_us * 1000

    def add(self, session: "Session", argv: list[bytes], name: str, duration_us: int) -> None:
        shown: list[bytes] = []
        count = min(len(argv), MAX_ARGC)
        redact = _REDACT.get(name.split("|")[0])
        hidden = set(redact(argv)) if redact else set()
        for i in range(count):
            if count != len(argv) and i == count - 1:
                shown.append(b"... (%d more arguments)" % (len(argv) - count + 1))
                break
            arg = b"(redacted)" if i in hidden else argv[i]
            if len(arg) > MAX_STRING:
                arg = arg[:MAX_STRING] + b"... (%d more bytes)" % (len(arg) - MAX_STRING)
            shown.append(arg)
        eng = self.engine
        self.entries.appendleft(SlowlogEntry(
            self.next_id, eng.clock.time_ms() // 1000, duration_us, shown,
            session.addr, session.name))
        self.next_id += 1
        limit = eng.config["slowlog-max-len"]
        while len(self.entries) > limit:
            self.entries.pop()

    def reset(self) -> None:
        self.entries.clear()
