"""The memory model on the engine alone: allocator arithmetic, Redis's worked examples,
INFO memory and MEMORY STATS bookkeeping, the lazy refresh and its bounds."""

from __future__ import annotations

import pytest

from redislab.engine import Engine, ManualClock
from redislab.engine.memory import alloc
from redislab.engine.memory.model import (CLIENT, HISTOGRAM, STARTUP, DictModel, ListState)
from redislab.engine.memory.sizes import layout, zsl_level
from redislab.engine.values import MutableString
from redislab.protocol.reply import ErrorReply


def _info(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    text = bytes(run("INFO memory")).decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


# ---------------------------------------------------------------------------------------------
# Allocator arithmetic

def test_jemalloc_size_classes():
    small = [8, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512,
             640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144,
             7168, 8192, 10240, 12288, 14336]
    for size in small:
        assert alloc.je(size) == size
        assert alloc.je(size + 1) > size
    assert alloc.je(0) == 8 and alloc.je(24) == 32 and alloc.je(14337) == 16384
    assert alloc.je(1048588) == 1310720
    assert [alloc.je(n) for n in (16385, 20481, 32769)] == [20480, 24576, 40960]


def test_sds_headers_and_growth():
    assert alloc.sds_alloc(6) == 8          # type 5: 1 + 6 + 1
    assert alloc.sds_alloc(31) == 48 and alloc.sds_alloc(32) == 48   # 33 / 36 bytes
    assert alloc.sds_alloc(0) == 8          # an empty sds is type 8
    assert alloc.sds_usable(1024) == 1280 - 5 - 1
    assert alloc.sds_usable(10) == 10       # type 5 records no spare room
    assert alloc.sds_grow(3) == 12          # doubled to 6, type 8, 16-byte class
    assert alloc.sds_grow(2 * 1024 * 1024) == alloc.je(9 + 3 * 1024 * 1024 + 1) - 10


def test_mutable_string_capacity_follows_sds():
    s = MutableString(bytes(1024))
    assert s.alloc == 1274
    s.reserve(1100)                          # fits the 1280-byte class already
    assert s.alloc == 1274
    s.reserve(1300)
    assert s.alloc == alloc.je(5 + 2600 + 1) - 6


# ---------------------------------------------------------------------------------------------
# MEMORY USAGE: the reference's worked examples

@pytest.mark.parametrize("setup, key, expected", [
    (["SET s:len44 " + "x" * 44], "s:len44", 104),
    (["SET s:len45 " + "x" * 45], "s:len45", 120),
    (["SET s:len1024 " + "x" * 1024], "s:len1024", 1336),
    (["SET s:int:0 0"], "s:int:0", 56),
    (["SET s:int:10000 10000"], "s:int:10000", 56),
    (["RPUSH l:1 a"], "l:1", 144),
    (["HSET h:1 f00000 v0"], "h:1", 80),
    (["SADD set:s:1 m00000"], "set:s:1", 176),
    (["SADD set:i:513 " + " ".join(str(i) for i in range(513))], "set:i:513", 24720),
    (["XADD x:1 1-1 field value"], "x:1", 4728),
    (["SETBIT bm 8191 1"], "bm", 1328),
    (["SETBIT bm 8191 1", "SETBIT bm 8200 1"], "bm", 1328),
    (["SETBIT bm 8191 1", "SETBIT bm 10200 1"], "bm", 2608),
])
def test_worked_examples(run, setup, key, expected):
    for line in setup:
        run(line)
    assert run(f"MEMORY USAGE {key} SAMPLES 0") == expected


def test_big_argument_strings_keep_room_for_the_crlf(session):
    session.execute("SET", "s:len1048576", b"x" * 1048576)
    assert session.execute("MEMORY", "USAGE", "s:len1048576") == 1310720 + 16 + 16 + 24


def test_usage_arguments(run):
    run("SET k v")
    assert run("MEMORY USAGE nokey") is None
    assert run("MEMORY USAGE k SAMPLES 0") == run("MEMORY USAGE k")
    for bad, text in [("SAMPLES -1", "ERR syntax error"), ("SAMPLES", "ERR syntax error"),
                      ("FOO", "ERR syntax error"),
                      ("SAMPLES x", "ERR value is not an integer or out of range")]:
        reply = run(f"MEMORY USAGE k {bad}")
        assert isinstance(reply, ErrorReply) and reply.message == text


def test_usage_sees_an_expired_key_without_expiring_it(engine, run):
    run("SET k v PX 10")
    engine.clock.advance(1)
    assert run("MEMORY USAGE k") == 64
    assert b"k" in engine.dbs[0].data


def test_default_samples_extrapolate_from_the_head_nodes(run):
    run("RPUSH l:10000 " + " ".join(f"v{i}" for i in range(10000)))
    assert run("MEMORY USAGE l:10000 SAMPLES 0") == 69576
    assert run("MEMORY USAGE l:10000") == 74184


def test_dict_tables_during_rehash_are_both_billed(run):
    run("SADD s " + " ".join(f"m{i:05d}" for i in range(129)))
    # 128 slots, then 256 more while the rehash started by the 129th member runs.
    expected = 16 + 56 + 8 * 384 + 129 * (24 + 8) + 8 + 24
    assert run("MEMORY USAGE s SAMPLES 0") == expected


# ---------------------------------------------------------------------------------------------
# Structures

def test_dict_model_growth_rehash_and_shrink():
    d = DictModel()
    d.add(4)
    assert (d.size0, d.size1) == (4, 0)
    d.add(1)                                 # the 5th insert doubles, rehash begins
    assert d.slots() == 12
    d.add(10)
    assert d.size1 == 0 and d.size0 == 16
    d = DictModel()
    d.add(1000)
    d.remove(950)                            # under 10% full: shrink to 128, rehashing
    assert (d.size0, d.size1) == (1024, 128)
    presized = DictModel(513)
    assert presized.size0 == 1024


def test_quicklist_layout_and_pops_at_either_end():
    items = [b"p%d" % i for i in range(3000)]
    nodes = layout(items, -2)
    assert [n[0] for n in nodes] == [1327, 1168, 505]
    state = ListState(-2)
    lst = __import__("redislab.engine.values", fromlist=["ListValue"]).ListValue(items)
    state.refresh(lst)
    for _ in range(700):
        lst.popleft()
    state.refresh(lst)
    assert [n[0] for n in state.nodes] == [627, 1168, 505]
    for _ in range(900):
        lst.pop()
    state.refresh(lst)
    assert [n[0] for n in state.nodes] == [627, 773]


def test_skiplist_levels_have_redis_distribution():
    levels = [zsl_level(b"member:%d" % i) for i in range(40000)]
    share = [levels.count(k) / len(levels) for k in (1, 2, 3)]
    assert abs(share[0] - 0.75) < 0.01 and abs(share[1] - 0.1875) < 0.01
    assert abs(share[2] - 0.046875) < 0.005
    assert zsl_level(b"same") == zsl_level(b"same")


# ---------------------------------------------------------------------------------------------
# used_memory, INFO memory, MEMORY STATS

def test_fresh_engine_figures(engine):
    session = engine.session()
    info = _info(lambda line: session.execute(*line.split()))
    assert int(info["used_memory"]) == STARTUP + CLIENT
    assert int(info["used_memory_startup"]) == STARTUP
    assert info["mem_allocator"] == "jemalloc-5.3.0"
    assert info["maxmemory_policy"] == "noeviction"


def test_keys_add_what_redis_allocates(run, engine):
    model = engine.extensions["memory"]
    run("PING")
    base = model.used_memory()
    run("SET a b")
    # dictEntry 32 + key 8 + embstr 32, and the main dict's first 4 buckets; the first SET
    # also leaves its latency histogram behind.
    assert model.used_memory() - base == 104 + HISTOGRAM
    run("SET c d")
    assert model.used_memory() - base == 176 + HISTOGRAM
    run("SET e 1")                           # a shared integer costs no value at all
    assert model.used_memory() - base == 216 + HISTOGRAM
    run("DEL a c e")
    assert model.used_memory() - base == 32 + 2 * HISTOGRAM


def test_overhead_and_dataset(run):
    for i in range(159):
        run(f"SET key:{i} value")
    for i in range(6):
        run(f"EXPIRE key:{i} 100")
    stats = dict(run("MEMORY STATS"))
    db0 = dict(stats[b"db.0"])
    assert db0[b"overhead.hashtable.main"] == 159 * 24 + 256 * 8 + 159 * 16
    assert db0[b"overhead.hashtable.expires"] == 6 * 24 + 8 * 8
    assert stats[b"keys.count"] == 159
    info = _info(run)
    assert int(info["used_memory_dataset"]) == \
        int(info["used_memory"]) - int(info["used_memory_overhead"])


def test_memory_stats_shape(run):
    run("SET k v")
    names = [k for k, _ in run("MEMORY STATS")]
    assert names[:10] == [b"peak.allocated", b"total.allocated", b"startup.allocated",
                          b"replication.backlog", b"clients.slaves", b"clients.normal",
                          b"cluster.links", b"aof.buffer", b"lua.caches", b"functions.caches"]
    assert names[10] == b"db.0" and names[-1] == b"fragmentation.bytes"


def test_flush_and_swapdb_keep_totals_right(run, engine):
    model = engine.extensions["memory"]
    for line in ("RPUSH warm x", "FLUSHALL", "SELECT 0", "SWAPDB 0 1"):
        run(line)                            # every command's histogram exists from here
    empty = model.used_memory()
    run("RPUSH l " + " ".join("x" * 50 for _ in range(100)))
    full = model.used_memory()
    assert full > empty + 5000
    run("SWAPDB 0 1")
    assert model.used_memory() == full
    run("FLUSHALL")
    assert model.used_memory() == empty


def test_peak_follows_used(run):
    run("SET big " + "x" * 100000)
    peak = int(_info(run)["used_memory_peak"])
    run("DEL big")
    info = _info(run)
    assert int(info["used_memory_peak"]) == peak > int(info["used_memory"])


def test_record_shows_the_commands_own_change(engine):
    engine.recording += 1
    engine.refresh_gate()
    s = engine.session()
    s.execute("SET", "k", "v")
    assert s.last_record.memory_delta == 104     # its own histogram comes after the call
    s.execute("GET", "k")
    assert s.last_record.memory_delta == 0
    before = s.last_record.memory_after
    s.execute("GET", "k")
    assert s.last_record.memory_before == before + HISTOGRAM   # GET's, made after its call


def test_doctor_and_friends(run, engine):
    assert b"nothing meaningful to diagnose" in bytes(run("MEMORY DOCTOR"))
    assert b"jemalloc" in bytes(run("MEMORY MALLOC-STATS"))
    assert run("MEMORY PURGE") == "OK"
    assert str(run("MEMORY HELP")[0]).startswith("MEMORY <subcommand>")
    run("SET big " + "x" * (6 * 1024 * 1024))
    assert b"No memory problem" in bytes(run("MEMORY DOCTOR"))
    run("SET big2 " + "x" * (6 * 1024 * 1024))
    engine.advance(0.1)                      # the peak is sampled by cron (and any read)
    run("DEL big2")
    assert b"Peak memory" in bytes(run("MEMORY DOCTOR"))


# ---------------------------------------------------------------------------------------------
# Cost model: marks only, bounded, big values not walked per write

def test_writes_only_mark_keys(engine, run):
    model = engine.extensions["memory"]
    model.used_memory()
    run("SET a 1")
    run("HSET h f v")
    assert engine.dbs[0].mem_dirty == {b"a", b"h"}
    model.used_memory()
    assert not engine.dbs[0].mem_dirty


def test_marks_of_deleted_keys_stay_bounded(engine):
    s = engine.session()
    for i in range(70000):
        s.execute("SET", b"k%d" % i, b"v")
        s.execute("DEL", b"k%d" % i)
    assert len(engine.dbs[0].mem_dirty) <= 65537


def test_big_hash_is_estimated_between_exact_walks(engine):
    model = engine.extensions["memory"]
    s = engine.session()
    s.execute("HSET", "h", *[x for i in range(5000) for x in (b"f%d" % i, b"v%d" % i)])
    model.used_memory()
    state = engine.dbs[0].mem.states[b"h"]
    assert state.n_exact == 5000
    s.execute("HSET", "h", "new", "value")
    model.used_memory()
    assert state.n_exact == 5000 and state.n == 5001    # extrapolated, not walked
    usage = s.execute("MEMORY", "USAGE", "h", "SAMPLES", "0")
    # Allocated: dictEntries and the dict struct at their size classes (32, 64).
    exact = usage + 8 * 5001 + 8 + 8
    allocated = engine.dbs[0].mem.alloc[b"h"]
    assert abs(allocated - exact) < 0.01 * exact


def test_engine_with_preloaded_data_is_sized_on_first_look():
    engine = Engine(ManualClock())
    db = engine.dbs[0]
    model = engine.extensions["memory"]
    db.data[b"x"] = b"hello"                     # a loader filling the dict directly
    assert model.used_memory() == STARTUP + 8 + 32 + 32 + 4 * 8
    db.data[b"y"] = b"hello"                     # later: seen by the next full look
    model.refresh(full=True)
    assert model.used_memory() == STARTUP + 2 * (8 + 32 + 32) + 4 * 8
