"""`redislab serve` end to end: a real process that redis-py and redis-cli talk to."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import redis


@pytest.fixture
def serve_process():
    proc = subprocess.Popen([sys.executable, "-m", "redislab", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r":(\d+) ", line)
    assert match, f"unexpected banner: {line!r} {proc.stderr.read() if proc.poll() else ''}"
    try:
        yield proc, int(match.group(1))
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def test_redis_py_and_shutdown(serve_process):
    proc, port = serve_process
    r = redis.Redis(port=port)
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.incr("n") == 1
    if shutil.which("redis-cli"):
        out = subprocess.run(["redis-cli", "-p", str(port), "GET", "k"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        assert out == "v"
    # redis-py treats the closed connection as the sign that SHUTDOWN worked.
    r.shutdown(nosave=True)
    assert proc.wait(10) == 0
