"""Lazy and active expiry on the manual clock: keys vanish on access and from the periodic
cycle, statistics, events, replication of expirations, and WATCH as 7.0 treats expired keys."""

from __future__ import annotations

from redislab.engine.events import KeyExpired
from redislab.protocol import NULL_ARRAY


def _events(engine):
    seen: list[KeyExpired] = []
    engine.bus.subscribe(lambda e: seen.append(e) if isinstance(e, KeyExpired) else None)
    return seen


def test_lazy_expiry_is_strictly_after_the_deadline(run, clock, engine):
    run("SET k v PX 1000")
    clock.advance(1.0)
    assert run("GET k") == b"v"
    clock.advance(0.001)
    assert engine.db(0).data  # nothing ran the cycle: the key is still stored
    assert run("GET k") is None
    assert engine.stats.expired_keys == 1
    assert engine.db(0).data == {}


def test_lazy_expiry_reports_the_event_and_replicates_del(run, clock, engine):
    seen = _events(engine)
    out: list[tuple[int, list[bytes]]] = []
    engine.propagate_hooks.append(lambda db, argv: out.append((db, argv)))
    engine.refresh_gate()
    run("SELECT 4")
    run("SET k v PX 10")
    clock.advance(1)
    assert run("EXISTS k") == 0
    assert [(e.db, e.key, e.how) for e in seen] == [(4, b"k", "lazy")]
    assert out[-1] == (4, [b"DEL", b"k"])


def test_active_expiry_removes_keys_nobody_reads(engine):
    s = engine.session()
    seen = _events(engine)
    for i in range(200):
        s.execute("SET", b"short:%d" % i, "v", "PX", "500")
    for i in range(50):
        s.execute("SET", b"long:%d" % i, "v", "EX", "3600")
    for i in range(20):
        s.execute("SET", b"forever:%d" % i, "v")
    engine.advance(0.4)
    assert len(engine.db(0).data) == 270
    engine.advance(2)
    assert len(engine.db(0).data) == 70
    assert engine.stats.expired_keys == 200
    assert len(seen) == 200 and {e.how for e in seen} == {"active"}
    assert s.execute("DBSIZE") == 70
    assert all(k.startswith((b"long:", b"forever:")) for k in engine.db(0).data)


def test_active_expiry_covers_every_database(engine):
    s = engine.session()
    for db in ("0", "3", "15"):
        s.execute("SELECT", db)
        s.execute("SET", "k", "v", "PX", "100")
    engine.advance(1)
    assert all(not db.data for db in engine.dbs)
    assert engine.stats.expired_keys == 3


def test_active_expiry_keeps_going_while_many_keys_are_stale(engine):
    s = engine.session()
    for i in range(5000):
        s.execute("SET", b"k%d" % i, "v", "PX", "10")
    engine.advance(0.1)  # a single cron tick at hz 10
    assert len(engine.db(0).data) == 0


def test_active_expiry_sends_notifications(engine):
    s = engine.session()
    got: list[tuple[int, str, str, bytes]] = []
    engine.config.set("notify-keyspace-events", "Ex")
    engine.notify_hook = lambda db, cls, event, key: cls == "x" and got.append(
        (db, cls, event, key))
    s.execute("SET", "k", "v", "PX", "10")
    engine.advance(0.5)
    assert got == [(0, "x", "expired", b"k")]


def test_expire_command_then_cycle(engine):
    s = engine.session()
    s.execute("SET", "k", "v")
    s.execute("PEXPIRE", "k", "250")
    engine.advance(0.2)
    assert s.execute("PTTL", "k") == 50
    engine.advance(0.1)
    assert s.execute("EXISTS", "k") == 0
    assert engine.stats.expired_keys == 1


def test_watch_fails_when_the_cycle_expires_a_watched_key(engine):
    a, b = engine.session(), engine.session()
    b.execute("SET", "k", "v", "PX", "100")
    a.execute("WATCH", "k")
    engine.advance(1)
    assert not engine.db(0).data
    a.execute("MULTI")
    a.execute("GET", "k")
    assert a.execute("EXEC") is NULL_ARRAY


def test_watch_of_an_already_expired_key_survives_the_cycle(engine, clock):
    a, b = engine.session(), engine.session()
    b.execute("SET", "k", "v", "PX", "1")
    clock.advance(0.01)  # expired, but nothing has removed it yet
    a.execute("WATCH", "k")
    engine.advance(1)
    assert not engine.db(0).data
    a.execute("MULTI")
    a.execute("GET", "k")
    assert a.execute("EXEC") == [None]


def test_watched_key_expired_at_exec_time_fails_even_if_still_stored(engine, clock):
    a, b = engine.session(), engine.session()
    b.execute("SET", "k", "v", "PX", "100")
    a.execute("WATCH", "k")
    clock.advance(1)  # the clock moved but no cycle ran
    assert engine.db(0).data
    a.execute("MULTI")
    a.execute("GET", "k")
    assert a.execute("EXEC") is NULL_ARRAY


def test_expired_key_written_again_behaves_as_new(run, clock, engine):
    run("SET k v PX 10")
    clock.advance(1)
    assert run("SET k w KEEPTTL") == "OK"
    assert run("TTL k") == -1  # the old TTL went with the expired key
    assert engine.stats.expired_keys == 1
    run("SET j v PX 10")
    clock.advance(1)
    assert run("APPEND j x") == 1
    assert run("GET j") == b"x"
