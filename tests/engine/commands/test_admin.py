"""MONITOR, CLIENT PAUSE/UNPAUSE and MODULE."""

from __future__ import annotations

from typing import Any

from redislab.engine import Engine


def _args_part(line: Any) -> str:
    text = line if isinstance(line, str) else line.decode()
    return text.split("] ", 1)[1]


def test_monitor_lines_match_redis(redis_server):
    real_monitor = redis_server.client()
    real = redis_server.client()
    assert real_monitor.execute("MONITOR") == "OK"
    engine = Engine()
    monitor = engine.session()
    client = engine.session()
    assert monitor.execute("MONITOR") == "OK"
    commands = [["SET", "k", 'a "quoted"\nvalue\x01'], ["GET", "k"], ["AUTH", "secret"],
                ["CONFIG", "GET", "maxmemory"], ["DEL", "k"]]
    for cmd in commands:
        real.execute(*cmd)
        client.execute(*cmd)
    ours = [_args_part(line) for line in monitor.drain()]
    theirs = []
    while len(theirs) < len(ours):
        theirs.append(_args_part(real_monitor.read()))
    assert ours == theirs
    real_monitor.close()
    real.close()


def test_monitor_stops_when_the_client_goes_away(engine):
    monitor = engine.session()
    monitor.execute("MONITOR")
    engine.close_session(monitor)
    assert engine.monitors == [] and not engine.gate


def _waiter(engine: Engine) -> tuple[Any, list[Any]]:
    s = engine.session()
    got: list[Any] = []
    s.on_unblocked = lambda session, reply: got.append(reply)
    return s, got


def test_client_pause_write_holds_writes_until_it_ends(engine):
    admin = engine.session()
    writer, got = _waiter(engine)
    assert admin.execute("CLIENT", "PAUSE", "1000", "WRITE") == "OK"
    assert writer.execute("GET", "k") is None          # reads still run
    assert type(writer.execute("SET", "k", "v")).__name__ == "Blocked"
    engine.advance(0.9)
    assert got == []
    engine.advance(0.2)
    assert got == ["OK"]
    assert writer.execute("GET", "k") == b"v"


def test_client_unpause_releases_held_commands(engine):
    admin = engine.session()
    writer, got = _waiter(engine)
    admin.execute("CLIENT", "PAUSE", "100000", "WRITE")
    writer.execute("INCR", "n")
    admin.execute("CLIENT", "UNPAUSE")
    assert got == [1]


def test_client_pause_errors_match_redis(differ):
    differ.check_all("""
    CLIENT PAUSE abc
    CLIENT PAUSE -1
    CLIENT PAUSE 10 SOMETIMES
    CLIENT PAUSE 0 WRITE
    CLIENT UNPAUSE
    MODULE LIST
    """)
