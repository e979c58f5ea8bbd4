"""The REPL's looking-inside meta-commands without a terminal: :load, :viz, :memory, :config,
:crash and :edit (and their completion, help and bad input)."""

from __future__ import annotations

import io
import os
import re
import stat
import sys
from pathlib import Path
from typing import Callable

import pytest

from redislab.ui import datasets
from redislab.ui.batch import make_backend, run_piped
from redislab.ui.repl.completer import candidates
from redislab.ui.repl.history import is_secret
from redislab.ui.repl.shell import Shell
from redislab.ui.startup import Options
from redislab.ui.theme import plain

from .conftest import Transcript

Say = Callable[[str], str]


def _cmd(shell: Shell, *argv: str | bytes) -> object:
    return shell.backend.session(shell.client).execute(*argv)


def _fresh(interactive: bool = True) -> tuple[Shell, Transcript]:
    t = Transcript()
    return Shell(make_backend(Options(manual_clock=True)), t, interactive=interactive), t


# ------------------------------------------------------------------------------------------
# :load

def test_load_lists_datasets_and_refuses_bad_input(say: Say) -> None:
    out = say(":load")
    for name in ("leaderboard", "sessions", "pageviews"):
        assert name in out
    assert "1,000,000 players" in out and "10,000 sessions" in out
    assert say(":load nope").startswith("no dataset nope: try leaderboard")
    assert say(":load sessions lots").startswith("usage: :load sessions [count]")
    assert say(":load sessions 0") == "sessions takes 1 to 1,000,000 sessions\n"
    assert say(":load leaderboard 99999999").startswith("leaderboard takes 1 to 2,000,000")
    assert "Traceback" not in say(":load pageviews x y")


def test_load_leaderboard_reports_keys_and_memory(shell: Shell, say: Say) -> None:
    out = say(":load leaderboard 5000")
    last = out.rstrip("\n").split("\r")[-1]
    assert last.startswith("loaded leaderboard: 5,000 players; keys 0 -> 1 (+1); memory +")
    # The figure is INFO's used_memory (a command's own histogram counts after it ran).
    used = _cmd(shell, "INFO", "memory")
    assert isinstance(used, bytes)
    figure = int(used.split(b"used_memory:")[1].split(b"\r\n")[0])
    assert f"(used_memory {figure:,})" in last
    assert _cmd(shell, "ZCARD", "leaderboard") == 5000
    assert _cmd(shell, "OBJECT", "ENCODING", "leaderboard") == b"skiplist"
    # The progress line was drawn in place while loading.
    assert "\r" in out and "100%" in out
    # Loading again replaces the dataset rather than adding to it.
    say(":load leaderboard 300")
    assert _cmd(shell, "ZCARD", "leaderboard") == 300


def test_load_is_deterministic() -> None:
    a, _ = _fresh()
    b, _ = _fresh()
    a.handle(":load leaderboard 2000 hashes")
    b.handle(":load leaderboard 2000 hashes")
    top_a = _cmd(a, "ZRANGE", "leaderboard", "0", "-1", "WITHSCORES")
    assert top_a == _cmd(b, "ZRANGE", "leaderboard", "0", "-1", "WITHSCORES")
    assert _cmd(a, "HGETALL", "player:17") == _cmd(b, "HGETALL", "player:17")
    assert _cmd(a, "DBSIZE") == 2001
    a.handle(":load sessions 100")
    b.handle(":load sessions 100")
    assert sorted(_cmd(a, "KEYS", "session:*")) == sorted(_cmd(b, "KEYS", "session:*"))


def test_fast_path_loads_what_the_commands_load(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, _ = _fresh()
    slow, _ = _fresh()
    fast.set_annotate("off")   # as while loading: nothing records the commands
    sink = datasets.make_sink(fast.backend, fast.client)
    assert isinstance(sink, datasets.EngineSink)
    fast.handle(":load leaderboard 3000")
    monkeypatch.setattr(datasets, "make_sink", lambda b, c: datasets.CommandSink(b, c))
    slow.handle(":load leaderboard 3000")
    assert _cmd(fast, "ZRANGE", "leaderboard", "0", "-1", "WITHSCORES") == \
        _cmd(slow, "ZRANGE", "leaderboard", "0", "-1", "WITHSCORES")
    for argv in (("OBJECT", "ENCODING", "leaderboard"),
                 ("MEMORY", "USAGE", "leaderboard", "SAMPLES", "0"),
                 ("ZRANK", "leaderboard", "player:42")):
        assert _cmd(fast, *argv) == _cmd(slow, *argv)
    # The write was counted as ZADD counts it.
    assert fast.backend.engine.dirty == slow.backend.engine.dirty


def test_aof_makes_load_use_commands_and_survive_a_crash(shell: Shell, say: Say) -> None:
    say("CONFIG SET appendonly yes")
    say("CONFIG SET appendfsync always")
    say(":advance 2s")
    assert isinstance(datasets.make_sink(shell.backend, shell.client), datasets.CommandSink)
    assert not isinstance(datasets.make_sink(shell.backend, shell.client), datasets.EngineSink)
    say(":load leaderboard 1500")
    out = say(":crash")
    assert "restarted from the files: 1 key, nothing lost" in out
    assert _cmd(shell, "ZCARD", "leaderboard") == 1500


def test_sessions_have_ttls(shell: Shell, say: Say) -> None:
    say(":load sessions 300")
    keys = _cmd(shell, "KEYS", "session:*")
    assert isinstance(keys, list) and len(keys) == 300
    for key in keys[:50]:
        assert 300 <= _cmd(shell, "TTL", key) <= 7200
        assert _cmd(shell, "HLEN", key) == 6


def test_pageviews_counters_uniques_and_stream(shell: Shell, say: Say) -> None:
    say(":load pageviews 20000")
    total = 0
    days = _cmd(shell, "KEYS", "pageviews:*")
    assert isinstance(days, list) and len(days) == 7
    for day in days:
        values = _cmd(shell, "HVALS", day)
        total += sum(int(v) for v in values)
    assert total == 20000
    assert _cmd(shell, "XLEN", "views") == datasets.STREAM_KEEP
    groups = _cmd(shell, "XINFO", "GROUPS", "views")
    info = dict(groups[0])
    assert info[b"name"] == b"analytics" and info[b"pending"] == 65 and info[b"consumers"] == 2
    uniques = _cmd(shell, "KEYS", "uniques:*")
    assert uniques and _cmd(shell, "PFCOUNT", uniques[0]) > 0


def test_load_under_maxmemory(say: Say, shell: Shell) -> None:
    say(":config maxmemory 1300kb")
    assert isinstance(datasets.make_sink(shell.backend, shell.client), datasets.CommandSink)
    out = say(":load sessions 4000").split("\r")[-1]
    keys = _cmd(shell, "DBSIZE")
    assert out == ("stopped loading sessions: HSET refused: OOM command not allowed when used "
                   f"memory > 'maxmemory'. ({keys:,} keys now)\n")
    say(":config maxmemory-policy allkeys-lru")
    out = say(":load sessions 4000").split("\r")[-1]
    assert out.startswith("loaded sessions: 4,000 sessions; keys ")
    evicted = shell.backend.engine.stats.evicted_keys
    assert f"; {evicted:,} keys evicted on the way (maxmemory)" in out


def test_load_needs_a_free_client(shell: Shell, say: Say) -> None:
    say("MULTI")
    assert say(":load sessions 10").startswith("client default is in a transaction, blocked "
                                               "or subscribed")
    say("DISCARD")
    say("SUBSCRIBE news")
    assert "subscribed" in say(":load sessions 10")
    say(":client loader")
    say("ACL SETUSER default on nopass ~* &* +@all")
    say(":load leaderboard 100")
    assert _cmd(shell, "ZCARD", "leaderboard") == 100


def test_acl_rules_make_load_use_commands(shell: Shell, say: Say) -> None:
    say("ACL SETUSER reader on >pw ~* +@read")
    say("AUTH reader pw")
    shell.set_annotate("off")
    assert isinstance(datasets.make_sink(shell.backend, shell.client), datasets.CommandSink)
    assert not isinstance(datasets.make_sink(shell.backend, shell.client),
                          datasets.EngineSink)
    out = say(":load leaderboard 100").split("\r")[-1]
    assert out.startswith("stopped loading leaderboard: DEL refused: NOPERM")
    assert _cmd(shell, "EXISTS", "leaderboard") == 0


def test_load_in_piped_mode_prints_only_the_summary(tmp_path: Path) -> None:
    out = io.BytesIO()
    run_piped([b":load sessions 250\n", b"DBSIZE\n"], Options(manual_clock=True), out)
    text = out.getvalue().decode()
    assert "\r" not in text and "[" not in text
    lines = text.splitlines()
    assert lines[0].startswith("loaded sessions: 250 sessions; keys 0 -> 250 (+250); memory +")
    assert re.search(r"\(used_memory [\d,]+\)$", lines[0])  # no timing when piped
    assert lines[1] == "250"


def test_load_interrupted_between_batches(shell: Shell, say: Say,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real = datasets.CommandSink.flush
    calls = {"n": 0}

    def flaky(self: datasets.CommandSink) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(self)

    monkeypatch.setattr(datasets.CommandSink, "flush", flaky)
    out = say(":load sessions 5000")
    assert "stopped loading sessions" in out
    assert 0 < _cmd(shell, "DBSIZE") < 5000


# ------------------------------------------------------------------------------------------
# :viz

def _fill(shell: Shell) -> None:
    s = shell.backend.session(shell.client)
    s.execute("RPUSH", "list", *[str(i) * 7 for i in range(4000)])
    s.execute("ZADD", "z", *[x for i in range(500) for x in (str(i * 3), f"m{i}")])
    s.execute("ZADD", "small", "1", "a", "2", "b")
    s.execute("HSET", "h", "f", "v", "bin", b"\x00\xff" * 5000)
    s.execute("SADD", "ints", *range(40))
    s.execute("SADD", "words", "x", "y", b"\xfe\x00")
    s.execute("PFADD", "hll-sparse", *[f"e{i}" for i in range(50)])
    s.execute("PFADD", "hll-dense", *[f"e{i}" for i in range(5000)])
    s.execute("SET", "blob", bytes(range(256)) * 400)
    s.execute("SET", "n", "42")
    for i in range(250):
        s.execute("XADD", "st", "*", "n", str(i))
    s.execute("XGROUP", "CREATE", "st", "g", "0")
    s.execute("XREADGROUP", "GROUP", "g", "alice", "COUNT", "7", "STREAMS", "st", ">")
    # A list edited in the middle and at both ends (its node layout is no longer a replay).
    s.execute("RPUSH", "mixed", *[f"item-{i}" * 3 for i in range(3000)])
    s.execute("LPUSH", "mixed", *[str(i) for i in range(500)])
    s.execute("LINSERT", "mixed", "BEFORE", "item-1500item-1500item-1500", "x" * 300)
    s.execute("LTRIM", "mixed", "10", "-20")
    s.execute("LREM", "mixed", "0", "item-7item-7item-7")


@pytest.mark.parametrize("width", [40, 80, 132])
def test_viz_draws_every_type_within_the_width(shell: Shell, say: Say,
                                               monkeypatch: pytest.MonkeyPatch,
                                               width: int) -> None:
    import redislab.ui.repl.meta as meta

    monkeypatch.setattr(meta, "_width", lambda: width)
    _fill(shell)
    for key in ("list", "mixed", "z", "small", "h", "ints", "words", "hll-sparse", "hll-dense", "blob",
                "n", "st"):
        out = say(f":viz {key}")
        assert "Traceback" not in out and "internal error" not in out
        assert max(len(line) for line in out.splitlines()) <= max(width, 40), key


def test_viz_content(shell: Shell, say: Say) -> None:
    _fill(shell)
    out = say(":viz list")
    assert out.startswith('"list": list, quicklist, 4,000 elements in ')
    assert "⋮" in out and "head" in out and "tail" in out  # middle nodes elided
    out = say(":viz z")
    assert "zset, skiplist, 500 members" in out and "#1 " in out and '"m499"' in out
    assert "skiplist levels" in out and "L1" in out
    out = say(":viz hll-sparse")
    assert "HyperLogLog, sparse" in out and "XZERO" in out and "register map" in out
    out = say(":viz hll-dense")
    assert "HyperLogLog, dense, 12,304 bytes" in out and "16,384 registers x 6 bits" in out
    out = say(":viz st")
    assert "stream, 250 entries in 3 listpack nodes" in out
    assert 'group "g": last-delivered-id' in out and "7 pending" in out
    assert 'consumer "alice": 7 pending' in out
    out = say(":viz blob")
    assert "string, raw, 102,400 bytes" in out and "0000  00 01 02" in out
    out = say(":viz h")
    assert "hash, hashtable, 2 fields" in out and "\\x00\\xff" in out
    assert "dict: 4 buckets for 2 entries (load factor 0.50)" in out
    assert "intset" in say(":viz ints")


def test_viz_odd_values(shell: Shell, say: Say) -> None:
    s = shell.backend.session(shell.client)
    s.execute("ZADD", "zi", "-inf", "a", "inf", "b", *[x for i in range(30)
                                                       for x in (str(i), f"m{i}")])
    s.execute("XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM")
    s.execute("SET", "badhll", b"HYLL\x01" + bytes(11) + b"\x7f\xff\x7f\xff")
    s.execute("SET", b"\xff\x00key", "v")
    s.execute("SET", "grown", "ab")
    s.execute("APPEND", "grown", "c")
    out = say(":viz zi")
    assert "scores -inf .. inf" in out and '#32  "a"' in out and "score distribution" in out
    assert "stream, 0 entries in 0 listpack nodes" in say(":viz empty")
    assert "PFCOUNT would answer INVALIDOBJ" in say(":viz badhll")
    assert say(':viz "\\xff\\x00key"').startswith('"\\xff\\x00key": string, embstr, 1 bytes')
    assert say(":viz grown").startswith('"grown": string, raw, 3 bytes')
    assert "sampling" not in say(":memory empty")


def test_viz_bad_input(say: Say) -> None:
    assert say(":viz") == "usage: :viz KEY\n"
    assert say(":viz a b") == "usage: :viz KEY\n"
    assert say(":viz missing") == "missing: no such key\n"


# ------------------------------------------------------------------------------------------
# :memory

@pytest.mark.parametrize("key", ["list", "mixed", "z", "small", "h", "ints", "words", "hll-sparse",
                                 "hll-dense", "blob", "n", "st", "emb"])
def test_memory_breakdown_adds_up_to_memory_usage(shell: Shell, say: Say, key: str) -> None:
    _fill(shell)
    _cmd(shell, "SET", "emb", "hello world")
    _cmd(shell, "APPEND", "h2", "x" * 300)
    usage = _cmd(shell, "MEMORY", "USAGE", key, "SAMPLES", "0")
    assert isinstance(usage, int)
    out = say(f":memory {key}")
    assert f"{usage:,} bytes (MEMORY USAGE" in out.splitlines()[0]
    assert f"total {usage:>12,} B".replace("total", "") in out
    from redislab.engine.memory.breakdown import breakdown

    engine = shell.backend.engine
    bd = breakdown(engine.extensions["memory"], engine.db(0), key.encode())
    assert bd is not None and sum(p.bytes for p in bd.parts) == usage
    # Counted element by element, nothing is left to extrapolation.
    assert all(p.label != "sampling arithmetic" for p in bd.parts)


def test_memory_bad_input(say: Say) -> None:
    assert say(":memory") == "usage: :memory KEY\n"
    assert say(":memory nothing") == "nothing: no such key\n"


# ------------------------------------------------------------------------------------------
# :config

def test_config_shows_values_defaults_and_changes(shell: Shell, say: Say) -> None:
    out = say(":config maxmemory")
    assert "maxmemory-policy" in out and "noeviction" in out
    assert not any(line.startswith("*") for line in out.splitlines())
    out = say(":config maxmemory-policy allkeys-lru")
    assert out.startswith("OK\n")
    config = shell.backend.engine.config
    assert config.rendered("maxmemory-policy") == "allkeys-lru"
    out = say(":config maxmemory-p*")
    changed = [line for line in out.splitlines() if line.startswith("*")]
    assert len(changed) == 1 and "allkeys-lru" in changed[0] and "noeviction" in changed[0]
    # Several words make one value, as in redis.conf.
    say(":config save 900 1 300 10")
    assert config.rendered("save") == "900 1 300 10"
    assert "requirepass" in say(":config requirepass")
    say(":config requirepass s3cret")
    out = say(":config requirepass")
    assert "s3cret" not in out and "(set)" in out
    assert out.splitlines()[1].startswith("* requirepass")
    assert is_secret(":config requirepass s3cret")  # kept out of the history file
    say("AUTH s3cret")
    assert say(":config nosuch").startswith("no parameter matches *nosuch*")
    bad = say(":config maxmemory lots")
    assert bad.startswith("(error) ERR CONFIG SET failed (possibly related to argument "
                          "'maxmemory')")


# ------------------------------------------------------------------------------------------
# :crash

def test_crash_without_persistence_loses_everything(shell: Shell, say: Say) -> None:
    say("CONFIG SET save \"\"")
    say("SET a 1")
    say(":client other")
    out = say(":crash")
    assert "no persistence is configured" in out
    assert "restarted from the files: 0 keys, 1 lost" in out
    assert shell.client == "default"
    assert _cmd(shell, "DBSIZE") == 0
    assert say(":crash meteor") == "usage: :crash [power|process]\n"


def test_crash_power_loses_what_was_not_fsynced(shell: Shell, say: Say) -> None:
    say("CONFIG SET appendonly yes")
    say(":advance 2s")          # the rewrite that starts the AOF finishes
    say("SET a 1")               # a new second: written and fsynced (everysec)
    say("SET b 2")               # same second: written, not yet fsynced
    out = say(":crash power")
    assert "AOF: appendfsync everysec" in out and "bytes not fsynced" in out
    assert "restarted from the files: 1 key, 1 lost" in out
    assert _cmd(shell, "KEYS", "*") == [b"a"]


def test_crash_process_keeps_what_was_written(shell: Shell, say: Say) -> None:
    say("CONFIG SET appendonly yes")
    say(":advance 2s")
    say("SET a 1")
    say("SET b 2")
    out = say(":crash process")
    assert "restarted from the files: 2 keys, nothing lost" in out
    assert sorted(_cmd(shell, "KEYS", "*")) == [b"a", b"b"]


def test_crash_restarts_from_a_snapshot(shell: Shell, say: Say) -> None:
    say("SET a 1")
    say("SAVE")
    say("SET b 2")
    out = say(":crash")
    assert "RDB: dump.rdb saved 0s ago; 1 changes since" in out
    assert "restarted from the files: 1 key, 1 lost" in out


# ------------------------------------------------------------------------------------------
# :edit

def _editor(tmp_path: Path, body: str, status: int = 0) -> str:
    script = tmp_path / "editor.py"
    script.write_text(f"import sys\nopen(sys.argv[1], 'w').write({body!r})\n"
                      f"sys.exit({status})\n")
    return f"{sys.executable} {script}"


def test_edit_runs_the_file_as_one_command(shell: Shell, say: Say, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    script = ('EVAL "-- a comment on its own line\n'
              "local v = redis.call('INCRBY', KEYS[1], ARGV[1])\n"
              'return v * 2" 1 counter 5\n')
    monkeypatch.setenv("EDITOR", _editor(tmp_path, script))
    out = say(":edit")
    assert "(integer) 10" in out
    assert _cmd(shell, "GET", "counter") == b"5"
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "SET note 'two\nlines'\n"))
    say(":edit")
    assert _cmd(shell, "GET", "note") == b"two\nlines"


def test_edit_refusals(shell: Shell, say: Say, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "SET x 1", status=1))
    assert say(":edit") == "the editor exited with status 1: nothing was run\n"
    assert _cmd(shell, "EXISTS", "x") == 0
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "  \n"))
    assert say(":edit") == "the file was empty: nothing was run\n"
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "SET 'open 1"))
    assert "unbalanced quotes" in say(":edit")
    monkeypatch.setenv("EDITOR", str(tmp_path / "no-such-editor"))
    assert say(":edit").startswith("cannot start the editor")
    assert say(":edit now") == "usage: :edit (then write one command in the editor)\n"


def test_edit_falls_back_to_visual(shell: Shell, say: Say, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.setenv("VISUAL", _editor(tmp_path, "SET v 1"))
    out = say(":edit")
    assert out.startswith("SET v 1\nOK\n")
    assert _cmd(shell, "GET", "v") == b"1"


def test_edit_offers_the_last_text_again(shell: Shell, say: Say, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR", _editor(tmp_path, "INCR hits"))
    say(":edit")
    seen = tmp_path / "seen"
    copy = tmp_path / "copy.py"
    copy.write_text(f"import shutil, sys\nshutil.copy(sys.argv[1], {str(seen)!r})\n")
    copy.chmod(copy.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {copy}")
    out = say(":edit")
    assert seen.read_text() == "INCR hits"
    assert "(integer) 2" in out
    assert not [p for p in os.listdir(tmp_path) if p.startswith("redislab-")]


# ------------------------------------------------------------------------------------------
# Registry: help, completion, hints

def test_help_and_completion_know_the_new_commands(shell: Shell, say: Say) -> None:
    from redislab.ui.repl.hints import hint_for

    text = say(":help")
    for name in (":load", ":viz", ":memory", ":config", ":crash", ":edit"):
        assert name in text
    assert say(":help load").startswith(":load [dataset [count] [hashes]]")
    assert [c[1][0] for c in candidates(":lo", shell)] == [":load"]
    assert [c[1][0] for c in candidates(":load p", shell)] == ["pageviews"]
    assert "hashes" in [c[1][0] for c in candidates(":load leaderboard 1000 h", shell)]
    assert [c[1][0] for c in candidates(":crash p", shell)] == ["power", "process"]
    names = [c[1][0] for c in candidates(":config maxmemory-p", shell)]
    assert names == ["maxmemory-policy"]
    _cmd(shell, "SET", "user:1", "x")
    assert [c[1][0] for c in candidates(":viz us", shell)] == ["user:1"]
    assert [c[1][0] for c in candidates(":memory us", shell)] == ["user:1"]
    assert hint_for(":viz ") == "key"
    assert hint_for(":load ") == "[dataset [count] [hashes]]"


def test_startup_does_not_import_the_heavy_modules() -> None:
    import subprocess

    code = ("import sys; import redislab.ui.repl.shell, redislab.ui.repl.completer; "
            "print(sorted(m for m in ('redislab.ui.datasets', 'redislab.ui.viz', "
            "'redislab.ui.memview', 'redislab.engine.memory.breakdown') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"


def test_viz_and_memory_output_is_plain_text(shell: Shell, transcript: Transcript) -> None:
    _fill(shell)
    shell.handle(":viz z")
    assert all(isinstance(s, str) and isinstance(t, str) for s, t in transcript.fragments)
    assert plain(transcript.fragments)
