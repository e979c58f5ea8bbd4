"""The REPL's piped mode and ``exec`` on a real server (``--url``) print what redis-cli prints."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest

from redislab.ui.batch import exec_command, run_piped
from redislab.ui.remote import RemoteBackend
from redislab.ui.repl.shell import Shell
from redislab.ui.startup import Options, StartupError
from redislab.ui.theme import plain

SCRIPT = """\
SET a 1
GET a
GET missing
INCR a
APPEND a xyz
LPUSH l x y z
LRANGE l 0 -1
HSET h f v g w
HGETALL h
ZADD z 1.5 m 2 n
ZRANGE z 0 -1 WITHSCORES
ZSCORE z m
SADD s one
SMEMBERS s
SMEMBERS nope
BLPOP nothing 0.01
INCR l
CONFIG GET maxmemory
MULTI
SET b 2
INCR b
EXEC
EXISTS a b c
PING
SELECT 2
DBSIZE
"""


def _cli(port: int, *flags: str, stdin: str = "", args: tuple[str, ...] = ()) -> str:
    binary = shutil.which("redis-cli")
    if binary is None:
        pytest.skip("redis-cli is not installed")
    return subprocess.run([binary, "-p", str(port), *flags, *args], input=stdin.encode(),
                          capture_output=True, check=True).stdout.decode()


def _flush(port: int) -> None:
    _cli(port, args=("FLUSHALL",))


def _piped(url: str, script: str, **kw: object) -> str:
    out = io.BytesIO()
    run_piped((line.encode() + b"\n" for line in script.splitlines()), Options(url=url, **kw),
              out)  # type: ignore[arg-type]
    return out.getvalue().decode()


@pytest.mark.parametrize("resp3", [False, True])
@pytest.mark.parametrize("raw", [True, False])
def test_piped_input_matches_redis_cli(redis_server, raw: bool, resp3: bool) -> None:
    port = redis_server.port
    url = f"redis://127.0.0.1:{port}"
    _flush(port)
    ours = _piped(url, SCRIPT, raw=raw, resp3=resp3)
    _flush(port)
    flags = ["--raw" if raw else "--no-raw"] + (["-3"] if resp3 else [])
    theirs = _cli(port, *flags, stdin=SCRIPT)
    _flush(port)
    assert ours == theirs


@pytest.mark.parametrize("raw", [True, False])
def test_exec_matches_redis_cli(redis_server, raw: bool) -> None:
    port = redis_server.port
    url = f"redis://127.0.0.1:{port}/3"
    _flush(port)
    for args in (["RPUSH", "q", "a", "b"], ["LRANGE", "q", "0", "-1"], ["GET", "q"],
                 ["TYPE", "q"], ["OBJECT", "ENCODING", "q"]):
        out = io.BytesIO()
        assert exec_command(args, Options(url=url, raw=raw), out) == 0  # type: ignore[arg-type]
        theirs = _cli(port, "--raw" if raw else "--no-raw", "-n", "3", args=("EXISTS", "q"))
        assert theirs  # the server is the same one
        if args[0] == "RPUSH":
            continue  # run once only: compare the reads
        expected = _cli(port, "--raw" if raw else "--no-raw", "-n", "3", args=tuple(args))
        assert out.getvalue().decode() == expected
    _flush(port)


def test_db_in_url_and_option(redis_server) -> None:
    port = redis_server.port
    _flush(port)
    assert _piped(f"redis://127.0.0.1:{port}/4", "SET k v\n", raw=True) == "OK\n"
    assert _cli(port, "-n", "4", args=("GET", "k")) == "v\n"
    assert _piped(f"redis://127.0.0.1:{port}", "GET k\n", raw=True, db=4) == "v\n"
    _flush(port)


def test_engine_only_features_say_so(redis_server) -> None:
    port = redis_server.port
    text = _piped(f"redis://127.0.0.1:{port}", ":advance 10s\n:clock manual\n:reset\nPING\n",
                  raw=True)
    lines = text.splitlines()
    assert "needs the embedded engine" in lines[0]
    assert "needs the embedded engine" in lines[1]
    assert "needs the embedded engine" in lines[2]
    assert lines[3] == "PONG"


def test_annotation_from_the_command_table_and_memory_usage(redis_server) -> None:
    port = redis_server.port
    _flush(port)
    backend = RemoteBackend(f"redis://127.0.0.1:{port}")
    shown: list[str] = []
    shell = Shell(backend, lambda f: shown.append(plain(f)), annotate="full",
                  interactive=False)
    shell.handle("SET greeting hello")
    text = "".join(shown)
    assert "OK" in text
    assert "O(1)" in text
    assert "memory:" in text  # MEMORY USAGE before and after the write
    shown.clear()
    shell.handle("LRANGE greeting 0 -1")
    assert "WRONGTYPE" in "".join(shown)
    backend.close()
    _flush(port)


def test_unreachable_server_is_a_startup_error() -> None:
    with pytest.raises(StartupError, match="cannot connect"):
        _piped("redis://127.0.0.1:1", "PING\n")


def test_configuration_options_need_the_engine() -> None:
    with pytest.raises(StartupError, match="embedded engine"):
        _piped("redis://127.0.0.1:1", "PING\n", settings={"maxmemory": "1mb"})


@pytest.fixture(scope="module")
def cluster_node():
    """A one-node Redis Cluster owning every slot."""
    from tests.support.real_redis import RedisServer, free_port

    # The bus port defaults to port + 10000, which may not exist: name a free one.
    node = RedisServer(["--cluster-enabled", "yes", "--cluster-port", str(free_port())])
    try:
        _cli(node.port, args=("CLUSTER", "ADDSLOTSRANGE", "0", "16383"))
        for _ in range(500):  # the node needs a few cron rounds to call its slots ok
            if "cluster_state:ok" in _cli(node.port, args=("CLUSTER", "INFO")):
                break
            subprocess.run(["redis-cli", "-p", str(node.port), "WAIT", "0", "20"],
                           capture_output=True)  # a 20 ms pause on the server's side
        else:
            pytest.skip("the one-node cluster did not come up")
        yield node
    finally:
        node.stop()


@pytest.mark.parametrize("resp3", [False, True])
def test_cluster_url_matches_redis_cli_c(cluster_node, resp3: bool) -> None:
    port = cluster_node.port
    script = "SET a 1\nGET a\nRPUSH l a b\nLRANGE l 0 -1\nHGETALL nope\nPING\nGET\n"
    _flush(port)
    ours = _piped(f"redis+cluster://127.0.0.1:{port}", script, raw=False, resp3=resp3)
    _flush(port)
    theirs = _cli(port, "-c", "--no-raw", *(["-3"] if resp3 else []), stdin=script)
    _flush(port)
    assert ours == theirs


def test_a_dropped_connection_comes_back_on_the_selected_db(redis_server) -> None:
    port = redis_server.port
    _flush(port)
    backend = RemoteBackend(f"redis://127.0.0.1:{port}")
    backend.execute([b"SELECT", b"5"])
    backend.execute([b"SET", b"k", b"five"])
    backend.session("default").conn.disconnect()  # as after Ctrl-C during a read
    assert backend.execute([b"GET", b"k"]).reply == b"five"
    assert backend.db_index("default") == 5
    backend.close()
    _flush(port)
