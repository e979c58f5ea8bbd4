"""`redislab serve --watch`: every client command logged with the REPL's annotation."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import redis

from redislab.engine import Engine
from redislab.ui.watch import Watcher

from .conftest import RunningServer


def test_in_process_server_logs_each_command_with_its_cost() -> None:
    engine = Engine()
    out = io.StringIO()
    running = RunningServer(engine)
    running.server.on_command = Watcher(engine, out)  # type: ignore[attr-defined]
    try:
        r = redis.Redis(port=running.port)
        r.rpush("list", *range(5))
        r.lrange("list", 0, -1)
        r.execute_command("CLIENT", "SETNAME", "worker")
        try:
            r.execute_command("GET")
        except redis.ResponseError:
            pass
        r.close()
    finally:
        running.stop()
    lines = out.getvalue().splitlines()
    rpush = next(i for i, line in enumerate(lines) if "RPUSH list 0 1 2 3 4" in line)
    assert "O(N)" in lines[rpush + 1] and "N=5" in lines[rpush + 1]
    lrange = next(i for i, line in enumerate(lines) if "LRANGE list 0 -1" in line)
    assert "N=5" in lines[lrange + 1]
    assert any("(worker)] GET  -> (error) ERR wrong number of arguments" in line
               for line in lines)
    assert engine.recording >= 1


def test_expiry_event_is_shown() -> None:
    engine = Engine()
    out = io.StringIO()
    watcher = Watcher(engine, out, mode="full")
    s = engine.session()
    argv = [b"SET", b"k", b"v", b"PX", b"1"]
    watcher(s, argv, s.execute_argv(argv))
    argv = [b"DEL", b"k", b"missing"]
    watcher(s, argv, s.execute_argv(argv))
    text = out.getvalue()
    assert "SET k v PX 1" in text
    assert "DEL k missing" in text
    assert "complexity" in text


def test_serve_watch_prints_the_log_on_stdout() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "redislab", "serve", "--port", "0",
                             "--watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        match = re.search(r":(\d+) ", banner)
        assert match, banner
        r = redis.Redis(port=int(match.group(1)))
        r.set("greeting", "hello")
        command = proc.stdout.readline()
        while "greeting" not in command:  # redis-py's handshake (HELLO, CLIENT SETINFO) first
            assert command, "the log ended"
            command = proc.stdout.readline()
        note = proc.stdout.readline()
        assert "SET greeting hello" in command
        assert "O(1)" in note
        r.shutdown(nosave=True)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
