"""RDB files: writing and reading every type, older encodings, and hostile or damaged files."""

from __future__ import annotations

import random

import pytest

from redislab.engine import Engine, ManualClock
from redislab.engine.persistence import rdb as rdbfmt
from redislab.engine.persistence.legacy import (LegacyFormatError, ziplist_entries,
                                                ziplist_pack, zipmap_pack, zipmap_pairs)
from redislab.engine.persistence.rdb import RDBError, encode_length, encode_string
from redislab.engine.structures import intset, listpack
from redislab.engine.structures.crc64 import crc64

SCRIPT = [
    ("SET", "s", "hello"), ("SET", "n", "42"), ("SET", "big", "x" * 300),
    ("APPEND", "raw", "12"), ("APPEND", "raw", "3"),
    ("RPUSH", "l", "a", "1", "b" * 70), ("SADD", "si", "1", "2", "-3"),
    ("SADD", "sh", "a", "b"), ("HSET", "h", "f", "v", "n", "7"),
    ("HSET", "hh", "f", "v" * 100), ("ZADD", "z", "1.5", "a", "-2", "b"),
    ("ZADD", "zs", "1", "m" * 100, "2", "b"), ("XADD", "x", "1-1", "f", "v"),
    ("XADD", "x", "2-1", "g", "w"), ("XGROUP", "CREATE", "x", "grp", "0"),
    ("XREADGROUP", "GROUP", "grp", "c1", "COUNT", "1", "STREAMS", "x", ">"),
    ("SET", "ttl", "v", "PX", "50000"), ("SELECT", "3"), ("SET", "in3", "three"),
    ("SELECT", "0"),
]


def _engine(**config: str) -> Engine:
    e = Engine(ManualClock(), config={"save": "", **config})
    s = e.session()
    for cmd in SCRIPT:
        s.execute(*cmd)
    return e


def _image(e: Engine) -> bytes:
    return rdbfmt.write_rdb(e)


def test_file_layout():
    e = _engine()
    data = _image(e)
    assert data.startswith(b"REDIS0010\xfa\tredis-ver\x067.0.15\xfa\nredis-bits\xc0\x40")
    assert b"\xfa\x08aof-base\xc0\x00" in data
    assert data[-9] == 0xFF
    assert crc64(data[:-8]).to_bytes(8, "little") == data[-8:]
    ds = rdbfmt.read_rdb(data)
    assert ds.aux[b"redis-ver"] == b"7.0.15"
    assert ds.aux[b"ctime"] == b"%d" % (e.clock.time_ms() // 1000)
    assert set(ds.dbs) == {0, 3}
    assert ds.dbs[3].data == {b"in3": b"three"}
    assert ds.dbs[0].expires == {b"ttl": e.now_ms() + 50000}
    assert ds.end == len(data)


def test_round_trip_every_type_and_encoding():
    e = _engine()
    ds = rdbfmt.read_rdb(_image(e))
    fresh = Engine(ManualClock(), config={"save": ""})
    from redislab.engine.persistence.manager import install

    install(fresh, ds)
    a, b = e.session(), fresh.session()
    for key in e.dbs[0].data:
        assert a.execute("TYPE", key) == b.execute("TYPE", key)
        assert a.execute("OBJECT", "ENCODING", key) == b.execute("OBJECT", "ENCODING", key) \
            or key == b"raw"
        if a.execute("OBJECT", "ENCODING", key) == b"hashtable":
            # A hash table's order is not defined (random in Redis, hash-seeded in Python):
            # compare the contents, not the bytes.
            read = "SMEMBERS" if a.execute("TYPE", key) == "set" else "HGETALL"
            assert sorted(map(repr, a.execute(read, key))) == \
                sorted(map(repr, b.execute(read, key)))
        else:
            assert a.execute("DUMP", key) == b.execute("DUMP", key)
    assert b.execute("OBJECT", "ENCODING", "raw") == b"int"  # "123" re-encoded
    assert b.execute("XPENDING", "x", "grp")[0] == 1
    assert b.execute("PTTL", "ttl") == 50000


def test_expired_keys_are_dropped_on_load_but_kept_in_a_preamble():
    e = _engine()
    data = _image(e)
    later = e.now_ms() + 60000
    ds = rdbfmt.read_rdb(data, now_ms=later)
    assert b"ttl" not in ds.dbs[0].data and ds.keys_expired == 1
    ds = rdbfmt.read_rdb(data, now_ms=None)
    assert b"ttl" in ds.dbs[0].data


def test_lru_and_lfu_opcodes():
    e = _engine(**{"maxmemory-policy": "allkeys-lru"})
    e.advance(100)
    data = _image(e)
    ds = rdbfmt.read_rdb(data)
    assert ds.dbs[0].idle[b"s"] == 100
    e2 = _engine(**{"maxmemory-policy": "allkeys-lfu"})
    ds = rdbfmt.read_rdb(_image(e2))
    assert set(ds.dbs[0].freq.values()) <= set(range(256))
    assert not ds.dbs[0].idle


def test_functions_are_saved_and_loaded():
    e = _engine()
    s = e.session()
    code = "#!lua name=mylib\nredis.register_function('myfunc', function() return 1 end)"
    assert s.execute("FUNCTION", "LOAD", code) == b"mylib"
    ds = rdbfmt.read_rdb(_image(e))
    assert ds.functions == [code.encode()]
    e.session().execute("SAVE")
    e2 = e.crash("process")
    assert e2.session().execute("FCALL", "myfunc", "0") == 1


def test_no_compression_and_no_checksum():
    e = _engine(rdbcompression="no", rdbchecksum="no")
    data = _image(e)
    assert data[-8:] == bytes(8)
    assert b"x" * 300 in data
    assert rdbfmt.read_rdb(data).dbs[0].data[b"big"] == b"x" * 300


# ------------------------------------------------------------------------------------------
# Building files by hand (older types and hostile content)


def _file(*records: bytes, version: int = 10, crc: bool = True) -> bytes:
    body = b"REDIS%04d" % version + b"".join(records) + b"\xff"
    return body + (crc64(body) if crc else 0).to_bytes(8, "little")


def _key(rtype: int, key: bytes, payload: bytes) -> bytes:
    return bytes((rtype,)) + encode_string(key) + payload


def _only(data: bytes):  # type: ignore[no-untyped-def]
    ds = rdbfmt.read_rdb(data)
    (key, value), = ds.dbs[0].data.items()
    return value


def test_legacy_types_load_and_convert():
    zl = ziplist_pack([b"a", b"12", b"x" * 100])
    v = _only(_file(_key(10, b"k", encode_string(zl))))
    assert list(v) == [b"a", b"12", b"x" * 100]
    v = _only(_file(_key(14, b"k", encode_length(2) + encode_string(zl)
                         + encode_string(ziplist_pack([b"z"])))))
    assert list(v) == [b"a", b"12", b"x" * 100, b"z"]
    v = _only(_file(_key(9, b"k", encode_string(zipmap_pack([(b"f", b"v"), (b"g", b"7")])))))
    assert dict(v) == {b"f": b"v", b"g": b"7"} and v.encoding == "listpack"
    v = _only(_file(_key(13, b"k", encode_string(ziplist_pack([b"f", b"v", b"n", b"1"])))))
    assert dict(v) == {b"f": b"v", b"n": b"1"}
    v = _only(_file(_key(12, b"k", encode_string(ziplist_pack([b"m", b"1.5", b"n", b"2"])))))
    assert v.scores == {b"m": 1.5, b"n": 2.0} and v.encoding == "listpack"
    # Old linked list and text-score zset.
    v = _only(_file(_key(1, b"k", encode_length(2) + encode_string(b"a") + encode_string(b"b"))))
    assert list(v) == [b"a", b"b"]
    v = _only(_file(_key(3, b"k", encode_length(2) + encode_string(b"a") + b"\x031.5"
                         + encode_string(b"b") + b"\xfe")))
    assert v.scores == {b"a": 1.5, b"b": float("inf")}
    # Old 4-byte expire time in seconds, older RDB versions.
    data = _file(b"\xfd" + (2000000000).to_bytes(4, "little") + _key(0, b"k", b"\x01v"),
                 version=6)
    assert rdbfmt.read_rdb(data).dbs[0].expires == {b"k": 2000000000000}


def test_stream_v1_loads():
    e = _engine()
    s = e.session()
    s.execute("XADD", "v1", "5-1", "a", "1")
    s.execute("XADD", "v1", "5-2", "a", "2")
    s.execute("XGROUP", "CREATE", "v1", "g", "5-1")
    stream = e.dbs[0].data[b"v1"]
    node = stream.nodes[0]
    body = (encode_length(1) + encode_string(rdbfmt._raw_id(node.master_id))
            + encode_string(rdbfmt.stream_node_listpack(node)) + encode_length(2)
            + encode_length(5) + encode_length(2) + encode_length(1)
            + encode_string(b"g") + encode_length(5) + encode_length(1)
            + encode_length(0) + encode_length(0))
    v = _only(_file(_key(15, b"v1", body)))
    assert v.length == 2 and v.entries_added == 2 and v.first_id == (5, 1)
    assert v.groups[b"g"].entries_read == 1


def test_sets_repick_on_load():
    members = b"".join(encode_string(m) for m in (b"1", b"2", b"3"))
    v = _only(_file(_key(2, b"k", encode_length(3) + members)))
    assert v.encoding == "intset"
    blob = intset.pack(range(600))
    assert _only(_file(_key(11, b"k", encode_string(blob)))).encoding == "hashtable"
    lp = listpack.pack([b"f%d" % i if j == 0 else b"v" for i in range(600) for j in (0, 1)])
    assert _only(_file(_key(16, b"k", encode_string(lp)))).encoding == "hashtable"


@pytest.mark.parametrize("records,message", [
    ([b"\x00"], "Unknown RDB string encoding"),
    ([_key(0, b"k", b"\x81" + (2**60).to_bytes(8, "big"))], "Unexpected EOF"),
    ([_key(2, b"k", b"\x81" + (2**60).to_bytes(8, "big"))], "Unexpected EOF"),
    ([_key(0, b"k", b"\xc3\x05\x7f\x00")], "Invalid LZF"),
    ([b"\x08\x01k\x01v"], "Unknown RDB encoding type 8"),
    ([b"\xf7"], "module"),
    ([_key(7, b"k", b"\x00")], "module"),
    ([b"\xf6"], "Pre-release function format"),
    ([b"\xfe\x20"], "more than 16 databases"),
    ([_key(0, b"k", b"\x01v"), _key(0, b"k", b"\x01w")], "Duplicated key"),
    ([_key(11, b"k", encode_string(b"\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00"))],
     "Intset integrity"),
    ([_key(16, b"k", encode_string(listpack.pack([b"f"])))], "odd number"),
    ([_key(16, b"k", encode_string(listpack.pack([b"f", b"v", b"f", b"w"])))],
     "Duplicate hash fields"),
    ([_key(17, b"k", encode_string(listpack.pack([b"m", b"abc"])))], "not a number"),
    ([_key(17, b"k", encode_string(listpack.pack([b"m", b"nan"])))], "NAN"),
    ([_key(5, b"k", encode_length(1) + b"\x01m" + b"\x00" * 6 + b"\xf8\x7f")], "NAN"),
    ([_key(2, b"k", encode_length(2) + b"\x01a\x01a")], "Duplicate set members"),
    ([_key(18, b"k", encode_length(1) + b"\x03" + encode_string(b"abc"))], "Quicklist"),
    ([_key(19, b"k", encode_length(1) + encode_string(b"short") + encode_string(b"x"))],
     "not the size of a stream ID"),
    ([_key(16, b"k", b"\x40")], "Unexpected EOF"),
    ([b"\xfa\x01a"], "Unknown RDB string encoding"),
    ([b"\x00\x01k\x82"], "Unknown length encoding"),
])
def test_hostile_files_fail_with_one_line(records, message):
    with pytest.raises(RDBError) as info:
        rdbfmt.read_rdb(_file(*records))
    text = str(info.value)
    assert message in text and "\n" not in text


def test_signature_version_and_checksum():
    with pytest.raises(RDBError, match="Wrong signature"):
        rdbfmt.read_rdb(b"RADIS0010")
    with pytest.raises(RDBError, match="Can't handle RDB format version 11"):
        rdbfmt.read_rdb(_file(version=11))
    good = _file(_key(0, b"k", b"\x01v"))
    bad = good[:-1] + bytes([good[-1] ^ 1])
    with pytest.raises(RDBError, match="Wrong RDB checksum"):
        rdbfmt.read_rdb(bad)
    assert rdbfmt.read_rdb(bad, check_crc=False).keys_loaded == 1
    assert rdbfmt.read_rdb(_file(_key(0, b"k", b"\x01v"), crc=False)).keys_loaded == 1


def test_empty_collections_are_skipped():
    ds = rdbfmt.read_rdb(_file(_key(2, b"k", encode_length(0)), _key(0, b"s", b"\x01v")))
    assert ds.empty_skipped == 1 and list(ds.dbs[0].data) == [b"s"]


def test_every_truncation_and_random_damage_fails_cleanly():
    e = _engine()
    data = _image(e)
    for cut in range(len(data)):
        with pytest.raises(RDBError):
            rdbfmt.read_rdb(data[:cut])
    rng = random.Random(11)
    for _ in range(1500):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(9, len(damaged))] = rng.randrange(256)
        try:
            rdbfmt.read_rdb(bytes(damaged), check_crc=False)
        except RDBError as err:
            assert "\n" not in str(err)


def test_legacy_decoders_reject_garbage():
    with pytest.raises(LegacyFormatError):
        ziplist_entries(b"\x0b\x00\x00\x00\x0a\x00\x00\x00\x00\x00\x00")
    good = ziplist_pack([b"a", b"b"])
    rng = random.Random(3)
    for _ in range(500):
        blob = bytearray(good)
        blob[rng.randrange(len(blob))] = rng.randrange(256)
        try:
            ziplist_entries(bytes(blob))
        except LegacyFormatError:
            pass
    with pytest.raises(LegacyFormatError):
        zipmap_pairs(b"\x01\x05ab")
    assert zipmap_pairs(zipmap_pack([(b"a" * 300, b"b")])) == [(b"a" * 300, b"b")]


def test_quicklist_layout_follows_fill():
    items = [b"x" * 100] * 200
    nodes = rdbfmt.quicklist_nodes(items, -2)
    assert all(c == rdbfmt.QUICKLIST_PACKED for c, _ in nodes)
    assert sum(len(n) for _, n in nodes) == 200
    assert all(len(listpack.pack(n)) <= 8192 for _, n in nodes)
    assert [len(n) for _, n in rdbfmt.quicklist_nodes([b"a"] * 10, 4)] == [4, 4, 2]
    assert [len(n) for _, n in rdbfmt.quicklist_nodes([b"a"] * 3, -9)] == [3]


def _payloads() -> dict[bytes, bytes]:
    e = _engine()
    s = e.session()
    s.execute("XADD", "x", "3-0", "other", "1")
    s.execute("XDEL", "x", "2-1")
    s.execute("XGROUP", "CREATECONSUMER", "x", "grp", "idle")
    return {key: rdbfmt.dump_payload(value) for key, value in e.dbs[0].data.items()}


def test_damaged_payloads_of_every_type_fail_cleanly():
    rng = random.Random(5)
    for key, payload in _payloads().items():
        body = payload[:-10]
        for cut in range(1, len(body)):
            try:
                rdbfmt.read_payload(body[:cut])
            except RDBError:
                pass
        for _ in range(300):
            damaged = bytearray(body)
            for _ in range(rng.randint(1, 3)):
                damaged[rng.randrange(1, len(damaged))] = rng.randrange(256)
            try:
                rdbfmt.read_payload(bytes(damaged))
            except RDBError as err:
                assert "\n" not in str(err), key


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

members = st.one_of(st.binary(max_size=80), st.integers(-(2**63), 2**63 - 1).map(
    lambda v: b"%d" % v))


@settings(max_examples=60, deadline=None)
@given(st.lists(members, max_size=150), st.lists(members, max_size=150, unique=True),
       st.dictionaries(members, st.binary(max_size=80), max_size=100),
       st.dictionaries(members, st.floats(allow_nan=False), max_size=150))
def test_random_values_round_trip(items, set_members, fields, scores):
    e = Engine(ManualClock(), config={"save": ""})
    s = e.session()
    if items:
        s.execute("RPUSH", "l", *items)
    if set_members:
        s.execute("SADD", "s", *set_members)
    if fields:
        s.execute("HSET", "h", *[x for kv in fields.items() for x in kv])
    if scores:
        s.execute("ZADD", "z", *[x for m, sc in scores.items() for x in (repr(sc), m)])
    for key, value in list(e.dbs[0].data.items()):
        payload = s.execute("DUMP", key)
        assert rdbfmt.verify_payload(payload)
        back = rdbfmt.read_payload(payload)
        assert s.execute("RESTORE", key + b":copy", "0", payload) == "OK"
        if key == b"l":
            assert list(back) == items
        elif key == b"s":
            assert back == set(set_members)
            assert s.execute("SCARD", b"s:copy") == len(set_members)
        elif key == b"h":
            assert dict(back) == fields
        else:
            assert back.scores == {m: sc + 0.0 for m, sc in scores.items()}
            assert s.execute("ZRANGE", "z:copy", "0", "-1", "WITHSCORES") == \
                s.execute("ZRANGE", "z", "0", "-1", "WITHSCORES")
