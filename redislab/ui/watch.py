"""``redislab serve --watch``: a live log of what clients run, annotated as the REPL does.

Every command a client sends to the served engine is printed with who sent it and, under
it, the REPL's annotation line: the complexity with the real N, the memory it took or freed,
the events it caused and the pitfalls it walked into. The server calls :class:`Watcher`
after each command; nothing here touches the network.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable, TextIO

from ..engine import Blocked, Engine, Session
from ..protocol import ErrorReply
from . import annotate as ann
from .backend import Outcome
from .render import quote_bulk
from .theme import plain

__all__ = ["Watcher"]

HISTORY_CALLS = 50
# Arguments past this many are summarised, so a giant MSET stays one readable line.
SHOWN_ARGS = 12


class Watcher:
    """Prints each command a client ran, with its annotation (``server.on_command``)."""

    def __init__(self, engine: Engine, out: TextIO, *, mode: str = "brief",
                 now: Callable[[], float] = time.time) -> None:
        self.out = out
        self.mode = mode
        self.now = now
        self.history: dict[int, deque[Outcome]] = {}
        self.seen: dict[int, Any] = {}   # each client's record of its previous command
        engine.recording += 1  # the per-call record feeds the annotation
        engine.refresh_gate()

    def __call__(self, session: Session, argv: list[bytes], reply: Any) -> None:
        rec = session.last_record
        if rec is not None and self.seen.get(session.id) is rec:
            rec = None  # refused before running (arity, auth ...): nothing was recorded
        self.seen[session.id] = rec
        blocked = type(reply) is Blocked
        outcome = Outcome(session.name or f"id={session.id}", argv, reply, rec,
                          blocked=blocked, resp=session.resp,
                          queued=len(session.multi) if session.multi is not None else 0)
        past = self.history.setdefault(session.id, deque(maxlen=HISTORY_CALLS))
        note = plain(ann.annotate(outcome, list(past), self.mode))
        past.append(outcome)
        self.out.write(self.line(session, argv, reply, blocked) + note)
        self.out.flush()

    def line(self, session: Session, argv: list[bytes], reply: Any, blocked: bool) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.now()))
        who = session.addr + (f" ({session.name})" if session.name else "")
        words = [_word(a) for a in argv[:SHOWN_ARGS]]
        if len(argv) > SHOWN_ARGS:
            words.append(f"... ({len(argv) - SHOWN_ARGS} more)")
        text = f"{stamp} [{session.db.id} {who}] {' '.join(words)}"
        if blocked:
            text += "  (blocked)"
        elif isinstance(reply, ErrorReply):
            text += f"  -> (error) {reply.message}"
        return text + "\n"


def _word(arg: bytes) -> str:
    """An argument as typed at a prompt: bare when that reads back the same, else quoted."""
    if arg and all(33 <= b < 127 and b not in b'"\'\\' for b in arg):
        return arg.decode("ascii")
    return quote_bulk(arg)
