"""Crashes at random moments: exactly what survives under each persistence setting.

The test keeps its own account of which writes must be on the disk, from the rules Redis
documents: ``appendfsync always`` syncs every write before replying; ``everysec`` syncs
when a write or a cron tick happens in a later second than the previous sync; ``no`` leaves
it to the kernel, which writes back data older than 30 seconds every 5 seconds. A power loss
keeps only what was synced; a process crash (kill -9) keeps everything written.
Without an AOF, what survives is the dataset as of the last finished snapshot.
"""

from __future__ import annotations

import random

import pytest

from redislab.engine import Engine, ManualClock

TICK_MS = 100  # hz 10


class Model:
    """What must survive, kept independently of the engine's own bookkeeping."""

    def __init__(self, policy: str, start_ms: int) -> None:
        self.policy = policy
        self.writes: list[tuple[str, int]] = []   # (key, time written)
        self.durable = 0                          # writes[:durable] are on the disk
        self.last_fsync_s = start_ms // 1000
        self.last_writeback_ms = 0

    def write(self, key: str, now_ms: int) -> None:
        self.writes.append((key, now_ms))
        if self.policy == "always":
            self.durable = len(self.writes)
        elif self.policy == "everysec" and now_ms // 1000 > self.last_fsync_s:
            self.durable = len(self.writes)
            self.last_fsync_s = now_ms // 1000

    def cron(self, now_ms: int) -> None:
        if self.policy == "everysec" and self.durable < len(self.writes) \
                and now_ms // 1000 > self.last_fsync_s:
            self.durable = len(self.writes)
            self.last_fsync_s = now_ms // 1000
        if now_ms - self.last_writeback_ms >= 5000:
            self.last_writeback_ms = now_ms - now_ms % 5000
            for i in range(self.durable, len(self.writes)):
                if now_ms - self.writes[i][1] >= 30000:
                    self.durable = i + 1
                else:
                    break

    def survivors(self, kind: str) -> set[str]:
        kept = self.writes if kind == "process" else self.writes[:self.durable]
        return {k for k, _ in kept}


def _keys(e: Engine) -> set[str]:
    return {k.decode() for k in e.session().execute("KEYS", "*")}


def _tick(e: Engine, clock: ManualClock, model: Model | None, ms: int) -> None:
    """Let ``ms`` pass, running cron every 100 ms as the server's timer would."""
    while ms > 0:
        step = min(ms, TICK_MS)
        clock.advance(ms=step)
        ms -= step
        e.cron()
        if model is not None:
            model.cron(clock.time_ms())


@pytest.mark.parametrize("policy", ["always", "everysec", "no"])
@pytest.mark.parametrize("kind", ["power", "process"])
@pytest.mark.parametrize("seed", range(12))
def test_aof_crash_at_random_points(policy, kind, seed):
    rng = random.Random(seed * 31 + len(policy))
    clock = ManualClock(1_700_000_000_000 + rng.randrange(1000))
    e = Engine(clock, config={"save": "", "appendonly": "yes", "appendfsync": policy})
    s = e.session()
    model = Model(policy, clock.time_ms())
    n = 0
    for _ in range(rng.randrange(20, 120)):
        r = rng.random()
        if r < 0.6:
            key = f"k{n}"
            n += 1
            s.execute("SET", key, "v")
            model.write(key, clock.time_ms())
        elif r < 0.8:
            _tick(e, clock, model, rng.choice([1, 50, 99, 100, 250, 700, 1000, 1500]))
        elif r < 0.9:
            clock.advance(ms=rng.randrange(1, 900))  # time passes between cron ticks
        else:
            _tick(e, clock, model, rng.choice([5000, 12000, 31000]))
    expected = model.survivors(kind)
    after = e.crash(kind)
    assert _keys(after) == expected
    if policy == "always" or kind == "process":
        assert expected == {f"k{i}" for i in range(n)}


def test_everysec_loses_at_most_about_a_second():
    clock = ManualClock()
    e = Engine(clock, config={"save": "", "appendonly": "yes"})
    s = e.session()
    for i in range(100):
        if i:
            _tick(e, clock, None, 50)
        s.execute("SET", f"k{i}", "v")
    after = e.crash("power")
    lost = 100 - len(_keys(after))
    assert 0 < lost <= 22  # 20 writes a second, plus the one that had not been synced yet


def test_appendfsync_no_keeps_only_what_the_kernel_wrote_back():
    clock = ManualClock()
    e = Engine(clock, config={"save": "", "appendonly": "yes", "appendfsync": "no"})
    s = e.session()
    s.execute("SET", "old", "v")
    _tick(e, clock, None, 36000)
    s.execute("SET", "new", "v")
    _tick(e, clock, None, 2000)
    assert _keys(e.crash("power")) == {"old"}


@pytest.mark.parametrize("seed", range(15))
def test_snapshots_crash_at_random_points(seed):
    rng = random.Random(seed)
    clock = ManualClock()
    e = Engine(clock, config={"save": "", "enable-debug-command": "yes"})
    s = e.session()
    p = e.extensions["persistence"]
    on_disk: set[str] = set()
    pending: tuple[int, set[str]] | None = None   # (end time, keys at fork)
    live: set[str] = set()
    n = 0
    for _ in range(rng.randrange(10, 80)):
        r = rng.random()
        if pending is not None and clock.time_ms() >= pending[0]:
            e.cron()
            on_disk, pending = pending[1], None
        if r < 0.5:
            key = f"k{n}"
            n += 1
            s.execute("SET", key, "x" * rng.randrange(1, 3000))
            live.add(key)
        elif r < 0.6 and live:
            key = rng.choice(sorted(live))
            s.execute("DEL", key)
            live.discard(key)
        elif r < 0.7:
            if pending is None:
                assert s.execute("SAVE") == "OK"
                on_disk = set(live)
        elif r < 0.85:
            if pending is None:
                assert s.execute("BGSAVE") == "Background saving started"
                pending = (p.child.ends_ms, set(live))
        else:
            clock.advance(ms=rng.choice([1, 10, 100]))
    after = e.crash(rng.choice(["power", "process"]))
    assert _keys(after) == on_disk


def test_crashed_engine_is_detached_and_restart_keeps_config():
    e = Engine(ManualClock(), config={"save": "", "appendonly": "yes",
                                      "appendfsync": "always"})
    s = e.session()
    s.execute("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    s.execute("SET", "a", "1")
    after = e.crash("power")
    s.execute("SET", "ghost", "1")  # the dead engine no longer writes anything
    assert _keys(after.crash("power")) == {"a"}
    assert after.config["maxmemory-policy"] == "allkeys-lru"
    assert after.config["appendfsync"] == "always"


def test_crash_during_aof_rewrite_keeps_everything_acknowledged():
    e = Engine(ManualClock(), config={"save": "", "appendonly": "yes",
                                      "appendfsync": "always"})
    s = e.session()
    for i in range(30):
        s.execute("SET", f"k{i}", "v" * 500)
    s.execute("BGREWRITEAOF")
    s.execute("SET", "during", "v")
    assert e.extensions["persistence"].child is not None
    assert _keys(e.crash("power")) == {f"k{i}" for i in range(30)} | {"during"}


def test_crash_with_a_real_directory(tmp_path):
    e = Engine.from_dir(str(tmp_path), clock=ManualClock(),
                        config={"save": "", "appendonly": "yes"})
    s = e.session()
    s.execute("SET", "a", "1")
    e.advance(1.5)
    s.execute("SET", "b", "1")
    after = e.crash("power")
    assert _keys(after) == {"a"}
    again = Engine.from_dir(str(tmp_path), config={"appendonly": "yes", "save": ""})
    assert _keys(again) == {"a"}


def test_no_appendfsync_on_rewrite_risks_writes_during_a_child():
    clock = ManualClock()
    e = Engine(clock, config={"save": "", "appendonly": "yes", "appendfsync": "always",
                              "no-appendfsync-on-rewrite": "yes"})
    s = e.session()
    for i in range(2000):
        s.execute("SET", f"k{i}", "x" * 100)
    s.execute("BGSAVE")
    s.execute("SET", "during", "1")   # acknowledged, but not synced while the child runs
    survivors = _keys(e.crash("power"))
    assert "during" not in survivors and "k1999" in survivors
