"""The simulator: interleavings, exploration, time, faults, blocking and misbehaving clients."""

from __future__ import annotations

import pytest

from redislab.sim import Fault, RandomChooser, Sim, SimLivelock, SlowDatabase, explore
from redislab.sim import traffic


def _get_set_increment(ctx):  # type: ignore[no-untyped-def]
    n = int(ctx.r.get("hits") or 0)
    ctx.r.set("hits", n + 1)


def _incr(ctx):  # type: ignore[no-untyped-def]
    ctx.r.incr("hits")


def _final(sim: Sim) -> int:
    return int(sim.engine.session().execute("GET", "hits"))


def _explore_counter(fn) -> tuple[set[int], int, bool]:  # type: ignore[no-untyped-def]
    seen: set[int] = set()
    runs = 0
    complete = False

    def once(chooser):  # type: ignore[no-untyped-def]
        sim = Sim(chooser=chooser)
        sim.spawn("a", fn)
        sim.spawn("b", fn)
        sim.run()
        return _final(sim)

    for value, complete in explore(once):
        seen.add(value)
        runs += 1
    return seen, runs, complete


def test_exploration_finds_the_lost_update() -> None:
    seen, runs, complete = _explore_counter(_get_set_increment)
    assert seen == {1, 2}
    assert complete and runs == 6  # C(4, 2) orders of two clients' two commands


def test_incr_is_safe_under_every_interleaving() -> None:
    seen, runs, complete = _explore_counter(_incr)
    assert seen == {2} and complete and runs == 2


def test_seeded_runs_repeat() -> None:
    def run(seed: int) -> list[str]:
        sim = Sim(seed=seed)
        order: list[str] = []
        sim.before_command.append(lambda t, argv: order.append(t.name))
        for name in "abcd":
            sim.spawn(name, _get_set_increment)
        sim.run()
        return order

    assert run(7) == run(7)
    assert len({tuple(run(s)) for s in range(8)}) > 1


def test_time_jumps_to_the_next_wake_and_expiry_follows() -> None:
    def writer(ctx):  # type: ignore[no-untyped-def]
        ctx.r.set("k", "v", px=500)
        ctx.sleep(0.4)
        ctx.note("early", v=ctx.r.get("k"))
        ctx.sleep(0.2)
        ctx.note("late", v=ctx.r.get("k"))

    sim = Sim()
    start = sim.now_ms()
    sim.spawn("w", writer).ctx
    sim.run()
    assert [(t - start, what, d["v"]) for t, _, what, d in sim.log] == \
        [(400, "early", b"v"), (600, "late", None)]


def test_blocked_client_is_served_by_another() -> None:
    def consumer(ctx):  # type: ignore[no-untyped-def]
        ctx.note("got", v=ctx.r.blpop(["jobs"], timeout=0))

    def producer(ctx):  # type: ignore[no-untyped-def]
        ctx.sleep(3)
        ctx.r.rpush("jobs", "j1")

    sim = Sim()
    start = sim.now_ms()
    sim.spawn("c", consumer)
    sim.spawn("p", producer)
    sim.run()
    assert [(t - start, d["v"]) for t, _, _, d in sim.log] == [(3000, (b"jobs", b"j1"))]


def test_blocked_timeout_on_the_simulated_clock() -> None:
    def consumer(ctx):  # type: ignore[no-untyped-def]
        ctx.note("got", v=ctx.r.blpop(["jobs"], timeout=2))

    sim = Sim()
    start = sim.now_ms()
    sim.spawn("c", consumer)
    sim.run()
    (t, _, _, d), = sim.log
    assert d["v"] is None and 2000 <= t - start <= 2100


def test_pause_fault_lets_a_lock_expire() -> None:
    def locker(ctx):  # type: ignore[no-untyped-def]
        while not ctx.r.set("lock", ctx.name, nx=True, px=1000):
            ctx.sleep(0.1)
        ctx.note("in")
        ctx.r.get("work")  # command #2: a pause before it holds the lock past its TTL
        ctx.note("out")

    sim = Sim(chooser=RandomChooser(1), faults=[Fault("a", 1, "pause", 2.0)])
    sim.spawn("a", locker)
    sim.spawn("b", locker, delay=0.05)
    sim.run()
    events = [(who, what) for _, who, what, _ in sim.log]
    # b got in while a was paused inside its critical section
    assert events.index(("b", "in")) < events.index(("a", "out"))


def test_crash_inside_a_transaction_discards_it() -> None:
    def tx(ctx):  # type: ignore[no-untyped-def]
        p = ctx.r.pipeline()
        p.incr("x")
        p.expire("x", 10)
        p.execute()

    sim = Sim(faults=[Fault("a", 2, "crash")])
    sim.spawn("a", tx)
    sim.run()
    assert sim.task("a").state == "crashed"
    assert sim.engine.session().execute("EXISTS", "x") == 0


def test_pipeline_is_one_round_trip() -> None:
    def load(ctx):  # type: ignore[no-untyped-def]
        p = ctx.r.pipeline(transaction=False)
        for i in range(50):
            p.set(f"k{i}", i)
        p.execute()
        for i in range(10):
            ctx.r.get(f"k{i}")

    sim = Sim(rtt=0.001)
    start = sim.now_ms()
    sim.spawn("a", load)
    sim.run()
    assert sim.task("a").round_trips == 11
    assert sim.now_ms() - start == 11


def test_livelock_and_errors_are_reported() -> None:
    def spin(ctx):  # type: ignore[no-untyped-def]
        while not ctx.r.set("lock", "x", nx=True):
            pass

    sim = Sim(spin_limit=500)
    sim.engine.session().execute("SET", "lock", "held")
    sim.spawn("a", spin)
    with pytest.raises(SimLivelock):
        sim.run()

    def boom(ctx):  # type: ignore[no-untyped-def]
        raise ValueError("bad")

    sim = Sim()
    sim.spawn("a", boom)
    sim.run()
    assert sim.task("a").state == "failed" and isinstance(sim.task("a").error, ValueError)


def test_runaway_lua_is_stopped() -> None:
    def loop(ctx):  # type: ignore[no-untyped-def]
        ctx.r.eval("while true do end", 0)

    sim = Sim(wall_timeout=0.3)
    sim.spawn("a", loop)
    sim.run()
    task = sim.task("a")
    assert task.state == "failed"


def test_slow_database_counts_a_stampede() -> None:
    db = SlowDatabase(latency=0.2, rows={"hot": "value"})

    def naive(ctx):  # type: ignore[no-untyped-def]
        v = ctx.r.get("hot")
        if v is None:
            v = db.query(ctx, "hot")
            ctx.r.set("hot", v, ex=60)
        return v

    sim = Sim(seed=3)
    for i in range(1000):
        sim.spawn(f"c{i}", naive, delay=i * 0.0001)
    sim.run()
    assert db.queries == 1000 and db.peak == 1000
    assert all(t.result in (b"value", "value") for t in sim.tasks)


def test_traffic_patterns_are_seeded_and_sorted() -> None:
    a = traffic.boundary(5, window_ms=1000, limit=10)
    assert a == traffic.boundary(5, window_ms=1000, limit=10)
    assert len(a) == 60 and a == sorted(a)
    assert len(traffic.steady(1, 1000, rate_per_s=50)) == 50
    assert len(traffic.bursty(1, 5000, bursts=3, size=7)) == 21


def test_server_crash_and_restart_when_persistence_exists(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from redislab.engine import Engine, ManualClock

    engine = Engine(ManualClock(), config={"dir": str(tmp_path), "appendonly": "yes",
                                           "appendfsync": "always"})
    if not hasattr(engine, "crash"):
        pytest.skip("needs persistence")
    sim = Sim(engine)

    def writer(ctx):  # type: ignore[no-untyped-def]
        ctx.r.set("before", "1")
        ctx.sleep(1)
        ctx.note("after", v=ctx.r.get("before"))

    def plug(ctx):  # type: ignore[no-untyped-def]
        ctx.sleep(0.5)
        ctx.note("crashed", ok=sim.crash_server("power"))

    sim.spawn("w", writer)
    sim.spawn("p", plug)
    sim.run()
    notes = {what: d for _, _, what, d in sim.log}
    assert notes["crashed"]["ok"] and sim.engine is not engine
    assert notes["after"]["v"] == b"1"  # fsynced with appendfsync always: it survived
