"""The multi-part AOF: layout, what gets written, rewrites, loading and its failure modes."""

from __future__ import annotations

import pytest

from redislab.engine import Engine, ManualClock
from redislab.engine.persistence import LoadError
from redislab.engine.persistence.aof import (AOFError, Manifest, encode_command,
                                             parse_manifest, scan_commands)
from redislab.protocol import ErrorReply

DIR = "appendonlydir"
MANIFEST = f"{DIR}/appendonly.aof.manifest"


def _aof_engine(**config: str) -> Engine:
    return Engine(ManualClock(), config={"save": "", "appendonly": "yes", **config})


def _disk(e: Engine):  # type: ignore[no-untyped-def]
    return e.extensions["persistence"].disk


def _incr(e: Engine) -> bytes:
    p = e.extensions["persistence"]
    return p.disk.read(p.aof.incr_name)


def _restart(e: Engine, kind: str = "process") -> Engine:
    return e.crash(kind)


def test_fresh_start_layout():
    e = _aof_engine()
    disk = _disk(e)
    assert sorted(disk.files) == [f"{DIR}/appendonly.aof.1.base.rdb",
                                  f"{DIR}/appendonly.aof.1.incr.aof", MANIFEST]
    assert disk.read(MANIFEST) == (b"file appendonly.aof.1.base.rdb seq 1 type b\n"
                                   b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    base = disk.read(f"{DIR}/appendonly.aof.1.base.rdb")
    assert base.startswith(b"REDIS0010") and b"aof-base\xc0\x01" in base
    info = e.session().execute("INFO", "persistence").decode()
    assert "aof_enabled:1" in info and "aof_current_size:0" in info


def test_commands_selects_and_rewrites_are_logged():
    e = _aof_engine()
    s = e.session()
    s.execute("SET", "a", "1")
    s.execute("set", "b", "2")
    s.execute("SELECT", "3")
    s.execute("EXPIRE", "nokey", "10")  # no change, nothing written
    s.execute("SET", "c", "3", "EX", "100")
    s.execute("GET", "c")
    assert _incr(e) == (encode_command([b"SELECT", b"0"]) + encode_command([b"SET", b"a", b"1"])
                        + encode_command([b"set", b"b", b"2"])
                        + encode_command([b"SELECT", b"3"])
                        + encode_command([b"SET", b"c", b"3", b"PXAT",
                                          b"%d" % (e.now_ms() + 100000)]))


def test_transactions_and_scripts_are_logged_as_their_effects():
    e = _aof_engine()
    s = e.session()
    s.execute("MULTI")
    s.execute("SET", "a", "1")
    s.execute("INCR", "n")
    s.execute("EXEC")
    s.execute("EVAL", "redis.call('SELECT', 2); redis.call('SET', 'x', 'y'); return 1", "0")
    s.execute("SET", "after", "1")
    log = _incr(e)
    expected = (encode_command([b"SELECT", b"0"]) + encode_command([b"MULTI"])
                + encode_command([b"SET", b"a", b"1"]) + encode_command([b"INCR", b"n"])
                + encode_command([b"EXEC"]) + encode_command([b"SELECT", b"2"])
                + encode_command([b"SET", b"x", b"y"]) + encode_command([b"SELECT", b"0"])
                + encode_command([b"SET", b"after", b"1"]))
    assert log == expected
    assert sorted(_restart(e).session().execute("KEYS", "*")) == [b"a", b"after", b"n"]


def test_timestamp_annotations():
    e = _aof_engine(**{"aof-timestamp-enabled": "yes"})
    s = e.session()
    s.execute("SET", "a", "1")
    s.execute("SET", "b", "1")
    e.advance(1)
    s.execute("SET", "c", "1")
    log = _incr(e)
    assert log.count(b"#TS:") == 2 and log.startswith(b"#TS:1700000000\r\n")
    assert sorted(_restart(e).session().execute("KEYS", "*")) == [b"a", b"b", b"c"]


def test_bgrewriteaof_switches_files_and_drops_history():
    e = _aof_engine()
    s = e.session()
    for i in range(50):
        s.execute("SET", "k%d" % i, "v")
    assert s.execute("BGREWRITEAOF") == "Background append only file rewriting started"
    assert s.execute("BGREWRITEAOF") == ErrorReply(
        "ERR Background append only file rewriting already in progress")
    assert s.execute("BGSAVE") == ErrorReply(
        "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE "
        "SCHEDULE in order to schedule a BGSAVE whenever possible.")
    assert s.execute("BGSAVE", "SCHEDULE") == "Background saving scheduled"
    s.execute("SET", "during", "1")
    disk = _disk(e)
    # The new increment exists and is in the manifest from the start.
    assert b"appendonly.aof.2.incr.aof" in disk.read(MANIFEST)
    assert b"during" in disk.read(f"{DIR}/appendonly.aof.2.incr.aof")
    e.advance(1)
    assert disk.read(MANIFEST) == (b"file appendonly.aof.2.base.rdb seq 2 type b\n"
                                   b"file appendonly.aof.2.incr.aof seq 2 type i\n")
    assert sorted(disk.files) == [f"{DIR}/appendonly.aof.2.base.rdb",
                                  f"{DIR}/appendonly.aof.2.incr.aof", MANIFEST, "dump.rdb"]
    info = s.execute("INFO", "persistence").decode()
    assert "aof_rewrites:1" in info and "rdb_saves:1" in info
    assert s.execute("DBSIZE") == _restart(e).session().execute("DBSIZE") == 51


def test_bgrewriteaof_without_aof_writes_a_base_only():
    e = Engine(ManualClock(), config={"save": ""})
    s = e.session()
    s.execute("SET", "a", "1")
    assert s.execute("BGREWRITEAOF") == "Background append only file rewriting started"
    e.advance(1)
    assert _disk(e).read(MANIFEST) == b"file appendonly.aof.1.base.rdb seq 1 type b\n"


def test_rewrite_without_preamble_is_a_command_log():
    e = _aof_engine(**{"aof-use-rdb-preamble": "no"})
    s = e.session()
    s.execute("RPUSH", "l", *[str(i) for i in range(70)])
    s.execute("HSET", "h", "f", "v")
    s.execute("ZADD", "z", "1.5", "m")
    s.execute("SADD", "s", "1", "2")
    s.execute("SET", "t", "v", "PX", "5000")
    s.execute("XADD", "x", "1-1", "f", "v")
    s.execute("XGROUP", "CREATE", "x", "g", "0")
    s.execute("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x", ">")
    s.execute("BGREWRITEAOF")
    e.advance(1)
    base = _disk(e).read(f"{DIR}/appendonly.aof.2.base.aof")
    assert base.startswith(encode_command([b"SELECT", b"0"]))
    assert base.count(b"RPUSH") == 2  # 64 items per command
    assert b"HMSET" in base and b"ZADD" in base and b"PEXPIREAT" in base
    assert b"XSETID" in base and b"XCLAIM" in base
    e2 = _restart(e)
    s2 = e2.session()
    assert s2.execute("LLEN", "l") == 70 and s2.execute("ZSCORE", "z", "m") == 1.5
    assert s2.execute("XPENDING", "x", "g")[0] == 1


def test_config_set_appendonly_starts_with_a_rewrite():
    e = Engine(ManualClock(), config={"save": ""})
    s = e.session()
    s.execute("SET", "before", "1")
    assert s.execute("CONFIG", "SET", "appendonly", "yes") == "OK"
    info = s.execute("INFO", "persistence").decode()
    assert "aof_enabled:1" in info and "aof_rewrite_in_progress:1" in info
    s.execute("SET", "during", "1")
    disk = _disk(e)
    assert b"during" in disk.read(f"{DIR}/temp-appendonly.aof.incr")
    e.advance(1)
    assert disk.read(MANIFEST) == (b"file appendonly.aof.1.base.rdb seq 1 type b\n"
                                   b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    s.execute("SET", "after", "1")
    assert sorted(_restart(e).session().execute("KEYS", "*")) == [b"after", b"before",
                                                                  b"during"]
    assert s.execute("CONFIG", "SET", "appendonly", "no") == "OK"
    assert "aof_enabled:0" in s.execute("INFO", "persistence").decode()


def test_appendonly_at_startup_ignores_the_rdb_file():
    e = Engine(ManualClock(), config={"save": ""})
    s = e.session()
    s.execute("SET", "a", "1")
    s.execute("SAVE")
    s.execute("CONFIG", "SET", "appendonly", "no")
    # Restart with appendonly yes but no AOF yet: Redis starts empty (a classic pitfall).
    e.config.values["appendonly"] = True
    e2 = _restart(e)
    assert e2.session().execute("DBSIZE") == 0


def test_auto_rewrite_on_growth():
    e = _aof_engine(**{"auto-aof-rewrite-min-size": "1kb"})
    s = e.session()
    for i in range(200):
        s.execute("SET", "key", "x" * 20)
    e.advance(1)
    info = s.execute("INFO", "persistence").decode()
    assert "aof_rewrites:1" in info
    assert "aof_base_size:" in info and "aof_current_size:" in info


def test_debug_loadaof():
    e = _aof_engine(**{"enable-debug-command": "yes"})
    s = e.session()
    s.execute("SET", "a", "1")
    e.dbs[0].data[b"ghost"] = b"not in the AOF"
    assert s.execute("DEBUG", "LOADAOF") == "OK"
    assert s.execute("KEYS", "*") == [b"a"]


# ------------------------------------------------------------------------------------------
# Loading problems


def _with_incr(tail: bytes, **config: str) -> Engine:
    e = _aof_engine(**config)
    s = e.session()
    s.execute("SET", "a", "1")
    s.execute("SET", "b", "2")
    disk = _disk(e)
    name = e.extensions["persistence"].aof.incr_name
    disk._append(name, tail)
    return e


def test_truncated_last_file_is_cut_back():
    e = _with_incr(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1")
    seen = []
    e2 = _restart(e)
    del seen
    s = e2.session()
    assert sorted(s.execute("KEYS", "*")) == [b"a", b"b"]
    assert not _incr(e2).endswith(b"$1")


def test_truncated_file_refused_without_aof_load_truncated():
    e = _with_incr(b"*3\r\n$3\r\nSET", **{"aof-load-truncated": "no"})
    with pytest.raises(LoadError, match="Unexpected end of file"):
        _restart(e)


def test_open_multi_at_the_end_is_dropped():
    e = _with_incr(encode_command([b"MULTI"]) + encode_command([b"SET", b"c", b"3"]))
    s = _restart(e).session()
    assert sorted(s.execute("KEYS", "*")) == [b"a", b"b"]


@pytest.mark.parametrize("tail,message", [
    (b"garbage\r\n", "Bad file format"),
    (encode_command([b"NOSUCHCMD", b"x"]), "Unknown command 'NOSUCHCMD'"),
    (b"*0\r\n", "Bad file format"),
    (b"*1\r\n#3\r\nSET\r\n", "Bad file format"),
])
def test_format_errors_refuse_to_load(tail, message):
    e = _with_incr(tail)
    with pytest.raises(LoadError, match=message):
        _restart(e)


def test_missing_listed_file_and_bad_manifest():
    e = _aof_engine()
    _disk(e).remove(f"{DIR}/appendonly.aof.1.incr.aof")
    with pytest.raises(LoadError, match="doesn't exist"):
        _restart(e)
    e = _aof_engine()
    _disk(e).write_durable(MANIFEST, b"file x seq 1\n")
    with pytest.raises(LoadError, match="Invalid AOF manifest file format"):
        _restart(e)


@pytest.mark.parametrize("text,message", [
    (b"", "Found an empty AOF manifest"),
    (b"file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information"),
    (b"file a seq 2 type i\nfile b seq 1 type i\n", "Found a non-monotonic sequence number"),
    (b"file a seq 1 type x\n", "Unknown AOF file type"),
    (b"file dir/a seq 1 type b\n", "File can't be a path, just a filename"),
    (b"file a seq 1\n", "Invalid AOF manifest file format"),
    (b"\n", "Invalid AOF manifest file format"),
    (b"file a seq 1 type b " + b"x" * 1100 + b"\n", "too long line"),
])
def test_manifest_errors(text, message):
    with pytest.raises(AOFError, match=message):
        parse_manifest(text)


def test_manifest_round_trip_and_comments():
    am = parse_manifest(b"# comment\nfile \"a b\" seq 1 type b\nfile c seq 3 type i\n"
                        b"file h seq 2 type h\n")
    assert am.base.name == "a b" and am.incr_seq == 3 and am.history[0].name == "h"
    assert parse_manifest(am.text()).text() == am.text()
    assert Manifest().text() == b""


def test_scan_commands_statuses():
    good = encode_command([b"SET", b"a", b"1"])
    assert scan_commands(good).status == "ok"
    scan = scan_commands(good + good[:-3])
    assert scan.status == "truncated" and scan.ok_up_to == len(good)
    assert len(scan.commands) == 1
    scan = scan_commands(b"#TS:1\r\n" + good)
    assert scan.status == "ok" and scan.commands == [[b"SET", b"a", b"1"]]
    scan = scan_commands(good + b"x")
    assert scan.status == "format" and scan.ok_up_to == len(good)
    payload = encode_command([b"SET", b"k", b"a\r\nb"])
    assert scan_commands(payload).commands == [[b"SET", b"k", b"a\r\nb"]]


def test_damaged_aof_files_load_or_fail_in_one_line():
    import random

    rng = random.Random(9)
    for round_ in range(120):
        e = _aof_engine()
        s = e.session()
        for i in range(rng.randrange(1, 8)):
            s.execute("SET", f"k{i}", "v" * rng.randrange(0, 30))
        s.execute("RPUSH", "l", "a", "b")
        disk = _disk(e)
        p = e.extensions["persistence"]
        name = p.aof.incr_name if round_ % 3 else f"{DIR}/appendonly.aof.1.base.rdb"
        data = bytearray(disk.read(name))
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(len(data)):]
        disk._write(name, bytes(data))
        try:
            after = e.crash("process")
        except LoadError as err:
            assert "\n" not in str(err)
        else:
            assert after.session().execute("DBSIZE") <= 8


def test_debug_reload_with_a_corrupt_file_leaves_an_empty_dataset():
    e = Engine(ManualClock(), config={"save": "", "enable-debug-command": "yes"})
    s = e.session()
    s.execute("SET", "a", "1")
    s.execute("SAVE")
    disk = _disk(e)
    disk._write("dump.rdb", disk.read("dump.rdb")[:40])
    assert s.execute("DEBUG", "RELOAD", "NOSAVE") == ErrorReply(
        "ERR Error trying to load the RDB dump, check server logs.")
    assert s.execute("DBSIZE") == 0


def _field_names(info: bytes) -> list[str]:
    return [line.split(":", 1)[0] for line in info.decode().splitlines()
            if line and not line.startswith("#")]


@pytest.mark.real
def test_info_persistence_fields_match_redis(redis_server):
    # Same fields in the same order as 7.0 prints them, with the AOF off and on.
    real = redis_server.client()
    try:
        e = Engine(ManualClock(), config={"save": ""})
        s = e.session()
        assert _field_names(s.execute("INFO", "persistence")) == \
            _field_names(real.execute("INFO", "persistence"))
        s.execute("CONFIG", "SET", "appendonly", "yes")
        real.execute("CONFIG", "SET", "appendonly", "yes")
        e.cron()
        ours = s.execute("INFO", "persistence")
        theirs = real.execute("INFO", "persistence")
        assert _field_names(ours) == _field_names(theirs)
        assert b"aof_delayed_fsync:0" in ours
    finally:
        real.execute("CONFIG", "SET", "appendonly", "no")
        real.close()
