"""SLOWLOG and LATENCY."""

from __future__ import annotations

from redislab.engine import Engine


def test_slowlog_records_arguments_like_redis(redis_server):
    real = redis_server.client()
    engine = Engine()
    ours = engine.session()
    for side in (real, ours):
        side.execute("SLOWLOG", "RESET")
        side.execute("CONFIG", "SET", "slowlog-log-slower-than", "0") if side is real else \
            engine.config.set("slowlog-log-slower-than", "0")
    long_value = b"v" * 300
    many = [b"a%d" % i for i in range(40)]
    commands = [(b"SET", b"k", long_value), (b"MSET", *many), (b"AUTH", b"secret"),
                (b"PING",)]
    for cmd in commands:
        real.execute(*cmd)
        ours.execute(*cmd)
    theirs = real.execute("SLOWLOG", "GET", "-1")
    mine = ours.execute("SLOWLOG", "GET", "-1")
    real.execute("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    real.execute("SLOWLOG", "RESET")
    real.close()
    # Compare the logged arguments (durations, times and addresses differ by nature).
    their_args = [e[3] for e in theirs if e[3][0] != b"CONFIG"][:4]
    assert [e[3] for e in mine][:4] == their_args
    assert ours.execute("SLOWLOG", "LEN") == len(mine) + 1


def test_slowlog_off_and_limits(engine, session):
    engine.config.set("slowlog-log-slower-than", "-1")
    session.execute("SET", "a", "b")
    assert session.execute("SLOWLOG", "LEN") == 0
    engine.config.set("slowlog-log-slower-than", "0")
    engine.config.set("slowlog-max-len", "2")
    for _ in range(5):
        session.execute("PING") if engine.table.get("PING").handler else session.execute("GET", "x")
    assert session.execute("SLOWLOG", "LEN") == 2
    assert str(session.execute("SLOWLOG", "GET", "-2")).startswith("ERR count")


def test_latency_doctor_explains_how_to_enable(session):
    text = bytes(session.execute("LATENCY", "DOCTOR"))
    assert b"latency-monitor-threshold" in text
