"""Lessons and quiz answers on a real Redis server (``--url``) instead of the embedded engine.

Commands go to the server over RESP and their replies are the server's own. Checks that look
at the keyspace read a copy of it: every key of the lesson's database is copied with DUMP,
PTTL and RESTORE into a fresh embedded engine, and the check runs there, so a lesson's
checks read the server's data, types, encodings and TTLs without a second implementation.
Commands a check sends (CONFIG GET, INFO, SLOWLOG GET) go to the server itself.

What only the embedded engine can do is not attempted on a server: moving the clock
(``:advance``), crashing and restarting, simulated load and topologies. Steps and questions
that need it are skipped with that reason (:func:`needs_engine`). Each step or answer starts
as on a fresh server: the URL's database emptied (FLUSHDB), parameters a step changed put
back, statistics and the slow log reset. Point ``--url`` at a scratch server.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, fields
from typing import Any, Iterable
from urllib.parse import unquote, urlparse

from ..engine import Engine, ManualClock
from ..protocol import ReplyParser, encode_command
from ..protocol.reply import ErrorReply

__all__ = ["ServerTarget", "ServerError", "ServerSandbox", "item_needs_engine", "needs_engine",
           "server_lesson_run"]

ENGINE_ONLY = {
    ":advance": "moves the clock, which only the embedded engine's manual clock can do",
    ":wait": "moves the clock, which only the embedded engine's manual clock can do",
    ":crash": "crashes and restarts the server, which only the embedded engine can do",
}


class ServerError(Exception):
    """The server could not be reached, or the URL is not one we can use."""


def needs_engine(lines: Iterable[str], *, simulated: bool = False,
                 topology: bool = False) -> str | None:
    """Why these lines (a step's setup and solution, a question's commands) need the
    embedded engine, or None when a real server can run them."""
    if simulated:
        return "needs the embedded engine: it runs simulated clients on a manual clock"
    if topology:
        return "needs the embedded engine: it runs a simulated topology of servers"
    for line in lines:
        word = line.strip().split(" ", 1)[0].lower()
        if word.startswith(":"):
            reason = ENGINE_ONLY.get(word, f"uses {word}, which only the embedded engine has")
            return f"needs the embedded engine: it {reason}"
    return None


class _Connection:
    """One blocking RESP2 connection."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise ServerError(f"cannot connect to {host}:{port}: {e}") from None
        self.parser = ReplyParser()

    def call(self, *args: Any) -> Any:
        return self.pipeline([args])[0]

    def pipeline(self, commands: list[Any]) -> list[Any]:
        """Send every command, then read every reply (one round trip for all)."""
        if not commands:
            return []
        self.sock.sendall(b"".join(encode_command(*args) for args in commands))
        replies: list[Any] = []
        while True:
            for reply in self.parser.replies():
                replies.append(reply)
                if len(replies) == len(commands):
                    return replies
            data = self.sock.recv(1 << 16)
            if not data:
                raise ServerError("the server closed the connection")
            self.parser.feed(data)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class ServerTarget:
    """A real server reached by ``redis://[user:password@]host[:port][/db]``.

    ``execute`` runs a command for a named client (one connection each, as a learner's
    ``@name`` clients are separate connections); ``snapshot`` copies the database into an
    embedded engine for checks.
    """

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "redis":
            raise ServerError(f"--url must look like redis://host:port/db, not {url!r}")
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 6379
        path = parsed.path.strip("/")
        if path and not path.isdigit():
            raise ServerError(f"the database in {url!r} must be a number")
        self.db = int(path or 0)
        self.user = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.timeout = timeout
        self.url = url
        self.clients: dict[str, _Connection] = {}
        self.control = self._open()
        # The configuration each step starts from: lessons change it (maxmemory, appendonly,
        # the slow log threshold) and expect the next step to find the defaults again.
        self.config = self._config()

    def _open(self) -> _Connection:
        conn = _Connection(self.host, self.port, self.timeout)
        if self.password is not None:
            args = ("AUTH", self.user, self.password) if self.user else ("AUTH", self.password)
            reply = conn.call(*args)
            if isinstance(reply, ErrorReply):
                conn.close()
                raise ServerError(f"{self.url}: {reply.message}")
        if self.db:
            reply = conn.call("SELECT", self.db)
            if isinstance(reply, ErrorReply):
                conn.close()
                raise ServerError(f"{self.url}: {reply.message}")
        return conn

    def connection(self, client: str = "learner") -> _Connection:
        conn = self.clients.get(client)
        if conn is None:
            conn = self.clients[client] = self._open()
            conn.call("CLIENT", "SETNAME", client.replace(" ", "-"))
        return conn

    def execute(self, argv: list[bytes], client: str = "learner") -> Any:
        return self.connection(client).call(*argv)

    def _config(self) -> dict[bytes, bytes]:
        reply = self.control.call("CONFIG", "GET", "*")
        if isinstance(reply, ErrorReply):
            raise ServerError(f"{self.url}: CONFIG GET refused: {reply.message}")
        return dict(zip(reply[::2], reply[1::2]))

    def fresh(self) -> None:
        """Start over as a fresh server would: the learner's connections dropped, the
        database emptied, changed parameters put back, statistics and slow log reset."""
        for conn in self.clients.values():
            conn.close()
        self.clients = {}
        self.control.call("FLUSHDB")
        self._restore_config()
        self.control.call("CONFIG", "RESETSTAT")
        self.control.call("SLOWLOG", "RESET")

    def _restore_config(self) -> None:
        for name, value in self._config().items():
            if self.config.get(name, value) != value:
                self.control.call("CONFIG", "SET", name, self.config[name])

    def snapshot(self, engine: Engine | None = None) -> Engine:
        """The database copied into an embedded engine (DUMP, PTTL, RESTORE per key)."""
        engine = engine or Engine(ManualClock())
        session = engine.session(name="redislab-snapshot")
        if self.db:
            session.execute("SELECT", self.db)
        cursor = b"0"
        while True:
            cursor, keys = self.control.call("SCAN", cursor, "COUNT", 1000)
            replies = self.control.pipeline([c for key in keys
                                             for c in (("DUMP", key), ("PTTL", key))])
            for key, payload, ttl in zip(keys, replies[::2], replies[1::2]):
                if payload is None:     # expired or deleted since SCAN saw it
                    continue
                session.execute("RESTORE", key, max(0, ttl) if isinstance(ttl, int) else 0,
                                payload, "REPLACE")
            if cursor == b"0":
                break
        engine.close_session(session)
        return engine

    def close(self) -> None:
        """Put the configuration back as it was found, and disconnect."""
        try:
            self._restore_config()
        except (OSError, ServerError):
            pass
        for conn in [*self.clients.values(), self.control]:
            conn.close()
        self.clients = {}


# --------------------------------------------------------------------------------------------
# Lessons

def _check_env_class() -> type:
    from .checks import CheckEnv

    @dataclass
    class ServerCheckEnv(CheckEnv):
        """Keys are read from the snapshot; commands a check sends (CONFIG GET, SLOWLOG GET,
        INFO ...) go to the server, whose own state they ask about."""

        target: Any = None

        def call(self, *args: Any) -> Any:
            return self.target.control.call(*args)

    return ServerCheckEnv


def _lesson_run_class() -> type:
    # Imported late: the runner pulls in the lesson machinery, which quiz grading does not need.
    from .runner import LEARNER, LessonRun, Submission
    from .topology import parse_topology, split_node

    ServerCheckEnv = _check_env_class()

    class ServerLessonRun(LessonRun):
        """A lesson whose learner's commands and setup run on a real server."""

        def __init__(self, lesson: Any, target: ServerTarget, **kwargs: Any) -> None:
            self.target = target
            super().__init__(lesson, **kwargs)

        def start_step(self, index: int, new_seed: bool = False) -> None:
            super().start_step(index, new_seed)
            step = self.step
            solution = list(step.solution) if isinstance(step.solution, tuple) else []
            topology = parse_topology(self.lesson.topology_of(step)) is not None
            reason = needs_engine([*step.setup, *solution], simulated=step.simulated,
                                  topology=topology)
            if reason is not None:
                self.skip_reason = self.skip_reason or reason
                if self.topo is not None:
                    self.topo.close()
                    self.topo = None
                return
            self.target.fresh()
            from .model import fill
            from ..protocol import split_args

            for line in step.setup:
                node, text = split_node(fill(line, self.values))
                argv = split_args(text)
                if argv:
                    self.target.execute(argv, "setup")

        def submit(self, line: str | list[bytes], client: str | None = None,
                   node: str | None = None) -> Any:
            from ..protocol import split_args

            if isinstance(line, str):
                text = line.strip()
                if text.startswith(":"):
                    return Submission(refused=needs_engine([text]))
                if text.startswith("@"):
                    name, _, rest = text.partition(" ")
                    return self.submit(rest, client=name[1:])
                argv = split_args(text)
                if argv is None:
                    return Submission(refused="unbalanced quotes")
            else:
                argv = line
            if not argv:
                return Submission()
            refused = self.refuse(argv)
            if refused:
                return Submission(refused=refused)
            reply = self.target.execute(argv, client or LEARNER)
            return Submission(reply=reply, verdict=self.observe(argv, reply))

        def _env(self, solution: Any = None, seeds: Any = None) -> Any:
            base = super()._env(solution, seeds)
            values = {f.name: getattr(base, f.name) for f in fields(base)}
            values.update(engine=self.target.snapshot(), db=self.target.db)
            return ServerCheckEnv(**values, target=self.target)

        def crash(self, kind: str = "power") -> str:
            return needs_engine([":crash"]) or ""

    return ServerLessonRun


def server_lesson_run(lesson: Any, target: ServerTarget, **kwargs: Any) -> Any:
    """A LessonRun on ``target``: the learner's commands and each step's setup run there."""
    return _lesson_run_class()(lesson, target, **kwargs)


# --------------------------------------------------------------------------------------------
# Quiz answers

def item_needs_engine(item: Any) -> str | None:
    """Why a quiz item cannot run on a server (None when it can or runs nothing)."""
    if item.kind not in ("predict", "hands-on"):
        return None
    lines = [*item.commands, *(line for case in item.cases for line in case.setup)]
    if item.answer_kind != "lua":
        lines += [line for line in item.solution.splitlines() if line.strip()]
    if any(goal.advance for case in item.cases for goal in case.goals):
        lines.append(":advance")
    return needs_engine(lines)


def _sandbox_class() -> type:
    from .quiz_grade import RunResult, Sandbox

    class ServerSandbox(Sandbox):
        """A quiz answer's run on a real server: an emptied database, the answer on one
        connection, probes on another; the same refusals as the embedded sandbox."""

        def __init__(self, target: ServerTarget, resp: int = 2,
                     time_limit: float = 2.0) -> None:
            self.target = target
            self.time_limit = time_limit
            self.forbidden = frozenset()
            self.allow = frozenset()
            self.restricted = False
            self.client = "quiz-answer"
            self.prober = "quiz-probe"
            self.broken = False
            target.fresh()
            if resp == 3:
                target.execute([b"HELLO", b"3"], self.client)

        def execute(self, argv: list[bytes], session: Any = None) -> Any:
            refusal = self._refusal(argv)
            if refusal is not None:
                return refusal
            return self.target.execute(argv, session or self.client)

        def _timed(self, argvs: list[Any], session: Any) -> Any:
            if self.broken:
                return RunResult([], "the server was stopped earlier", timed_out=True)
            replies: list[Any] = []
            for argv in argvs:
                if isinstance(argv, float):
                    return RunResult(replies, needs_engine([":advance"]) or "")
                try:
                    self.target.connection(session).sock.settimeout(self.time_limit)
                    replies.append(self.execute(argv, session))
                except (OSError, ServerError):
                    # A script still running is killed; a blocked client is dropped.
                    self.target.control.call("SCRIPT", "KILL")
                    self.target.fresh()
                    self.broken = True
                    return RunResult(replies, f"stopped after {self.time_limit:g} s: it did "
                                              "not finish (an endless loop?)", timed_out=True)
            return RunResult(replies)

        def call_counts(self, ids: Any) -> list[int]:
            from ..engine.commands import TABLE

            stats = self.target.control.call("INFO", "commandstats")
            calls: dict[str, int] = {}
            for line in stats.decode("utf-8", "replace").splitlines():
                if line.startswith("cmdstat_"):
                    name, _, rest = line[len("cmdstat_"):].partition(":")
                    calls[name] = int(rest.split(",", 1)[0].split("=", 1)[1])
            return [calls.get(TABLE.all[i].name.lower().replace(" ", "|"), 0) for i in ids]

        def advance(self, seconds: float) -> None:
            raise ServerError(needs_engine([":advance"]) or "")

    return ServerSandbox


def __getattr__(name: str) -> Any:
    # ServerSandbox is built on first use: quiz grading imports this module lazily.
    if name == "ServerSandbox":
        cls = _sandbox_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
