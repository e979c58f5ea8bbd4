"""The REPL's prompt-toolkit parts: completer, lexer, hint, toolbar, bindings, history, and a
whole prompt session fed through a pipe (no terminal needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from redislab.ui.repl import history as hist
from redislab.ui.repl.app import run_repl
from redislab.ui.repl.bindings import continues
from redislab.ui.repl.completer import ReplCompleter, candidates
from redislab.ui.repl.lexer import ReplLexer, fragments_for
from redislab.ui.repl.shell import Shell
from redislab.ui.repl.toolbar import toolbar_fragments
from redislab.ui.startup import Options
from redislab.ui.theme import plain


def _inserted(text: str, shell: Shell | None = None) -> list[str]:
    return [c[0] for _, c in candidates(text, shell)]


# ------------------------------------------------------------------------------------------
# Completer

def test_complete_commands_keep_the_users_case() -> None:
    got = _inserted("zra")
    assert "zrange" in got and "zrangebyscore" in got and all(g.startswith("zra") for g in got)
    assert "ZADD" in _inserted("ZA")
    assert "HELP" in _inserted("HE")


def test_complete_tokens_at_the_cursor() -> None:
    assert set(_inserted("SET k v ")) >= {"NX", "XX", "GET", "EX", "PX", "KEEPTTL"}
    assert _inserted("SET k v ke") == ["keepttl"]
    assert _inserted("SET k v NX G") == ["GET"]
    assert "NX" not in _inserted("SET k v NX ")
    assert _inserted("LMOVE a b ") == ["LEFT", "RIGHT"]
    assert _inserted("CONFIG ") == ["GET", "HELP", "RESETSTAT", "REWRITE", "SET"]
    assert _inserted("config g") == ["get"]


def test_complete_live_keys(shell: Shell) -> None:
    shell.handle("MSET user:1 a user:2 b other c")
    shell.handle('SET "has space" x')
    shell.handle("HSET user:h f v")
    got = candidates("GET user:", shell)
    assert [c[0] for _, c in got] == ["user:1", "user:2", "user:h"]
    assert [c[2] for _, c in got] == ["string", "string", "hash"]
    assert got[0][0] == -len("user:")
    assert '"has space"' in _inserted("DEL ", shell)
    # No key position, no keys.
    assert "other" not in _inserted("SET k ", shell)


def test_complete_keys_does_not_touch_them(shell: Shell) -> None:
    shell.handle("SET t v PX 100")
    shell.backend.engine.clock.advance(1)
    assert _inserted("GET ", shell) == []  # past its TTL: not offered ...
    assert b"t" in shell.backend.engine.dbs[0].data  # ... and not deleted by looking


def test_complete_config_parameters_and_help_topics(shell: Shell) -> None:
    got = _inserted("CONFIG GET maxmemory-p", shell)
    assert "maxmemory-policy" in got
    assert "@sorted_set" in _inserted("help @so")
    assert "zadd" in _inserted("help zad")


def test_complete_meta_commands_and_clients(shell: Shell) -> None:
    # Other parts (lessons) register meta-commands too, so look for ours, in order.
    metas = _inserted(":")
    assert metas == sorted(metas)
    assert {":advance", ":annotate", ":client", ":clock", ":help"} <= set(metas)
    assert _inserted(":cl") == [":client", ":clock"]
    assert _inserted(":clock ", shell) == ["manual", "real"]
    assert _inserted(":annotate f", shell) == ["full"]
    shell.handle("@bob PING")
    assert _inserted("@b", shell) == ["@bob"]
    assert _inserted(":client ", shell) == ["default", "bob"]


def test_completer_yields_prompt_toolkit_completions(shell: Shell) -> None:
    comp = ReplCompleter(shell)
    got = list(comp.get_completions(Document("GET"), CompleteEvent()))
    assert any(c.text == "GET" and c.start_position == -3 for c in got)
    assert any("string" in str(c.display_meta) for c in got if c.text == "GET")


# ------------------------------------------------------------------------------------------
# Lexer and hint

def test_lexer_styles_by_role() -> None:
    frags = fragments_for("SET user:1 42 EX 10")
    assert frags == [("input.command", "SET"), ("", " "), ("input.key", "user:1"), ("", " "),
                     ("input.string", "42"), ("", " "), ("input.token", "EX"), ("", " "),
                     ("input.number", "10")]
    assert fragments_for("nosuch x")[0] == ("input.unknown", "nosuch")
    assert fragments_for(":advance 10s")[0] == ("input.meta", ":advance")
    assert fragments_for('SET k "open')[-1] == ("input.open-quote", '"open')
    assert plain(fragments_for("  GET   k  ")) == "  GET   k  "


def test_lexer_handles_multiple_lines() -> None:
    doc = Document('EVAL "local x = 1\nreturn x" 0')
    get_line = ReplLexer().lex_document(doc)
    assert "".join(t for _, t in get_line(0)) == 'EVAL "local x = 1'
    assert "".join(t for _, t in get_line(1)) == 'return x" 0'
    assert get_line(5) == []


def test_enter_continues_only_inside_a_script() -> None:
    assert continues('EVAL "local x = 1')
    assert continues("SCRIPT LOAD 'return 1")
    assert not continues('EVAL "return 1" 0')
    assert not continues('SET k "open')
    assert not continues("GET k")


# ------------------------------------------------------------------------------------------
# Toolbar

def test_toolbar(shell: Shell) -> None:
    shell.handle("SET a 1")
    idle = plain(toolbar_fragments(shell, ""))
    assert idle.startswith(" default db0 · 1 key · clock manual ")
    assert "annotate brief [F3]" in idle
    typing = plain(toolbar_fragments(shell, "ZADD k "))
    assert "ZADD  sorted_set · O(M log N) · since 1.2.0" in typing
    assert "subcommands: GET" in plain(toolbar_fragments(shell, "CONFIG "))
    assert ":advance  move the clock" in plain(toolbar_fragments(shell, ":advance 1"))


# ------------------------------------------------------------------------------------------
# History

def test_history_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REDISLAB_HISTFILE", raising=False)
    monkeypatch.setattr(hist.sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert hist.history_path() == tmp_path / "redislab" / "history"
    monkeypatch.setenv("REDISLAB_HISTFILE", "")
    assert hist.history_path() is None
    monkeypatch.setenv("REDISLAB_HISTFILE", str(tmp_path / "h"))
    assert hist.history_path() == tmp_path / "h"


def test_history_file_skips_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "history"
    monkeypatch.setenv("REDISLAB_HISTFILE", str(path))
    h = hist.make_history()
    h.append_string("SET a 1")
    h.append_string("AUTH hunter2")
    text = path.read_text()
    assert "SET a 1" in text and "hunter2" not in text


# ------------------------------------------------------------------------------------------
# A whole session through a pipe

def test_prompt_session_through_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDISLAB_HISTFILE", "")
    printed: list[str] = []
    import redislab.ui.repl.app as app_module

    def fake_print(text: list[tuple[str, str]], **kwargs: object) -> None:
        printed.append("".join(t for _, t in text))

    monkeypatch.setattr(app_module, "print_formatted_text", fake_print)
    with create_pipe_input() as inp:
        with create_app_session(input=inp, output=DummyOutput()):
            inp.send_text("SET k v\r")
            inp.send_text("GET k\r")
            inp.send_text("\x03")               # Ctrl-C drops a line ...
            inp.send_text("ZADD z 1 a\r")
            inp.send_text(':advance 5s\r')
            inp.send_text("\x04")               # ... Ctrl-D leaves
            code = run_repl(Options(manual_clock=True), input=inp, output=DummyOutput())
    assert code == 0
    out = "".join(printed)
    assert "OK\n  ↳ O(1) · +104 B\n" in out
    assert '"v"\n' in out
    assert "(integer) 1\n  ↳ O(M log N) · N=1 M=1 · 1 step · +" in out
    assert "clock advanced 5s" in out
