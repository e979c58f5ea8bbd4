"""The append-only file as Redis 7.0 keeps it: a manifest, a base file and increment files.

Files live in ``appenddirname`` (default ``appendonlydir``) and take their names from
``appendfilename`` (default ``appendonly.aof``): ``appendonly.aof.<n>.base.rdb`` (an RDB image;
``.base.aof`` holding commands when ``aof-use-rdb-preamble no``), ``appendonly.aof.<n>.incr.aof``
(the commands written since), and ``appendonly.aof.manifest`` listing them, one line each:
``file <name> seq <n> type <b|h|i>`` (base, history, increment). An increment file is the
write commands as RESP arrays, with a SELECT whenever the database changes, and optional
``#TS:<unix time>`` annotation lines.

This module holds the formats (manifest, command encoding and scanning, the command-log
form of a rewrite) and :class:`AppendOnly`, the writer: it receives every propagated write,
buffers it, writes it to the current increment file and fsyncs according to
``appendfsync`` on the engine clock (see :mod:`.disk` for what survives a crash).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..events import Persistence as PersistenceEvent
from ..structures.stream import Stream
from ..values import HashValue, ListValue, MutableString, SetValue, ZSetValue

if TYPE_CHECKING:
    from ..engine import Engine
    from .disk import Disk

BASE = "b"
HISTORY = "h"
INCR = "i"
ITEMS_PER_COMMAND = 64  # AOF_REWRITE_ITEMS_PER_CMD
MANIFEST_MAX_LINE = 1024


class AOFError(Exception):
    """An AOF or manifest that cannot be loaded; ``str()`` is a one-line reason."""


# ---------------------------------------------------------------------------------------------
# Manifest


@dataclass
class AofInfo:
    name: str
    seq: int
    type: str

    def line(self) -> str:
        return f"file {_quote(self.name)} seq {self.seq} type {self.type}\n"


def _quote(name: str) -> str:
    """sdscatrepr when the name needs it (spaces, quotes, control characters)."""
    if name and all(33 <= ord(ch) < 127 and ch not in "\"'\\" for ch in name):
        return name
    out = ['"']
    for ch in name:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.append("\\x%02x" % (ord(ch) & 0xFF))
    out.append('"')
    return "".join(out)


@dataclass
class Manifest:
    base: AofInfo | None = None
    history: list[AofInfo] = field(default_factory=list)
    incr: list[AofInfo] = field(default_factory=list)
    base_seq: int = 0
    incr_seq: int = 0

    def text(self) -> bytes:
        lines = ([self.base.line()] if self.base else []) + [i.line() for i in self.history] \
            + [i.line() for i in self.incr]
        return "".join(lines).encode("utf-8", "surrogateescape")

    def copy(self) -> "Manifest":
        return Manifest(self.base, list(self.history), list(self.incr), self.base_seq,
                        self.incr_seq)

    def new_base(self, prefix: str, rdb: bool) -> str:
        """getNewBaseFileNameAndMarkPreAsHistory."""
        if self.base is not None:
            self.history.append(AofInfo(self.base.name, self.base.seq, HISTORY))
        self.base_seq += 1
        name = f"{prefix}.{self.base_seq}.base.{'rdb' if rdb else 'aof'}"
        self.base = AofInfo(name, self.base_seq, BASE)
        return name

    def new_incr(self, prefix: str) -> str:
        """getNewIncrAofName."""
        self.incr_seq += 1
        name = f"{prefix}.{self.incr_seq}.incr.aof"
        self.incr.append(AofInfo(name, self.incr_seq, INCR))
        return name

    def retire_incr(self, keep_last: bool) -> None:
        """markRewrittenIncrAofAsHistory: the increments a rewrite made redundant."""
        keep = self.incr[-1:] if keep_last else []
        for info in self.incr[:len(self.incr) - len(keep)]:
            self.history.append(AofInfo(info.name, info.seq, HISTORY))
        self.incr = keep

    def files(self) -> list[AofInfo]:
        """What loading reads: the base, then the increments."""
        return ([self.base] if self.base else []) + list(self.incr)


def parse_manifest(data: bytes) -> Manifest:
    """aofLoadManifestFromFile, with Redis's error texts."""
    from ...protocol.resp import split_args

    am = Manifest()
    text = data.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        if len(lines[-1]) >= MANIFEST_MAX_LINE:
            raise AOFError("The AOF manifest file contains too long line")
    if not lines:
        raise AOFError("Found an empty AOF manifest")
    max_seq = 0
    for raw in lines:
        if len(raw) + 1 > MANIFEST_MAX_LINE:
            raise AOFError("The AOF manifest file contains too long line")
        if raw.startswith("#"):
            continue
        line = raw.strip(" \t\r\n")
        if not line:
            raise AOFError("Invalid AOF manifest file format")
        argv = split_args(line.encode("utf-8", "surrogateescape"))
        if argv is None or len(argv) < 6 or len(argv) % 2:
            raise AOFError("Invalid AOF manifest file format")
        name: str | None = None
        seq = 0
        kind = ""
        for i in range(0, len(argv), 2):
            k = argv[i].lower()
            v = argv[i + 1]
            if k == b"file":
                name = v.decode("utf-8", "surrogateescape")
                if "/" in name:
                    raise AOFError("File can't be a path, just a filename")
            elif k == b"seq":
                seq = _atoll(v)
            elif k == b"type":
                kind = v[:1].decode("latin-1")
        if not name or not seq or not kind:
            raise AOFError("Invalid AOF manifest file format")
        info = AofInfo(name, seq, kind)
        if kind == BASE:
            if am.base is not None:
                raise AOFError("Found duplicate base file information")
            am.base = info
            am.base_seq = seq
        elif kind == HISTORY:
            am.history.append(info)
        elif kind == INCR:
            if seq <= max_seq:
                raise AOFError("Found a non-monotonic sequence number")
            am.incr.append(info)
            am.incr_seq = seq
            max_seq = seq
        else:
            raise AOFError("Unknown AOF file type")
    return am


def _atoll(v: bytes) -> int:
    digits = b""
    s = v.strip()
    sign = 1
    if s[:1] in (b"-", b"+"):
        sign = -1 if s[:1] == b"-" else 1
        s = s[1:]
    for ch in s:
        if 48 <= ch <= 57:
            digits += bytes((ch,))
        else:
            break
    return sign * int(digits) if digits else 0


# ---------------------------------------------------------------------------------------------
# Commands


def encode_command(argv: list[bytes]) -> bytes:
    """catAppendOnlyGenericCommand: a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(argv)]
    for a in argv:
        parts.append(b"$%d\r\n" % len(a))
        parts.append(a)
        parts.append(b"\r\n")
    return b"".join(parts)


@dataclass
class Scan:
    """What scanning a command log found."""

    commands: list[list[bytes]] = field(default_factory=list)
    ok_up_to: int = 0            # end of the last complete command that loading keeps
    status: str = "ok"           # ok | truncated | format
    message: str = ""
    line: int = 1                # line number where the problem is (1-based)
    reverted_multi: bool = False


def scan_commands(data: bytes, start: int = 0, known: Callable[[list[bytes]], bool]
                  | None = None) -> Scan:
    """Read the RESP command log in ``data[start:]`` as loadSingleAppendOnlyFile does.

    Stops at the first problem: a truncated command ("truncated": loading may cut the file
    there), anything that is not a command array ("format"), or, with ``known``, a command
    the server does not have ("format"). A MULTI left open at the end is cut off too.
    """
    out = Scan(ok_up_to=start)
    n = len(data)
    p = start
    line = 1 + data.count(b"\n", 0, start)
    valid_before_multi = start
    in_multi = False

    def truncated(msg: str) -> Scan:
        out.status = "truncated"
        out.message = msg
        out.line = line
        return out

    def bad(msg: str) -> Scan:
        out.status = "format"
        out.message = msg
        out.line = line
        return out

    while p < n:
        nl = data.find(b"\n", p)
        if data[p] == 0x23:  # '#': an annotation line
            if nl < 0:
                return truncated("annotation without a line end")
            p = nl + 1
            line += 1
            if not in_multi:
                out.ok_up_to = p
            continue
        if data[p] != 0x2A:
            return bad("expected '*' at the start of a command, found %r"
                       % data[p:p + 1].decode("latin-1"))
        if nl < 0:
            return truncated("command header without a line end")
        argc = _atoi(data[p + 1:nl])
        if argc < 1:
            return bad("invalid number of arguments %r" % data[p + 1:nl].decode("latin-1"))
        q = nl + 1
        line += 1
        argv: list[bytes] = []
        for _ in range(argc):
            if q >= n:
                return truncated("command ends before all its arguments")
            nl = data.find(b"\n", q)
            if nl < 0:
                return truncated("argument header without a line end")
            if data[q] != 0x24:
                return bad("expected '$' before an argument, found %r"
                           % data[q:q + 1].decode("latin-1"))
            size = _atoi(data[q + 1:nl])
            q = nl + 1
            line += 1
            if size < 0:
                return bad("invalid argument length")
            if q + size + 2 > n:
                return truncated("argument shorter than its stated length")
            argv.append(data[q:q + size])
            line += data.count(b"\n", q, q + size + 2)
            q += size + 2
        if known is not None and not known(argv):
            out.message = "Unknown command '%s' reading the append only file" \
                % argv[0].decode("utf-8", "backslashreplace")
            out.status = "format"
            out.line = line
            return out
        name = argv[0].upper()
        if name == b"MULTI":
            valid_before_multi = out.ok_up_to
            in_multi = True
        elif name == b"EXEC":
            in_multi = False
        out.commands.append(argv)
        p = q
        if not in_multi:
            out.ok_up_to = p
    if in_multi:
        # A transaction without its EXEC: loading drops it, as if the file were cut there.
        out.ok_up_to = valid_before_multi
        while out.commands and out.commands[-1][0].upper() != b"MULTI":
            out.commands.pop()
        if out.commands:
            out.commands.pop()
        out.status = "truncated"
        out.reverted_multi = True
        out.message = "incomplete MULTI/EXEC transaction at the end"
    return out


def _atoi(text: bytes) -> int:
    try:
        return int(text.strip(b"\r").decode("ascii"))
    except ValueError:
        return _atoll(text) if text[:1].isdigit() or text[:1] in (b"-", b"+") else 0


def _fmt_double(v: float) -> bytes:
    if v != v:
        return b"nan"
    if v in (float("inf"), float("-inf")):
        return b"inf" if v > 0 else b"-inf"
    return b"%.17g" % v


def rewrite_commands(engine: "Engine", timestamp: bool = False) -> bytes:
    """rewriteAppendOnlyFileRio: the shortest command log that rebuilds the dataset."""
    out: list[bytes] = []
    if timestamp:
        out.append(b"#TS:%d\r\n" % (engine.clock.time_ms() // 1000))
    lua = engine.extensions.get("lua")
    if lua is not None:
        for lib in lua.registry.libraries.values():
            out.append(encode_command([b"FUNCTION", b"LOAD", lib.code]))
    for db in engine.dbs:
        if not db.data:
            continue
        out.append(encode_command([b"SELECT", b"%d" % db.id]))
        for key, value in db.data.items():
            out.extend(_rebuild(key, value))
            when = db.expires.get(key)
            if when is not None:
                out.append(encode_command([b"PEXPIREAT", key, b"%d" % when]))
    return b"".join(out)


def _batches(cmd: bytes, key: bytes, items: list[bytes], per: int) -> list[bytes]:
    out = []
    for i in range(0, len(items), per):
        out.append(encode_command([cmd, key] + items[i:i + per]))
    return out


def _rebuild(key: bytes, value: Any) -> list[bytes]:
    t = type(value)
    if t is bytes:
        return [encode_command([b"SET", key, value])]
    if t is MutableString:
        return [encode_command([b"SET", key, bytes(value.buf)])]
    if t is ListValue:
        return _batches(b"RPUSH", key, list(value), ITEMS_PER_COMMAND)
    if t is SetValue:
        members = sorted(value, key=int) if value.encoding == "intset" else list(value)
        return _batches(b"SADD", key, members, ITEMS_PER_COMMAND)
    if t is ZSetValue:
        flat: list[bytes] = []
        for score, member in value.order:
            flat.append(_fmt_double(score))
            flat.append(member)
        return _batches(b"ZADD", key, flat, 2 * ITEMS_PER_COMMAND)
    if t is HashValue:
        flat = []
        for f, v in value.items():
            flat.append(f)
            flat.append(v)
        return _batches(b"HMSET", key, flat, 2 * ITEMS_PER_COMMAND)
    if t is Stream:
        return _rebuild_stream(key, value)
    raise TypeError(f"cannot rewrite a {t.__name__}")


def _sid(sid: tuple[int, int]) -> bytes:
    return b"%d-%d" % sid


def _rebuild_stream(key: bytes, s: Stream) -> list[bytes]:
    out = []
    if s.length:
        for node in s.nodes:
            for e in node.entries:
                if e.deleted:
                    continue
                out.append(encode_command([b"XADD", key, _sid(e.id)] + e.pairs()))
    else:
        out.append(encode_command([b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]))
    out.append(encode_command([b"XSETID", key, _sid(s.last_id), b"ENTRIESADDED",
                               b"%d" % s.entries_added, b"MAXDELETEDID",
                               _sid(s.max_deleted_id)]))
    for name, group in s.groups.items():
        out.append(encode_command([b"XGROUP", b"CREATE", key, name, _sid(group.last_id),
                                   b"ENTRIESREAD", b"%d" % group.entries_read]))
        for cname, consumer in group.consumers.items():
            if not consumer.pel:
                out.append(encode_command([b"XGROUP", b"CREATECONSUMER", key, name, cname]))
                continue
            for sid, nack in consumer.pel.items():
                out.append(encode_command([
                    b"XCLAIM", key, name, cname, b"0", _sid(sid), b"TIME",
                    b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count,
                    b"JUSTID", b"FORCE"]))
    return out


# ---------------------------------------------------------------------------------------------
# The writer


class AppendOnly:
    """The AOF of one engine: state, manifest, the buffer, and the fsync policy."""

    def __init__(self, engine: "Engine", disk: "Disk") -> None:
        self.engine = engine
        self.disk = disk
        self.state = "off"             # off | wait_rewrite | on
        self.manifest = Manifest()
        self.incr_name: str | None = None   # the file new writes go to (path in the dir)
        self.buf = bytearray()
        self.selected_db = -1
        self._select_override: tuple[int, int] | None = None
        self.in_multi = False
        self.last_fsync_s = 0
        self.current_size = 0
        self.base_size = 0             # aof_rewrite_base_size
        self.last_incr_size = 0
        self.delayed_fsync = 0
        self.cur_timestamp = 0
        self.last_write_status = "ok"
        self.last_write_error = ""
        self.fsyncs = 0
        # Whether a fork child runs (no-appendfsync-on-rewrite skips fsyncs meanwhile).
        self.child_active: Callable[[], bool] = lambda: False

    # Names -------------------------------------------------------------------------------

    @property
    def dirname(self) -> str:
        return self.engine.config["appenddirname"]

    @property
    def prefix(self) -> str:
        return self.engine.config["appendfilename"]

    def path(self, name: str) -> str:
        return f"{self.dirname}/{name}"

    @property
    def manifest_name(self) -> str:
        return f"{self.prefix}.manifest"

    @property
    def temp_incr_name(self) -> str:
        return f"temp-{self.prefix}.incr"

    def persist_manifest(self, am: Manifest | None = None) -> None:
        """Write the manifest durably (temp file, fsync, rename)."""
        self.disk.mkdir(self.dirname)
        self.disk.write_durable(self.path(self.manifest_name), (am or self.manifest).text())

    # Feeding -------------------------------------------------------------------------------

    def feed(self, db: int, argv: list[bytes]) -> None:
        """feedAppendOnlyFile, then the flush Redis does before replying."""
        if self.state == "off":
            return
        name = argv[0].upper() if argv else b""
        if name == b"SELECT" and len(argv) == 2:
            # A script's effects carry their own SELECTs, all reported under the caller's db.
            try:
                self._select_override = (db, int(argv[1]))
            except ValueError:
                pass
            return
        ov = self._select_override
        if ov is not None:
            if ov[0] == db:
                db = ov[1]
            else:
                self._select_override = None
        buf = self.buf
        if self.engine.config["aof-timestamp-enabled"]:
            now_s = self.engine.clock.time_ms() // 1000
            if self.cur_timestamp < now_s:
                buf += b"#TS:%d\r\n" % now_s
                self.cur_timestamp = now_s
        if db != self.selected_db:
            sel = b"%d" % db
            buf += b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(sel), sel)
            self.selected_db = db
        buf += encode_command(argv)
        if name == b"MULTI":
            self.in_multi = True
        elif name == b"EXEC":
            self.in_multi = False
        if not self.in_multi:
            self.flush(False)

    # Writing and syncing ------------------------------------------------------------------

    def flush(self, force: bool) -> None:
        """flushAppendOnlyFile: write the buffer, then fsync as appendfsync says."""
        eng = self.engine
        if self.incr_name is None:
            return
        policy = eng.config["appendfsync"]
        now_ms = eng.clock.time_ms()
        now_s = now_ms // 1000
        disk = self.disk
        if self.buf:
            data = bytes(self.buf)
            try:
                disk.append(self.incr_name, data, now_ms)
            except OSError as e:
                # Kept in the buffer and retried from cron; writes are refused meanwhile.
                if self.last_write_status == "ok":
                    bus = eng.bus
                    if bus.active:
                        bus.publish(PersistenceEvent("aof-write", f"failed: {e.strerror}",
                                                     {"ok": False}))
                self.last_write_status = "err"
                self.last_write_error = e.strerror or str(e)
                return
            self.buf.clear()
            self.last_write_status = "ok"
            self.current_size += len(data)
            self.last_incr_size += len(data)
            bus = eng.bus
            if bus.active:
                bus.publish(PersistenceEvent("aof-write", f"{len(data)} bytes to "
                                             f"{self.incr_name}", {"bytes": len(data)}))
        elif not (policy == "everysec" and disk.unsynced(self.incr_name)
                  and now_s > self.last_fsync_s) and not force:
            return
        if eng.config["no-appendfsync-on-rewrite"] and self.child_active():
            return
        if policy == "always" or (policy == "everysec" and now_s > self.last_fsync_s):
            synced = disk.fsync(self.incr_name)
            self.last_fsync_s = now_s
            if synced:
                self.fsyncs += 1
                bus = eng.bus
                if bus.active:
                    bus.publish(PersistenceEvent("aof-fsync", f"{synced} bytes durable "
                                                 f"({policy})", {"bytes": synced,
                                                                 "policy": policy}))

    def cron(self) -> None:
        if self.state != "off" and self.incr_name is not None:
            self.flush(False)

    # Opening files ------------------------------------------------------------------------

    def open_new_incr(self) -> None:
        """openNewIncrAofForAppend: new writes go to a fresh increment file."""
        if self.state == "off":
            return
        disk = self.disk
        disk.mkdir(self.dirname)
        old = self.incr_name
        if self.state == "wait_rewrite":
            name = self.temp_incr_name
            am = None
        else:
            am = self.manifest.copy()
            name = am.new_incr(self.prefix)
        path = self.path(name)
        disk.create(path)
        if am is not None:
            self.persist_manifest(am)
            self.manifest = am
        if old is not None:
            # Redis fsyncs the old file in the background before closing it.
            disk.fsync(old)
        self.incr_name = path
        self.last_incr_size = 0
        self.last_fsync_s = self.engine.clock.time_ms() // 1000

    def delete_history(self) -> None:
        """aofDelHistoryFiles (unless aof-disable-auto-gc)."""
        for info in self.manifest.history:
            self.disk.remove(self.path(info.name))
        if self.manifest.history:
            self.manifest.history = []
            self.persist_manifest()

    def sizes(self) -> int:
        total = 0
        for info in self.manifest.files():
            total += self.disk.size(self.path(info.name))
        return total
