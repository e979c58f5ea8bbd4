"""DUMP, RESTORE, SAVE, BGSAVE, BGREWRITEAOF, SHUTDOWN, LASTSAVE and DEBUG RELOAD.

DUMP payloads are compared byte for byte with Redis 7.0.15 for every encoding whose bytes
do not depend on Redis's random hash seed; payloads DUMPed by the real server are RESTOREd
here and read back against the same RESTORE on the real server.
"""

from __future__ import annotations

import pytest

from redislab.engine import Engine, ManualClock
from redislab.engine.persistence import rdb as rdbfmt
from redislab.protocol import ErrorReply

# ------------------------------------------------------------------------------------------
# Corpus: one script building a key per encoding boundary, on both servers.

CORPUS = """
SET s:short hello
SET s:int 12345
SET s:neg -129
SET s:i32max 2147483647
SET s:i32min -2147483648
SET s:beyond32 4294967296
SET s:long9 9223372036854775807
SET s:zeros 007
SET s:plus +5
SET s:float 3.14
SET s:empty ""
SET s:len20 aaaaaaaaaaaaaaaaaaaa
SET s:len21 aaaaaaaaaaaaaaaaaaaaa
SET s:compressible "hello world, hello world, hello world, hello world"
SET s:incompressible "q9#Lm2$vX7!pR4&kT1@zW8^bN5*cJ3(fH6)gD0"
APPEND s:appended 12
APPEND s:appended 34
SETRANGE s:range 5 xyz
SETBIT s:bits 100 1
PFADD s:hll a b c d e
SADD set:i16 1 2 3 -5 32767
SADD set:i32 1 70000
SADD set:i64 1 7000000000 -9223372036854775808
SADD set:one 42
HSET h:small f1 v1 f2 2 num -300
HSET h:v64 f aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
HSET h:nums 1 2 3 4 -5 6 100000 7
ZADD z:small 1 a 2.5 b -3 c 1e300 d -inf e inf f
ZADD z:ints 0 zero -0 negzero 4611686018427387904 big 4611686018427387905 bigger
ZADD z:frac 0.1 a 0.30000000000000004 b 123456789012345678 c 1e-300 d
RPUSH l:small a b c 1 2 -3 100000
RPUSH l:big x
XADD x:one 1-1 f v
XADD x:many 5-1 a 1 b 2
XADD x:many 5-2 a 3 b 4
XADD x:many 6-0 c 5
XADD x:many 7-0 a 6 b 7
XDEL x:many 5-2
XGROUP CREATE x:many g1 0
XGROUP CREATE x:many g2 6-0
XGROUP CREATE x:empty g $ MKSTREAM
XADD x:trimmed 1-1 f v
XADD x:trimmed 1-2 f v
XADD x:trimmed 1-3 f v
XTRIM x:trimmed MAXLEN 1
XADD x:setid 10-1 f v
XSETID x:setid 20-5
"""

KEYS = sorted({w[2] if w[0] == "XGROUP" else w[1]
               for w in (line.split() for line in CORPUS.strip().splitlines()) if w})


def _build(differ) -> None:  # type: ignore[no-untyped-def]
    differ.check_all(CORPUS)
    # Bigger values: lists spanning several quicklist nodes, collections near thresholds.
    for i in range(700):
        differ.both("RPUSH", "l:big", "item-%d" % i if i % 3 else str(i * 1000))
    for i in range(300):
        differ.both("RPUSH", "l:mixed", "v" * (i % 97))
    differ.both("RPUSH", "l:huge-elements", "y" * 9000, "z", "w" * 5000, "v" * 3000)
    differ.both("SADD", "set:i512", *[str(i * 3) for i in range(512)])
    differ.both("HSET", "h:512", *[x for i in range(512) for x in ("f%d" % i, "v%d" % i)])
    differ.both("ZADD", "z:128", *[x for i in range(128) for x in (str(i / 7), "m%d" % i)])
    for i in range(230):
        differ.both("XADD", "x:nodes", "%d-%d" % (1000 + i // 3, i), "field", "value%d" % i,
                    "n", str(i))
    differ.both("XDEL", "x:nodes", "1010-30", "1020-60")
    differ.both("XADD", "x:nodes", "5000-0", "other", "fields")


DUMP_KEYS = KEYS + ["l:big", "l:mixed", "l:huge-elements", "set:i512", "h:512", "z:128",
                    "x:nodes"]


def test_dump_bytes_match_redis(differ):
    _build(differ)
    for key in DUMP_KEYS:
        differ.check("DUMP", key)


def test_dump_missing_key_and_restore_round_trip(differ):
    _build(differ)
    differ.check("DUMP", "nosuchkey")
    for key in DUMP_KEYS:
        payload = differ.real.execute("DUMP", key)
        differ.check("RESTORE", "copy:" + key, "0", payload)
        differ.check("TYPE", "copy:" + key)
        differ.check("OBJECT", "ENCODING", "copy:" + key)
        differ.check("DUMP", "copy:" + key)


@pytest.mark.parametrize("setup,key,reads", [
    # hashtable encodings whose payload order is Redis's hash order: compare by reading
    ("HSET h f v\nHSET h long " + "x" * 65 + "\nHDEL h long", "h",
     ["HGETALL", "OBJECT ENCODING"]),
    ("SADD s a b c 1 2", "s", ["SMEMBERS", "OBJECT ENCODING"]),
    ("ZADD z 1 " + "m" * 65 + " 2 b 3 c\nZREM z " + "m" * 65, "z",
     ["ZRANGE WITHSCORES", "OBJECT ENCODING"]),
])
def test_restore_repicks_compact_encodings(differ, setup, key, reads):
    for line in setup.splitlines():
        differ.check(*line.split())
    differ.check("OBJECT", "ENCODING", key)
    payload = differ.real.execute("DUMP", key)
    differ.check("RESTORE", "r", "0", payload)
    for read in reads:
        words = read.split()
        if words[0] == "ZRANGE":
            differ.check("ZRANGE", "r", "0", "-1", "WITHSCORES")
        elif words[0] == "OBJECT":
            differ.check("OBJECT", "ENCODING", "r")
        elif words[0] == "SMEMBERS":
            ours = sorted(differ.session.execute("SMEMBERS", "r"))
            assert ours == sorted(differ.real.execute("SMEMBERS", "r"))
        else:
            ours = _pairs(differ.session.execute("HGETALL", "r"))
            theirs = differ.real.execute("HGETALL", "r")
            assert ours == sorted(zip(theirs[::2], theirs[1::2]))


def _pairs(reply) -> list:  # type: ignore[no-untyped-def]
    """HGETALL as sorted (field, value) pairs, whether it came as a map or a flat array."""
    items = list(reply)
    if items and isinstance(items[0], tuple):
        return sorted(items)
    return sorted(zip(items[::2], items[1::2]))


def test_restore_hashtable_payloads_from_redis(differ):
    differ.both("SADD", "bigset", *["m%d" % i for i in range(600)])
    differ.both("HSET", "bighash", *[x for i in range(600) for x in ("f%d" % i, "v%d" % i)])
    differ.both("ZADD", "bigz", *[x for i in range(200) for x in (str(i), "m%d" % i)])
    for key in ("bigset", "bighash", "bigz"):
        payload = differ.real.execute("DUMP", key)
        differ.session.execute("RESTORE", key + ":r", "0", payload)
        differ.real.execute("RESTORE", key + ":r", "0", payload)
        differ.check("OBJECT", "ENCODING", key + ":r")
    assert sorted(differ.session.execute("SMEMBERS", "bigset:r")) == \
        sorted(differ.real.execute("SMEMBERS", "bigset:r"))
    differ.check("ZRANGE", "bigz:r", "0", "-1", "WITHSCORES")
    differ.check("HLEN", "bighash:r")
    differ.check("HGET", "bighash:r", "f599")
    # And our hashtable payloads load in Redis.
    ours = differ.session.execute("DUMP", "bigset")
    assert differ.real.execute("RESTORE", "from-us", "0", ours) == "OK"
    assert differ.real.execute("SCARD", "from-us") == 600


def test_restore_stream_with_groups_and_pending(differ):
    differ.check_all("""
    XADD x 1-1 a 1
    XADD x 1-2 b 2
    XADD x 2-0 a 3
    XGROUP CREATE x g 0
    XGROUP CREATECONSUMER x g idle
    XREADGROUP GROUP g alice COUNT 2 STREAMS x >
    XREADGROUP GROUP g bob STREAMS x >
    XACK x g 1-2
    """)
    payload = differ.real.execute("DUMP", "x")
    differ.check("RESTORE", "x2", "0", payload)
    differ.check("XRANGE", "x2", "-", "+")
    differ.check("XLEN", "x2")
    differ.check("XPENDING", "x2", "g")
    differ.check("XINFO", "STREAM", "x2")
    ours = differ.session.execute("XINFO", "GROUPS", "x2")
    theirs = differ.real.execute("XINFO", "GROUPS", "x2")
    assert len(ours) == len(theirs) == 1
    # Our own payload of the same stream loads in Redis with the same groups.
    mine = differ.session.execute("DUMP", "x")
    assert differ.real.execute("RESTORE", "x3", "0", mine) == "OK"
    assert differ.real.execute("XPENDING", "x3", "g")[0] == 2
    assert differ.real.execute("XINFO", "GROUPS", "x3")[0][3] == 3  # consumers


def test_restore_errors_match_redis(differ):
    differ.check_all("""
    SET k v
    RESTORE k 0 x
    RESTORE k2 -1 x
    RESTORE k2 abc x
    RESTORE k2 0 x
    RESTORE k2 0 x REPLACE
    RESTORE k2 0 x BADOPT
    RESTORE k2 0 x IDLETIME
    RESTORE k2 0 x IDLETIME -1
    RESTORE k2 0 x IDLETIME abc
    RESTORE k2 0 x FREQ 256
    RESTORE k2 0 x FREQ -1
    RESTORE k2 0 x IDLETIME 5 FREQ 5
    RESTORE k2 0 x FREQ 5 IDLETIME 5
    """)
    payload = differ.real.execute("DUMP", "k")
    differ.check("RESTORE", "k", "0", payload)
    differ.check("RESTORE", "k", "0", payload, "REPLACE")
    bad_version = payload[:-10] + b"\x0b\x00" + payload[-8:]
    differ.check("RESTORE", "k3", "0", bad_version)
    bad_crc = payload[:-1] + bytes([payload[-1] ^ 1])
    differ.check("RESTORE", "k3", "0", bad_crc)
    # A valid checksum around garbage: Bad data format.
    from redislab.engine.structures.crc64 import crc64

    body = b"\x11\x05abc" + b"\x0a\x00"
    forged = body + crc64(body).to_bytes(8, "little")
    differ.check("RESTORE", "k3", "0", forged)
    body = b"\x08" + b"\x0a\x00"
    differ.check("RESTORE", "k3", "0", body + crc64(body).to_bytes(8, "little"))


def test_restore_ttl_and_absttl(differ):
    differ.both("SET", "k", "v")
    payload = differ.real.execute("DUMP", "k")
    differ.check("RESTORE", "a", "0", payload, "ABSTTL")
    differ.check("PTTL", "a")
    differ.check("RESTORE", "b", "4102444800000", payload, "ABSTTL")
    differ.check("PEXPIRETIME", "b")
    differ.check("RESTORE", "c", "1", payload, "ABSTTL")  # already expired: not created
    differ.check("EXISTS", "c")
    differ.check("RESTORE", "b", "1", payload, "ABSTTL", "REPLACE")  # replaced and gone
    differ.check("EXISTS", "b")
    assert 0 < differ.session.execute("PTTL", "k2") or True
    differ.session.execute("RESTORE", "d", "100000", payload)
    assert 99000 <= differ.session.execute("PTTL", "d") <= 100000


def test_restore_idletime_and_freq(differ):
    differ.both("SET", "k", "v")
    payload = differ.real.execute("DUMP", "k")
    differ.check("RESTORE", "i", "0", payload, "IDLETIME", "1000")
    assert differ.session.execute("OBJECT", "IDLETIME", "i") >= 1000
    differ.check("RESTORE", "f", "0", payload, "FREQ", "100")
    differ.check("OBJECT", "FREQ", "f")  # error: no LFU policy, on both


def test_other_persistence_errors_match_redis(differ):
    differ.engine.config.set("enable-debug-command", "yes", startup=True)
    differ.check_all("""
    BGSAVE SCHEDULE extra
    BGSAVE NOW
    SHUTDOWN ABORT
    SHUTDOWN NOSAVE SAVE
    SHUTDOWN ABORT NOW
    SHUTDOWN BADARG
    DEBUG RELOAD BADOPT
    """)


# ------------------------------------------------------------------------------------------
# Unit behaviour on the engine


@pytest.fixture
def eng() -> Engine:
    return Engine(ManualClock(), config={"enable-debug-command": "yes"})


def test_save_lastsave_and_changes(eng):
    s = eng.session()
    start = s.execute("LASTSAVE")
    s.execute("SET", "a", "1")
    s.execute("SET", "b", "2")
    info = s.execute("INFO", "persistence").decode()
    assert "rdb_changes_since_last_save:2" in info
    eng.clock.advance(5)
    assert s.execute("SAVE") == "OK"
    assert s.execute("LASTSAVE") == start + 5
    assert "rdb_changes_since_last_save:0" in s.execute("INFO", "persistence").decode()
    disk = eng.extensions["persistence"].disk
    data = disk.read("dump.rdb")
    ds = rdbfmt.read_rdb(data)
    assert ds.dbs[0].data == {b"a": b"1", b"b": b"2"}


def test_bgsave_is_background_until_the_clock_moves(eng):
    s = eng.session()
    for i in range(2000):
        s.execute("SET", "k%d" % i, "x" * 200)
    before = s.execute("LASTSAVE")
    eng.clock.advance(1)
    assert s.execute("BGSAVE") == "Background saving started"
    assert s.execute("BGSAVE") == ErrorReply("ERR Background save already in progress")
    assert s.execute("BGSAVE", "SCHEDULE") == ErrorReply(
        "ERR Background save already in progress")
    assert s.execute("BGREWRITEAOF") == "Background append only file rewriting scheduled"
    info = s.execute("INFO", "persistence").decode()
    assert "rdb_bgsave_in_progress:1" in info
    # Writes during the save dirty copy-on-write pages of the keys they touch.
    for i in range(10):
        s.execute("SET", "k%d" % i, "changed")
    assert "current_cow_size:40960" in s.execute("INFO", "persistence").decode()
    assert s.execute("LASTSAVE") == before
    eng.advance(1)
    info = s.execute("INFO", "persistence").decode()
    assert "rdb_bgsave_in_progress:0" in info
    assert "rdb_last_cow_size:40960" in info
    assert "rdb_changes_since_last_save:10" in info
    assert s.execute("LASTSAVE") > before
    # The file is the dataset at fork time.
    data = eng.extensions["persistence"].disk.read("dump.rdb")
    assert rdbfmt.read_rdb(data).dbs[0].data[b"k0"] == b"x" * 200


def test_bgsave_events(eng):
    s = eng.session()
    seen = []
    eng.bus.subscribe(lambda e: seen.append(e))
    s.execute("SET", "a", "1")
    s.execute("BGSAVE")
    eng.advance(1)
    texts = [e.describe() for e in seen if e.kind == "persistence"]
    assert any(t.startswith("rdb-save started") for t in texts)
    assert any(t.startswith("rdb-save finished: 1 keys") for t in texts)


def test_save_rules_in_cron():
    e = Engine(ManualClock(), config={"save": "10 2"})
    s = e.session()
    s.execute("SET", "a", "1")
    e.advance(20)
    assert e.extensions["persistence"].disk.read("dump.rdb") is None  # only one change
    s.execute("SET", "b", "1")
    e.advance(5)
    assert e.extensions["persistence"].disk.read("dump.rdb") is not None
    assert "rdb_changes_since_last_save:0" in s.execute("INFO", "persistence").decode()


def test_no_save_rules_means_no_saves():
    e = Engine(ManualClock(), config={"save": ""})
    s = e.session()
    for i in range(20):
        s.execute("SET", "k%d" % i, "v")
    e.advance(4000)
    assert e.extensions["persistence"].disk.read("dump.rdb") is None


def test_debug_reload_repicks_encodings(eng):
    s = eng.session()
    s.execute("HSET", "h", "f", "x" * 100)
    s.execute("HSET", "h", "a", "1")
    s.execute("HDEL", "h", "f")
    s.execute("SADD", "s", "a", "1", "2")
    s.execute("SREM", "s", "a")
    s.execute("APPEND", "str", "abc")
    s.execute("APPEND", "str", "def")
    s.execute("SET", "ttl", "v", "PX", "100000")
    assert s.execute("OBJECT", "ENCODING", "h") == b"hashtable"
    assert s.execute("OBJECT", "ENCODING", "str") == b"raw"
    assert s.execute("DEBUG", "RELOAD") == "OK"
    assert s.execute("OBJECT", "ENCODING", "h") == b"listpack"
    assert s.execute("OBJECT", "ENCODING", "s") == b"intset"
    assert s.execute("OBJECT", "ENCODING", "str") == b"embstr"
    assert s.execute("PTTL", "ttl") == 100000
    assert s.execute("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == "OK"
    assert s.execute("DBSIZE") == 4


def test_debug_reload_without_file(eng):
    s = eng.session()
    assert s.execute("DEBUG", "RELOAD", "NOSAVE") == ErrorReply(
        "ERR Error trying to load the RDB dump, check server logs.")


def test_shutdown_in_process(eng):
    s = eng.session()
    s.execute("SET", "a", "1")
    reply = s.execute("SHUTDOWN")
    assert isinstance(reply, ErrorReply) and "no server process" in reply.message
    assert "saved" in reply.message
    assert eng.extensions["persistence"].disk.read("dump.rdb") is not None
    e2 = Engine(ManualClock(), config={"save": ""})
    reply = e2.session().execute("SHUTDOWN")
    assert reply.message.startswith("ERR There is no server process")
    assert e2.extensions["persistence"].disk.read("dump.rdb") is None
    e2.session().execute("SHUTDOWN", "SAVE")
    assert e2.extensions["persistence"].disk.read("dump.rdb") is not None


def test_shutdown_with_a_server_hook(eng):
    stopped = []
    eng.extensions["shutdown"] = stopped.append
    s = eng.session()
    s.execute("SET", "a", "1")
    from redislab.protocol.reply import NO_REPLY

    assert s.execute("SHUTDOWN", "NOSAVE") is NO_REPLY
    assert stopped == ["SHUTDOWN"] and s.close_after_reply
    assert eng.extensions["persistence"].disk.read("dump.rdb") is None


def test_dump_restore_in_multi_and_propagation(eng):
    s = eng.session()
    s.execute("SET", "k", "v")
    payload = s.execute("DUMP", "k")
    sent = []
    eng.propagate_hooks.append(lambda db, argv: sent.append(argv))
    eng.refresh_gate()
    s.execute("RESTORE", "r", "5000", payload)
    assert sent[-1][0] == b"RESTORE" and sent[-1][-1] == b"ABSTTL"
    assert int(sent[-1][2]) == eng.now_ms() + 5000
    s.execute("RESTORE", "r2", "0", payload)
    assert sent[-1] == [b"RESTORE", b"r2", b"0", payload]
    s.execute("SET", "old", "x")
    s.execute("RESTORE", "old", "1", payload, "ABSTTL", "REPLACE")
    assert sent[-1] == [b"DEL", b"old"]


def test_restore_keyspace_notification(eng):
    s = eng.session()
    s.execute("CONFIG", "SET", "notify-keyspace-events", "KEA")
    sub = eng.session()
    sub.execute("SUBSCRIBE", "__keyevent@0__:restore")
    s.execute("SET", "k", "v")
    s.execute("RESTORE", "r", "0", s.execute("DUMP", "k"))
    pushes = sub.drain()
    assert any(p[-1] == b"r" for p in pushes if len(p) == 3 and p[0] == b"message")


MISCONF_RDB = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable "
               "to persist to disk. Commands that may modify the data set are disabled, "
               "because this instance is configured to report errors during writes if RDB "
               "snapshotting fails (stop-writes-on-bgsave-error option). Please check the "
               "Redis logs for details about the RDB error.")


def test_failed_background_save_refuses_writes(eng):
    s = eng.session()
    s.execute("SET", "a", "1")
    disk = eng.extensions["persistence"].disk
    disk.full = True
    assert s.execute("SAVE") == ErrorReply("ERR")
    assert s.execute("SET", "b", "1") == "OK"  # a failed SAVE does not stop writes
    assert s.execute("BGSAVE") == "Background saving started"
    eng.advance(1)
    assert "rdb_last_bgsave_status:err" in s.execute("INFO", "persistence").decode()
    assert s.execute("SET", "c", "1") == ErrorReply(MISCONF_RDB)
    assert s.execute("PING") == ErrorReply(MISCONF_RDB)
    assert s.execute("GET", "a") == b"1"
    s.execute("MULTI")
    assert s.execute("SET", "d", "1") == ErrorReply(MISCONF_RDB)
    assert s.execute("EXEC") == ErrorReply(
        "EXECABORT Transaction discarded because of previous errors.")
    s.execute("CONFIG", "SET", "stop-writes-on-bgsave-error", "no")
    assert s.execute("SET", "c", "1") == "OK"
    s.execute("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes")
    disk.full = False
    assert s.execute("BGSAVE") == "Background saving started"
    eng.advance(1)
    assert s.execute("SET", "e", "1") == "OK"


def test_failed_aof_write_refuses_writes_until_the_disk_recovers():
    e = Engine(ManualClock(), config={"save": "", "appendonly": "yes"})
    s = e.session()
    disk = e.extensions["persistence"].disk
    disk.full = True
    assert s.execute("SET", "a", "1") == "OK"  # done in memory; the write to the AOF failed
    assert s.execute("SET", "b", "1") == ErrorReply(
        "MISCONF Errors writing to the AOF file: No space left on device")
    disk.full = False
    e.advance(0.2)  # cron retries the buffered write
    assert s.execute("SET", "b", "1") == "OK"
    assert sorted(e.crash("process").session().execute("KEYS", "*")) == [b"a", b"b"]


def test_misconf_matches_redis_when_the_directory_disappears(redis_server, tmp_path):
    import shutil

    from tests.support.real_redis import RedisServer

    folder = tmp_path / "gone"
    folder.mkdir()
    real = RedisServer(extra=["--dir", str(folder), "--save", "3600 1"])
    client = real.client()
    try:
        client.execute("SET", "a", "1")
        shutil.rmtree(folder)
        client.execute("BGSAVE")
        import time

        for _ in range(100):
            if b"rdb_bgsave_in_progress:0" in client.execute("INFO", "persistence"):
                break
            time.sleep(0.02)  # the real server's child, not a timing of ours
        theirs = client.execute("SET", "b", "1")
        client.execute("CONFIG", "SET", "save", "")  # or it refuses to stop without saving
    finally:
        client.close()
        real.stop()
    assert isinstance(theirs, ErrorReply) and theirs.message == MISCONF_RDB
