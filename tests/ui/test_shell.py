"""The REPL without a terminal: replies, annotations, pitfalls, clients, clock, meta-commands."""

from __future__ import annotations

from typing import Callable

import pytest

from redislab.ui import annotate as ann
from redislab.ui.repl.history import is_secret
from redislab.ui.repl.shell import Shell

from .conftest import Transcript

Say = Callable[[str], str]


def test_reply_and_brief_annotation(say: Say) -> None:
    # The first key also allocates the main dict's table: 104 bytes in all, as Redis counts.
    assert say("SET k v") == "OK\n  ↳ O(1) · +104 B\n"
    out = say("ZADD board 10 alice 20 bob")
    assert out.startswith("(integer) 2\n  ↳ O(M log N) · N=2 M=2 · 2 steps · +")
    assert say("LRANGE nope 0 -1").startswith("(empty array)\n")


def test_errors_and_unbalanced_quotes(say: Say) -> None:
    assert say("GET") == "(error) ERR wrong number of arguments for 'get' command\n"
    assert say("SET 'open").startswith("Invalid argument(s): the ' opened at column 5")
    assert "must be followed by a space" in say('SET "a"b c')
    assert say("   ") == ""


def test_annotation_modes(shell: Shell, say: Say) -> None:
    assert say(":annotate off") == "annotations: off\n"
    assert say("SET k v") == "OK\n"
    assert shell.backend.engine.recording == 0
    say(":annotate full")
    out = say("RPUSH l a b c")
    assert out.startswith("(integer) 3\n  complexity: O(N)")
    assert "N = values given: 3" in out or "N = " in out
    assert '"l": absent -> list' in out
    assert say(":annotate loud").startswith("usage")
    say(":annotate brief")
    assert shell.backend.engine.recording == 1


def test_queued_and_exec_annotations(say: Say) -> None:
    say("MULTI")
    assert say("SET a 1") == "QUEUED\n  ↳ queued (1 waiting): runs when EXEC is called\n"
    say("INCR a")
    assert say("EXEC") == "1) OK\n2) (integer) 2\n  ↳ depends on the queued commands · " \
                          "+72 B · EXEC ran SET, INCR\n"


def test_explain_expands_the_last_command(say: Say) -> None:
    assert say(":explain").startswith("nothing to explain")
    say("MSET a 1 b 2 c 3")
    say("KEYS *")
    out = say(":explain")
    assert out.splitlines()[0] == "KEYS *"
    assert "N = keys in the database: 3" in out
    assert "documented: O(N) with N being the number of keys" in out


def test_keys_over_a_big_keyspace_warns(shell: Shell, say: Say) -> None:
    args = [b"MSET"]
    for i in range(1200):
        args += [b"k%d" % i, b"v"]
    shell.run(args)
    out = say("KEYS nomatch*")
    assert "! KEYS scanned 1,200 keys: this blocks every client; use SCAN" in out


def test_big_delete_suggests_unlink(shell: Shell, say: Say) -> None:
    args = [b"HSET", b"big"]
    for i in range(10_000):
        args += [b"f%d" % i, b"v"]
    shell.run(args)
    out = say("DEL big")
    assert "M=10,000" in out
    assert 'DEL freed a 10,000-element hash "big"' in out and "UNLINK" in out


def test_encoding_conversion_is_reported(shell: Shell, say: Say) -> None:
    say("CONFIG SET hash-max-listpack-entries 2")
    say("HSET h a 1 b 2")
    out = say("HSET h c 3")
    assert '"h" listpack -> hashtable' in out


def test_cache_key_without_ttl_and_ttl_cleared(say: Say) -> None:
    assert "looks like a cache entry but has no TTL" in say("SET cache:user:1 {}")
    assert "looks like a cache entry" not in say("SET cache:user:2 {} EX 60")
    say("SET s v EX 100")
    assert "SET removed the TTL of \"s\" (add KEEPTTL to keep it)" in say("SET s w")


def test_batch_rule(say: Say) -> None:
    say("GET a")
    say("GET b")
    assert "3 GET calls in a row: MGET does them in one round trip" in say("GET c")
    assert "in a row" not in say("GET d")


def test_sources_and_rules_are_pluggable(say: Say) -> None:
    @ann.source("test-source", order=99)
    def extra(outcome: object) -> ann.Note:
        return ann.Note("test-source", "extra!")

    @ann.pitfall("test-rule")
    def rule(outcome: object, history: object) -> ann.Pitfall:
        return ann.Pitfall("test-rule", "careful")

    try:
        out = say("GET x")
        assert "· extra!" in out and "! careful" in out
    finally:
        ann.SOURCES[:] = [s for s in ann.SOURCES if s[1] != "test-source"]
        ann.PITFALLS[:] = [p for p in ann.PITFALLS if p[0] != "test-rule"]


def test_repeat_count(say: Say) -> None:
    out = say("3 INCR n")
    assert [line for line in out.splitlines() if not line.startswith("  ")] == [
        "(integer) 1", "(integer) 2", "(integer) 3"]


def test_clients(shell: Shell, say: Say) -> None:
    assert say("@bob SET x 1").startswith("[bob] OK\n")
    assert say(":client bob") == "now typing as client bob\n"
    assert shell.prompt_fragments()[0] == ("prompt.client", "bob@")
    assert say("GET x").startswith('"1"')
    listing = say(":client")
    assert " * bob (id " in listing and "   default (id " in listing
    say(":client default")
    assert say("@bob").startswith("@bob needs a command")


def test_prompt_shows_db_and_transaction(shell: Shell, say: Say) -> None:
    from redislab.ui.theme import plain

    say("SELECT 2")
    say("MULTI")
    assert plain(shell.prompt_fragments()) == "redislab[2](TX)> "


def test_manual_clock_and_advance(shell: Shell, say: Say) -> None:
    say("SET t 1 PX 1500")
    out = say(":advance 2s")
    assert out.startswith("clock advanced 2s to ")
    assert "1 key expired" in out and 'expired "t" (removed by the active expiry cycle)' in out
    assert say("GET t").startswith("(nil)")
    assert say(":advance soon").startswith("not a duration")
    assert say(":advance").startswith("usage")
    assert say(":clock").startswith("clock: manual")
    assert say(":clock real").startswith("clock running in real time")
    assert not shell.backend.clock.manual
    assert say(":clock manual").startswith("clock frozen")


def test_lazy_expiry_event(shell: Shell, say: Say) -> None:
    say("SET t 1 PX 100")
    shell.backend.engine.clock.advance(1)  # time passes without the periodic work
    out = say("GET t")
    assert 'expired "t" (found past its TTL when touched)' in out


def test_blocked_client_served_by_another(shell: Shell, say: Say) -> None:
    out = say("XREAD BLOCK 5000 STREAMS s $")
    assert "client default is blocked on s" in out
    assert plain_prompt(shell).endswith("(blocked)> ")
    assert say("GET x").startswith("client default is blocked in XREAD")
    out = say("@bob XADD s 1-1 f v")
    assert out.startswith('[bob] "1-1"\n')
    assert '[default] 1) 1) "s"' in out


def test_blocked_client_times_out_on_advance(say: Say) -> None:
    say("XREAD BLOCK 1000 STREAMS s $")
    out = say(":advance 2s")
    assert "[default] (nil)" in out


def test_pubsub_messages_reach_the_subscriber(say: Say) -> None:
    out = say("@bob SUBSCRIBE news")
    assert '[bob] 1) "subscribe"\n2) "news"\n3) (integer) 1\n' in out
    assert "(client bob now only accepts (P|S)SUBSCRIBE" in out
    out = say("PUBLISH news hello")
    assert out.startswith("(integer) 1\n")
    assert '[bob] 1) "message"\n2) "news"\n3) "hello"\n' in out


def plain_prompt(shell: Shell) -> str:
    from redislab.ui.theme import plain

    return plain(shell.prompt_fragments())


def test_help(say: Say) -> None:
    assert say("help").startswith("redislab ")
    card = say("help set")
    assert "\n  SET key value [NX|XX] [GET] [EX seconds" in card
    assert "  complexity: O(1)\n" in card and "  since: 1.0.0\n" in card
    assert "  group: string\n" in card and "summary: " in card
    group = say("help @list")
    assert "  LPUSH key element [element ...]\n" in group and "  RPUSH " in group
    assert "  SET " not in group
    assert say("help @nosuch").startswith("no group @nosuch")
    assert say("help nosuch").startswith("no command nosuch")
    assert "  CONFIG GET parameter [parameter ...]" in say("HELP CONFIG")
    assert "cost: O(M log N)" in say("help zadd")


def test_meta_help(say: Say) -> None:
    out = say(":help")
    for name in (":advance", ":annotate", ":client", ":clock", ":explain", ":help", ":quit",
                 ":reset", ":peek"):
        assert name in out
    assert say(":help :advance").startswith(":advance duration\n")
    assert "SET key value" in say(":help SET")
    assert say(":nosuch").startswith("unknown meta-command :nosuch")


def test_peek_raw_hints_reset(shell: Shell, say: Say) -> None:
    say("RPUSH l a b")
    assert say(":peek l") == "l: list, encoding quicklist, 2 elements, no TTL\n"
    assert say(":peek nope") == "nope: no such key\n"
    say(":raw on")
    assert say("LRANGE l 0 -1").startswith("a\nb\n")
    say(":raw off")
    say(":hints off")
    assert shell.hints is False
    say("@bob SET x 1")
    assert say(":reset").startswith("engine reset")
    assert shell.backend.client_names() == ["default"]
    assert say("DBSIZE").startswith("(integer) 0")
    assert shell.backend.engine.recording == 1


def test_quit_and_exit(shell: Shell) -> None:
    assert shell.handle("quit") is False
    shell.running = True
    assert shell.handle("EXIT") is False
    shell.running = True
    assert shell.handle(":q") is False


def test_secret_lines_are_not_kept() -> None:
    assert is_secret("AUTH secret")
    assert is_secret("  config   set requirepass x")
    assert is_secret("@bob auth x")
    assert not is_secret("GET auth")


@pytest.mark.parametrize("line", ["INFO", "COMMAND", "XINFO HELP", "DEBUG OBJECT nope"])
def test_any_command_survives(say: Say, line: str) -> None:
    assert say(line)


def test_real_clock_waits_for_a_blocked_client_like_redis_cli(transcript: Transcript) -> None:
    from redislab.ui.batch import make_backend
    from redislab.ui.startup import Options

    backend = make_backend(Options())
    clock = backend.clock
    assert clock is not None and not clock.manual
    waited: list[float] = []

    def fake_sleep(seconds: float) -> None:
        # Stands in for real time passing: the clock jumps instead of the test waiting.
        waited.append(seconds)
        clock.advance(seconds)

    shell = Shell(backend, transcript, sleep=fake_sleep)
    shell.handle("XREAD BLOCK 200 STREAMS s $")
    out = transcript.take()
    assert out.startswith("(nil)\n  ↳ O(N)")  # the reply of the command, after the wait
    # (How much was slept depends on how long the machine took to get there.)
    assert all(0 < w <= 0.05 for w in waited)
    assert backend.session("default").blocked is None


def test_ctrl_c_while_waiting_unblocks(transcript: Transcript) -> None:
    from redislab.ui.batch import make_backend
    from redislab.ui.startup import Options

    backend = make_backend(Options())

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    shell = Shell(backend, transcript, sleep=interrupted)
    shell.handle("XREAD BLOCK 5000 STREAMS s $")
    assert transcript.take().startswith("(interrupted: the client stopped waiting)\n")
    assert backend.session("default").blocked is None


def test_group_listing_leaves_out_the_group_line_as_redis_cli(say: Say) -> None:
    assert "group: string" not in say("help @string")
    assert "group: string" in say("help GET")


def test_resp3_session(transcript: Transcript) -> None:
    from redislab.ui.batch import make_backend
    from redislab.ui.startup import Options

    shell = Shell(make_backend(Options(resp3=True, manual_clock=True)), transcript,
                  annotate="off")
    shell.handle("CONFIG GET maxmemory")
    assert transcript.take() == '1# "maxmemory" => "0"\n'
    shell.handle("ZADD z 1.5 a")
    shell.handle("ZSCORE z a")
    assert transcript.take() == "(integer) 1\n(double) 1.5\n"
