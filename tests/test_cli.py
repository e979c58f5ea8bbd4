"""The ``redislab`` command line: --version, exec, options, piped input (typer's CliRunner)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from redislab import __version__
from redislab.cli import app
from redislab.ui.batch import run_piped
from redislab.ui.startup import Options, StartupError, build_engine, read_config_file

from .support.real_redis import RedisServer

runner = CliRunner()


def invoke(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output == f"redislab {__version__} (Redis 7.0 engine)\n"


@pytest.mark.parametrize("args,expected", [
    (["SET", "k", "v"], "OK\n"),
    (["INCR", "counter"], "(integer) 1\n"),
    (["GET", "nope"], "(nil)\n"),
    (["RPUSH", "l", "a", "b"], "(integer) 2\n"),
    (["SET", "k", "-1"], "OK\n"),                       # "-1" is an argument, not an option
    (["APPEND", "k", "a\tb"], "(integer) 3\n"),
    (["LRANGE", "l", "0", "-1"], "(empty array)\n"),
    (["GET"], "(error) ERR wrong number of arguments for 'get' command\n"),
    (["NOSUCH", "x"], "(error) ERR unknown command 'NOSUCH', with args beginning with: 'x' \n"),
])
def test_exec_prints_like_redis_cli(args: list[str], expected: str) -> None:
    result = invoke("exec", "--no-raw", *args)
    assert result.exit_code == 0, result.output
    assert result.output == expected


def test_exec_is_raw_when_output_is_not_a_terminal() -> None:
    assert invoke("exec", "SET", "k", "v").output == "OK\n"
    assert invoke("exec", "GET", "nope").output == "\n"
    assert invoke("exec", "INCR", "n").output == "1\n"
    assert invoke("exec", "--raw", "INCR", "n").output == "1\n"


def test_exec_options_before_and_after_the_subcommand() -> None:
    assert invoke("--no-raw", "exec", "INCR", "n").output == "(integer) 1\n"
    # After the command name everything is an argument, even things that look like options.
    result = invoke("exec", "--no-raw", "SET", "k", "--raw")
    assert result.output == "OK\n"


def test_exec_resp3_map() -> None:
    result = invoke("exec", "-3", "--no-raw", "CONFIG", "GET", "maxmemory")
    assert result.output == '1# "maxmemory" => "0"\n'
    result = invoke("exec", "--no-raw", "CONFIG", "GET", "maxmemory")
    assert result.output == '1) "maxmemory"\n2) "0"\n'


def test_exec_config_options() -> None:
    result = invoke("--maxmemory", "10mb", "exec", "--no-raw", "CONFIG", "GET", "maxmemory")
    assert result.output == '1) "maxmemory"\n2) "10485760"\n'
    result = invoke("exec", "--set", "hash-max-listpack-entries=7", "CONFIG", "GET",
                    "hash-max-listpack-entries")
    assert result.output == "hash-max-listpack-entries\n7\n"
    result = invoke("exec", "--maxmemory-policy", "allkeys-lru", "CONFIG", "GET",
                    "maxmemory-policy")
    assert result.output == "maxmemory-policy\nallkeys-lru\n"


def test_exec_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_text("# a comment\n\nmaxmemory 2mb\nmaxmemory-policy \"allkeys-lfu\"\n")
    result = invoke("--config", str(conf), "exec", "CONFIG", "GET", "maxmemory*")
    assert "maxmemory\n2097152\n" in result.output
    assert "maxmemory-policy\nallkeys-lfu\n" in result.output


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_text("maxmemory 1mb\nno-such-thing yes\n")
    result = invoke("--config", str(conf), "exec", "PING")
    assert result.exit_code == 1
    assert "line 2" in result.output and "no-such-thing" in result.output
    assert "Traceback" not in result.output
    result = invoke("--maxmemory", "lots", "exec", "PING")
    assert result.exit_code == 1
    assert "maxmemory" in result.output and "Traceback" not in result.output
    result = invoke("--set", "novalue", "exec", "PING")
    assert result.exit_code == 1 and "NAME=VALUE" in result.output


def test_read_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "redis.conf"
    conf.write_text("save 900 1 300 10\n  dir '/tmp/x y'\n")
    assert read_config_file(conf) == [(1, "save", "900 1 300 10"), (2, "dir", "/tmp/x y")]
    with pytest.raises(StartupError):
        read_config_file(tmp_path / "missing.conf")
    conf.write_text('dir "open\n')
    with pytest.raises(StartupError, match="line 1"):
        read_config_file(conf)


def test_build_engine_applies_settings() -> None:
    engine = build_engine(Options(settings={"maxmemory": "1mb"}))
    assert engine.config["maxmemory"] == 1024 * 1024


# ------------------------------------------------------------------------------------------
# Piped input

PIPED = "set a 1\nget a\nfoo\nrpush l a b c\nlrange l 0 -1\nget nope\n\nset \"unbalanced\nincr a\n"


def test_piped_input_through_the_cli() -> None:
    result = invoke(input=PIPED)
    assert result.exit_code == 0, result.output
    assert result.output == ("OK\n1\nERR unknown command 'foo', with args beginning with: \n\n"
                             "3\na\nb\nc\n\nInvalid argument(s)\n2\n")


def test_piped_input_no_raw() -> None:
    result = invoke("--no-raw", input=PIPED)
    assert result.output == ('OK\n"1"\n(error) ERR unknown command \'foo\', with args '
                             'beginning with: \n(integer) 3\n1) "a"\n2) "b"\n3) "c"\n(nil)\n'
                             'Invalid argument(s)\n(integer) 2\n')


def test_piped_input_stops_at_quit_and_runs_meta_commands() -> None:
    result = invoke("--clock", "manual", input="set k v px 500\n:advance 1s\nget k\nquit\nget k\n")
    lines = result.output.splitlines()
    assert lines[0] == "OK"
    assert lines[1].startswith("clock advanced 1s")
    assert lines[2:] == [""]  # GET k after expiry: an empty line in raw mode; quit ends


def _redis_cli_piped(port: int, text: str, flags: list[str]) -> str:
    out = subprocess.run(["redis-cli", "-p", str(port), *flags], input=text.encode(),
                         capture_output=True, timeout=20, check=False)
    return out.stdout.decode()


@pytest.mark.real
@pytest.mark.parametrize("flags", [[], ["--no-raw"]], ids=["raw", "no-raw"])
def test_piped_input_matches_redis_cli(redis_server: RedisServer, flags: list[str]) -> None:
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed")
    script = ("FLUSHALL\nset a 1\nget a\nfoo\nrpush l a b c\nlrange l 0 -1\nget nope\n\n"
              "set \"unbalanced\nincr a\nhset h f v\nhgetall h\nsadd s x\nsmembers s\n"
              "zadd z 1.5 m\nzrange z 0 -1 withscores\nmget a nope\n  \nexists a l\n")
    theirs = _redis_cli_piped(redis_server.port, script, flags)
    out = io.BytesIO()
    run_piped(script.encode().splitlines(keepends=True),
              Options(raw=False if flags else None), out)
    assert out.getvalue().decode() == theirs


def test_python_dash_m(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "redislab", "exec", "--no-raw", "INCR", "x"],
                          capture_output=True, timeout=60, check=False,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout == b"(integer) 1\n"
    proc = subprocess.run([sys.executable, "-m", "redislab"], input=b"set a 1\nget a\n",
                          capture_output=True, timeout=60, check=False,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout == b"OK\n1\n"
