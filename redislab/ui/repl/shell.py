"""One REPL conversation, without a terminal: a line goes in, styled text comes out.

:class:`Shell` understands everything a line can be: a Redis command (as redis-cli parses
it, with an optional repeat count), ``@name CMD`` to run one command as another client,
redis-cli's client-side words (``help``, ``quit``, ``clear``) and the ``:`` meta-commands. It
runs commands on a backend, prints replies as redis-cli does and the annotation line under
them. The prompt-toolkit application (``app.py``) and piped input (``batch.py``) both drive
it; tests drive it directly.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable

from ... import __version__
from ...protocol import NO_REPLY, ErrorReply, split_args
from .. import annotate as ann
from .. import docs
from ..backend import DEFAULT_CLIENT, EmbeddedBackend, Outcome
from ..render import render
from ..theme import Fragments
from .meta import find_meta, run_meta
from . import topology as _topology  # noqa: F401  (registers :topology, :node, :kill ...)
from .words import scan

__all__ = ["Shell"]

HISTORY_CALLS = 50
# A repeat count larger than this is refused rather than freezing the REPL.
MAX_REPEAT = 100_000


class Shell:
    """The REPL's state and its line handler.

    Args:
        backend: where commands run.
        write: receives styled fragments to show.
        raw: print replies as ``redis-cli --raw`` does.
        annotate: ``off``, ``brief`` or ``full``.
        interactive: False for piped input: messages are exactly redis-cli's, no waiting
            on blocked clients beyond their timeout.
        sleep: how to wait for real time to pass (tests never reach it).
    """

    def __init__(self, backend: EmbeddedBackend, write: Callable[[Fragments], None], *,
                 raw: bool = False, annotate: str = "brief", interactive: bool = True,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.backend = backend
        self.write = write
        self.raw = raw
        self.interactive = interactive
        self.sleep = sleep
        self.client = DEFAULT_CLIENT
        self.running = True
        self.hints = True
        self.history: deque[Outcome] = deque(maxlen=HISTORY_CALLS)
        self.annotate = "off"
        self.set_annotate(annotate)
        self.clear_screen: Callable[[], None] = lambda: None

    # ------------------------------------------------------------------------------------
    # Output helpers

    def emit(self, fragments: Fragments) -> None:
        if fragments:
            self.write(fragments)

    def info(self, text: str) -> None:
        self.emit([("info", text + "\n")])

    def error(self, text: str) -> None:
        self.emit([("info.error", text + "\n")])

    def now_text(self) -> str:
        ms = self.backend.now_ms()
        when = datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone()
        return when.strftime("%Y-%m-%d %H:%M:%S")

    @property
    def last(self) -> Outcome | None:
        return self.history[-1] if self.history else None

    # ------------------------------------------------------------------------------------
    # Settings

    def set_annotate(self, mode: str) -> None:
        self.annotate = mode
        self.backend.recording = mode != "off"

    def advance(self, seconds: float) -> None:
        """Move time forward, reporting what happened meanwhile (expiry, timeouts)."""
        seen = self.backend.advance(seconds)
        expired = [e for e in seen if e.kind == "expired"]
        other = [e for e in seen if e.kind not in ("expired", "deleted", "blocked",
                                                   "unblocked")]
        text = f"clock advanced {seconds:g}s to {self.now_text()}"
        if expired:
            text += f"; {len(expired)} key{'s' if len(expired) != 1 else ''} expired"
        self.info(text)
        if self.annotate != "off":
            shown = [ann.describe_event(e) for e in expired[:10] + other[:10]]
            for line in (s for s in shown if s):
                self.emit([("annotation.event", f"  {line}\n")])
        take_log = getattr(self.backend, "take_log", None)
        if take_log is not None:  # a topology: what its servers and Sentinels logged
            self.emit([("annotation.event", f"  {line}\n") for line in take_log()])
        self.flush_deliveries()

    def reset(self) -> None:
        self.backend.reset()
        self.client = DEFAULT_CLIENT
        self.history.clear()

    # ------------------------------------------------------------------------------------
    # Prompt

    def prompt_fragments(self) -> Fragments:
        session = self.backend.session(self.client)
        frags: Fragments = []
        if self.client != DEFAULT_CLIENT:
            frags.append(("prompt.client", f"{self.client}@"))
        name = getattr(self.backend, "prompt_name", None)
        frags.append(("prompt", name() if name is not None else "redislab"))
        if session.db.id:
            frags.append(("prompt", f"[{session.db.id}]"))
        if session.multi is not None:
            frags.append(("prompt.state", "(TX)"))
        if session.blocked is not None:
            frags.append(("prompt.state", "(blocked)"))
        frags.append(("prompt", "> "))
        return frags

    # ------------------------------------------------------------------------------------
    # Lines

    def handle(self, line: str) -> bool:
        """Handle one input line; returns False once the REPL should end."""
        text = line.strip()
        if not text:
            return self.running
        if text.startswith(":"):
            words = [w.value for w in scan(text).words]
            run_meta(self, words)
            return self.running
        args = split_args(text)
        if args is None:
            self._bad_quotes(text)
            return self.running
        if not args:
            return self.running
        first = args[0].decode("utf-8", "surrogateescape")
        low = first.lower()
        if len(args) == 1 and low in ("quit", "exit"):
            self.running = False
            return False
        if len(args) == 1 and low == "clear":
            self.clear_screen()
            return self.running
        if low in ("help", "?"):
            self.redis_help([a.decode("utf-8", "surrogateescape") for a in args[1:]])
            return self.running
        client = self.client
        if first.startswith("@") and len(first) > 1:
            client = first[1:]
            args = args[1:]
            if not args:
                self.error(f"@{client} needs a command to run as that client")
                return self.running
        repeat = 1
        if len(args) > 1 and args[0].isdigit():
            repeat = int(args[0])
            args = args[1:]
            if repeat > MAX_REPEAT:
                self.error(f"a repeat count above {MAX_REPEAT:,} would freeze the REPL")
                return self.running
        for _ in range(repeat):
            if not self.run(args, client):
                break
        return self.running

    def _bad_quotes(self, text: str) -> None:
        if not self.interactive:
            self.emit([("", "Invalid argument(s)\n")])
            return
        sc = scan(text)
        if sc.open_quote:
            w = sc.words[-1]
            why = f"the {w.quote} opened at column {w.start + 1} is never closed"
        else:
            bad = next((w for w in sc.words if w.bad), None)
            why = ("a closing quote must be followed by a space"
                   + (f" (column {bad.end + 1})" if bad else ""))
        self.emit([("info.error", f"Invalid argument(s): {why}\n")])

    # ------------------------------------------------------------------------------------
    # Commands

    def run(self, argv: list[bytes], client: str | None = None) -> bool:
        """Run one command and print its reply and annotation; False if it could not run."""
        client = client or self.client
        session = self.backend.session(client)
        if session.blocked is not None:
            spec = session.blocked.spec
            self.error(f"client {client} is blocked in {spec.name if spec else 'a command'}: "
                       "run commands as another client (@name CMD or :client name), or "
                       ":advance past its timeout")
            return False
        outcome = self.backend.execute(argv, client)
        for note in getattr(outcome, "notes", ()):  # a topology's redirects, a down node
            self.emit([("info.dim", f"{note}\n")])
        history = list(self.history)
        self.history.append(outcome)
        tag = client != self.client
        if outcome.blocked and self._waited(session):
            # Served (or timed out) while we waited: that is the command's reply.
            for d in self.backend.take_deliveries():
                if d.client == client and d.kind == "unblocked" and outcome.blocked:
                    outcome.reply, outcome.blocked = d.value, False
                else:
                    self.backend.deliveries.append(d)
            if outcome.blocked and session.blocked is None:
                outcome.reply, outcome.blocked = NO_REPLY, False  # the wait was interrupted
        if outcome.blocked:
            self._blocked_note(outcome, session)
        else:
            self.emit_reply(outcome.reply, outcome.resp, client if tag else None)
        self.emit(ann.annotate(outcome, history, self.annotate))
        self.flush_deliveries()
        self._subscribe_note(argv, session, client)
        return True

    def _subscribe_note(self, argv: list[bytes], session: Any, client: str) -> None:
        """redis-cli switches to a message reader here; the REPL stays, so say what changed."""
        if not self.interactive or session.resp != 2 or not argv:
            return
        name = argv[0].upper()
        if name in (b"SUBSCRIBE", b"PSUBSCRIBE", b"SSUBSCRIBE") and (
                session.channels or session.patterns or session.shard_channels):
            self.emit([("info.dim", f"(client {client} now only accepts (P|S)SUBSCRIBE, "
                                    "(P|S)UNSUBSCRIBE, PING, QUIT and RESET; messages show up "
                                    "here as they arrive)\n")])

    def emit_reply(self, reply: Any, resp: int, client: str | None = None,
                   style: str = "reply") -> None:
        text = render(reply, resp=resp, raw=self.raw)
        if not text:
            return
        if isinstance(reply, ErrorReply):
            style = "reply.error"
        frags: Fragments = []
        if client is not None:
            frags.append(("reply.client", f"[{client}] "))
        frags.append((style, text))
        self.emit(frags)

    def _waited(self, session: Any) -> bool:
        """With a real clock and a timeout, wait as redis-cli would; True if we did."""
        blocked = session.blocked
        clock = self.backend.clock
        if blocked is None or clock is None or clock.manual or not blocked.deadline_ms:
            return False
        self._wait(session)
        return True

    def _blocked_note(self, outcome: Outcome, session: Any) -> None:
        blocked = session.blocked
        if blocked is None or not self.interactive:
            return
        keys = ", ".join(k.decode("utf-8", "replace") for k in blocked.keys)
        when = "until another client writes to it"
        if blocked.deadline_ms:
            when += ", or :advance past its timeout"
        self.emit([("info.dim", f"(client {outcome.client} is blocked on {keys} {when}; "
                                "@other CMD runs a command as another client)\n")])

    def _wait(self, session: Any) -> None:
        """Wait in real time for a blocked client, as redis-cli would (Ctrl-C gives up)."""
        backend = self.backend
        try:
            while session.blocked is not None:
                deadline = session.blocked.deadline_ms
                now = backend.now_ms()
                if deadline and now >= deadline:
                    backend.tick()  # periodic work answers the timeout
                    continue
                self.sleep(min(0.05, max(0.001, (deadline - now) / 1000)))
        except KeyboardInterrupt:
            backend.stop_waiting(session)
            backend.take_deliveries()
            self.info("(interrupted: the client stopped waiting)")

    def flush_deliveries(self) -> None:
        """Print replies of clients that got unblocked and pushed messages."""
        for d in self.backend.take_deliveries():
            tag = d.client if (d.client != self.client or d.kind == "unblocked") else None
            self.emit_reply(d.value, d.resp, tag, "reply.push" if d.kind == "push" else "reply")

    # ------------------------------------------------------------------------------------
    # HELP, as redis-cli does it on the client side

    def redis_help(self, words: list[str]) -> None:
        if not words:
            self.emit(docs.general_help(__version__))
            return
        topic = " ".join(words)
        if topic.startswith(":"):
            cmd = find_meta(topic.split()[0])
            if cmd is not None:
                self.emit([("info.title", f":{cmd.name} {cmd.syntax}".rstrip() + "\n"),
                           ("info", f"  {cmd.summary}\n")])
                return
        if topic.startswith("@"):
            group = topic[1:].lower()
            frags = docs.group_cards(group)
            if not frags:
                self.error(f"no group {topic}; groups: "
                           + ", ".join("@" + g for g in docs.groups()))
                return
            self.emit(frags)
            return
        specs = docs.find_commands(topic)
        if not specs:
            # redis-cli says nothing for an unknown topic; a hint is kinder.
            self.error(f"no command {topic} (help @<group> lists a group's commands)")
            return
        for spec in specs:
            self.emit(docs.command_card(spec))

