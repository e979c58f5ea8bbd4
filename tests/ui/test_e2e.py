"""The real ``redislab`` entry point in a pseudo-terminal: type, complete, read, advance time."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

ROOT = Path(__file__).resolve().parents[2]
PROMPT = re.compile(r"redislab(\x1b\[[0-9;?]*[a-zA-Z])*>")
CPR_REQUEST = "\x1b[6n"


class Terminal:
    """A child process on a pty that answers prompt-toolkit's cursor-position requests."""

    def __init__(self, tmp: Path) -> None:
        env = dict(os.environ, TERM="xterm", REDISLAB_HISTFILE=str(tmp / "history"),
                   PYTHONPATH=str(ROOT))
        self.child = pexpect.spawn(
            sys.executable, ["-c", "from redislab.cli import main; main()"],
            env=env, cwd=str(ROOT), encoding="utf-8", timeout=30, dimensions=(30, 110))

    def expect(self, pattern: str | re.Pattern[str]) -> str:
        """Wait for ``pattern``, answering cursor-position requests meanwhile; returns the
        output seen before it."""
        seen = []
        while True:
            i = self.child.expect([re.escape(CPR_REQUEST), pattern])
            seen.append(self.child.before)
            if i == 0:
                self.child.send("\x1b[1;1R")
                continue
            return "".join(seen)

    def send(self, text: str) -> None:
        self.child.send(text)


def test_repl_in_a_terminal(tmp_path: Path) -> None:
    t = Terminal(tmp_path)
    try:
        t.expect(PROMPT)
        # Completion of a command name, then a reply and its annotation.
        t.send("ZAD")
        t.expect("ZAD")
        t.send("\t")
        t.expect("ZADD")
        t.send(" board 1 alice\r")
        t.expect(re.escape("(integer) 1"))
        t.expect(re.escape("O(M log N) · N=1 M=1 · 1 step"))
        # Completion of a live key name.
        t.send("SET user:42 hello\r")
        t.expect("OK")
        t.send("GET user:")
        t.expect("user:")
        t.send("\t")
        t.expect("user:42")
        t.send("\r")
        t.expect('"hello"')
        # Ctrl-R finds an earlier line in the history; Enter takes it, Enter runs it.
        t.send("\x12")
        t.expect("reverse-i-search")
        t.send("user:42 h")
        t.expect(re.compile(r"SET.*user:42.*h.*ello"))  # found, with the match highlighted
        t.send("\r")
        t.send("\r")
        t.expect("OK")
        # A frozen clock moved by hand expires a key.
        t.send(":clock manual\r")
        t.expect("clock frozen")
        t.send("SET session:1 x EX 10\r")
        t.expect("OK")
        t.send(":advance 11s\r")
        t.expect("clock advanced 11s")
        t.expect("1 key expired")
        t.send("GET session:1\r")
        t.expect(re.escape("(nil)"))
        # A sample dataset loads with a progress line, then a drawing of it.
        t.send(":load leaderboard 3000\r")
        t.expect(re.escape("loaded leaderboard: 3,000 players"))
        t.send(":viz lead")
        t.expect("lead")
        t.send("\t")
        t.expect("leaderboard")
        t.send("\r")
        t.expect("skiplist levels")
        # Ctrl-C drops the line, Ctrl-D leaves cleanly.
        t.send("GET half")
        t.expect("half")
        t.send("\x03")
        t.send("PING\r")
        t.expect("PONG")
        t.send("\x04")
        t.child.expect(pexpect.EOF)
        t.child.close()
        assert t.child.exitstatus == 0
        assert "Traceback" not in (t.child.before or "")
        history = (tmp_path / "history").read_text()
        assert "SET user:42 hello" in history and "GET half" not in history
    finally:
        if t.child.isalive():
            t.child.terminate(force=True)
