"""Scripts and the rest of the engine: call records, propagation, frozen time, databases."""

from __future__ import annotations

from typing import Any

from redislab.engine import Engine, ManualClock
from redislab.engine.clock import Clock
from redislab.engine.lua import scripting
from redislab.protocol.reply import ErrorReply


def test_call_record_lists_the_commands_a_script_ran() -> None:
    e = Engine(ManualClock())
    s = e.session()
    e.recording = 1
    e.refresh_gate()
    reply = s.execute("EVAL", "redis.call('set', KEYS[1], 'v') "
                      "redis.pcall('incr', KEYS[1]) return redis.call('get', KEYS[1])", "1", "k")
    assert reply == b"v"
    rec = s.last_record
    assert rec is not None and rec.spec is not None and rec.spec.name == "EVAL"
    assert [r.spec.name for r in rec.inner] == ["SET", "INCR", "GET"]
    assert [r.argv for r in rec.inner][0] == [b"set", b"k", b"v"]
    assert isinstance(rec.inner[1].reply, ErrorReply)
    # Nothing is left attached to the script client.
    assert scripting(e).ss.record is None


def test_fcall_record() -> None:
    e = Engine(ManualClock())
    s = e.session()
    s.execute("FUNCTION", "LOAD", "#!lua name=r\n"
              "redis.register_function('f', function(k) return redis.call('exists', k[1]) end)")
    e.recording = 1
    e.refresh_gate()
    s.execute("FCALL", "f", "1", "x")
    assert [r.spec.name for r in s.last_record.inner] == ["EXISTS"]


def _propagated(e: Engine) -> list[tuple[int, list[bytes]]]:
    out: list[tuple[int, list[bytes]]] = []
    e.propagate_hooks.append(lambda db, argv: out.append((db, list(argv))))
    e.refresh_gate()
    return out


def test_effects_replication() -> None:
    e = Engine(ManualClock())
    s = e.session()
    out = _propagated(e)
    s.execute("EVAL", "redis.call('set', 'a', '1') redis.call('get', 'a') "
              "redis.call('incr', 'a') return 1", "0")
    assert out == [(0, [b"MULTI"]), (0, [b"set", b"a", b"1"]), (0, [b"incr", b"a"]),
                   (0, [b"EXEC"])]
    out.clear()
    s.execute("EVAL", "return redis.call('set', 'b', '2')", "0")
    assert out == [(0, [b"set", b"b", b"2"])]
    out.clear()
    s.execute("EVAL", "return redis.call('get', 'b')", "0")
    assert out == []
    s.execute("EVAL", "redis.set_repl(redis.REPL_NONE) redis.call('set', 'c', '3') "
              "redis.set_repl(redis.REPL_ALL) redis.call('set', 'd', '4') return 1", "0")
    assert out == [(0, [b"set", b"d", b"4"])]
    out.clear()
    s.execute("EVAL", "redis.call('select', 2) redis.call('set', 'x', '1') return 1", "0")
    assert out == [(0, [b"SELECT", b"2"]), (0, [b"set", b"x", b"1"]), (0, [b"SELECT", b"0"])]
    assert s.execute("GET", "c") == b"3"


class TickingClock(Clock):
    """A clock that moves a full second every time anyone reads it."""

    def __init__(self) -> None:
        self.ms = 1_700_000_000_000

    def time_ms(self) -> int:
        self.ms += 1000
        return self.ms

    def monotonic(self) -> float:
        return self.ms / 1000


def test_time_is_frozen_while_a_script_runs() -> None:
    e = Engine(TickingClock())
    s = e.session()
    script = "redis.call('set', 'k', 'v', 'PX', 500) return redis.call('exists', 'k')"
    assert s.execute("EVAL", script, "0") == 1
    assert e.frozen_ms is None
    # Outside a script the same steps see time move.
    s.execute("SET", "k2", "v", "PX", "500")
    assert s.execute("EXISTS", "k2") == 0


def test_script_client_uses_the_callers_database_and_user() -> None:
    e = Engine(ManualClock())
    s = e.session()
    s.execute("SELECT", "4")
    s.execute("EVAL", "return redis.call('set', 'here', '1')", "0")
    assert e.dbs[4].data.get(b"here") is not None
    assert e.dbs[0].data.get(b"here") is None
    assert scripting(e).ss.in_script


def test_scripting_is_created_once_per_engine() -> None:
    e = Engine(ManualClock())
    assert "lua" not in e.extensions
    s = e.session()
    s.execute("EVAL", "return 1", "0")
    lua = e.extensions["lua"]
    s.execute("FUNCTION", "LIST")
    assert e.extensions["lua"] is lua
    assert lua.memory_used() > 0


def test_eval_ro_refuses_writes_but_reads(run: Any) -> None:
    run("SET k v")
    assert run("EVAL_RO \"return redis.call('get', 'k')\" 0") == b"v"
    r = run("EVAL_RO \"return redis.call('del', 'k')\" 0")
    assert isinstance(r, ErrorReply) and "read-only scripts" in r.message
    assert run("GET k") == b"v"


def test_monitor_shows_the_script_before_its_commands() -> None:
    e = Engine(ManualClock())
    s, m = e.session(), e.session()
    m.execute("MONITOR")
    s.execute("EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k")
    s.execute("FUNCTION", "LOAD", "#!lua name=m\n"
              "redis.register_function('f', function() return redis.call('ping') end)")
    s.execute("FCALL", "f", "0")
    lines = [str(p) for p in m.drain()]
    assert [line.split("] ", 1)[1] for line in lines if "EVAL" in line or "lua]" in line
            or "FCALL" in line] == [
        "\"EVAL\" \"return redis.call('set', KEYS[1], 'v')\" \"1\" \"k\"",
        "\"set\" \"k\" \"v\"",
        "\"FCALL\" \"f\" \"0\"",
        "\"ping\"",
    ]
    assert " [0 lua] " in lines[1]
