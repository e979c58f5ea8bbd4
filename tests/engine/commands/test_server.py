"""Server commands (CONFIG, INFO, TIME, LASTSAVE, DEBUG, LOLWUT): unit and differential tests."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from redislab.engine import Engine, ManualClock
from redislab.engine.info import SECTIONS, bytes_to_human, info_dict
from redislab.protocol import ErrorReply

from ...support.real_redis import normalize, wire

# Parameters the differential tests change on the shared real server; restored afterwards.
TOUCHED = ("hz", "maxmemory", "maxmemory-policy", "maxmemory-samples", "appendfsync",
           "hash-max-listpack-entries", "hash-max-listpack-value", "list-max-listpack-size",
           "notify-keyspace-events", "save", "slowlog-log-slower-than", "loglevel",
           "activerehashing", "lfu-log-factor", "proto-max-bulk-len", "maxclients",
           "latency-tracking")


@pytest.fixture
def real_config(redis_server: Any) -> Iterator[None]:
    client = redis_server.client()
    before = {}
    for name in TOUCHED:
        reply = client.execute("CONFIG", "GET", name)
        before[name] = reply[1]
    try:
        yield
    finally:
        for name, value in before.items():
            client.execute("CONFIG", "SET", name, value)
        client.close()


def _debug_engine(clock: ManualClock | None = None) -> Engine:
    return Engine(clock or ManualClock(), config={"enable-debug-command": "yes"})


# ------------------------------------------------------------------------------------------
# CONFIG


def test_config_get_set_roundtrip(run):
    assert run("CONFIG SET maxmemory 100mb") == "OK"
    assert run("CONFIG GET maxmemory") == [(b"maxmemory", b"104857600")]
    assert run("CONFIG SET hash-max-ziplist-entries 7") == "OK"
    assert dict(run("CONFIG GET hash-max-*-entries")) == {
        b"hash-max-listpack-entries": b"7", b"hash-max-ziplist-entries": b"7"}
    assert run("CONFIG GET MAXMEMORY maxmemory") == [(b"MAXMEMORY", b"104857600")]


def test_config_set_is_all_or_nothing(run, engine):
    assert run("CONFIG SET hz 20 maxmemory-policy nonsense") == ErrorReply(
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) "
        "must be one of the following: volatile-lru, volatile-lfu, volatile-random, "
        "volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
    assert engine.config["hz"] == 10
    # A value the parameter's own check refuses after parsing also leaves everything alone.
    assert isinstance(run("CONFIG SET hz 30 notify-keyspace-events Q"), ErrorReply)
    assert engine.config["hz"] == 10
    assert run("CONFIG SET hz 30 notify-keyspace-events KEA") == "OK"
    assert engine.config["hz"] == 30
    assert run("CONFIG GET notify-keyspace-events") == [(b"notify-keyspace-events", b"AKE")]


def test_config_set_hz_is_clamped(run):
    run("CONFIG SET hz 1000")
    assert run("CONFIG GET hz") == [(b"hz", b"500")]
    run("CONFIG SET hz 0")
    assert run("CONFIG GET hz") == [(b"hz", b"1")]


def test_config_resetstat(run, engine):
    run("SET a 1")
    run("NOSUCH")
    assert engine.stats.total_error_replies == 1
    assert run("CONFIG RESETSTAT") == "OK"
    assert engine.stats.total_error_replies == 0 and engine.stats.errors == {}
    # Only the RESETSTAT call itself has been counted since.
    assert list(info_dict(engine, "commandstats")["commandstats"]) == ["cmdstat_config|resetstat"]


def test_config_rewrite_without_file(run):
    assert run("CONFIG REWRITE") == ErrorReply("ERR The server is running without a config file")


CONFIG_SCRIPT = r"""
CONFIG GET
CONFIG GET nosuchparam
CONFIG GET maxmemory
CONFIG GET MAXMEMORY maxmemory
CONFIG GET hz hz
CONFIG GET HASH-MAX-LISTPACK-ENTRIES
CONFIG GET hash-max-ziplist-entries
CONFIG SET
CONFIG SET hz
CONFIG SET hz 1 2
CONFIG SET foo bar
CONFIG SET hz 10 foo 1
CONFIG SET foo 1 hz abc
CONFIG SET hz abc maxmemory abc
CONFIG SET hz 10 hz 11
CONFIG SET hz 10 HZ 11
CONFIG SET HZ abc
CONFIG SET hz -1
CONFIG SET hz 99999999999999999999
CONFIG SET maxmemory abc
CONFIG SET maxmemory -1
CONFIG SET maxmemory 1.5gb
CONFIG SET maxmemory 1GB
CONFIG GET maxmemory
CONFIG SET maxmemory 100kb
CONFIG GET maxmemory
CONFIG SET maxmemory ""
CONFIG GET maxmemory
CONFIG SET maxmemory 99999999999999999999999
CONFIG GET maxmemory
CONFIG SET maxmemory 0
CONFIG SET maxmemory-policy foo
CONFIG SET maxmemory-policy ALLKEYS-LRU
CONFIG GET maxmemory-policy
CONFIG SET maxmemory-samples 0
CONFIG SET maxmemory-samples 100
CONFIG SET appendfsync sometimes
CONFIG SET activerehashing 1
CONFIG SET activerehashing true
CONFIG SET activerehashing NO
CONFIG GET activerehashing
CONFIG SET activerehashing yes
CONFIG SET loglevel VERBOSE
CONFIG GET loglevel
CONFIG SET databases 5
CONFIG SET DATABASES 5
CONFIG SET rdbchecksum no
CONFIG SET daemonize no
CONFIG SET enable-debug-command yes
CONFIG SET dir /tmp
CONFIG SET dbfilename x.rdb
CONFIG SET hash-max-ziplist-value abc
CONFIG SET hash-max-listpack-value 1k
CONFIG GET hash-max-listpack-value
CONFIG SET hash-max-listpack-entries -1
CONFIG SET list-max-listpack-size -6
CONFIG GET list-max-listpack-size
CONFIG SET list-max-listpack-size -2
CONFIG SET lfu-log-factor -1
CONFIG SET proto-max-bulk-len 1
CONFIG SET proto-max-bulk-len 99999999999999999999999
CONFIG SET maxclients 0
CONFIG SET maxclients 99999999999
CONFIG SET notify-keyspace-events Q
CONFIG SET notify-keyspace-events KEA
CONFIG GET notify-keyspace-events
CONFIG SET notify-keyspace-events ""
CONFIG SET save abc
CONFIG SET save "1 2 3"
CONFIG SET save "   "
CONFIG SET save " 10 1"
CONFIG SET save "10 +1"
CONFIG GET save
CONFIG SET save "100 0 5 1"
CONFIG GET save
CONFIG SET save ""
CONFIG GET save
CONFIG SET slowlog-log-slower-than -2
CONFIG SET hz 1000
CONFIG GET hz
CONFIG SET hz 0
CONFIG GET hz
CONFIG SET hz 10
CONFIG REWRITE
CONFIG REWRITE x
CONFIG RESETSTAT x
CONFIG HELP x
CONFIG NOSUCH
"""


@pytest.mark.parametrize("proto", [2, 3])
def test_config_matches(redis_server, real_config, proto):
    from ...conftest import Differ

    d = Differ(redis_server, resp=proto)
    try:
        d.check_all(CONFIG_SCRIPT)
    finally:
        d.close()


def test_config_get_patterns_match(differ, real_config):
    # Redis answers in hash-table order, so the pairs are compared as mappings.
    for patterns in (("*max-*-entries*",), ("hash-max-*",), ("maxmemory*",), ("*ziplist*",),
                     ("hz",), ("maxmemory-policy", "appendfsync"), ("hz", "h?"),
                     ("hash-max-*", "hash-max-listpack-entries"), ("[lm]*-samples",)):
        ours, theirs = differ.both("CONFIG", "GET", *patterns)
        ours_map = dict(zip(ours[1][::2], ours[1][1::2]))
        theirs_map = dict(zip(theirs[1][::2], theirs[1][1::2]))
        # Redis knows more parameters than redislab declares; every one we have must agree.
        assert set(ours_map) <= set(theirs_map), patterns
        assert len(ours[1]) == len(set(ours[1][::2])) * 2
        for name, value in ours_map.items():
            if name not in (b"port", b"bind", b"dir", b"save", b"appendonly", b"logfile"):
                assert value == theirs_map[name], name


def test_every_declared_parameter_exists_in_redis_with_its_default(redis_server):
    real = redis_server.client()
    engine = Engine(ManualClock())
    try:
        differing = []
        for name, param in engine.config.params.items():
            reply = real.execute("CONFIG", "GET", name)
            assert reply, f"{name} is not a Redis 7.0 parameter"
            ours = param.render(param.default).encode()
            if reply[1] != ours and name not in (
                    # The test server runs with its own port, bind, dir, save, logfile and
                    # debug settings.
                    "port", "bind", "dir", "save", "logfile", "enable-debug-command",
                    "daemonize", "appendonly"):
                differing.append((name, ours, reply[1]))
        assert differing == []
    finally:
        real.close()


# ------------------------------------------------------------------------------------------
# INFO


def _sections(text: bytes) -> list[tuple[str, list[str]]]:
    """[(section title, [field names])] of an INFO reply."""
    out: list[tuple[str, list[str]]] = []
    for line in text.decode().split("\r\n"):
        if line.startswith("# "):
            out.append((line[2:], []))
        elif line:
            out[-1][1].append(line.split(":", 1)[0])
    return out


def _values(text: bytes) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.decode().split("\r\n")
                if line and not line.startswith("#"))


def test_info_sections_and_format(run, engine):
    text = bytes(run("INFO"))
    titles = [t for t, _ in _sections(text)]
    assert titles == ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication",
                      "CPU", "Modules", "Errorstats", "Cluster", "Keyspace"]
    assert text.endswith(b"\r\n") and not text.endswith(b"\r\n\r\n")
    assert b"\r\n\r\n# Clients\r\n" in text
    everything = [t for t, _ in _sections(bytes(run("INFO everything")))]
    assert [t.lower() for t in everything] == list(SECTIONS)
    assert [t for t, _ in _sections(bytes(run("INFO keyspace server")))] == ["Server", "Keyspace"]
    assert run("INFO nosuchsection") == b""


def test_info_values_follow_the_engine(run, engine, clock):
    run("SET a 1")
    run("SET b 2 EX 100")
    run("SELECT 3")
    run("SET c 3")
    run("GET nosuch")
    clock.advance(7)
    values = _values(bytes(run("INFO everything")))
    assert values["db0"] == "keys=2,expires=1,avg_ttl=0"
    assert values["db3"] == "keys=1,expires=0,avg_ttl=0"
    assert values["uptime_in_seconds"] == "7"
    assert values["keyspace_misses"] == "1"
    assert values["cmdstat_set"].startswith("calls=3,usec=")
    assert values["cmdstat_set"].endswith(",rejected_calls=0,failed_calls=0")
    assert values["connected_clients"] == "1"
    assert values["redis_version"] == "7.0.15"
    assert values["role"] == "master"
    assert values["maxmemory_human"] == "0B"


def test_info_refinements_from_other_parts(engine, run):
    engine.extensions["used_memory"] = lambda: 2_000_000
    engine.extensions["info.persistence"] = lambda: {"rdb_saves": 3, "aof_extra": "x"}
    values = _values(bytes(run("INFO memory persistence")))
    assert values["used_memory"] == "2000000" and values["used_memory_human"] == "1.91M"
    assert values["rdb_saves"] == "3" and values["aof_extra"] == "x"


def test_bytes_to_human():
    assert bytes_to_human(200) == "200B"
    assert bytes_to_human(916_592) == "895.11K"
    assert bytes_to_human(25_276_502_016) == "23.54G"


# Fields present in both servers' INFO that redislab deliberately leaves out: none so far.
ABSENT_FIELDS: set[str] = set()


@pytest.mark.parametrize("args", [(), ("default",), ("all",), ("everything",),
                                  ("server", "clients"), ("CLIENTS", "server"), ("memory",),
                                  ("stats",), ("persistence", "replication", "cpu"),
                                  ("modules",), ("cluster",), ("nosuch",),
                                  ("server", "server"), ("default", "commandstats")])
def test_info_section_and_field_names_match(differ, args):
    differ.check_all("""
    CONFIG RESETSTAT
    SET a 1
    INCR a
    LPUSH a x
    NOSUCHCOMMAND
    GET a
    SELECT 2
    SET b 2
    SELECT 0
    """)
    ours = _sections(bytes(differ.session.execute("INFO", *args)))
    theirs = _sections(differ.real.execute("INFO", *args))
    assert [t for t, _ in ours] == [t for t, _ in theirs]
    for (title, ours_fields), (_, theirs_fields) in zip(ours, theirs):
        if title in ("Commandstats", "Latencystats"):
            # Redis lists commands in hash-table order.
            assert sorted(ours_fields) == sorted(theirs_fields), title
        else:
            assert ours_fields == [f for f in theirs_fields if f not in ABSENT_FIELDS], title


def test_info_stats_sections_match_after_the_same_commands(differ):
    differ.check("CONFIG", "RESETSTAT")
    differ.check_all("""
    SET a 1
    INCR a
    LPUSH a x
    NOSUCHCOMMAND
    GET a
    GET a b
    CONFIG GET hz
    CONFIG NOSUCH
    SET k v EX 100
    """)
    ours = _values(bytes(differ.session.execute("INFO", "commandstats", "errorstats",
                                                "keyspace")))
    theirs = _values(differ.real.execute("INFO", "commandstats", "errorstats", "keyspace"))
    assert sorted(ours) == sorted(theirs)
    for name, value in theirs.items():
        if name.startswith("cmdstat_"):
            def counts(v: str) -> list[str]:
                return [p for p in v.split(",") if p.split("=")[0].endswith("calls")]
            assert counts(ours[name]) == counts(value), name
        elif name.startswith("errorstat_") or name.startswith("db"):
            if not name.startswith("db"):
                assert ours[name] == value, name
    assert ours["db0"].split(",")[:2] == theirs["db0"].split(",")[:2]


def test_info_reply_types(differ3):
    ours, theirs = differ3.both("INFO", "cluster")
    assert ours == theirs


# ------------------------------------------------------------------------------------------
# TIME, LASTSAVE, LOLWUT


def test_time_and_lastsave_follow_the_clock(run, clock):
    assert run("TIME") == [b"1700000000", b"0"]
    clock.advance(1.25)
    assert run("TIME") == [b"1700000001", b"250000"]
    assert run("LASTSAVE") == 1_700_000_000


def test_time_lastsave_lolwut_shapes(differ):
    ours, theirs = differ.both("TIME")
    assert [type(x) for x in ours[1]] == [type(x) for x in theirs[1]] and len(ours[1]) == 2
    ours, theirs = differ.both("LASTSAVE")
    assert isinstance(ours, int) and isinstance(theirs, int)
    differ.check_all("""
    TIME x
    LASTSAVE x
    LOLWUT
    LOLWUT VERSION 7
    LOLWUT VERSION 1
    LOLWUT version abc
    LOLWUT foo
    LOLWUT VERSION
    ECHO done
    """)


def test_lolwut_resp3(differ3):
    differ3.check("LOLWUT")


# ------------------------------------------------------------------------------------------
# DEBUG


def test_debug_is_refused_unless_enabled(run):
    assert run("DEBUG SLEEP 0") == ErrorReply(
        'ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", '
        "you can run it from a local connection, otherwise you need to set this option in the "
        "configuration file, and then restart the server.")


def test_debug_sleep_moves_a_manual_clock_without_running_cron():
    clock = ManualClock()
    engine = _debug_engine(clock)
    s = engine.session()
    s.execute("SET", "k", "v", "PX", "100")
    assert s.execute("DEBUG", "SLEEP", "1.5") == "OK"
    assert clock.time_ms() == 1_700_000_001_500
    assert b"k" in engine.db(0).data  # nothing ran while the server slept
    assert s.execute("GET", "k") is None
    assert s.execute("DEBUG", "SLEEP", "abc") == "OK"
    assert clock.time_ms() == 1_700_000_001_500


def test_debug_set_active_expire():
    engine = _debug_engine()
    s = engine.session()
    assert s.execute("DEBUG", "SET-ACTIVE-EXPIRE", "0") == "OK"
    assert engine.active_expire_enabled is False
    s.execute("SET", "k", "v", "PX", "10")
    engine.advance(1)
    assert b"k" in engine.db(0).data
    s.execute("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    engine.advance(1)
    assert b"k" not in engine.db(0).data


def test_debug_matches(redis_server):
    from ...conftest import Differ

    d = Differ(redis_server)
    d.engine.config.set("enable-debug-command", "yes", startup=True)
    try:
        d.check_all("""
        DEBUG SLEEP 0
        DEBUG SLEEP abc
        DEBUG SLEEP
        DEBUG SLEEP 0 1
        DEBUG SET-ACTIVE-EXPIRE
        DEBUG SET-ACTIVE-EXPIRE 1
        DEBUG set-active-expire abc
        DEBUG SET-ACTIVE-EXPIRE 1
        DEBUG NOSUCH
        DEBUG
        """)
    finally:
        d.real.execute("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        d.close()


def test_help_replies_are_status_lines(run):
    for container in ("CONFIG", "CLIENT", "COMMAND"):
        reply = run(f"{container} HELP")
        assert reply[0].startswith(f"{container} <subcommand>")
        assert reply[-2:] == ["HELP", "    Show this text."]
    engine = _debug_engine()
    reply = engine.session().execute("DEBUG", "HELP")
    assert reply[0].startswith("DEBUG <subcommand>") and "SLEEP <seconds>" in reply


def test_config_rewrite_updates_the_file_as_redis_does(tmp_path):
    # The expected text follows what redis-server 7.0.15 wrote for the same file and changes
    # (less the lines Redis always adds about itself: pidfile, user, logfile ...).
    path = tmp_path / "redis.conf"
    path.write_text("# my comment\nport 7000\nsave \"\"\nmaxmemory 10mb\n"
                    "hash-max-ziplist-entries 64\nhz 10\n")
    engine = Engine(ManualClock(), config={"port": "7000", "save": "", "maxmemory": "10mb",
                                           "hash-max-ziplist-entries": "64", "hz": "10"})
    engine.extensions["config_file"] = str(path)
    s = engine.session()
    assert s.execute("CONFIG", "SET", "maxmemory", "2gb", "hz", "15", "notify-keyspace-events",
                     "KEA", "loglevel", "verbose", "save", "100 1 200 2",
                     "hash-max-listpack-entries", "128", "slowlog-max-len", "1000",
                     "requirepass", "p w", "hash-max-listpack-value", "3000") == "OK"
    assert s.execute("CONFIG", "REWRITE") == "OK"
    text = path.read_text()
    assert text.startswith("# my comment\nport 7000\nsave 100 1\nmaxmemory 2gb\n"
                           "hash-max-listpack-entries 128\nhz 15\n\n"
                           "# Generated by CONFIG REWRITE\n")
    tail = set(text.split("# Generated by CONFIG REWRITE\n")[1].splitlines())
    assert tail == {"save 200 2", "hash-max-listpack-value 3000", "loglevel verbose",
                    'notify-keyspace-events "AKE"', "slowlog-max-len 1000",
                    'requirepass "p w"'}
    # Rewriting again changes nothing; going back to a default keeps the line in the file.
    assert s.execute("CONFIG", "REWRITE") == "OK"
    assert path.read_text() == text
    s.execute("CONFIG", "SET", "save", "")
    s.execute("CONFIG", "REWRITE")
    lines = path.read_text().splitlines()
    assert lines[2] == 'save ""' and "save 200 2" not in lines
