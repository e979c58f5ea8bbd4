"""SCAN, HSCAN, SSCAN and ZSCAN: cursor parsing, the iteration guarantee under concurrent
changes (property-based), and comparisons with real Redis of reply shapes and of what a full
iteration returns."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redislab.engine import Engine, ManualClock
from redislab.engine.scan import ULONG_MAX, parse_cursor, walk
from redislab.protocol import ErrorReply

from ...support.real_redis import normalize, wire

# ---------------------------------------------------------------------------------------------
# Cursor parsing (strtoul semantics)


@pytest.mark.parametrize("arg, value", [
    (b"0", 0), (b"", 0), (b"17", 17), (b"+5", 5), (b"-0", 0), (b"-1", ULONG_MAX),
    (b"18446744073709551615", ULONG_MAX), (b"-18446744073709551615", 1),
    (b"5\x00junk", 5), (b"007", 7),
])
def test_cursor_accepts_what_strtoul_accepts(arg, value):
    assert parse_cursor(arg) == value


@pytest.mark.parametrize("arg", [
    b" 1", b"1 ", b"x", b"0x10", b"+", b"-", b"18446744073709551616", b"1.5", b"\t1",
])
def test_cursor_rejects(arg):
    with pytest.raises(ErrorReply, match="ERR invalid cursor"):
        parse_cursor(arg)


# ---------------------------------------------------------------------------------------------
# The bucket walk


def _sorted_walker(items):
    order = sorted(items, key=hash)

    def iter_from(h):
        return iter([x for x in order if hash(x) >= h])

    return iter_from


def test_walk_visits_everything_once_when_nothing_changes():
    items = [b"k%d" % i for i in range(300)]
    iter_from = _sorted_walker(items)
    cursor, seen, calls = 0, [], 0
    while True:
        cursor, found, _ = walk(iter_from, cursor, 10, len(items))
        seen += found
        calls += 1
        if cursor == 0:
            break
    assert sorted(seen) == sorted(items)
    assert calls > 10  # it really paged


def test_walk_cursor_survives_table_growth_and_shrink():
    # The same cursor read at another table size lands on the same position (no skipping).
    small = [b"s%d" % i for i in range(20)]
    big = small + [b"b%d" % i for i in range(2000)]
    cursor, found, _ = walk(_sorted_walker(small), 0, 5, len(small))
    seen = set(found)
    cursor, found, _ = walk(_sorted_walker(big), cursor, 5, len(big))
    seen |= set(found)
    while cursor:
        cursor, found, _ = walk(_sorted_walker(small), cursor, 5, len(small))
        seen |= set(found)
    assert set(small) <= seen


def test_compact_encodings_come_back_whole(run):
    run("HSET h a 1 b 2 c 3")
    assert run("HSCAN h 0 COUNT 1") == [b"0", [b"a", b"1", b"b", b"2", b"c", b"3"]]
    run("SADD s 3 1 2")
    assert run("SSCAN s 0 COUNT 1") == [b"0", [b"1", b"2", b"3"]]
    run("ZADD z 2 b 1 a 1.5 c")
    assert run("ZSCAN z 0 COUNT 1") == [b"0", [b"a", b"1", b"c", b"1.5", b"b", b"2"]]


def test_scan_paginates_a_big_keyspace(engine):
    s = engine.session()
    for i in range(500):
        s.execute("SET", b"k%d" % i, b"v")
    cursor, found = s.execute("SCAN", "0")
    assert cursor != b"0" and 0 < len(found) < 50
    seen = set(found)
    while cursor != b"0":
        cursor, found = s.execute("SCAN", cursor)
        seen |= set(found)
    assert len(seen) == 500


def test_scan_skips_and_deletes_expired_keys(engine, clock):
    s = engine.session()
    s.execute("SET", "gone", "v", "PX", "10")
    s.execute("SET", "stays", "v")
    clock.advance(1)
    assert s.execute("SCAN", "0") == [b"0", [b"stays"]]
    assert engine.stats.expired_keys == 1
    assert s.execute("DBSIZE") == 1


def test_scan_type_filter_quirks(engine, clock):
    # Checked against 7.0.15: the TYPE check looks the key up first, so an expired key is
    # reported as type "none" (and SCAN ... TYPE none returns it), and lookups are counted.
    s = engine.session()
    s.execute("SET", "gone", "v", "PX", "1")
    s.execute("SET", "live", "v")
    clock.advance(0.01)
    assert s.execute("SCAN", "0", "TYPE", "none") == [b"0", [b"gone"]]
    s.execute("SET", "gone", "v", "PX", "1")
    clock.advance(0.01)
    misses = engine.stats.keyspace_misses
    assert s.execute("SCAN", "0", "TYPE", "STRING") == [b"0", [b"live"]]
    assert engine.stats.keyspace_misses == misses + 1
    assert engine.stats.expired_keys == 2


def test_scan_index_is_built_lazily_and_kept_current(engine):
    s = engine.session()
    db = engine.db(0)
    s.execute("SET", "a", "1")
    assert db.scan_index is None  # nothing paid before the first SCAN
    s.execute("SCAN", "0")
    assert db.scan_index is not None
    s.execute("SET", "b", "1")
    s.execute("DEL", "a")
    assert db.scan_index.pending == [b"b"]  # a write only queues the key
    assert s.execute("SCAN", "0") == [b"0", [b"b"]]
    assert db.scan_index.pending == []
    s.execute("FLUSHDB")
    assert db.scan_index is None


def test_scan_index_follows_swapdb(engine):
    s = engine.session()
    s.execute("SET", "a", "1")
    s.execute("SCAN", "0")
    s.execute("SWAPDB", "0", "1")
    s.execute("SELECT", "1")
    s.execute("SET", "b", "1")
    assert sorted(s.execute("SCAN", "0", "COUNT", "100")[1]) == [b"a", b"b"]


# ---------------------------------------------------------------------------------------------
# The guarantee: an element present for the whole iteration is returned at least once


NAMES = st.integers(0, 400).map(lambda i: b"e%d" % i)
STEP = st.tuples(st.lists(NAMES, max_size=12), st.lists(NAMES, max_size=12),
                 st.integers(1, 25))


def _run_guarantee(engine, add, remove, scan, initial, steps):
    for name in initial:
        add(name)
    present_throughout = set(initial)
    cursor, found = scan(b"0", 10)
    seen = set(found)
    for adds, removes, count in steps:
        if cursor == b"0":
            break
        for name in adds:
            add(name)
        for name in removes:
            remove(name)
            present_throughout.discard(name)
        cursor, found = scan(cursor, count)
        seen |= set(found)
    while cursor != b"0":
        cursor, found = scan(cursor, 10)
        seen |= set(found)
    missing = present_throughout - seen
    assert not missing, f"never returned: {sorted(missing)[:10]}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=st.lists(NAMES, min_size=0, max_size=300, unique=True),
       steps=st.lists(STEP, max_size=40))
def test_scan_guarantee_under_changes(initial, steps):
    engine = Engine(ManualClock())
    s = engine.session()
    _run_guarantee(
        engine,
        lambda k: s.execute("SET", k, b"v"),
        lambda k: s.execute("DEL", k),
        lambda cur, n: s.execute("SCAN", cur, "COUNT", n),
        initial, steps)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=st.lists(NAMES, min_size=0, max_size=300, unique=True),
       steps=st.lists(STEP, max_size=40),
       kind=st.sampled_from(["hash", "set", "zset"]))
def test_container_scan_guarantee_under_changes(initial, steps, kind):
    engine = Engine(ManualClock())
    s = engine.session()
    # Each container is pushed into its hash-table encoding so the walk really pages.
    if kind == "hash":
        add = lambda m: s.execute("HSET", "c", m, b"v")  # noqa: E731
        remove = lambda m: s.execute("HDEL", "c", m)  # noqa: E731

        def scan(cur, n):
            cursor, flat = s.execute("HSCAN", "c", cur, "COUNT", n)
            return cursor, flat[0::2]
        s.execute("HSET", "c", b"x" * 100, b"v")  # a long field converts to hashtable
    elif kind == "set":
        add = lambda m: s.execute("SADD", "c", m)  # noqa: E731
        remove = lambda m: s.execute("SREM", "c", m)  # noqa: E731

        def scan(cur, n):
            return s.execute("SSCAN", "c", cur, "COUNT", n)
        s.execute("SADD", "c", b"not-an-integer-and-" + b"x" * 10)
        for i in range(600):
            s.execute("SADD", "c", b"pad%d" % i)
    else:
        add = lambda m: s.execute("ZADD", "c", 1, m)  # noqa: E731
        remove = lambda m: s.execute("ZREM", "c", m)  # noqa: E731

        def scan(cur, n):
            cursor, flat = s.execute("ZSCAN", "c", cur, "COUNT", n)
            return cursor, flat[0::2]
        s.execute("ZADD", "c", 0, b"x" * 100)  # a long member converts to skiplist
    _run_guarantee(engine, add, remove, scan, initial, steps)


# ---------------------------------------------------------------------------------------------
# Against real Redis


def _full(execute, *args):
    """Iterate to the end; returns every element returned (with repeats) and the call count."""
    cursor, out, calls = b"0", [], 0
    while True:
        reply = execute(*args[:2], cursor, *args[2:]) if args[0] != "SCAN" else \
            execute(args[0], cursor, *args[1:])
        assert isinstance(reply, list) and len(reply) == 2, reply
        cursor, items = reply
        assert cursor.isdigit()
        out += items
        calls += 1
        if cursor == b"0":
            return out, calls


def _pairs(flat):
    return dict(zip(flat[0::2], flat[1::2]))


def test_scan_errors_match_redis(differ):
    differ.check_all(r"""
    SET k v
    HSET h a 1
    SCAN x
    SCAN " 1"
    SCAN "1 "
    SCAN 18446744073709551616
    SCAN 0 COUNT 0
    SCAN 0 COUNT -1
    SCAN 0 COUNT x
    SCAN 0 COUNT
    SCAN 0 MATCH
    SCAN 0 TYPE
    SCAN 0 BOGUS x
    SCAN
    HSCAN h
    HSCAN h x
    HSCAN missing 0 BOGUS
    HSCAN missing x
    HSCAN k 0
    HSCAN k x
    HSCAN h 0 TYPE string
    HSCAN h 0 COUNT 0
    HSCAN h 0 MATCH
    HSCAN h 0 NOVALUES
    SSCAN k 0
    SSCAN missing 0
    SSCAN h 0 BOGUS
    ZSCAN k 0
    ZSCAN missing 0 COUNT 0
    ZSCAN h 0
    """)


def test_single_call_replies_match_redis(differ):
    # Small keyspaces and compact encodings come back whole, in Redis's order.
    differ.check_all(r"""
    SCAN 0
    SET only v
    SCAN 0
    SCAN 0 MATCH o*
    SCAN 0 MATCH x*
    SCAN 0 TYPE string
    SCAN 0 TYPE STRING
    SCAN 0 TYPE hash
    SCAN 0 TYPE bogus
    SCAN 0 COUNT 1 COUNT 100 MATCH * MATCH only
    HSET h f1 v1 f2 v2 f3 v3 "" empty
    HSET h f2 changed
    HDEL h f1
    HSET h f1 back
    HSCAN h 0
    HSCAN h 0 COUNT 1
    HSCAN h 0 MATCH f*
    HSCAN h 0 MATCH ""
    HSCAN h 0 MATCH * COUNT 1
    HSCAN h 12345
    SADD ints 10 -5 3 1000000 0 -9223372036854775808 9223372036854775807
    SSCAN ints 0
    SSCAN ints 0 MATCH 1*
    SSCAN ints 99 COUNT 1
    ZADD z 1 a 1 b 0.5 c -inf lo +inf hi 3 "" 1e20 big 0.1 tenth -0 negzero
    ZSCAN z 0
    ZSCAN z 0 MATCH ?
    ZSCAN z 7
    """)


def test_single_call_replies_match_redis_resp3(differ3):
    differ3.check_all(r"""
    SET only v
    SCAN 0
    HSET h f1 v1 f2 v2
    HSCAN h 0
    SADD s 3 1 2
    SSCAN s 0
    ZADD z 1 a 2 b
    ZSCAN z 0
    HSCAN missing 0
    """)


def _both_full(differ, *args):
    ours, our_calls = _full(lambda *a: wire(differ.session.execute(*a)), *args)
    theirs, their_calls = _full(differ.real.execute, *args)
    return ours, theirs, our_calls, their_calls


def test_full_keyspace_iteration_matches_redis(differ):
    for i in range(700):
        differ.check("SET", b"key:%d" % i, b"v")
    for i in range(50):
        differ.check("HSET", b"hash:%d" % i, b"f", b"v")
    differ.check("SET", b"", b"empty key")
    differ.check("SET", b"bin\x00\xff", b"binary key")
    for args in [("SCAN",), ("SCAN", "COUNT", "3"), ("SCAN", "COUNT", "1000"),
                 ("SCAN", "MATCH", "key:1*"), ("SCAN", "MATCH", "*:4?"),
                 ("SCAN", "TYPE", "hash"), ("SCAN", "TYPE", "string", "MATCH", "*9"),
                 ("SCAN", "MATCH", "")]:
        ours, theirs, our_calls, their_calls = _both_full(differ, *args)
        assert set(ours) == set(theirs), args
        assert len(set(ours)) == len(ours), args  # nothing changed, so no repeats
        # Paging has the same granularity: about COUNT per call, so similar call counts.
        assert abs(our_calls - their_calls) <= max(3, their_calls // 3), (args, our_calls,
                                                                          their_calls)


def test_full_container_iteration_matches_redis(differ):
    fields = []
    for i in range(600):
        fields += [b"f%d" % i, b"v%d" % i]
    differ.check("HSET", "bigh", *fields)
    differ.check("OBJECT", "ENCODING", "bigh")
    differ.check("SADD", "bigs", *[b"m%d" % i for i in range(300)])
    differ.check("OBJECT", "ENCODING", "bigs")
    differ.check("SADD", "bigi", *[b"%d" % (i * 7 - 900) for i in range(600)])
    differ.check("OBJECT", "ENCODING", "bigi")
    zargs = []
    for i in range(200):
        zargs += [b"%s" % repr(i / 7).encode(), b"z%d" % i]
    zargs += [b"-0", b"negzero", b"-inf", b"lo", b"1e200", b"hi"]
    differ.check("ZADD", "bigz", *zargs)
    differ.check("OBJECT", "ENCODING", "bigz")
    for args in [("HSCAN", "bigh"), ("HSCAN", "bigh", "COUNT", "50"),
                 ("HSCAN", "bigh", "MATCH", "f1*")]:
        ours, theirs, _, their_calls = _both_full(differ, *args)
        assert their_calls > 1
        assert _pairs(ours) == _pairs(theirs), args
    for args in [("SSCAN", "bigs"), ("SSCAN", "bigi", "COUNT", "7"),
                 ("SSCAN", "bigi", "MATCH", "-*")]:
        ours, theirs, _, _ = _both_full(differ, *args)
        assert set(ours) == set(theirs), args
    for args in [("ZSCAN", "bigz"), ("ZSCAN", "bigz", "MATCH", "z1?", "COUNT", "3")]:
        ours, theirs, _, _ = _both_full(differ, *args)
        assert _pairs(ours) == _pairs(theirs), args


def test_first_page_shape_matches_redis(differ):
    for i in range(300):
        differ.check("SET", b"k%d" % i, b"v")
    ours, theirs = differ.both("SCAN", "0")
    assert ours[0] == theirs[0] == "list"
    (_, our_items), (_, their_items) = ours, theirs
    assert our_items[0] != b"0" and their_items[0] != b"0"
    assert len(our_items[1][1]) >= 10 and len(their_items[1][1]) >= 10
    assert normalize(wire(differ.session.execute("SCAN", "0", "COUNT", "1000")))[1][0] == b"0"


def test_scan_index_gives_up_when_nobody_scans(engine):
    s = engine.session()
    db = engine.db(0)
    s.execute("SET", "first", "v")
    s.execute("SCAN", "0")
    index = db.scan_index
    for i in range(index.limit + 1):
        db.set(b"k%d" % i, b"v")
    assert not index.valid and not index.pending and len(index.order) == 0
    seen, cursor = set(), b"0"
    while True:
        cursor, found = s.execute("SCAN", cursor, "COUNT", "1000")
        seen |= set(found)
        if cursor == b"0":
            break
    assert len(seen) == len(db.data)
