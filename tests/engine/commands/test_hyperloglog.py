"""HyperLogLog commands compared byte for byte with real Redis (GET of the value included)."""

from __future__ import annotations

import pytest

from redislab.protocol import ErrorReply

from .test_bitmaps import EventDiffer

SPARSE_STALE = b"HYLL\x01\x00\x00\x00" + bytes(7) + b"\x80"
DENSE_STALE = b"HYLL\x00\x00\x00\x00" + bytes(7) + b"\x80"

# Elements whose hashes land on chosen registers (index, value): found by search.
AT_LAST_4 = b"p172"        # register 16383, value 4
AT_LAST_1 = b"p10247"      # register 16383, value 1
AT_FIRST_1 = b"p15030"     # register 0, value 1
AT_FIRST_2 = b"p24959"     # register 0, value 2


def elements(n: int, prefix: str = "e") -> list[bytes]:
    return [f"{prefix}{i}".encode() for i in range(n)]


@pytest.fixture
def events(redis_server):
    d = EventDiffer(redis_server)
    try:
        yield d
    finally:
        d.close()


# ---------------------------------------------------------------------------------------------
# Engine-only behaviour

def test_new_hll_is_a_raw_string_with_stale_cache(run):
    assert run("PFADD h") == 1
    assert run("GET h") == SPARSE_STALE[:15] + b"\x80" + b"\x7f\xff"
    assert run("OBJECT ENCODING h") == b"raw"
    assert run("PFCOUNT h") == 0
    assert run("GET h")[15] == 0  # the cache is now valid


def test_pfcount_refresh_counts_as_a_write(run, engine):
    run("PFADD h a b c")
    before = engine.dirty
    assert run("PFCOUNT h") == 3
    assert engine.dirty == before + 1
    assert run("PFCOUNT h") == 3
    assert engine.dirty == before + 1  # served from the cache


def test_multi_key_pfcount_leaves_keys_alone(run):
    run("PFADD a x y")
    run("PFADD b y z")
    before = (run("GET a"), run("GET b"))
    assert run("PFCOUNT a b missing") == 3
    assert (run("GET a"), run("GET b")) == before


def test_corrupt_errors(run):
    run("SET s hello")
    assert run("PFADD s a") == ErrorReply("WRONGTYPE Key is not a valid HyperLogLog string value.")
    run("RPUSH l x")
    assert run("PFCOUNT l") == ErrorReply(
        "WRONGTYPE Operation against a key holding the wrong kind of value")


# ---------------------------------------------------------------------------------------------
# Byte-identical values

@pytest.mark.parametrize("n", [0, 1, 2, 10, 100, 500, 1000, 1500, 1650, 1700, 2000, 5000])
def test_pfadd_bytes_match_redis(differ, n):
    differ.check("PFADD", "h", *elements(n))
    differ.check("GET", "h")
    differ.check("PFDEBUG", "ENCODING", "h")
    differ.check("PFCOUNT", "h")
    differ.check("GET", "h")
    differ.check("PFADD", "h", *elements(n // 2))
    differ.check("GET", "h")


def test_dense_100k(differ):
    differ.check("PFADD", "h", *elements(100_000))
    differ.check("GET", "h")
    differ.check("PFCOUNT", "h")
    differ.check("PFADD", "h", *elements(20_000, "f"))
    differ.check("PFCOUNT", "h")
    differ.check("GET", "h")


def test_promotion_boundary_in_batches_and_one_by_one(differ):
    els = elements(2000)
    differ.check("PFADD", "h", *els[:1400])
    for start in range(1400, 1560, 40):
        differ.check("PFADD", "h", *els[start:start + 40])
        differ.check("GET", "h")
    for e in els[1560:1720]:
        differ.check("PFADD", "h", e)
        differ.check("GET", "h")
    differ.check("PFDEBUG", "ENCODING", "h")
    # The same elements one at a time take another path through the sparse edits.
    for e in els[:300]:
        differ.check("PFADD", "g", e)
    differ.check("GET", "g")


@pytest.mark.parametrize("limit", ["0", "30", "200", "10000"])
def test_sparse_max_bytes(differ, limit):
    differ.check("CONFIG", "SET", "hll-sparse-max-bytes", limit)
    try:
        differ.check("PFADD", "h", "a")
        differ.check("GET", "h")
        differ.check("PFADD", "h", *elements(50))
        differ.check("GET", "h")
        differ.check("PFADD", "h", *elements(3000))
        differ.check("GET", "h")
        differ.check("PFCOUNT", "h")
    finally:
        differ.check("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_pfmerge_layouts(differ):
    differ.check("PFADD", "s1", *elements(300, "a"))
    differ.check("PFADD", "s2", *elements(300, "b"))
    differ.check("PFADD", "s3", *elements(1400, "c"))
    differ.check("PFADD", "s4", *elements(1400, "d"))
    differ.check("PFADD", "d1", *elements(5000, "x"))
    for script in (
        "PFMERGE m1 s1 s2",                 # sparse stays sparse
        "PFMERGE m2 s3 s4",                 # sparse overflows into dense while merging
        "PFMERGE m3 s1 d1",                 # any dense input makes the result dense
        "PFMERGE s1 s2",                    # the destination is also a source
        "PFMERGE m4",                       # only the destination: a fresh empty HLL
        "PFMERGE m5 missing1 missing2",
        "PFMERGE d1 s3",                    # dense destination
        "PFMERGE m6 s1 s1 s1",
    ):
        differ.check(*script.split())
        dest = script.split()[1]
        differ.check("GET", dest)
        differ.check("PFCOUNT", dest)
        differ.check("GET", dest)
    differ.check("PFCOUNT", "s1", "s2", "s3", "s4", "d1", "missing")
    differ.check("PFCOUNT", "s1", "s2")
    differ.check("PFCOUNT", "missing", "missing2")


def test_pfcount_and_pfmerge_errors(differ):
    differ.check_all("""
    PFADD h a b c
    SET s "not an hll"
    SET short HYLL
    SET n 12345678901234567
    RPUSH l x
    PFCOUNT h s
    PFCOUNT missing s
    PFCOUNT h l
    PFCOUNT short
    PFCOUNT n
    PFMERGE d h s
    EXISTS d
    PFMERGE d h l
    PFMERGE s h
    PFMERGE l h
    PFADD l x
    PFADD s x
    PFADD short x
    PFCOUNT missing
    PFCOUNT missing missing2
    """)


def test_embstr_hll_becomes_raw(differ):
    differ.check("PFADD", "h", "a", "b")
    value = differ.session.execute("GET", "h")
    differ.check("SET", "copy", value)
    differ.check("OBJECT", "ENCODING", "copy")
    differ.check("PFCOUNT", "copy")
    differ.check("OBJECT", "ENCODING", "copy")
    differ.check("SET", "copy2", value)
    differ.check("PFADD", "copy2")
    differ.check("OBJECT", "ENCODING", "copy2")
    differ.check("SET", "copy3", value)
    differ.check("PFDEBUG", "ENCODING", "copy3")
    differ.check("OBJECT", "ENCODING", "copy3")


# ---------------------------------------------------------------------------------------------
# Crafted and corrupt values

CRAFTED = {
    # covers only 100 registers
    "short": SPARSE_STALE + bytes([0x40, 99]),
    # covers 32768 registers: writes still work, counting fails
    "long": SPARSE_STALE + b"\x7f\xff\x7f\xff",
    "empty": SPARSE_STALE,
    # a value run after a complete body: merging ignores it, counting does not
    "trailing": SPARSE_STALE + b"\x7f\xff\x90",
    # a value run crossing the end
    "crossing": SPARSE_STALE + b"\x7f\xfe\x89",
    "cached": b"HYLL\x01\x00\x00\x00" + (12345).to_bytes(8, "little") + b"\x7f\xff",
    "notused": b"HYLL\x01\xaa\xbb\xcc" + bytes(7) + b"\x80" + b"\x7f\xff",
    "dense_short": DENSE_STALE + bytes(100),
    "dense_long": DENSE_STALE + bytes(12289),
    "enc2": b"HYLL\x02" + bytes(11) + bytes(100),
    "all63": DENSE_STALE + b"\xff" * 12288,
    "all51": DENSE_STALE + bytes([0xF3, 0x3C, 0xCF]) * 4096,
    "mixed": DENSE_STALE + bytes([0x33, 0xCF, 0xCC]) * 4096,
    "all1": DENSE_STALE + bytes([0x41, 0x10, 0x04]) * 4096,
    "smallruns": SPARSE_STALE + b"\x3f" * 256,
    "smallxzero": SPARSE_STALE + b"\x40\x3f" * 256,
    "vals": SPARSE_STALE + b"\xfb" * 4096,
    # ends with the first byte of a two-byte opcode (its second byte is read past the end)
    "phantom": SPARSE_STALE + b"\x7f\xfe\x40",
    "phantom_vals": SPARSE_STALE + b"\x80\x84\x7f\xfc\x40",
    "phantom_bad": SPARSE_STALE + b"\x7f\xfd\x40",
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_values(differ, name):
    value = CRAFTED[name]
    differ.check("SET", "k", value)
    differ.check("PFCOUNT", "k")
    differ.check("GET", "k")
    differ.check("PFCOUNT", "k", "missing")
    differ.check("PFMERGE", "dest", "k")
    differ.check("GET", "dest")
    differ.check("PFDEBUG", "DECODE", "k")
    differ.check("PFADD", "k", AT_FIRST_1, "zz", "y")
    differ.check("GET", "k")
    differ.check("PFCOUNT", "k")
    differ.check("SET", "k", value)
    differ.check("PFADD", "k", AT_LAST_4)
    differ.check("GET", "k")
    differ.check("PFADD", "k", AT_LAST_1, AT_FIRST_2, *elements(40))
    differ.check("GET", "k")
    differ.check("PFCOUNT", "k")
    differ.check("SET", "k", value)
    differ.check("PFMERGE", "k", "dest")
    differ.check("GET", "k")
    differ.check("SET", "k", value)
    differ.check("PFDEBUG", "TODENSE", "k")
    differ.check("GET", "k")
    differ.check("SET", "k", value)
    differ.check("PFADD", "k", *elements(3000))
    differ.check("GET", "k")
    differ.check("PFDEBUG", "GETREG", "k")


# ---------------------------------------------------------------------------------------------
# PFDEBUG, PFSELFTEST, side effects

def test_pfdebug(differ):
    differ.check_all("""
    PFADD h a b c
    PFDEBUG DECODE h
    PFDEBUG ENCODING h
    pfdebug encoding h
    PFDEBUG FOO h
    PFDEBUG GETREG missing
    PFDEBUG FOO missing
    SET s x
    PFDEBUG ENCODING s
    PFDEBUG GETREG h
    PFDEBUG ENCODING h
    PFDEBUG DECODE h
    PFDEBUG TODENSE h
    PFADD h2 x
    PFDEBUG TODENSE h2
    PFDEBUG TODENSE h2
    GET h2
    PFDEBUG ENCODING h2 extra
    PFDEBUG ENCODING
    """)


def test_pfdebug_resp3(differ3):
    differ3.check_all("""
    PFADD h a b c
    PFDEBUG ENCODING h
    PFDEBUG DECODE h
    PFCOUNT h
    PFDEBUG FOO h
    """)


def test_pfselftest(run):
    # Redis's own self-test adds a million elements; ours checks the same properties on
    # fewer, and replies the same OK.
    assert run("PFSELFTEST") == "OK"


def test_dirty_and_events(events):
    events.check_all("""
    PFADD h a b c d
    PFADD h a
    PFADD h
    PFADD h2
    PFCOUNT h
    PFCOUNT h
    PFCOUNT h h2
    PFMERGE h3 h
    PFMERGE h3
    PFDEBUG TODENSE h
    PFDEBUG TODENSE h
    PFDEBUG ENCODING h2
    PFADD h e f g
    PFCOUNT h
    SET bad "HYLL\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x80\\x40\\x01"
    PFADD bad a b c
    PFCOUNT bad
    """)
    events.check("PFDEBUG", "GETREG", "h2")
    events.check("PFDEBUG", "ENCODING", "h2")


def test_watch_sees_pfcount_cache_refresh(differ):
    differ.check_all("""
    PFADD h a b
    WATCH h
    PFCOUNT h
    MULTI
    PING
    EXEC
    WATCH h
    PFCOUNT h
    MULTI
    PING
    EXEC
    WATCH h
    PFCOUNT h other
    MULTI
    PING
    EXEC
    """)


def test_string_edits_between_pfadds(differ):
    # The value is an ordinary string: other commands may rewrite it between HLL commands.
    differ.check("PFADD", "h", *elements(200))
    differ.check("PFADD", "h", "one")
    differ.check("SETRANGE", "h", "20", "\x80\x80")
    differ.check("PFADD", "h", "two", "three")
    differ.check("GET", "h")
    differ.check("APPEND", "h", "\x7f\xff")
    differ.check("PFADD", "h", "four")
    differ.check("PFCOUNT", "h")
    differ.check("SETBIT", "h", "131", "1")
    differ.check("PFADD", "h", *elements(100, "z"))
    differ.check("GET", "h")
    differ.check("PFCOUNT", "h")


def test_dump_payloads_match(differ):
    # The cache refresh by PFCOUNT is part of the value, so DUMP changes with it.
    differ.check("PFADD", "h", *elements(300))
    differ.check("DUMP", "h")
    differ.check("PFCOUNT", "h")
    differ.check("DUMP", "h")
    differ.check("PFADD", "d", *elements(3000))
    differ.check("DUMP", "d")
    differ.check("PFCOUNT", "d")
    differ.check("DUMP", "d")
