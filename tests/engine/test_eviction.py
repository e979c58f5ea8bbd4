"""maxmemory: every policy against a real redis-server configured the same way, the OOM error
where Redis gives it, and the engine's own view of evictions (events, LRU/LFU data)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from redislab.engine import Engine, ManualClock
from redislab.engine.events import KeyEvicted
from redislab.protocol import ErrorReply
from redislab.protocol.reply import NULL_ARRAY

POLICIES = ("noeviction", "allkeys-random", "volatile-random", "allkeys-lru", "volatile-lru",
            "allkeys-lfu", "volatile-lfu", "volatile-ttl")
OOM = "OOM command not allowed when used memory > 'maxmemory'."


def _field(reply: Any, name: str) -> int:
    for line in bytes(reply).decode().split("\r\n"):
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1])
    raise KeyError(name)


class Ours:
    """The engine behind the same ``execute`` as the raw client of the real server."""

    def __init__(self) -> None:
        self.engine = Engine()
        self.session = self.engine.session()

    def execute(self, *args: Any) -> Any:
        return self.session.execute(*args)


@pytest.fixture
def sides(redis_server: Any) -> Iterator[tuple[Ours, Any]]:
    real = redis_server.client()
    ours = Ours()
    try:
        yield ours, real
    finally:
        real.execute("CONFIG", "SET", "maxmemory", "0")
        real.execute("CONFIG", "SET", "maxmemory-policy", "noeviction")
        real.execute("CONFIG", "SET", "maxmemory-samples", "5")
        real.execute("FLUSHALL")
        real.close()


def _fill_scenario(x: Any, policy: str, headroom: int = 1_000_000) -> dict[str, Any]:
    """300 keys of 1 KB (half with a TTL), then maxmemory = used + headroom, then up to
    1500 more. The headroom is large because a real server's own buffers move by some
    10-30 KB as its cron resizes them."""
    x.execute("CONFIG", "SET", "maxmemory", "0")
    x.execute("FLUSHALL")
    x.execute("CONFIG", "SET", "maxmemory-policy", policy)
    for i in range(300):
        if i % 2:
            x.execute("SET", f"vol:{i}", "v" * 1000, "EX", 100000)
        else:
            x.execute("SET", f"per:{i}", "p" * 1000)
    # Every command used below has run once, so both servers hold the same histograms.
    for cmd in (("GET", "per:0"), ("DBSIZE",), ("KEYS", "nothing"), ("INFO", "stats"),
                ("CONFIG", "RESETSTAT")):
        x.execute(*cmd)
    x.execute("CONFIG", "RESETSTAT")
    base = _field(x.execute("INFO", "memory"), "used_memory")
    x.execute("CONFIG", "SET", "maxmemory", str(base + headroom))
    oom = None
    for i in range(1500):
        reply = x.execute("SET", f"new:{i}", "n" * 1000)
        if isinstance(reply, ErrorReply):
            assert reply.message == OOM
            oom = i
            break
    get = x.execute("GET", "per:0")
    evicted = _field(x.execute("INFO", "stats"), "evicted_keys")
    keys = [k.decode() for k in x.execute("KEYS", "*")]
    x.execute("CONFIG", "SET", "maxmemory", "0")
    return {"oom": oom, "evicted": evicted, "get": get, "keys": len(keys),
            **{c: sum(1 for k in keys if k.startswith(c + ":")) for c in ("per", "vol", "new")}}


@pytest.mark.parametrize("policy", POLICIES)
def test_fill_past_maxmemory(sides, policy):
    ours, real = sides
    a, b = _fill_scenario(ours, policy), _fill_scenario(real, policy)
    if policy == "noeviction":
        assert a["evicted"] == b["evicted"] == 0
        assert abs(a["oom"] - b["oom"]) <= max(2, 0.03 * b["oom"]), (a, b)
        assert a["get"] == b["get"] == b"p" * 1000   # reads still run
    elif policy.startswith("volatile"):
        # Only keys with a TTL may go; once they are gone, writes are refused.
        assert a["per"] == b["per"] == 150 and a["vol"] == b["vol"] == 0
        assert a["oom"] is not None and b["oom"] is not None
        assert abs(a["oom"] - b["oom"]) <= max(2, 0.03 * b["oom"]), (a, b)
        assert abs(a["evicted"] - b["evicted"]) <= max(2, 0.03 * b["evicted"]), (a, b)
    else:
        assert a["oom"] is None and b["oom"] is None
        assert abs(a["keys"] - b["keys"]) <= max(3, 0.03 * b["keys"]), (a, b)
        assert abs(a["evicted"] - b["evicted"]) <= max(3, 0.03 * b["evicted"]), (a, b)


def _restore_scenario(x: Any, policy: str, option: str, old: int, hot: int) -> set[str]:
    """Keys restored with IDLETIME/FREQ ``old`` (300 of them) and ``hot`` (20), then a fill.
    Returns the keys evicted."""
    x.execute("CONFIG", "SET", "maxmemory", "0")
    x.execute("FLUSHALL")
    x.execute("CONFIG", "SET", "maxmemory-policy", policy)
    x.execute("SET", "template", "x" * 1000)
    payload = x.execute("DUMP", "template")
    x.execute("DEL", "template")
    names = [f"old:{i}" for i in range(300)] + [f"hot:{i}" for i in range(20)]
    for name in names:
        value = hot if name.startswith("hot") else old
        assert x.execute("RESTORE", name, "0", payload, option, str(value)) == "OK"
    for cmd in (("SET", "warm", "x"), ("DEL", "warm"), ("KEYS", "nothing"),
                ("CONFIG", "RESETSTAT")):
        x.execute(*cmd)
    base = _field(x.execute("INFO", "memory"), "used_memory")
    x.execute("CONFIG", "SET", "maxmemory", str(base + 100_000))
    for i in range(200):
        x.execute("SET", f"new:{i}", "n" * 1000)
    left = {k.decode() for k in x.execute("KEYS", "*")}
    x.execute("CONFIG", "SET", "maxmemory", "0")
    return set(names) - left


@pytest.mark.parametrize("policy, option, old, hot", [
    ("allkeys-lru", "IDLETIME", 100000, 0),
    ("allkeys-lfu", "FREQ", 0, 200),
])
def test_lru_and_lfu_keep_the_hot_keys(sides, policy, option, old, hot):
    ours, real = sides
    for side in (ours, real):
        evicted = _restore_scenario(side, policy, option, old, hot)
        assert evicted and all(k.startswith("old:") for k in evicted), evicted


def test_volatile_ttl_evicts_the_soonest_to_expire(sides):
    ours, real = sides
    for x in (ours, real):
        x.execute("CONFIG", "SET", "maxmemory", "0")
        x.execute("FLUSHALL")
        x.execute("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
        for i in range(300):
            x.execute("SET", f"t:{i:03d}", "v" * 1000, "EX", str(10000 + 100 * i))
        for cmd in (("KEYS", "nothing"), ("CONFIG", "RESETSTAT")):
            x.execute(*cmd)
        base = _field(x.execute("INFO", "memory"), "used_memory")
        x.execute("CONFIG", "SET", "maxmemory", str(base + 50_000))
        for i in range(100):
            x.execute("SET", f"new:{i}", "n" * 1000)
        left = {k.decode() for k in x.execute("KEYS", "t:*")}
        x.execute("CONFIG", "SET", "maxmemory", "0")
        evicted = sorted(int(k[2:]) for k in {f"t:{i:03d}" for i in range(300)} - left)
        assert len(evicted) > 50
        # Sampling is approximate, but the victims are the early expirers.
        assert sum(1 for i in evicted if i < 2 * len(evicted)) >= 0.9 * len(evicted)


def test_oom_where_redis_gives_it(sides):
    ours, real = sides
    second = {id(ours): ours.engine.session(), id(real): None}
    for x in (ours, real):
        x.execute("FLUSHALL")
        x.execute("SET", "k", "v")
    script = [
        ("CONFIG", "SET", "maxmemory", "1"),
        ("SET", "a", "1"),            # denyoom: refused
        ("INCR", "k"),
        ("GET", "k"),                 # reads run
        ("DEL", "nothing"),           # not denyoom
        ("MULTI",),
        ("GET", "k"),                 # inside MULTI everything is refused...
        ("DISCARD",),                 # ... but DISCARD
        ("MULTI",),
        ("SET", "a", "1"),
        ("EXEC",),                    # aborted: previous errors
        ("CONFIG", "SET", "maxmemory", "0"),
        ("MULTI",),
        ("SET", "a", "1"),            # queued while memory is fine
    ]
    for cmd in script:
        a, b = ours.execute(*cmd), real.execute(*cmd)
        assert _norm(a) == _norm(b), (cmd, a, b)
    # Memory runs out before EXEC: EXEC of a write is refused, the transaction discarded.
    other_real = real.__class__(real.sock.getpeername()[1])
    try:
        other_real.execute("CONFIG", "SET", "maxmemory", "1")
        second[id(ours)].execute("CONFIG", "SET", "maxmemory", "1")
        a, b = ours.execute("EXEC"), real.execute("EXEC")
        assert _norm(a) == _norm(b) == ("error", "EXECABORT Transaction discarded because of: "
                                        + OOM)
        ours.execute("MULTI")
        real.execute("MULTI")
    finally:
        other_real.execute("CONFIG", "SET", "maxmemory", "0")
        other_real.close()
        second[id(ours)].execute("CONFIG", "SET", "maxmemory", "0")
    for x in (ours, real):
        x.execute("DISCARD")


def _norm(reply: Any) -> Any:
    if isinstance(reply, ErrorReply):
        return ("error", reply.message)
    if isinstance(reply, bytes):
        return bytes(reply)
    return str(reply) if not isinstance(reply, (int, list, type(None))) else reply


def test_shared_integers_and_lfu_counters_as_redis(sides):
    ours, real = sides
    for x in (ours, real):
        x.execute("FLUSHALL")
        x.execute("SET", "n", "5")
        assert x.execute("OBJECT", "REFCOUNT", "n") == 2147483647
        x.execute("CONFIG", "SET", "maxmemory", "100000000")
        x.execute("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        x.execute("SET", "m", "5")
        assert x.execute("OBJECT", "REFCOUNT", "m") == 1
        assert x.execute("OBJECT", "FREQ", "m") == 5
        for _ in range(100):
            x.execute("GET", "m")
        assert 6 <= x.execute("OBJECT", "FREQ", "m") <= 12   # logarithmic, probabilistic
        err = x.execute("OBJECT", "IDLETIME", "m")
        assert isinstance(err, ErrorReply) and "LFU maxmemory policy is selected" in err.message
        x.execute("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
        x.execute("SET", "t", "5")
        assert x.execute("OBJECT", "REFCOUNT", "t") == 2147483647
        x.execute("CONFIG", "SET", "maxmemory", "0")


# ---------------------------------------------------------------------------------------------
# The engine alone (manual clock)

def _filled(policy: str, keys: int = 200) -> tuple[Engine, Any]:
    engine = Engine(ManualClock())
    s = engine.session()
    s.execute("CONFIG", "SET", "maxmemory-policy", policy)
    for i in range(keys):
        s.execute("SET", f"k:{i}", "v" * 1000, "EX", str(100000 + i))
    return engine, s


def _limit(engine: Engine, s: Any, headroom: int) -> None:
    used = engine.extensions["memory"].used_memory()
    s.execute("CONFIG", "SET", "maxmemory", str(used + headroom))


def test_evictions_are_events_with_a_reason():
    engine, s = _filled("allkeys-lru")
    for i in range(20):
        s.execute("GET", f"k:{i}")
    engine.advance(120)
    for i in range(20):
        s.execute("GET", f"k:{i}")          # recently used
    s.execute("CONFIG", "SET", "notify-keyspace-events", "Ee")
    events: list[Any] = []
    engine.bus.subscribe(events.append)
    _limit(engine, s, 30_000)
    for i in range(60):
        s.execute("SET", f"new:{i}", "n" * 1000)
    info = bytes(s.execute("INFO", "stats")).decode()
    evicted = [e for e in events if isinstance(e, KeyEvicted)]
    assert f"evicted_keys:{len(evicted)}" in info
    assert evicted and all(e.policy == "allkeys-lru" for e in evicted)
    assert all(e.freed > 1000 for e in evicted)
    # The 20 keys read after the pause are never the victims.
    assert all(int(e.key[2:]) >= 20 for e in evicted if e.key.startswith(b"k:"))
    assert any("idle 1" in e.reason for e in evicted)


def test_eviction_touches_watchers_and_notifies():
    engine, s = _filled("allkeys-random", 50)
    watcher = engine.session()
    watcher.execute("WATCH", *[f"k:{i}" for i in range(50)])
    listener = engine.session()
    s.execute("CONFIG", "SET", "notify-keyspace-events", "Ee")
    listener.execute("SUBSCRIBE", "__keyevent@0__:evicted")
    _limit(engine, s, 1000)
    for i in range(10):
        s.execute("SET", f"new:{i}", "n" * 1000)
    assert engine.stats.evicted_keys >= 5
    watcher.execute("MULTI")
    watcher.execute("SET", "x", "1")
    assert watcher.execute("EXEC") in (None, NULL_ARRAY)     # a watched key was evicted
    pushed = [p for p in listener.drain() if bytes(p[0]) == b"message"]
    assert len(pushed) == engine.stats.evicted_keys
    assert all(bytes(p[1]) == b"__keyevent@0__:evicted" for p in pushed)


def test_lowering_maxmemory_evicts_in_the_background():
    engine, s = _filled("allkeys-random")
    before = len(engine.dbs[0].data)
    _limit(engine, s, -50_000)
    engine.advance(0.2)                      # the eviction timer runs from cron
    assert len(engine.dbs[0].data) < before - 40


def test_lfu_counter_decays_with_time():
    engine = Engine(ManualClock())
    s = engine.session()
    s.execute("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    s.execute("SET", "k", "v")
    for _ in range(30):
        s.execute("GET", "k")
    high = s.execute("OBJECT", "FREQ", "k")
    assert high > 5
    engine.clock.advance(3 * 60)
    assert s.execute("OBJECT", "FREQ", "k") == high - 3
    s.execute("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    assert type(engine.dbs[0].lru) is dict   # the LFU mapping is gone with the policy


def test_replicas_and_scripts_do_not_evict():
    engine, s = _filled("allkeys-random", 50)
    _limit(engine, s, -20_000)
    engine.is_replica = True
    assert s.execute("GET", "k:1") is not None
    assert engine.stats.evicted_keys == 0
    engine.is_replica = False
    s.execute("GET", "k:1")
    assert engine.stats.evicted_keys > 0


def test_nothing_to_evict_is_oom_for_writes_only():
    engine, s = _filled("volatile-lru", 20)
    s.execute("PERSIST", "k:1")
    for i in range(20):
        s.execute("PERSIST", f"k:{i}")
    _limit(engine, s, -1)
    reply = s.execute("SET", "x", "y")
    assert isinstance(reply, ErrorReply) and reply.message == OOM
    assert s.execute("GET", "k:3") == b"v" * 1000
    assert engine.stats.evicted_keys == 0


def test_the_command_that_needed_room_shows_the_evictions():
    engine, s = _filled("allkeys-lru", 50)
    engine.recording += 1
    engine.refresh_gate()
    _limit(engine, s, 500)
    s.execute("SET", "n:0", "y" * 1000)     # goes over the limit
    assert s.last_record.events == []
    s.execute("SET", "n:1", "y" * 1000)     # evicts first, to make room
    events = s.last_record.events
    assert events and all(isinstance(e, KeyEvicted) for e in events)
    assert s.last_record.memory_delta > 1000  # the command's own growth, evictions aside
