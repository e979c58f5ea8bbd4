"""SELECT, DBSIZE, FLUSHDB, FLUSHALL and SWAPDB: unit tests and scripts compared with Redis."""

from __future__ import annotations

from redislab.engine.session import Blocked


def test_select_and_dbsize(run, session, engine):
    run("SET a 1")
    assert run("SELECT 3") == "OK"
    assert session.db is engine.db(3)
    assert run("DBSIZE") == 0
    run("SET a 1")
    run("SET b 1")
    assert run("DBSIZE") == 2
    assert run("SELECT 16").message == "ERR DB index is out of range"
    assert session.db is engine.db(3)


def test_dbsize_counts_expired_keys_not_yet_deleted(run, clock):
    run("SET a 1 PX 10")
    clock.advance(1)
    assert run("DBSIZE") == 1
    run("GET a")
    assert run("DBSIZE") == 0


def test_swapdb_swaps_contents_not_clients(engine):
    a, b = engine.session(), engine.session()
    b.execute("SELECT", "1")
    a.execute("SET", "k", "zero", "EX", "100")
    b.execute("SET", "k", "one")
    assert a.execute("SWAPDB", "0", "1") == "OK"
    assert a.execute("GET", "k") == b"one"
    assert a.execute("TTL", "k") == -1
    assert b.execute("GET", "k") == b"zero"
    assert b.execute("TTL", "k") == 100
    assert a.db.id == 0 and b.db.id == 1
    a.execute("SWAPDB", "1", "0")
    assert a.execute("GET", "k") == b"zero"


def test_swapdb_serves_clients_blocked_on_a_key_that_appears(engine):
    waiter, writer = engine.session(), engine.session()
    assert isinstance(waiter.execute("XREAD", "BLOCK", "0", "STREAMS", "s", "$"), Blocked)
    writer.execute("SELECT", "1")
    writer.execute("XADD", "s", "1-1", "f", "v")
    writer.execute("SWAPDB", "0", "1")
    assert waiter.blocked is None
    assert waiter.pending_reply == [[b"s", [[b"1-1", [b"f", b"v"]]]]]


def test_flushes_count_dirty_and_replicate(engine):
    s = engine.session()
    out: list[tuple[int, list[bytes]]] = []
    engine.propagate_hooks.append(lambda db, argv: out.append((db, argv)))
    engine.refresh_gate()
    dirty = engine.dirty
    s.execute("FLUSHDB")  # nothing to remove, still replicated
    assert out == [(0, [b"FLUSHDB"])] and engine.dirty == dirty
    s.execute("SET", "a", "1")
    s.execute("SET", "b", "1")
    s.execute("SELECT", "2")
    s.execute("SET", "c", "1")
    dirty = engine.dirty
    s.execute("FLUSHALL", "ASYNC")
    assert engine.dirty - dirty == 4  # three keys, plus one for FLUSHALL itself
    assert out[-1] == (2, [b"FLUSHALL", b"ASYNC"])
    assert all(len(db.data) == 0 for db in engine.dbs)


def test_flushall_calls_the_persistence_hook(engine, session):
    calls = []
    engine.extensions["after_flushall"] = lambda: calls.append(1)
    session.execute("FLUSHALL")
    session.execute("FLUSHDB")
    assert calls == [1]


DB_SCRIPT = r"""
SET a 1
SELECT 1
SET b 2
SET c 3
DBSIZE
SELECT 0
DBSIZE
DBSIZE x
SELECT
SELECT 1 2
SELECT 16
SELECT -1
SELECT abc
SELECT 2147483648
SELECT -2147483649
SELECT " 1"
SELECT 01
SWAPDB 0 1
DBSIZE
GET b
SWAPDB 0 1
SWAPDB 0 0
SWAPDB 0 16
SWAPDB 16 0
SWAPDB -1 0
SWAPDB a 0
SWAPDB 0 a
SWAPDB a a
SWAPDB 4294967296 0
SWAPDB 0 4294967296
SWAPDB 0
SWAPDB 0 1 2
DBSIZE
FLUSHDB BOGUS
FLUSHDB SYNC SYNC
FLUSHALL x
FLUSHALL ASYNC SYNC
FLUSHDB
DBSIZE
SELECT 1
DBSIZE
FLUSHDB async
DBSIZE
SET x 1
SELECT 0
SET y 1
FLUSHALL sync
DBSIZE
SELECT 1
DBSIZE
FLUSHALL
FLUSHDB
"""


def test_database_commands_match_redis(differ):
    differ.check_all(DB_SCRIPT)


def test_database_commands_match_redis_resp3(differ3):
    differ3.check_all(DB_SCRIPT)
