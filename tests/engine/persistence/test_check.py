"""check-rdb and check-aof diagnoses, and their agreement with Redis's own checkers."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from redislab.engine import Engine, ManualClock
from redislab.engine.persistence.aof import encode_command
from redislab.engine.persistence.check import check_aof, check_rdb


def _files(folder: str) -> Engine:
    e = Engine.from_dir(folder, clock=ManualClock(), config={"save": "", "appendonly": "yes"})
    s = e.session()
    s.execute("SET", "a", "1")
    s.execute("SET", "b", "2", "PX", "1000")
    s.execute("RPUSH", "l", "x", "y")
    s.execute("SAVE")
    return e


def test_check_rdb_good_file(tmp_path):
    _files(str(tmp_path))
    d = check_rdb(str(tmp_path / "dump.rdb"), now_ms=1_700_000_000_500)
    assert d.ok and d.exit_code == 0
    assert d.lines[0] == f"[offset 0] Checking RDB file {tmp_path / 'dump.rdb'}"
    assert "[offset 27] AUX FIELD redis-ver = '7.0.15'" in d.lines
    assert any(line.endswith("Checksum OK") for line in d.lines)
    assert d.lines[-4].endswith("\\o/ RDB looks OK! \\o/")
    assert d.lines[-3:] == ["[info] 3 keys read", "[info] 1 expires",
                            "[info] 0 already expired"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "missing"])
def test_check_rdb_bad_files(tmp_path, damage):
    _files(str(tmp_path))
    path = tmp_path / "dump.rdb"
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[:60])
    elif damage == "flip":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    else:
        path.unlink()
    d = check_rdb(str(path))
    assert not d.ok and d.exit_code == 1
    if damage == "truncate":
        assert "--- RDB ERROR DETECTED ---" in d.lines
        assert "[offset 55] Unexpected EOF reading RDB file" in d.lines
    elif damage == "flip":
        assert any("Wrong RDB checksum" in line for line in d.lines)
    if shutil.which("redis-check-rdb") and damage != "missing":
        real = subprocess.run(["redis-check-rdb", str(path)], capture_output=True)
        assert real.returncode != 0


def test_check_aof_valid_directory_and_manifest(tmp_path):
    _files(str(tmp_path))
    folder = tmp_path / "appendonlydir"
    for target in (folder, folder / "appendonly.aof.manifest"):
        d = check_aof(str(target))
        assert d.ok, d.text()
        assert d.lines[0] == "Start checking Multi Part AOF"
        assert "RDB preamble is OK, proceeding with AOF tail..." in d.lines
        assert "INCR AOF appendonly.aof.1.incr.aof is valid" in d.lines
        assert d.lines[-1] == "All AOF files and manifest are valid"


@pytest.mark.parametrize("tail,kind", [
    (b"*3\r\n$3\r\nSET\r\n$1", "truncated"),
    (b"garbage\r\n", "format"),
    (encode_command([b"MULTI"]) + encode_command([b"SET", b"a", b"1"]), "multi"),
])
def test_check_aof_problems_and_fix(tmp_path, tail, kind):
    _files(str(tmp_path))
    incr = tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof"
    good = incr.read_bytes()
    incr.write_bytes(good + tail)
    d = check_aof(str(tmp_path / "appendonlydir"))
    assert not d.ok and d.exit_code == 1
    assert f"AOF appendonly.aof.1.incr.aof is not valid. Use the --fix option to try fixing " \
           f"it." in d.lines
    assert d.fixable == (str(incr), len(good) + len(tail), len(good))
    if kind == "format":
        assert "AOF appendonly.aof.1.incr.aof format error" in d.lines
    if shutil.which("redis-check-aof"):
        manifest = str(tmp_path / "appendonlydir" / "appendonly.aof.manifest")
        real = subprocess.run(["redis-check-aof", manifest], capture_output=True, text=True)
        assert real.returncode == 1
        assert f"ok_up_to={len(good)}," in real.stdout
    d = check_aof(str(tmp_path / "appendonlydir"), fix=True)
    assert d.ok and d.fixed and incr.read_bytes() == good
    assert check_aof(str(tmp_path / "appendonlydir")).ok


def test_check_old_style_single_file(tmp_path):
    path = tmp_path / "appendonly.aof"
    path.write_bytes(encode_command([b"SET", b"a", b"1"]) + b"*1\r\n")
    d = check_aof(str(path))
    assert d.lines[0] == "Start checking Old-Style AOF" and not d.ok
    assert check_aof(str(path), fix=True).ok
    assert path.read_bytes() == encode_command([b"SET", b"a", b"1"])


def test_check_aof_broken_manifest_and_missing_things(tmp_path):
    _files(str(tmp_path))
    folder = tmp_path / "appendonlydir"
    (folder / "appendonly.aof.1.base.rdb").unlink()
    d = check_aof(str(folder))
    assert not d.ok and any("Cannot open BASE AOF" in line for line in d.lines)
    (folder / "appendonly.aof.manifest").write_bytes(b"nonsense\n")
    d = check_aof(str(folder))
    assert not d.ok and "Invalid AOF manifest file format" in d.lines[-1]
    os.remove(folder / "appendonly.aof.manifest")
    assert not check_aof(str(folder)).ok


def test_cli_commands(tmp_path):
    from typer.testing import CliRunner

    from redislab.cli import app

    _files(str(tmp_path))
    runner = CliRunner()
    r = runner.invoke(app, ["check-rdb", str(tmp_path / "dump.rdb")])
    assert r.exit_code == 0 and "RDB looks OK" in r.output
    folder = tmp_path / "appendonlydir"
    incr = folder / "appendonly.aof.1.incr.aof"
    good = incr.read_bytes()
    incr.write_bytes(good + b"*2\r\n$3")
    r = runner.invoke(app, ["check-aof", str(folder)])
    assert r.exit_code == 1 and "Use the --fix option" in r.output
    r = runner.invoke(app, ["check-aof", "--fix", str(folder)], input="n\n")
    assert r.exit_code == 1 and incr.read_bytes() != good
    r = runner.invoke(app, ["check-aof", "--fix", str(folder)], input="y\n")
    assert r.exit_code == 0 and "Successfully truncated" in r.output
    assert incr.read_bytes() == good
