"""The deterministic scheduler: simulated clients that take turns at command boundaries.

Each simulated client is ordinary Python (the learner's function included) running on a
thread of its own, but only one of them ever runs at a time. A client runs until it is about
to send a command, sleeps, or waits on a blocked command; there it hands control back, and
the scheduler picks who goes next. Which client goes next is a *choice*: a seeded random
chooser gives one reproducible interleaving per seed, and :func:`explore` re-runs a small
scenario until every order of commands has been tried (stateless model checking: each run
replays a prefix of choices, then takes the first option at every later choice point).

Time is the engine's :class:`~redislab.engine.ManualClock`. It never moves while a client is
running: it jumps forward only when every client is asleep or waiting, to the moment the
first of them wakes (discrete-event simulation). Sleeping a simulated hour costs nothing.

Faults are planned at command boundaries: pause client X for T seconds before its k-th
command (a GC pause or a slow network in the middle of the learner's code), or crash it
there (its connections close, its program stops where it stands).
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..engine import Engine, ManualClock

__all__ = ["Sim", "Task", "Ctx", "Fault", "SimCrash", "SimError", "SimHang", "SimLivelock",
           "Chooser", "RandomChooser", "ReplayChooser", "explore", "current_task"]

# How long (real seconds) the scheduler waits for one client to reach its next command.
DEFAULT_WALL_TIMEOUT = 5.0
# Stack of a simulated client's thread: a thousand clients at 8 MB each would reserve 8 GB.
THREAD_STACK = 512 * 1024
# Commands all clients together may send while the clock stands still.
DEFAULT_SPIN_LIMIT = 20_000

_local = threading.local()


def current_task() -> "Task | None":
    """The simulated client running on this thread, if any."""
    return getattr(_local, "task", None)


class SimCrash(BaseException):
    """Raised inside a client to stop it where it stands (a BaseException, so that the
    client's own ``except Exception`` cannot swallow its death)."""


class SimError(Exception):
    """A simulation could not go on; ``kind`` names why (for misconception messages)."""

    kind = "error"

    def __init__(self, message: str, task: "Task | None" = None) -> None:
        super().__init__(message)
        self.task = task


class SimHang(SimError):
    """A client did not reach its next command in time (an endless loop without commands)."""

    kind = "hang"


class SimLivelock(SimError):
    """Clients kept sending commands while no time passed (a retry loop without a sleep)."""

    kind = "livelock"


@dataclass
class Fault:
    """Something that happens to ``task`` just before its ``before``-th command (0-based)."""

    task: str
    before: int
    kind: str = "pause"          # "pause" or "crash"
    seconds: float = 0.0

    def describe(self) -> str:
        what = f"paused {self.seconds:g}s" if self.kind == "pause" else "crashed"
        return f"{self.task} {what} before its command #{self.before + 1}"


class Chooser:
    """Picks which ready client runs next."""

    def choose(self, n: int) -> int:
        raise NotImplementedError


class RandomChooser(Chooser):
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def choose(self, n: int) -> int:
        return self.rng.randrange(n)


class ReplayChooser(Chooser):
    """Follows ``prefix``, then always takes option 0; records every choice point."""

    def __init__(self, prefix: list[int] | None = None) -> None:
        self.prefix = prefix or []
        self.trace: list[tuple[int, int]] = []

    def choose(self, n: int) -> int:
        i = len(self.trace)
        pick = self.prefix[i] if i < len(self.prefix) else 0
        if pick >= n:
            pick = 0
        self.trace.append((pick, n))
        return pick


def explore(run_once: Callable[[Chooser], Any], max_runs: int = 2000
            ) -> Iterator[tuple[Any, bool]]:
    """Run ``run_once`` under every interleaving (depth first); yields (result, complete).

    ``complete`` is True on the last result when every interleaving was tried, False when
    ``max_runs`` cut the search short.
    """
    prefix: list[int] = []
    runs = 0
    while True:
        chooser = ReplayChooser(prefix)
        result = run_once(chooser)
        runs += 1
        trace = chooser.trace
        i = len(trace) - 1
        while i >= 0 and trace[i][0] + 1 >= trace[i][1]:
            i -= 1
        if i < 0:
            yield result, True
            return
        if runs >= max_runs:
            yield result, False
            return
        yield result, False
        prefix = [c for c, _ in trace[:i]] + [trace[i][0] + 1]


class Ctx:
    """What a simulated client's program is given: its client, time, randomness.

    ``ctx.r`` is a real redis-py client whose every command is a scheduling point;
    ``ctx.sleep(s)`` waits in simulated time; ``ctx.now()`` / ``ctx.now_ms()`` read the
    simulated clock; ``ctx.random()`` and ``ctx.token()`` are seeded, so runs repeat.
    """

    def __init__(self, sim: "Sim", task: "Task") -> None:
        self.sim = sim
        self.task = task
        self.name = task.name
        self.rng = random.Random(f"{sim.seed}/{task.name}")

    @property
    def r(self) -> Any:
        # looked up each time: after a server crash the simulation has new clients
        return self.sim.client_for(self.task)

    def client(self, **kwargs: Any) -> Any:
        """Another client (connection pool) for this program, e.g. with decode_responses."""
        return self.sim.client_for(self.task, **kwargs)

    def sleep(self, seconds: float) -> None:
        self.sim.sleep(self.task, seconds)

    def now(self) -> float:
        return self.sim.now_ms() / 1000.0

    def now_ms(self) -> int:
        return self.sim.now_ms()

    def random(self) -> float:
        return self.rng.random()

    def token(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def note(self, what: str, **data: Any) -> None:
        """Record an observation for the scenario's checks (time-stamped)."""
        self.sim.log.append((self.sim.now_ms(), self.task.name, what, data))


@dataclass(eq=False)
class Task:
    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    start_ms: int = 0
    state: str = "new"       # new, ready, sleeping, blocked, done, crashed, failed, killed
    wake_ms: int = 0
    commands: int = 0
    result: Any = None
    error: BaseException | None = None
    kill: bool = False
    crash_pending: bool = False
    blocked_on: Any = None
    thread: threading.Thread | None = None
    go: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    ctx: Ctx | None = None
    round_trips: int = 0
    in_command: bool = False
    finished_ms: int | None = None

    @property
    def alive(self) -> bool:
        return self.state in ("new", "ready", "sleeping", "blocked")


class Sim:
    """One simulation run: an engine on a manual clock and the clients that share it.

    Args:
        engine: the engine to run on (a fresh one on a ManualClock if None).
        seed: seeds the default chooser and every client's randomness.
        chooser: picks the next client at each command boundary.
        faults: pauses and crashes planned at command boundaries.
        rtt: simulated network round trip per send, in seconds (0: instantaneous).
        wall_timeout: real seconds a client may run without reaching a command.
        spin_limit: commands allowed while the clock stands still.
    """

    def __init__(self, engine: Engine | None = None, *, seed: int = 0,
                 chooser: Chooser | None = None, faults: list[Fault] | None = None,
                 rtt: float = 0.0, wall_timeout: float | None = None,
                 spin_limit: int = DEFAULT_SPIN_LIMIT) -> None:
        if engine is None:
            engine = Engine(ManualClock())
        if not isinstance(engine.clock, ManualClock):
            raise TypeError("a simulation needs an engine on a ManualClock")
        self.engine = engine
        self.seed = seed
        self.chooser = chooser or RandomChooser(seed)
        self.faults: dict[tuple[str, int], Fault] = {(f.task, f.before): f
                                                     for f in (faults or [])}
        self.fired: list[tuple[int, Fault]] = []
        self.rtt = rtt
        self.wall_timeout = wall_timeout if wall_timeout is not None else DEFAULT_WALL_TIMEOUT
        self.spin_limit = spin_limit
        self.tasks: list[Task] = []
        self._by_name: dict[str, Task] = {}
        self._ready_q: list[Task] = []
        self._sleepers: list[tuple[int, int, Task]] = []
        self._blocked: list[Task] = []
        self._seq = itertools.count()
        self._clients: dict[tuple[tuple[str, Any], ...], Any] = {}
        self.log: list[tuple[int, str, str, dict[str, Any]]] = []
        self.before_command: list[Callable[[Task, list[bytes]], None]] = []
        self.after_command: list[Callable[[Task, list[bytes]], None]] = []
        self.steps = 0
        self._back = threading.Semaphore(0)
        self._spin = 0
        self._closed = False
        self.crash_hooks: list[Callable[[], None]] = []

    # ----------------------------------------------------------------------------------------
    # Setting up

    def now_ms(self) -> int:
        return self.engine.clock.time_ms()

    def spawn(self, name: str, fn: Callable[..., Any], *args: Any,
              delay: float = 0.0) -> Task:
        """Add a client running ``fn(ctx, *args)``, starting ``delay`` seconds from now."""
        if name in self._by_name:
            raise ValueError(f"two simulated clients named {name!r}")
        task = Task(name, fn, args, start_ms=self.now_ms() + int(round(delay * 1000)))
        task.ctx = Ctx(self, task)
        task.wake_ms = task.start_ms
        self.tasks.append(task)
        self._by_name[name] = task
        if delay > 0:
            task.state = "sleeping"
            heapq.heappush(self._sleepers, (task.wake_ms, next(self._seq), task))
        else:
            self._ready_q.append(task)
        return task

    def client_for(self, task: Task, **kwargs: Any) -> Any:
        """The simulation's shared client with these options (connections come from its pool;
        a command is scheduled on whichever simulated client's thread sends it)."""
        key = tuple(sorted(kwargs.items()))
        r = self._clients.get(key)
        if r is None:
            from .connection import sim_client

            r = self._clients[key] = sim_client(self, **kwargs)
        return r

    def task(self, name: str) -> Task:
        return self._by_name[name]

    # ----------------------------------------------------------------------------------------
    # Running

    def run(self, until: float | None = None) -> "Sim":
        """Run until every client has finished, or ``until`` simulated seconds from now.

        Clients still sleeping or blocked at the end are stopped. Raises :class:`SimHang`
        or :class:`SimLivelock` when a client's program misbehaves.
        """
        end_ms = None if until is None else self.now_ms() + int(round(until * 1000))
        try:
            ready = self._ready_q
            while True:
                if self._blocked:
                    self._collect_unblocked()
                if not ready:
                    wake = self._next_wake()
                    if wake is None or (end_ms is not None and wake > end_ms):
                        if end_ms is not None and wake is not None:
                            self._advance_to(end_ms)
                        break
                    self._advance_to(wake)
                    continue
                fresh = next((k for k, t in enumerate(ready) if t.thread is None), None)
                if fresh is not None:
                    # What a program does before its first command touches nothing shared:
                    # starting it is not a choice worth exploring.
                    self._step(ready.pop(fresh))
                    continue
                i = self.chooser.choose(len(ready)) if len(ready) > 1 else 0
                self._step(ready.pop(i))
        finally:
            self.close()
        return self

    def _collect_unblocked(self) -> None:
        still = []
        for t in self._blocked:
            if t.state != "blocked":
                continue
            conn = t.blocked_on
            if conn is None or conn._ready() or conn._session is None:
                t.state = "ready"
                self._ready_q.append(t)
            else:
                still.append(t)
        self._blocked = still

    def _next_wake(self) -> int | None:
        sleepers = self._sleepers
        while sleepers and sleepers[0][2].state != "sleeping":
            heapq.heappop(sleepers)
        best = sleepers[0][0] if sleepers else None
        for t in self._blocked:
            conn = t.blocked_on
            session = conn._session if conn is not None else None
            blocked = session.blocked if session is not None else None
            if blocked is not None and blocked.deadline_ms:
                when = blocked.deadline_ms + 1
                if best is None or when < best:
                    best = when
        return best

    def _advance_to(self, when_ms: int) -> None:
        now = self.now_ms()
        if when_ms > now:
            eng = self.engine
            with eng.lock:
                eng.clock.advance(ms=when_ms - now)  # type: ignore[call-arg]
                eng.cron()
            self._spin = 0
        sleepers = self._sleepers
        while sleepers and sleepers[0][0] <= when_ms:
            _, _, t = heapq.heappop(sleepers)
            if t.state == "sleeping" and t.wake_ms <= when_ms:
                t.state = "ready"
                self._ready_q.append(t)

    def _step(self, task: Task) -> None:
        self.steps += 1
        self._spin += 1
        if self._spin > self.spin_limit:
            raise SimLivelock(
                f"{self._spin:,} commands were sent while no simulated time passed: a retry "
                "loop that never sleeps keeps every client spinning", task)
        task.state = "running"
        if task.thread is None:
            task.thread = threading.Thread(target=self._main, args=(task,), daemon=True,
                                           name=f"sim-{task.name}")
            old = threading.stack_size(THREAD_STACK)
            try:
                task.thread.start()
            finally:
                threading.stack_size(old)
        task.go.release()
        if not self._back.acquire(timeout=self.wall_timeout):
            self._rescue(task)

    def _rescue(self, task: Task) -> None:
        """A client is stuck: stop a runaway Lua script if that is the cause, else give up."""
        lua = self.engine.extensions.get("lua")
        run = getattr(lua, "run", None)
        if run is not None:
            run.kill = True  # the learner's sandbox engine: stopping it is always allowed
            if self._back.acquire(timeout=self.wall_timeout):
                task.error = SimHang(f"{task.name}'s Lua script ran for more than "
                                     f"{self.wall_timeout:g}s and was stopped", task)
                return
        task.kill = True
        task.state = "killed"
        raise SimHang(f"{task.name} ran for more than {self.wall_timeout:g}s without sending "
                      "a command or sleeping (an endless loop?)", task)

    def _main(self, task: Task) -> None:
        _local.task = task
        task.go.acquire()
        try:
            if task.kill:
                raise SimCrash()
            assert task.ctx is not None
            task.result = task.fn(task.ctx, *task.args)
            task.state = "done"
        except SimCrash:
            task.state = "crashed" if task.crash_pending else "killed"
        except BaseException as exc:  # the learner's code raised: the scenario reports it
            task.error = exc
            task.state = "failed"
        finally:
            task.finished_ms = self.now_ms()
            _local.task = None
            self._back.release()

    # ----------------------------------------------------------------------------------------
    # Called from client threads

    def _yield(self, task: Task, state: str) -> None:
        task.state = state
        if state == "ready":
            self._ready_q.append(task)
        elif state == "sleeping":
            heapq.heappush(self._sleepers, (task.wake_ms, next(self._seq), task))
        elif state == "blocked":
            self._blocked.append(task)
        self._back.release()
        task.go.acquire()
        if task.kill:
            raise SimCrash()
        task.state = "running"

    def gate(self, task: Task, argv: list[bytes] | None, round_trip: bool = True) -> None:
        """``task`` is about to send a command: apply planned faults, then take turns."""
        fault = self.faults.get((task.name, task.commands))
        if fault is not None and (task.name, task.commands) not in self._fired_keys():
            self.fired.append((self.now_ms(), fault))
            if fault.kind == "crash":
                task.crash_pending = True
                task.kill = True
                raise SimCrash()
            if fault.seconds > 0:
                task.wake_ms = self.now_ms() + int(round(fault.seconds * 1000))
                self._yield(task, "sleeping")
        if round_trip and self.rtt > 0:
            task.round_trips += 1
            task.wake_ms = self.now_ms() + int(round(self.rtt * 1000))
            self._yield(task, "sleeping")
        else:
            if round_trip:
                task.round_trips += 1
            self._yield(task, "ready")
        task.commands += 1
        if argv is not None:
            for hook in self.before_command:
                hook(task, argv)

    def _fired_keys(self) -> set[tuple[str, int]]:
        return {(f.task, f.before) for _, f in self.fired}

    def done_command(self, task: Task, argv: list[bytes]) -> None:
        for hook in self.after_command:
            hook(task, argv)

    def sleep(self, task: Task, seconds: float) -> None:
        if current_task() is not task:
            raise RuntimeError("ctx.sleep() belongs to the simulated client's own thread")
        task.wake_ms = self.now_ms() + max(0, int(round(seconds * 1000)))
        self._yield(task, "sleeping")

    def wait_blocked(self, task: Task, connection: Any) -> None:
        task.blocked_on = connection
        try:
            self._yield(task, "blocked")
        finally:
            task.blocked_on = None

    # ----------------------------------------------------------------------------------------
    # Faults and the end

    def crash(self, name: str) -> None:
        """Crash a client now (from the scenario): it stops at its next turn."""
        task = self.task(name)
        if task.alive:
            task.crash_pending = True
            task.kill = True

    def crash_server(self, kind: str = "power") -> bool:
        """Crash the server and restart it from its files (``power``: only what was fsynced
        survives; ``process``: what the OS had); False when the engine has no persistence.

        Clients reconnect to the restarted server on their next command.
        """
        crash = getattr(self.engine, "crash", None)
        if crash is None:
            return False
        old = self.engine
        self.engine = crash(kind)
        for r in self._clients.values():
            try:
                r.connection_pool.disconnect()
            except Exception:
                pass
        self._clients.clear()
        del old
        for hook in self.crash_hooks:
            hook()
        return True

    def close(self) -> None:
        """Stop every client still alive and close all connections."""
        if self._closed:
            return
        self._closed = True
        for t in self.tasks:
            if t.thread is not None and t.thread.is_alive() and t.state != "running":
                t.kill = True
                t.go.release()
                t.thread.join(timeout=1.0)
            if t.state in ("new", "sleeping", "ready", "blocked"):
                t.state = "killed"
        for r in self._clients.values():
            try:
                r.connection_pool.disconnect()
            except Exception:
                pass

    # ----------------------------------------------------------------------------------------
    # Results

    def errors(self) -> list[Task]:
        return [t for t in self.tasks if t.state == "failed"]
