"""Diagnoses of RDB and AOF files, as redis-check-rdb and redis-check-aof give them.

Pure functions: they read files, never load them into an engine, and return a
:class:`Diagnosis` (the lines the checker prints and its exit status). ``check_aof(...,
fix=True)`` is the one exception that writes: it cuts the last AOF file back to its last
complete command, as ``redis-check-aof --fix`` does (asking first is the caller's job).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import rdb as rdbfmt
from .aof import AOFError, parse_manifest, scan_commands


@dataclass
class Diagnosis:
    """What a check found: ``lines`` to print, ``ok``, and whether a fix was applied."""

    ok: bool = True
    lines: list[str] = field(default_factory=list)
    fixed: bool = False
    # For --fix: (path, size now, size after the fix) of a file that can be cut back.
    fixable: tuple[str, int, int] | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


# ---------------------------------------------------------------------------------------------
# RDB


def check_rdb_bytes(data: bytes, name: str, now_ms: int | None = None,
                    out: Diagnosis | None = None) -> tuple[Diagnosis, int]:
    """Check an RDB image; returns the diagnosis and the offset where the image ends."""
    d = out or Diagnosis()
    lines = d.lines
    lines.append(f"[offset 0] Checking RDB file {name}")

    def trace(offset: int, text: str) -> None:
        lines.append(f"[offset {offset}] {text}")

    try:
        ds = rdbfmt.read_rdb(data, now_ms=None, trace=trace, databases=1 << 30)
    except rdbfmt.RDBError as e:
        d.ok = False
        lines.append("--- RDB ERROR DETECTED ---")
        lines.append(f"[offset {e.offset if e.offset is not None else 0}] {e}")
        lines.append("[info] 0 keys read")
        return d, 0
    expires = sum(len(c.expires) for c in ds.dbs.values())
    expired = 0
    if now_ms is not None:
        expired = sum(1 for c in ds.dbs.values() for when in c.expires.values()
                      if when < now_ms)
    lines.append(f"[offset {ds.end}] \\o/ RDB looks OK! \\o/")
    lines.append(f"[info] {ds.keys_loaded + ds.empty_skipped} keys read")
    lines.append(f"[info] {expires} expires")
    lines.append(f"[info] {expired} already expired")
    if ds.functions:
        lines.append(f"[info] {len(ds.functions)} functions read")
    return d, ds.end


def check_rdb(path: str, now_ms: int | None = None) -> Diagnosis:
    """redis-check-rdb FILE."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return Diagnosis(False, [f"Cannot open RDB file {path}: {e.strerror or e}"])
    d, _ = check_rdb_bytes(data, path, now_ms)
    return d


# ---------------------------------------------------------------------------------------------
# AOF


def _check_one(path: str, label: str, d: Diagnosis, last: bool, fix: bool,
               shown: str | None = None) -> bool:
    """Check one AOF file (optionally with an RDB preamble); False if it is not valid."""
    name = shown or os.path.basename(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        d.ok = False
        d.lines.append(f"Cannot open {label}AOF {name}: {e.strerror or e}")
        return False
    start = 0
    if data[:5] == b"REDIS":
        _, start = check_rdb_bytes(data, name, out=d)
        if not d.ok:
            d.lines.append(f"RDB preamble of AOF file {name} is not valid")
            return False
        d.lines.append("RDB preamble is OK, proceeding with AOF tail...")
    scan = scan_commands(data, start)
    ok_up_to = scan.ok_up_to
    line = data.count(b"\n", start, ok_up_to) + 1
    diff = len(data) - ok_up_to
    if scan.status != "ok":
        if scan.status == "format":
            d.lines.append(f"AOF {name} format error")
        else:
            d.lines.append("0x%16x: %s" % (ok_up_to, _upper_first(scan.message)))
    d.lines.append(f"AOF analyzed: filename={name}, size={len(data)}, ok_up_to={ok_up_to}, "
                   f"ok_up_to_line={line}, diff={diff}")
    if not diff:
        d.lines.append(f"{label}AOF {name} is valid")
        return True
    if fix and last:
        d.lines.append(f"This will shrink the AOF {name} from {len(data)} bytes, with {diff} "
                       f"bytes, to {ok_up_to} bytes")
        try:
            os.truncate(path, ok_up_to)
        except OSError as e:
            d.ok = False
            d.lines.append(f"Failed to truncate AOF {name}: {e.strerror or e}")
            return False
        d.fixed = True
        d.lines.append(f"Successfully truncated AOF {name}")
        return True
    d.ok = False
    if last:
        d.fixable = (path, len(data), ok_up_to)
        d.lines.append(f"AOF {name} is not valid. Use the --fix option to try fixing it.")
    else:
        d.lines.append(f"AOF {name} is not valid and is not the last file: it cannot be "
                       f"fixed by truncating it")
    return False


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def check_aof(path: str, fix: bool = False) -> Diagnosis:
    """redis-check-aof [--fix] FILE|DIR: a manifest (or the directory holding one) is
    checked as a multi-part AOF, any other file as a single old-style AOF."""
    d = Diagnosis()
    manifest = None
    if os.path.isdir(path):
        names = [n for n in sorted(os.listdir(path)) if n.endswith(".manifest")]
        if not names:
            return Diagnosis(False, [f"No AOF manifest found in {path}"])
        manifest = os.path.join(path, names[0])
    elif path.endswith(".manifest"):
        manifest = path
    if manifest is None:
        d.lines.append("Start checking Old-Style AOF")
        _check_one(path, "", d, True, fix, shown=path)
        return d
    d.lines.append("Start checking Multi Part AOF")
    try:
        with open(manifest, "rb") as f:
            am = parse_manifest(f.read())
    except OSError as e:
        return Diagnosis(False, [f"Cannot open the AOF manifest {manifest}: "
                                 f"{e.strerror or e}"])
    except AOFError as e:
        return Diagnosis(False, d.lines + [f"Invalid AOF manifest {manifest}: {e}"])
    folder = os.path.dirname(manifest)
    files = am.files()
    if not files:
        return Diagnosis(False, d.lines + ["The AOF manifest lists no files"])
    for i, info in enumerate(files):
        last = i == len(files) - 1
        if info is am.base:
            kind = "RDB" if info.name.endswith(".rdb") else "AOF"
            d.lines.append(f"Start to check BASE AOF ({kind} format).")
            label = "BASE "
        else:
            if info is files[1] or (am.base is None and i == 0):
                d.lines.append("Start to check INCR files.")
            label = "INCR "
        if not _check_one(os.path.join(folder, info.name), label, d, last, fix):
            return d
    d.lines.append("All AOF files and manifest are valid")
    return d
