"""Graded simulations: the learner's solution run by simulated clients, invariants checked.

Each scenario builds a small world on the simulator (clients, a slow database, traffic,
pauses and crashes), runs the learner's code in it under a hidden seed, and reports every
invariant that broke, with the run that broke it. ``run_simulation`` runs a scenario over
several seeds and turns the result into a :class:`~redislab.learn.model.Verdict`.

Scenarios (the ``scenario`` of a ``simulation`` check):

* ``lock``: clients take a lock, work, release it; pauses are planned before each of their
  commands (a GC pause inside the learner's code) and, in some runs, the holder crashes.
  Invariants: mutual exclusion, nobody deletes or extends a lock someone else holds, the
  lock comes free after its holder crashes.
* ``fencing``: a holder pauses past its lock's TTL, then writes to a resource that checks
  fencing tokens. Invariants: the stale write is refused, every fresh one accepted.
* ``ratelimit``: requests from hidden traffic patterns (steady, bursty, boundary-straddling)
  arrive concurrently; some clients crash between two commands. Invariants: never more
  than the limit per window, no request refused while there was room, no key left without
  a TTL.
* ``stampede``: a hot key expires under a crowd of clients in front of a slow database.
  Invariants: one recomputation per expiry, nobody waits too long (even when the client
  recomputing crashes), the key does not expire while traffic flows (early recomputation).
* ``jitter``: many keys cached at once must not all expire in the same second.
* ``counter`` and ``transfer``: lost updates, and money conserved under WATCH/MULTI retries.
* ``invalidation``: a reader and a writer race on cache-aside; staleness must be bounded.
* ``queue``: workers crash mid-job; no job may be lost.
* ``pipeline``: load many keys over a network with a round-trip time; round trips counted.
"""

from __future__ import annotations

import random
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..engine import Engine, ManualClock, introspect
from ..sim import Fault, RandomChooser, SlowDatabase, FencedStore, Sim, SimCrash, SimError, \
    explore
from ..sim import traffic as traffic_patterns
from .model import Verdict
from .solutions import (
    Solution, SolutionError, command_program, lua_function, python_module, run_commands,
)

if TYPE_CHECKING:
    from .checks import CheckEnv

__all__ = ["SCENARIOS", "Scenario", "Outcome", "Violation", "run_simulation", "run_scenario"]


@dataclass
class Violation:
    kind: str
    message: str
    where: str = ""


@dataclass
class Outcome:
    violations: list[Violation] = field(default_factory=list)
    runs: int = 0
    complete: bool = False       # True only when every interleaving was explored
    stats: dict[str, Any] = field(default_factory=dict)
    series: dict[str, list[float]] = field(default_factory=dict)
    series_unit: str = ""

    def add(self, kind: str, message: str, where: str = "") -> None:
        if not any(v.kind == kind for v in self.violations):
            self.violations.append(Violation(kind, message, where))

    @property
    def kinds(self) -> set[str]:
        return {v.kind for v in self.violations}


class _Stop(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__("stopped")
        self.outcome = outcome


@dataclass(frozen=True)
class Scenario:
    fn: Callable[[Solution, dict[str, Any], int], Outcome]
    invariants: dict[str, str]
    languages: tuple[str, ...]
    # which invariants a given set of parameters checks (None: all of them)
    relevant: Callable[[dict[str, Any]], tuple[str, ...]] | None = None

    def checked(self, params: dict[str, Any]) -> dict[str, str]:
        if self.relevant is None:
            return self.invariants
        names = self.relevant(params)
        return {k: v for k, v in self.invariants.items() if k in names}


# ------------------------------------------------------------------------------------------
# Shared helpers

def _engine() -> Engine:
    eng = Engine(ManualClock())
    # A runaway learner script is stopped by the simulator; let it be told BUSY early.
    eng.config.set("busy-reply-threshold", "1000")
    return eng


def _peek(sim: Sim, key: str) -> tuple[bytes | None, int | None]:
    db = sim.engine.dbs[0]
    k = key.encode()
    if not introspect.is_live(db, k):
        return None, None
    value = db.data[k]
    when = db.expires.get(k)
    ttl = None if when is None else when - sim.engine.now_ms()
    return (bytes(value) if isinstance(value, (bytes, bytearray)) else b"?"), ttl


def _run(sim: Sim, out: Outcome, where: str, until: float | None = None,
         origin: str = "") -> bool:
    """Run the simulation; errors of the learner's code become violations. True if clean."""
    try:
        sim.run(until=until)
    except SimError as e:
        kind = e.kind
        text = {"hang": "your code ran without end", "livelock": "your code spun without end"
                }.get(kind, "the simulation failed")
        out.add(kind, f"{text}: {e}", where)
        if kind in ("hang", "livelock"):
            # a hang leaves a thread spinning, and a livelock would repeat in every run:
            # either way the check ends here
            raise _Stop(out)
        return False
    clean = True
    for task in sim.tasks:
        if task.state == "failed" and task.error is not None:
            out.add("error", _describe_error(task.error, origin) + f" (in client {task.name})",
                    where)
            clean = False
    return clean


def _describe_error(exc: BaseException, origin: str) -> str:
    line = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if origin and frame.filename == origin:
            line = f" at line {frame.lineno} of {origin}"
            break
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}{line}: {text}" if text else f"{type(exc).__name__}{line}"


def _short(argv: list[bytes]) -> str:
    """A command for a message: its name and a glimpse of its first argument."""
    name = argv[0].decode("utf-8", "replace").upper() if argv else "?"
    if len(argv) < 2:
        return name
    first = " ".join(argv[1].decode("utf-8", "replace").split())
    return f"{name} {first[:40]}{'...' if len(first) > 40 else ''}"


def _where(seed: int, faults: list[Fault], extra: str = "") -> str:
    parts = [f"seed {seed}"]
    parts += [f.describe() for f in faults]
    if extra:
        parts.append(extra)
    return "; ".join(parts)


def _gates(build: Callable[[Sim], None], seed: int) -> dict[str, int]:
    """Commands each client sends in a fault-free run (where faults can be planned)."""
    sim = Sim(_engine(), seed=seed)
    build(sim)
    try:
        sim.run(until=60)
    except SimError:
        pass
    return {t.name: t.commands for t in sim.tasks}


# ------------------------------------------------------------------------------------------
# lock

LOCK = "lock:report"


def _lock_impl(sol: Solution, part: str) -> tuple[Callable[..., Any], ...]:
    ref_acquire = lambda r, name, token, ttl_ms: bool(  # noqa: E731
        r.set(name, token, nx=True, px=ttl_ms))
    ref_release = lambda r, name, token: r.eval(  # noqa: E731
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
        "else return 0 end", 1, name, token) == 1
    ref_renew = lambda r, name, token, ttl_ms: r.eval(  # noqa: E731
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', "
        "KEYS[1], ARGV[2]) else return 0 end", 1, name, token, ttl_ms) == 1
    if sol.language == "python":
        needs = {"lock": ("acquire", "release"), "release": ("release",),
                 "renew": ("renew",)}[part]
        m = python_module(sol, needs)
        return (getattr(m, "acquire", ref_acquire), getattr(m, "release", ref_release),
                getattr(m, "renew", ref_renew))
    if sol.language == "lua":
        script = lua_function(sol)
        if part == "renew":
            return ref_acquire, ref_release, lambda r, name, token, ttl_ms: script(
                r, [name], [token, ttl_ms]) == 1
        return ref_acquire, lambda r, name, token: script(r, [name], [token]) == 1, ref_renew
    lines = command_program(sol)

    def acquire(r: Any, name: str, token: str, ttl_ms: int) -> bool:
        # the first command's reply says whether the lock was taken
        replies = run_commands(r, lines, {"key": name, "token": token, "ttl_ms": str(ttl_ms)})
        return replies[0] in (True, b"OK", "OK", 1)

    return acquire, ref_release, ref_renew


def scenario_lock(sol: Solution, params: dict[str, Any], seed: int) -> Outcome:
    part = params.get("part", "lock")
    ttl_ms = int(params.get("ttl_ms", 1000))
    work_ms = int(params.get("work_ms", 300))
    n_clients = int(params.get("clients", 2 if part != "lock" else 3))
    bound_s = float(params.get("bound_s", 6.0))
    acquire, release, renew = _lock_impl(sol, part)
    out = Outcome()
    origin = sol.origin

    def build(sim: Sim, crash_holder: bool = False) -> dict[str, Any]:
        st: dict[str, Any] = {"inside": {}, "holder": None, "entered": {}, "snap": None,
                              "crash": crash_holder, "crashed": None, "where": ""}

        def client(ctx: Any) -> None:
            start = ctx.now()
            token = ctx.token()
            while True:
                ok = acquire(ctx.r, LOCK, token, ttl_ms)
                if ok:
                    break
                if ctx.now() - start > bound_s * 2:
                    ctx.note("gave-up")
                    return
                ctx.sleep(0.05)
            st["holder"] = (ctx.name, token)
            now = ctx.now_ms()
            # A pause longer than the TTL breaks mutual exclusion whatever renewing does:
            # the renewal step is judged on what renewing can promise.
            exempt = part == "renew" and sim.fired
            for other, since in ({} if exempt else st["inside"]).items():
                out.add("mutual-exclusion",
                        f"{ctx.name} entered the critical section while {other} was still in "
                        f"it (since {now - since} ms)", st["where"])
            st["inside"][ctx.name] = now
            st["entered"][ctx.name] = ctx.now() - start
            if st["crash"] and st["crashed"] is None:
                st["crashed"] = ctx.name
                del st["inside"][ctx.name]
                raise SimCrash()  # the holder's process dies with the lock held
            if part == "renew":
                # long work, renewing the lock every third of its TTL
                left = ttl_ms * 2.5
                while left > 0:
                    ctx.sleep(ttl_ms / 3000)
                    left -= ttl_ms / 3
                    if not renew(ctx.r, LOCK, token, ttl_ms):
                        st["inside"].pop(ctx.name, None)
                        ctx.note("lost")
                        return
            else:
                ctx.sleep(work_ms / 1000)
            st["inside"].pop(ctx.name, None)
            release(ctx.r, LOCK, token)

        for i in range(n_clients):
            sim.spawn(f"c{i + 1}", client, delay=i * 0.01)

        def before(task: Any, argv: list[bytes]) -> None:
            st["snap"] = _peek(sim, LOCK)

        def after(task: Any, argv: list[bytes]) -> None:
            v0, ttl0 = st["snap"] or (None, None)
            v1, ttl1 = _peek(sim, LOCK)
            holder = st["holder"]
            if v0 is None or holder is None or holder[0] == task.name:
                if v1 is None and holder is not None and holder[0] == task.name:
                    st["holder"] = None
                return
            if holder[1].encode() != v0:
                return  # not a lock we know the owner of
            if v1 is None:
                out.add("deleted-others-lock",
                        f"{task.name} deleted the lock while {holder[0]} held it "
                        f"(with {_short(argv)})", st["where"])
            elif v1 != v0:
                out.add("stole-lock", f"{task.name} overwrote the lock {holder[0]} held",
                        st["where"])
            elif ttl0 is not None and ttl1 is not None and ttl1 > ttl0 + 5:
                out.add("renewed-others-lock",
                        f"{task.name} extended the lock {holder[0]} held", st["where"])

        sim.before_command.append(before)
        sim.after_command.append(after)
        return st

    def check_run(sim: Sim, st: dict[str, Any], where: str) -> None:
        if st["crashed"] is None:
            st["crashed"] = next((t.name for t in sim.tasks if t.state == "crashed"), None)
        for t in sim.tasks:
            if t.name == st["crashed"]:
                continue
            if t.name not in st["entered"] and t.state != "failed":
                if st["crashed"]:
                    out.add("no-ttl", f"{t.name} never got the lock: {st['crashed']} crashed "
                            "while holding it and the lock never expired", where)
                else:
                    out.add("starved", f"{t.name} never got the lock", where)
            elif st["entered"].get(t.name, 0) > bound_s:
                out.add("starved", f"{t.name} waited {st['entered'][t.name]:.1f}s for the lock",
                        where)
        if part == "renew":
            lost = [w for _, w, what, _ in sim.log if what == "lost"]
            if lost and not sim.fired:
                out.add("renew-failed", f"{lost[0]} lost its lock although it renewed it in "
                        "time", where)

    def one(chooser: Any, faults: list[Fault], crash: bool, where: str) -> None:
        sim = Sim(_engine(), seed=seed, chooser=chooser, faults=faults)
        st = build(sim, crash)
        st["where"] = where
        out.runs += 1
        if _run(sim, out, where, until=bound_s * 4, origin=origin):
            check_run(sim, st, where)

    gates = _gates(lambda s: build(s), seed)
    plans: list[list[Fault]] = [[]]
    pause = ttl_ms * (0.9 if part != "renew" else 1.5) / 1000
    for name, count in gates.items():
        if name not in ("c1", "c2"):
            continue
        for k in range(min(count, 8)):
            plans.append([Fault(name, k, "pause", pause)])
    exhaustive = params.get("explore", True) and seed == params.get("_first_seed", seed)
    explored_all = exhaustive
    for faults in plans:
        if exhaustive:
            for _, complete in explore(lambda ch: one(ch, faults, False,
                                                      _where(seed, faults)), max_runs=24):
                explored_all = explored_all and complete
        else:
            one(RandomChooser(seed), faults, False, _where(seed, faults))
        if out.violations and len(out.violations) > 2:
            break
    out.complete = explored_all
    if part == "lock":
        one(RandomChooser(seed), [], True, _where(seed, [], "the first holder crashed"))
        # a crash between two of the learner's commands (SETNX, then EXPIRE ...)
        for k in range(1, min(gates.get("c1", 0), 6)):
            faults = [Fault("c1", k, "crash")]
            one(RandomChooser(seed), faults, False, _where(seed, faults))
    out.stats = {"runs": out.runs}
    return out


# ------------------------------------------------------------------------------------------
# fencing

def scenario_fencing(sol: Solution, params: dict[str, Any], seed: int) -> Outcome:
    ttl_ms = int(params.get("ttl_ms", 1000))
    m = python_module(sol, ("acquire",))
    out = Outcome()
    sim = Sim(_engine(), seed=seed)
    store = FencedStore()
    tokens: dict[str, Any] = {}

    def worker(ctx: Any, pause: float, label: str) -> None:
        start = ctx.now()
        while True:
            token = m.acquire(ctx.r, LOCK, ttl_ms)
            if token is not None and token is not False:
                break
            if ctx.now() - start > 10:
                ctx.note("gave-up")
                return
            ctx.sleep(0.05)
        tokens[ctx.name] = token
        ctx.sleep(pause)                    # work, or a GC pause far past the TTL
        accepted = store.write(ctx, token, label)
        ctx.note("write", token=token, accepted=accepted)

    rng = random.Random(seed)
    pause = ttl_ms * rng.uniform(2.0, 3.0) / 1000
    sim.spawn("a", worker, pause, "from a (paused)")
    sim.spawn("b", worker, 0.1, "from b", delay=0.05)
    sim.spawn("c", worker, 0.1, "from c", delay=pause + 1.5)
    where = f"seed {seed}; a paused {pause:.1f}s holding the lock"
    out.runs = 1
    if not _run(sim, out, where, until=30, origin=sol.origin):
        return out
    writes = {w: d for _, w, what, d in sim.log if what == "write"}
    if writes.get("a", {}).get("accepted") and "b" in writes and \
            writes["b"]["accepted"]:
        out.add("stale-write", f"the resource accepted a's write (token {tokens.get('a')!r}) "
                f"after b's (token {tokens.get('b')!r}): a's lock had expired long before",
                where)
    for name in ("b", "c"):
        if name in writes and not writes[name]["accepted"]:
            out.add("rejected-fresh-write",
                    f"{name} held the lock but its write (token {tokens.get(name)!r}) was "
                    "refused: tokens must grow with every acquisition", where)
        if name not in writes:
            out.add("starved", f"{name} never got the lock", where)
    return out


# ------------------------------------------------------------------------------------------
# ratelimit

def _limiter(sol: Solution) -> Callable[[Any, str, int, int, int, str], bool]:
    if sol.language == "python":
        m = python_module(sol, ("allow",))
        return lambda r, user, now, limit, window, rid: bool(
            m.allow(r, user, now, limit, window))
    script = lua_function(sol)
    return lambda r, user, now, limit, window, rid: script(
        r, [f"rl:{user}"], [now, limit, window, rid]) == 1


def scenario_ratelimit(sol: Solution, params: dict[str, Any], seed: int) -> Outcome:
    algorithm = params.get("algorithm", "fixed")
    limit = int(params.get("limit", 5))
    window = int(params.get("window_ms", 1000))
    rate = float(params.get("rate", limit * 1000.0 / window))      # bucket: tokens/s
    capacity = float(params.get("capacity", limit))
    patterns = params.get("patterns", ["steady", "bursty", "boundary"])
    crashes = bool(params.get("crashes", True))
    allow = _limiter(sol)
    out = Outcome()
    rng = random.Random(seed)
    base = 1_700_000_000_000 // window * window + window  # a window boundary
    series_allowed: list[float] = []
    series_rejected: list[float] = []
    for pattern in patterns:
        s = rng.randrange(1 << 30)
        if pattern == "steady":
            arrivals = traffic_patterns.steady(s, window * 4, rate_per_s=limit * 2000.0 / window)
        elif pattern == "bursty":
            arrivals = traffic_patterns.bursty(s, window * 4, bursts=4, size=limit + 2,
                                               spread_ms=2)
        elif pattern == "boundary":
            arrivals = traffic_patterns.boundary(s, window, limit)
        else:
            arrivals = traffic_patterns.mixed(s, window, limit)
        eng = _engine()
        eng.clock.set(base)  # type: ignore[attr-defined]
        sim = Sim(eng, seed=s)
        decisions: list[tuple[int, str, bool | None]] = []
        crash_at: set[int] = set()
        if crashes and arrivals:
            # the first request of a random window dies between its first and second command
            w = rng.randrange(0, max(1, arrivals[-1][0] // window + 1))
            first = next((i for i, (t, _) in enumerate(arrivals) if t // window == w), 0)
            crash_at.add(first)

        def request(ctx: Any, user: str, idx: int) -> None:
            now = ctx.now_ms()
            decisions.append((now, user, None))
            slot = len(decisions) - 1
            ok = allow(ctx.r, user, now, limit, window, f"{idx}-{ctx.token()[:8]}")
            decisions[slot] = (now, user, bool(ok))

        faults = []
        for idx, (t, user) in enumerate(arrivals):
            sim.spawn(f"req{idx}", request, user, idx, delay=t / 1000)
            if idx in crash_at:
                faults.append(Fault(f"req{idx}", 1, "crash"))
        sim.faults = {(f.task, f.before): f for f in faults}
        where = f"seed {s}, {pattern} traffic"
        out.runs += 1
        if not _run(sim, out, where, until=(arrivals[-1][0] / 1000 + 2) if arrivals else 1,
                    origin=sol.origin):
            continue
        if sim.fired:
            where += "; a request crashed between two commands"
        _judge_limits(out, decisions, algorithm, limit, window, rate, capacity, base, where)
        # every limiter key must go away by itself
        db = sim.engine.dbs[0]
        for key in list(db.data):
            if introspect.is_live(db, key) and key not in db.expires:
                out.add("no-ttl", f"{key.decode('utf-8', 'replace')} has no TTL: it will "
                        "never go away" + (" (a client crashed between two of its commands)"
                                           if sim.fired else ""), where)
                break
        if not series_allowed:
            buckets = max(1, (arrivals[-1][0] // 100 + 1) if arrivals else 1)
            series_allowed = [0.0] * buckets
            series_rejected = [0.0] * buckets
            for t, _, ok in decisions:
                i = min(buckets - 1, (t - base) // 100)
                if ok:
                    series_allowed[i] += 1
                elif ok is False:
                    series_rejected[i] += 1
    out.series = {"allowed": series_allowed, "rejected": series_rejected}
    out.series_unit = "requests per 100 ms"
    return out


def _judge_limits(out: Outcome, decisions: list[tuple[int, str, bool | None]], algorithm: str,
                  limit: int, window: int, rate: float, capacity: float, base: int,
                  where: str) -> None:
    users = {u for _, u, _ in decisions}
    for user in sorted(users):
        # requests of the same millisecond ran in some order: judge the refused ones last
        mine = sorted(((t, ok) for t, u, ok in decisions if u == user),
                      key=lambda x: (x[0], x[1] is False))
        allowed = [t for t, ok in mine if ok]
        maybe = [t for t, ok in mine if ok is not False]   # crashed ones may have counted
        if algorithm == "fixed":
            per: dict[int, int] = {}
            for t in allowed:
                per[t // window] = per.get(t // window, 0) + 1
            worst = max(per.items(), key=lambda kv: kv[1], default=(0, 0))
            if worst[1] > limit:
                out.add("over-limit", f"{worst[1]} requests of {user} allowed in the window "
                        f"starting at +{worst[0] * window - base} ms (limit {limit})", where)
            for t, ok in mine:
                if ok is False:
                    room = sum(1 for x in maybe if x // window == t // window)
                    if room < limit:
                        out.add("over-rejection", f"a request of {user} at +{t - base} ms "
                                f"was refused with only {room} allowed in its window", where)
                        break
        elif algorithm == "sliding":
            for i, t in enumerate(allowed):
                n = sum(1 for x in allowed if t - window < x <= t)
                if n > limit:
                    out.add("over-limit", f"{n} requests of {user} allowed within {window} ms "
                            f"(ending at +{t - base} ms; limit {limit})", where)
                    break
            for t, ok in mine:
                if ok is False:
                    n = sum(1 for x in maybe if t - window <= x <= t)
                    if n < limit:
                        out.add("over-rejection", f"a request of {user} at +{t - base} ms was "
                                f"refused with only {n} allowed in the last {window} ms",
                                where)
                        break
        elif algorithm == "bucket":
            for i, a in enumerate(allowed):
                for b in allowed[i:]:
                    n = sum(1 for x in allowed if a <= x <= b)
                    if n > capacity + rate * (b - a) / 1000 + 1e-6:
                        out.add("over-limit", f"{n} requests of {user} allowed within "
                                f"{b - a} ms (a bucket of {capacity:g} refilling "
                                f"{rate:g}/s allows {capacity + rate * (b - a) / 1000:.1f})",
                                where)
                        break
                if "over-limit" in out.kinds:
                    break
            tokens, last = capacity, None
            for t, ok in mine:
                if last is not None:
                    tokens = min(capacity, tokens + (t - last) * rate / 1000)
                last = t
                if ok is not False:
                    tokens -= 1
                elif tokens >= 1.5:
                    out.add("over-rejection", f"a request of {user} at +{t - base} ms was "
                            f"refused with {tokens:.1f} tokens left in the bucket", where)
                    break
                tokens = max(tokens, -1.0)


# ------------------------------------------------------------------------------------------
# stampede

def scenario_stampede(sol: Solution, params: dict[str, Any], seed: int) -> Outcome:
    mode = params.get("mode", "mutex")
    m = python_module(sol, ("get",))
    clients = int(params.get("clients", 1000))
    ttl = int(params.get("ttl", 2))
    latency = float(params.get("latency", 0.2))
    wait_bound = float(params.get("wait_bound", 5.0))
    out = Outcome()
    key = "cache:home"
    for crash in ((False, True) if mode == "mutex" else (False,)):
        eng = _engine()
        sim = Sim(eng, seed=seed)
        db = SlowDatabase(latency=latency, rows={key: "<html>home</html>"})
        durations: dict[str, float] = {}
        values: dict[str, Any] = {}
        misses = [0]
        episodes: list[float] = []
        state = {"crashed": None, "warm": False}

        def load() -> Any:
            from ..sim import current_task

            task = current_task()
            assert task is not None and task.ctx is not None
            if crash and state["warm"] and state["crashed"] is None:
                state["crashed"] = task.name
                task.ctx.sleep(latency / 2)
                raise SimCrash()  # the client recomputing dies mid-query
            return db.query(task.ctx, key)

        def request(ctx: Any) -> None:
            if state["warm"] and not introspect.is_live(sim.engine.dbs[0], key.encode()):
                misses[0] += 1
                if not episodes or ctx.now() - episodes[-1] > 1.0:
                    episodes.append(ctx.now())
            t0 = ctx.now()
            values[ctx.name] = m.get(ctx.r, key, ttl, load, ctx)
            durations[ctx.name] = ctx.now() - t0

        def warm(ctx: Any) -> None:
            request(ctx)
            state["warm"] = True

        start = sim.now_ms()
        sim.spawn("warmup", warm)
        rng = random.Random(seed)
        if mode == "mutex":
            # the crowd arrives just after the cached value expires
            crowd = clients if not crash else max(10, clients // 20)
            for i in range(crowd):
                sim.spawn(f"c{i}", request, delay=ttl + latency + 0.05 + rng.uniform(0, 0.1))
            until = ttl + wait_bound + (3 if crash else 1)
        else:
            # steady traffic over several TTL periods
            periods = 5
            n = crowd = clients
            for i in range(n):
                sim.spawn(f"c{i}", request, delay=latency + 0.01 + i * (ttl * periods) / n)
            until = ttl * periods + wait_bound * 2
        where = f"seed {seed}" + ("; the client recomputing crashed" if crash else "")
        out.runs += 1
        if not _run(sim, out, where, until=until, origin=sol.origin):
            continue
        crashed = state["crashed"]
        expected = "<html>home</html>"
        served = [n for n in values if n != crashed]
        wrong = [n for n in served if values[n] not in (expected, expected.encode())]
        if wrong:
            out.add("wrong-value", f"{wrong[0]} got {values[wrong[0]]!r} instead of the page",
                    where)
        unfinished = [t.name for t in sim.tasks if t.name not in values and t.name != crashed]
        if unfinished:
            out.add("wait-bound", f"{len(unfinished)} clients never got the page"
                    + (f" ({crashed} crashed while recomputing it and nobody took over)"
                       if crashed else ""), where)
        slow = [d for n, d in durations.items() if d > wait_bound]
        if slow:
            out.add("wait-bound", f"{len(slow)} clients waited more than {wait_bound:g}s "
                    f"(the longest {max(slow):.1f}s)", where)
        if mode == "mutex":
            # one query to warm the cache, one after the expiry (the crashed one never ran)
            if db.queries > 2:
                out.add("recompute-once", f"the database took {db.queries - 1} queries for "
                        f"one expiry ({crowd} clients)", where)
        else:
            # early recomputation is a bet: allow a rare miss, not one per expiry
            if len(episodes) > 1:
                out.add("expired-under-load", f"the key expired {len(episodes)} times while "
                        f"traffic was flowing ({misses[0]} requests found it gone)", where)
            if db.queries > max(11, n // 10):
                out.add("recompute-once", f"{db.queries} recomputations in 5 TTL periods",
                        where)
        if not out.series:
            bucket = 100
            load_series = db.per_bucket(start, start + int(until * 1000), bucket)
            while load_series and not load_series[-1]:
                load_series.pop()
            out.series = {"database queries": [float(x) for x in load_series]}
            out.series_unit = "queries per 100 ms"
            if params.get("compare") and mode == "mutex":
                base = _naive_stampede_series(seed, crowd, ttl, latency, until, bucket)
                out.series["the same crowd with plain cache-aside"] = \
                    base[:max(len(load_series), 1)]
        out.stats.setdefault("queries", db.queries)
        out.stats.setdefault("peak", db.peak)
    return out


def _naive_stampede_series(seed: int, crowd: int, ttl: int, latency: float, until: float,
                           bucket: int) -> list[float]:
    """Database load of plain cache-aside under the same crowd (for the comparison plot)."""
    sim = Sim(_engine(), seed=seed)
    db = SlowDatabase(latency=latency, rows={"cache:home": "<html>home</html>"})

    def naive(ctx: Any) -> None:
        if ctx.r.get("cache:home") is None:
            ctx.r.set("cache:home", db.query(ctx, "cache:home"), ex=ttl)

    start = sim.now_ms()
    sim.spawn("warmup", naive)
    rng = random.Random(seed)
    for i in range(crowd):
        sim.spawn(f"c{i}", naive, delay=ttl + latency + 0.05 + rng.uniform(0, 0.1))
    try:
        sim.run(until=until)
    except SimError:
        return []
    return [float(x) for x in db.per_bucket(start, start + int(until * 1000), bucket)]


# ------------------------------------------------------------------------------------------
# jitter

def scenario_jitter(sol: Solution, params: dict[str, Any], seed: int) -> Outcome:
    m = python_module(sol, ("warm",))
    n = int(params.get("keys", 200))
    base = int(params.get("ttl", 600))
    spread = float(params.get("max_share", 0.1))
    out = Outcome(runs=1)
    sim = Sim(_engine(), seed=seed)
    names = [f"product:{i}" for i in range(n)]
    sim.spawn("warmer", lambda ctx: m.warm(ctx.r, names, base, ctx))
    where = f"seed {seed}"
    if not _run(sim, out, where, until=5, origin=sol.origin):
        return out
    db = sim.engine.dbs[0]
    now = sim.engine.now_ms()
    ttls = []
    for k in names:
        when = db.expires.get(k.encode())
        if k.encode() not in db.data:
            out.add("missing", f"{k} was not cached", where)
            return out
        if when is None:
            out.add("no-ttl", f"{k} has no TTL", where)
            return out
        ttls.append((when - now) / 1000)
    low = [t for t in ttls if t < base * 0.99 or t > base * 1.5]
    if low:
        out.add("ttl-range", f"a TTL of {low[0]:.0f}s is outside {base}s..{base * 1.5:.0f}s",
                where)
    per: dict[int, int] = {}
    for t in ttls:
        per[int(t)] = per.get(int(t), 0) + 1
    worst = max(per.values())
    if worst > n * spread:
        out.add("synchronized-expiry", f"{worst} of {n} keys expire within the same second",
                where)
    width = int(base * 0.5) + 1
    hist = [0.0] * width
    for t in ttls:
        i = int(t) - base
        if 0 <= i < width:
            hist[i] += 1
    out.series = {"keys expiring": hist}
    out.series_unit = f"keys per second after {base}s"
    return out


# ------------------------------------------------------------------------------------------
# counter and transfer

def scenario_counter(sol: Solution, params: dict[str, Any], seed: int) -> Outcome:
    m = python_module(sol, ("increment",))
    clients = int(params.get("clients", 2))
    times = int(params.get("times", 2))
    out = Outcome()

    def one(chooser: Any) -> None:
        sim = Sim(_engine(), seed=seed, chooser=chooser)

        def client(ctx: Any) -> None:
            for _ in range(times):
                m.increment(ctx.r, "page:views")

        for i in range(clients):
            sim.spawn(f"c{i + 1}", client)
        out.runs += 1
        if not _run(sim, out, f"seed {seed}", origin=sol.origin):
            return
        raw = sim.engine.dbs[0].data.get(b"page:views")
        value = int(raw) if raw is not None else 0
        if value != clients * times:
            out.add("lost-update", f"{clients} clients incremented {times} times each but the "
                    f"counter ended at {value}: an update was lost between a read and a write",
                    f"seed {seed}, interleaving #{out.runs}")

    if seed == params.get("_first_seed", seed):
        for _, complete in explore(one, max_runs=400):
            out.complete = complete
    else:
        one(RandomChooser(seed))
    return out


def scenario_transfer(sol: Solution, params: dict[str, Any], seed: int) -> Outcome:
    m = python_module(sol, ("transfer",))
    out = Outcome()
    rng = random.Random(seed)
    start = rng.randint(100, 150)
    amount = start * 2 // 3

    def one(chooser: Any) -> None:
        eng = _engine()
        s = eng.session()
        s.execute("SET", "balance:alice", str(start))
        s.execute("SET", "balance:bob", "0")
        s.execute("SET", "balance:carol", "0")
        sim = Sim(eng, seed=seed, chooser=chooser)
        results: dict[str, Any] = {}

        def client(ctx: Any, to: str) -> None:
            results[ctx.name] = m.transfer(ctx.r, "balance:alice", f"balance:{to}", amount)

        sim.spawn("t1", client, "bob")
        sim.spawn("t2", client, "carol")
        out.runs += 1
        where = f"seed {seed}: alice has {start}, two transfers of {amount} at once"
        if not _run(sim, out, where, until=30, origin=sol.origin):
            return
        data = eng.dbs[0].data
        bal = {n: int(data.get(f"balance:{n}".encode(), b"0")) for n in ("alice", "bob",
                                                                          "carol")}
        if sum(bal.values()) != start:
            out.add("money-changed", f"the balances add up to {sum(bal.values())}, not "
                    f"{start}: {bal}", where)
        if min(bal.values()) < 0:
            out.add("negative-balance", f"alice ended at {bal['alice']}: both transfers "
                    "passed the balance check before either wrote", where)
        ok = [n for n, r in results.items() if r]
        if not ok:
            out.add("none-succeeded", "neither transfer succeeded, though one could", where)
        if any(t.state != "done" for t in sim.tasks if t.state != "failed"):
            out.add("stuck", "a transfer never finished", where)

    if seed == params.get("_first_seed", seed):
        for _, complete in explore(one, max_runs=150):
            out.complete = complete
            if out.violations:
                break
    else:
        for k in range(5):
            one(RandomChooser(seed * 7 + k))
    return out


# ------------------------------------------------------------------------------------------
# invalidation

def scenario_invalidation(sol: Solution, params: dict[str, Any], seed: int) -> Outcome:
    m = python_module(sol, ("read", "write"))
    bound = float(params.get("staleness", 60))
    out = Outcome()
    rng = random.Random(seed)
    for lag in (0.02, 0.05, rng.uniform(0.01, 0.09)):
        sim = Sim(_engine(), seed=seed)
        db = SlowDatabase(latency=0.1, rows={"user:1": "v1"}, snapshot_reads=True,
                          write_latency=0.01)
        seen: list[tuple[float, Any]] = []

        def reader(ctx: Any) -> None:
            seen.append((ctx.now(), m.read(ctx.r, "user:1", db, ctx)))

        def writer(ctx: Any) -> None:
            m.write(ctx.r, "user:1", "v2", db, ctx)

        def late_reader(ctx: Any) -> None:
            value = m.read(ctx.r, "user:1", db, ctx)
            seen.append((ctx.now(), value))

        sim.spawn("reader", reader)
        sim.spawn("writer", writer, delay=lag)
        sim.spawn("late", late_reader, delay=bound + 5)
        where = f"seed {seed}; the writer started {lag * 1000:.0f} ms after the reader"
        out.runs += 1
        if not _run(sim, out, where, until=bound + 30, origin=sol.origin):
            continue
        final = seen[-1][1] if seen else None
        if final not in ("v2", b"v2"):
            out.add("stale-forever", f"{bound + 5:g}s after the write, a read still returned "
                    f"{final!r}: the cache kept the old value and nothing will ever fix it",
                    where)
    return out


# ------------------------------------------------------------------------------------------
# queue

def scenario_queue(sol: Solution, params: dict[str, Any], seed: int) -> Outcome:
    m = python_module(sol, ("work", "recover"))
    jobs = int(params.get("jobs", 6))
    out = Outcome(runs=1)
    rng = random.Random(seed)
    eng = _engine()
    s = eng.session()
    names = [f"job-{i}" for i in range(jobs)]
    s.execute("RPUSH", "jobs", *names)
    handled: list[str] = []
    doomed = names[rng.randrange(1, jobs - 1)]

    def handle(job: Any) -> None:
        from ..sim import current_task

        job = job.decode() if isinstance(job, bytes) else str(job)
        task = current_task()
        assert task is not None and task.ctx is not None
        if job == doomed and task.name == "w1":
            raise SimCrash()   # the worker dies while processing this job
        task.ctx.sleep(0.05)
        handled.append(job)

    sim = Sim(eng, seed=seed)
    sim.spawn("w1", lambda ctx: m.work(ctx.r, handle, ctx))
    sim.spawn("w2", lambda ctx: m.work(ctx.r, handle, ctx), delay=0.01)
    where = f"seed {seed}; worker w1 crashed while handling {doomed}"
    if not _run(sim, out, where, until=30, origin=sol.origin):
        return out
    sim2 = Sim(eng, seed=seed + 1)
    sim2.spawn("recovery", lambda ctx: m.recover(ctx.r, ctx))
    sim2.spawn("w3", lambda ctx: m.work(ctx.r, handle, ctx), delay=0.5)
    if not _run(sim2, out, where, until=30, origin=sol.origin):
        return out
    lost = [n for n in names if n not in handled]
    if lost:
        out.add("lost-job", f"{', '.join(lost)} never got handled: the worker that took it "
                "crashed and nothing kept a copy", where)
    return out


# ------------------------------------------------------------------------------------------
# pipeline

def scenario_pipeline(sol: Solution, params: dict[str, Any], seed: int) -> Outcome:
    m = python_module(sol, ("load",))
    n = int(params.get("items", 500))
    rtt = float(params.get("rtt", 0.001))
    max_trips = int(params.get("max_round_trips", 10))
    out = Outcome(runs=1)
    rng = random.Random(seed)
    items = {f"sku:{rng.randrange(10**6):06d}:{i}": str(rng.randrange(1000)) for i in range(n)}
    sim = Sim(_engine(), seed=seed, rtt=rtt)
    sim.spawn("loader", lambda ctx: m.load(ctx.r, dict(items)))
    where = f"seed {seed}; {n} items, {rtt * 1000:g} ms round trip"
    if not _run(sim, out, where, until=3600, origin=sol.origin):
        return out
    data = sim.engine.dbs[0].data
    missing = [k for k, v in items.items() if data.get(k.encode()) != v.encode()]
    if missing:
        out.add("missing", f"{len(missing)} of {n} items were not written ({missing[0]} ...)",
                where)
    trips = sim.task("loader").round_trips
    out.stats = {"round_trips": trips, "seconds": trips * rtt}
    if trips > max_trips:
        out.add("too-many-round-trips", f"{trips} round trips ({trips * rtt:.2f}s of network "
                f"waiting) where {max_trips} would do", where)
    return out


SCENARIOS: dict[str, Scenario] = {
    "lock": Scenario(scenario_lock, {
        "mutual-exclusion": "never two clients in the critical section at once",
        "deleted-others-lock": "nobody deletes a lock another client holds",
        "stole-lock": "nobody overwrites a lock another client holds",
        "renewed-others-lock": "nobody extends a lock another client holds",
        "no-ttl": "the lock comes free after its holder crashes",
        "starved": "every client gets the lock in reasonable time",
        "renew-failed": "a holder that renews in time keeps its lock",
    }, ("python", "lua", "commands"), lambda p: {
        "release": ("mutual-exclusion", "deleted-others-lock", "stole-lock", "starved"),
        "renew": ("renewed-others-lock", "renew-failed", "deleted-others-lock"),
    }.get(p.get("part", "lock"), ("mutual-exclusion", "deleted-others-lock", "stole-lock",
                                  "no-ttl", "starved"))),
    "fencing": Scenario(scenario_fencing, {
        "stale-write": "a paused holder's late write is refused",
        "rejected-fresh-write": "the current holder's write is accepted",
        "starved": "every client gets the lock",
    }, ("python",)),
    "ratelimit": Scenario(scenario_ratelimit, {
        "over-limit": "never more than the limit per window",
        "over-rejection": "no request refused while there was room",
        "no-ttl": "every limiter key expires by itself",
    }, ("python", "lua")),
    "stampede": Scenario(scenario_stampede, {
        "recompute-once": "one recomputation per expiry",
        "wait-bound": "no client waits longer than the bound, even if the recomputing client "
                      "crashes",
        "expired-under-load": "the key never expires while traffic flows",
        "wrong-value": "every client gets the page",
    }, ("python",), lambda p: ("recompute-once", "wait-bound", "wrong-value")
        if p.get("mode", "mutex") == "mutex" else ("expired-under-load", "recompute-once",
                                                   "wrong-value")),
    "jitter": Scenario(scenario_jitter, {
        "synchronized-expiry": "no second sees more than a tenth of the keys expire",
        "ttl-range": "every TTL between the base and one and a half times it",
        "no-ttl": "every key has a TTL",
        "missing": "every key is cached",
    }, ("python",)),
    "counter": Scenario(scenario_counter, {
        "lost-update": "every increment counts, under every interleaving",
    }, ("python",)),
    "transfer": Scenario(scenario_transfer, {
        "money-changed": "money is neither created nor destroyed",
        "negative-balance": "no balance goes below zero",
        "none-succeeded": "a transfer that can succeed does",
        "stuck": "every transfer finishes",
    }, ("python",)),
    "invalidation": Scenario(scenario_invalidation, {
        "stale-forever": "a write shows up in reads within the staleness bound",
    }, ("python",)),
    "queue": Scenario(scenario_queue, {
        "lost-job": "every job is handled, even when a worker crashes mid-job",
    }, ("python",)),
    "pipeline": Scenario(scenario_pipeline, {
        "missing": "every item is written",
        "too-many-round-trips": "the load takes few round trips",
    }, ("python",)),
}

GENERIC = {
    "error": "your code runs without raising",
    "hang": "your code finishes (no endless loop)",
    "livelock": "retry loops wait between attempts",
}


def run_scenario(name: str, sol: Solution, params: dict[str, Any],
                 seeds: tuple[int, ...]) -> list[tuple[int, Outcome]]:
    """Run a scenario once per seed (the first seed explores interleavings exhaustively)."""
    spec = SCENARIOS[name]
    results = []
    for seed in seeds:
        p = dict(params)
        p["_first_seed"] = seeds[0]
        # The learner's own calls to ``random`` are part of the run: seeding them makes a
        # verdict repeatable (a shipped exercise that is wrong only by chance stays wrong).
        random.seed(seed)
        try:
            results.append((seed, spec.fn(sol, p, seed)))
        except SolutionError as e:
            o = Outcome()
            o.add("error", str(e))
            results.append((seed, o))
            break
        except _Stop as stop:
            results.append((seed, stop.outcome))
            break
    return results


def verdict_from(name: str, results: list[tuple[int, Outcome]], describe: str = "",
                 params: dict[str, Any] | None = None) -> Verdict:
    spec = SCENARIOS[name]
    invariants = spec.checked(params or {})
    violations: dict[str, Violation] = {}
    runs = 0
    series: dict[str, list[float]] = {}
    unit = ""
    stats: dict[str, Any] = {}
    for _, o in results:
        runs += o.runs
        for v in o.violations:
            violations.setdefault(v.kind, v)
        if o.series and not series:
            series, unit = o.series, o.series_unit
        for k, v in o.stats.items():
            stats.setdefault(k, v)
    goal = [describe] if describe else []
    current = []
    checked = list(invariants)
    for kind in checked:
        text = invariants[kind]
        if kind in violations:
            v = violations[kind]
            current.append(f"✗ {text}: {v.message}" + (f"  [{v.where}]" if v.where else ""))
        goal.append(text)
    for kind, v in violations.items():
        if kind not in invariants:
            current.append(f"✗ {GENERIC.get(kind, kind)}: {v.message}" +
                           (f"  [{v.where}]" if v.where else ""))
    held = [invariants[k] for k in checked if k not in violations]
    ok = not violations
    explored = any(o.complete for _, o in results)
    summary_runs = f"{runs} simulated run{'s' if runs != 1 else ''}" + \
        (" (every interleaving explored on the first seed)" if explored and runs > 1 else "")
    if ok:
        current.insert(0, f"✓ every invariant held in {summary_runs}")
    else:
        current.append(f"  ({len(held)} other invariant{'s' if len(held) != 1 else ''} held; "
                       f"{summary_runs})")
    details = [f"{k.replace('_', ' ')}: {v}" for k, v in stats.items() if k != "runs"]
    first = next(iter(violations.values()), None)
    return Verdict(ok, "every invariant held" if ok else
                   f"{GENERIC.get(first.kind) or invariants.get(first.kind, first.kind)}"
                   f": broken" if first else "", goal=goal, current=current, details=details,
                   violations=list(violations), series=series, series_unit=unit)


def run_simulation(p: dict[str, Any], env: "CheckEnv") -> Verdict:
    """The ``simulation`` check kind: the learner's solution under the scenario's seeds."""
    from .model import fill

    sol = env.solution
    if sol is None:
        return Verdict(False, "no solution to run yet: edit the exercise file",
                       goal=[p.get("describe", "")])
    if sol.language != p["language"]:
        sol = Solution(p["language"], sol.source, sol.origin)
    name = p["scenario"]
    describe = fill(p.get("describe", ""), env.values)
    seeds = tuple(env.seeds[: int(p.get("seeds", len(env.seeds)))]) or (1,)
    if env.isolate and sol.language == "python":
        from .worker import run_isolated

        return run_isolated(name, sol, dict(p.get("params", {})), seeds, describe)
    results = run_scenario(name, sol, dict(p.get("params", {})), seeds)
    return verdict_from(name, results, describe, dict(p.get("params", {})))

