"""The persistence state of one engine: snapshots, the AOF, the simulated fork, loading.

One :class:`Persistence` hangs off every engine (``engine.extensions["persistence"]``). It
owns the :mod:`disk <.disk>` the files live on, runs SAVE synchronously, models BGSAVE and
BGREWRITEAOF as a forked child on the engine clock (the snapshot is taken at fork time; the
file appears when the child finishes; writes meanwhile dirty copy-on-write pages), checks the
``save`` rules and the automatic AOF rewrite from ``engine.cron()``, loads the AOF or the RDB
file when the engine starts, and answers INFO persistence and LASTSAVE.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...protocol.reply import ErrorReply
from ..config import ConfigError
from ..events import Persistence as PersistenceEvent
from . import rdb as rdbfmt
from .aof import AOFError, AppendOnly, Manifest, parse_manifest, rewrite_commands, scan_commands
from .disk import DirDisk, Disk, MemoryDisk

if TYPE_CHECKING:
    from ..engine import Engine

PAGE_SIZE = 4096
MISCONF_RDB = ErrorReply(
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
    "to disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about "
    "the RDB error.")
BGSAVE_RETRY_DELAY_S = 5  # CONFIG_BGSAVE_RETRY_DELAY
# How fast the simulated child writes, and what a fork costs (per GB of dataset).
CHILD_BYTES_PER_MS = 100_000
FORK_US_PER_MB = 10

_handoff = threading.local()


class LoadError(ConfigError):
    """The files in the directory cannot be loaded; ``str()`` says why in one line.

    A configuration error in kind: the server cannot start with the ``dir`` it was given,
    so front ends that report refused configurations report this the same way.
    """


@dataclass
class Child:
    """A background save or AOF rewrite in flight (the forked child)."""

    kind: str                 # "rdb" or "aof"
    started_ms: int
    ends_ms: int
    image: bytes
    dirty_before: int
    keys: int
    sizes: dict[tuple[int, bytes], int] = field(default_factory=dict)
    dirty_pages: dict[tuple[int, bytes], int] = field(default_factory=dict)
    cow_pages: int = 0
    rdb_format: bool = True

    @property
    def cow_bytes(self) -> int:
        return self.cow_pages * PAGE_SIZE


def make_disk(engine: "Engine") -> Disk:
    handed = getattr(_handoff, "disk", None)
    if handed is not None:
        _handoff.disk = None
        return handed
    folder = engine.config["dir"]
    return MemoryDisk() if folder == "." else DirDisk(folder)


class Persistence:
    """RDB and AOF for one engine."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.disk: Disk = make_disk(engine)
        now_s = engine.clock.time_ms() // 1000
        self.lastsave_s = now_s
        self.dirty_at_save = engine.dirty
        self.bgsave_status = "ok"
        self.last_bgsave_try_s = 0
        self.rdb_saves = 0
        self.last_bgsave_time_s = -1
        self.last_cow_size = 0
        self.aof_last_cow_size = 0
        self.child: Child | None = None
        self.bgsave_scheduled = False
        self.aof_rewrite_scheduled = False
        self.aof_rewrites = 0
        self.aof_last_rewrite_time_s = -1
        self.aof_last_bgrewrite_status = "ok"
        self.total_forks = 0
        self.latest_fork_usec = 0
        self.load_keys_loaded = 0
        self.load_keys_expired = 0
        self.shut_down = False
        self.dead = False
        self.aof = AppendOnly(engine, self.disk)
        self.aof.child_active = lambda: self.child is not None

    # -----------------------------------------------------------------------------------------
    # Wiring

    def attach(self) -> None:
        eng = self.engine
        eng.cron_hooks.append(self.cron)
        ext = eng.extensions
        ext["persistence"] = self
        ext["lastsave"] = lambda: self.poll() or self.lastsave_s
        ext["save_on_shutdown"] = self.save_on_shutdown
        previous = ext.get("info.persistence")
        ext["info.persistence"] = self.info_fields if previous is None else (
            lambda: {**previous(), **self.info_fields()})
        stats = ext.get("info.stats")
        ext["info.stats"] = self.info_stats if stats is None else (
            lambda: {**stats(), **self.info_stats()})
        params = eng.config.params
        params["appendonly"].on_change = self._appendonly_changed
        params["dir"].on_change = self._dir_changed
        eng.before_command.append(self._before_command)

    def _propagate(self, db: int, argv: list[bytes]) -> None:
        if self.aof.state != "off":
            self.aof.feed(db, argv)
        child = self.child
        if child is not None:
            self._touch(child, db, argv)

    def disk_error(self) -> ErrorReply | None:
        """writeCommandsDeniedByDiskError: why writes are refused now, if they are."""
        cfg = self.engine.config
        if self.bgsave_status == "err" and cfg["stop-writes-on-bgsave-error"] and cfg["save"]:
            return MISCONF_RDB
        aof = self.aof
        if aof.state != "off" and aof.last_write_status == "err":
            return ErrorReply("MISCONF Errors writing to the AOF file: " + aof.last_write_error)
        return None

    def _before_command(self, c: Any, spec: Any, argv: list[bytes]) -> ErrorReply | None:
        """processCommand's disk-error rule: no writes (and no PING) while saving fails."""
        if self.bgsave_status == "ok" and self.aof.last_write_status == "ok":
            return None
        refusal = self.disk_error()
        if refusal is None:
            return None
        flags = spec.flags
        name = spec.name
        if "write" in flags or name == "PING" or (
                name == "EXEC" and c.multi and any("write" in s.flags for s, _ in c.multi)):
            return refusal
        return None

    def refresh_hook(self) -> None:
        """Listen to propagated writes only while the AOF or a child needs them (or while a
        disk error must refuse writes: that needs every command on the careful path)."""
        eng = self.engine
        want = not self.dead and (self.aof.state != "off" or self.child is not None
                                  or self.bgsave_status == "err"
                                  or self.aof.last_write_status == "err")
        hooks = eng.propagate_hooks
        present = self._propagate in hooks
        if want and not present:
            hooks.append(self._propagate)
            eng.refresh_gate()
        elif not want and present:
            hooks.remove(self._propagate)
            eng.refresh_gate()

    def _publish(self, what: str, detail: str = "", **data: Any) -> None:
        bus = self.engine.bus
        if bus.active:
            bus.publish(PersistenceEvent(what, detail, data))

    def _in_exec(self) -> bool:
        return any(s.in_exec for s in self.engine.sessions.values())

    # -----------------------------------------------------------------------------------------
    # Snapshots

    @property
    def rdb_name(self) -> str:
        return self.engine.config["dbfilename"]

    def snapshot(self, *, aof_base: bool = False,
                 sizes: dict[tuple[int, bytes], int] | None = None) -> bytes:
        return rdbfmt.write_rdb(self.engine, aof_base=aof_base, sizes=sizes)

    def save(self) -> bool:
        """rdbSave: write the snapshot now; True on success."""
        eng = self.engine
        image = self.snapshot()
        try:
            self.disk.write_durable(self.rdb_name, image)
        except OSError as e:
            self._publish("rdb-save", f"failed: {e.strerror or e}", ok=False)
            return False
        self.dirty_at_save = eng.dirty
        self.lastsave_s = eng.clock.time_ms() // 1000
        self.bgsave_status = "ok"
        self._publish("rdb-save", f"{self._key_count()} keys, {len(image)} bytes to "
                      f"{self.rdb_name}", keys=self._key_count(), bytes=len(image),
                      background=False)
        return True

    def _key_count(self) -> int:
        return sum(len(db.data) for db in self.engine.dbs)

    def start_child(self, kind: str) -> Child:
        """Fork: take the snapshot now; the child 'writes' it until its end time."""
        eng = self.engine
        now = eng.clock.time_ms()
        sizes: dict[tuple[int, bytes], int] = {}
        use_rdb = kind == "rdb" or eng.config["aof-use-rdb-preamble"]
        if use_rdb:
            image = self.snapshot(aof_base=kind == "aof", sizes=sizes)
        else:
            image = rewrite_commands(eng, eng.config["aof-timestamp-enabled"])
            for db in eng.dbs:
                for key in db.data:
                    sizes[(db.id, key)] = len(key) + 16
        self._memory_sizes(sizes)
        keys = self._key_count()
        duration = max(1, len(image) // CHILD_BYTES_PER_MS)
        child = Child(kind, now, now + duration, image, eng.dirty, keys, sizes,
                      rdb_format=use_rdb)
        self.child = child
        self.total_forks += 1
        self.latest_fork_usec = max(1, len(image) // 1_000_000 * FORK_US_PER_MB) + 50
        self.refresh_hook()
        return child

    def _memory_sizes(self, sizes: dict[tuple[int, bytes], int]) -> None:
        """Per-key allocation sizes from the memory model, when the engine has one: the
        pages a write copies are those of the key's memory, not of its serialized form."""
        model = self.engine.extensions.get("memory")
        if model is None:
            return
        try:
            model.refresh()
            for db in self.engine.dbs:
                alloc = getattr(getattr(db, "mem", None), "alloc", None)
                if alloc:
                    for key, size in alloc.items():
                        sizes[(db.id, key)] = size
        except Exception:  # the model is optional; serialized sizes stand in for it
            pass

    def _touch(self, child: Child, db: int, argv: list[bytes]) -> None:
        """Copy-on-write: the first write to a key after the fork copies its pages."""
        sizes = child.sizes
        if not sizes:
            return
        name = argv[0].upper() if argv else b""
        if name in (b"FLUSHALL", b"SWAPDB", b"FLUSHDB"):
            if name == b"FLUSHDB":
                wanted = {db}
            elif name == b"SWAPDB" and len(argv) == 3:
                try:
                    wanted = {int(argv[1]), int(argv[2])}
                except ValueError:
                    wanted = set()
            else:
                wanted = None
            keys = [k for k in sizes if wanted is None or k[0] in wanted]
        else:
            spec = self.engine.table.lookup(argv[0])
            if spec is not None and spec.subcommands and len(argv) > 1:
                spec = spec.subcommands.get(argv[1].upper().decode("latin-1"), spec)
            if spec is None:
                return
            try:
                positions = spec.get_keys(argv)
            except Exception:
                return
            keys = [(db, argv[i]) for i in positions if i < len(argv)]
        for k in keys:
            size = sizes.get(k)
            if size is None or k in child.dirty_pages:
                continue
            pages = max(1, -(-size // PAGE_SIZE))
            child.dirty_pages[k] = pages
            child.cow_pages += pages

    def poll(self) -> None:
        """checkChildrenDone: finish a child whose time has come."""
        child = self.child
        if child is not None and self.engine.clock.time_ms() >= child.ends_ms:
            self._finish_child(child)

    def _finish_child(self, child: Child) -> None:
        self.child = None
        eng = self.engine
        now = eng.clock.time_ms()
        took_s = (now - child.started_ms) // 1000
        if child.kind == "rdb":
            try:
                self.disk.write_durable(self.rdb_name, child.image)
            except OSError as e:
                self.bgsave_status = "err"
                self._publish("rdb-save", f"background save failed: {e.strerror or e}",
                              ok=False)
            else:
                self.dirty_at_save = child.dirty_before
                self.lastsave_s = now // 1000
                self.bgsave_status = "ok"
                self.last_bgsave_time_s = took_s
                self.last_cow_size = child.cow_bytes
                self._publish("rdb-save", f"finished: {child.keys} keys, {len(child.image)} "
                              f"bytes, copy-on-write {child.cow_bytes} bytes "
                              f"({child.cow_pages} pages)", phase="finished", keys=child.keys,
                              bytes=len(child.image), cow_bytes=child.cow_bytes,
                              cow_pages=child.cow_pages, duration_ms=now - child.started_ms)
        else:
            self._finish_rewrite(child, took_s)
        self.refresh_hook()

    def bgsave(self) -> bool:
        """rdbSaveBackground; False if another child is running."""
        if self.child is not None:
            return False
        eng = self.engine
        self.rdb_saves += 1
        self.last_bgsave_try_s = eng.clock.time_ms() // 1000
        child = self.start_child("rdb")
        self._publish("rdb-save", f"started in the background: {child.keys} keys, "
                      f"{len(child.image)} bytes", phase="started", keys=child.keys,
                      bytes=len(child.image), duration_ms=child.ends_ms - child.started_ms)
        return True

    # -----------------------------------------------------------------------------------------
    # AOF

    def start_rewrite(self) -> bool:
        """rewriteAppendOnlyFileBackground; False if another child is running."""
        if self.child is not None:
            return False
        aof = self.aof
        self.disk.mkdir(aof.dirname)
        aof.selected_db = -1
        aof._select_override = None
        aof.flush(True)
        aof.open_new_incr()
        self.aof_rewrites += 1
        child = self.start_child("aof")
        self._publish("aof-rewrite", f"started: {child.keys} keys, {len(child.image)} bytes",
                      phase="started", keys=child.keys, bytes=len(child.image))
        return True

    def _finish_rewrite(self, child: Child, took_s: int) -> None:
        """backgroundRewriteDoneHandler."""
        aof = self.aof
        disk = self.disk
        am = aof.manifest.copy()
        base = am.new_base(aof.prefix, child.rdb_format)
        try:
            disk.mkdir(aof.dirname)
            disk.write_durable(aof.path(base), child.image)
            if aof.state == "wait_rewrite":
                incr = am.new_incr(aof.prefix)
                disk.rename(aof.path(aof.temp_incr_name), aof.path(incr))
                if aof.incr_name == aof.path(aof.temp_incr_name):
                    aof.incr_name = aof.path(incr)
            am.retire_incr(keep_last=aof.state != "off")
            aof.persist_manifest(am)
        except OSError as e:
            self.aof_last_bgrewrite_status = "err"
            self._publish("aof-rewrite", f"failed: {e.strerror or e}", ok=False)
            return
        aof.manifest = am
        if aof.state != "off":
            aof.current_size = disk.size(aof.path(base)) + aof.last_incr_size
            aof.base_size = aof.current_size
            aof.last_fsync_s = self.engine.clock.time_ms() // 1000
        aof.delete_history()
        self.aof_last_bgrewrite_status = "ok"
        self.aof_last_rewrite_time_s = took_s
        self.aof_last_cow_size = child.cow_bytes
        if aof.state == "wait_rewrite":
            aof.state = "on"
        self._publish("aof-rewrite", f"finished: base {base} ({len(child.image)} bytes), "
                      f"copy-on-write {child.cow_bytes} bytes", phase="finished", base=base,
                      bytes=len(child.image), cow_bytes=child.cow_bytes)

    def start_aof(self) -> bool:
        """startAppendOnly (CONFIG SET appendonly yes): begin with a rewrite."""
        aof = self.aof
        aof.state = "wait_rewrite"
        if self.child is not None or self._in_exec():
            self.aof_rewrite_scheduled = True
        elif not self.start_rewrite():
            aof.state = "off"
            return False
        aof.last_fsync_s = self.engine.clock.time_ms() // 1000
        self.refresh_hook()
        self._publish("aof", "enabled: rewriting the dataset into a new base file")
        return True

    def stop_aof(self) -> None:
        """stopAppendOnly (CONFIG SET appendonly no)."""
        aof = self.aof
        aof.flush(True)
        if aof.incr_name is not None:
            self.disk.fsync(aof.incr_name)
        aof.incr_name = None
        aof.selected_db = -1
        aof.state = "off"
        aof.last_incr_size = 0
        self.aof_rewrite_scheduled = False
        if self.child is not None and self.child.kind == "aof":
            self.child = None
        aof.buf.clear()
        self.refresh_hook()
        self._publish("aof", "disabled")

    def _appendonly_changed(self, old: bool, new: bool) -> None:
        if self.dead or old == new:
            return
        if new:
            if not self.start_aof():
                raise ConfigError("Unable to turn on AOF. Check server logs.")
        else:
            self.stop_aof()

    def _dir_changed(self, old: str, new: str) -> None:
        if not os.path.isdir(new):
            raise ConfigError("No such file or directory")
        self.disk = DirDisk(new)
        self.aof.disk = self.disk
        if self.aof.incr_name is not None:
            self.disk.mkdir(self.aof.dirname)

    # -----------------------------------------------------------------------------------------
    # Periodic work

    def cron(self) -> None:
        if self.dead:
            return
        eng = self.engine
        now = eng.clock.time_ms()
        now_s = now // 1000
        cfg = eng.config
        if self.child is None and self.aof_rewrite_scheduled:
            self.aof_rewrite_scheduled = False
            self.start_rewrite()
        if self.child is not None:
            self.poll()
        else:
            changes = eng.dirty - self.dirty_at_save
            for seconds, needed in cfg["save"]:
                if changes >= needed and now_s - self.lastsave_s > seconds and (
                        now_s - self.last_bgsave_try_s > BGSAVE_RETRY_DELAY_S
                        or self.bgsave_status == "ok"):
                    self._publish("rdb-save", f"{changes} changes in {seconds} seconds: "
                                  f"saving (save rule {seconds} {needed})", phase="rule")
                    self.bgsave()
                    break
            aof = self.aof
            perc = cfg["auto-aof-rewrite-percentage"]
            if self.child is None and aof.state == "on" and perc and \
                    aof.current_size > cfg["auto-aof-rewrite-min-size"]:
                base = aof.base_size or 1
                growth = aof.current_size * 100 // base - 100
                if growth >= perc:
                    self._publish("aof-rewrite", f"automatic: the AOF grew {growth}%",
                                  phase="rule", growth=growth)
                    self.start_rewrite()
        if self.child is None and self.bgsave_scheduled and (
                now_s - self.last_bgsave_try_s > BGSAVE_RETRY_DELAY_S
                or self.bgsave_status == "ok"):
            if self.bgsave():
                self.bgsave_scheduled = False
        self.aof.cron()
        self.disk.writeback(now)
        if self._propagate in eng.propagate_hooks or self.aof.state != "off" \
                or self.child is not None:
            self.refresh_hook()

    # -----------------------------------------------------------------------------------------
    # Loading

    def startup(self) -> None:
        """What redis-server does after reading its configuration: load, then open the AOF."""
        eng = self.engine
        if eng.config["appendonly"]:
            self.aof.state = "on"
            self.load_aof(on_start=True)
            self.open_aof_on_start()
        else:
            data = self.disk.read(self.rdb_name)
            if data is not None:
                self.load_rdb_image(data, source=self.rdb_name)
        self.refresh_hook()

    def load_rdb_image(self, data: bytes, *, source: str, flush: bool = True,
                       allow_dup: bool = False) -> rdbfmt.Dataset:
        eng = self.engine
        try:
            ds = rdbfmt.read_rdb(data, limits=rdbfmt.Limits.from_config(eng.config),
                                 now_ms=eng.clock.time_ms(),
                                 databases=len(eng.dbs), allow_dup=allow_dup)
        except rdbfmt.RDBError as e:
            raise LoadError(f"{source}: {e} (at offset {e.offset})") from None
        install(eng, ds, flush=flush)
        self.load_keys_loaded = ds.keys_loaded
        self.load_keys_expired = ds.keys_expired
        self.dirty_at_save = eng.dirty
        self._publish("rdb-load", f"{ds.keys_loaded} keys from {source} "
                      f"({ds.keys_expired} expired keys skipped)", keys=ds.keys_loaded,
                      expired=ds.keys_expired)
        return ds

    def read_manifest(self) -> Manifest | None:
        aof = self.aof
        data = self.disk.read(aof.path(aof.manifest_name))
        if data is None:
            return None
        try:
            return parse_manifest(data)
        except AOFError as e:
            raise LoadError(f"{aof.manifest_name}: {e}") from None

    def _upgrade_old_aof(self) -> Manifest | None:
        """aofUpgradePrepare: a pre-7.0 ``appendonly.aof`` in ``dir`` becomes the base."""
        aof = self.aof
        disk = self.disk
        if not disk.exists(aof.prefix):
            return None
        am = Manifest()
        from .aof import BASE, AofInfo

        am.base = AofInfo(aof.prefix, 1, BASE)
        am.base_seq = 1
        disk.mkdir(aof.dirname)
        aof.persist_manifest(am)
        disk.rename(aof.prefix, aof.path(aof.prefix))
        self._publish("aof-load", f"upgraded the old single-file {aof.prefix} to a manifest")
        return am

    def load_aof(self, *, on_start: bool) -> bool:
        """loadAppendOnlyFiles: parse every file first, then install; True if data loaded."""
        eng = self.engine
        aof = self.aof
        am = self.read_manifest()
        if am is None and on_start:
            am = self._upgrade_old_aof()
        if am is None:
            am = Manifest()
        aof.manifest = am
        files = am.files()
        if not files:
            return False
        known = _known_command(eng)
        images: list[tuple[str, rdbfmt.Dataset | None, list[list[bytes]]]] = []
        total = 0
        for i, info in enumerate(files):
            path = aof.path(info.name)
            data = self.disk.read(path)
            if data is None:
                raise LoadError(f"The AOF file {info.name} doesn't exist (it is listed in "
                                f"{aof.manifest_name})")
            total += len(data)
            last = i == len(files) - 1
            ds = None
            start = 0
            if data[:5] == b"REDIS":
                try:
                    ds = rdbfmt.read_rdb(data, limits=rdbfmt.Limits.from_config(eng.config),
                                         now_ms=None, databases=len(eng.dbs))
                except rdbfmt.RDBError as e:
                    raise LoadError(f"Error reading the RDB base file {info.name}, AOF loading "
                                    f"aborted: {e} (at offset {e.offset})") from None
                start = ds.end
            scan = scan_commands(data, start, known)
            if scan.status == "format":
                if scan.message.startswith("Unknown command"):
                    raise LoadError(f"{scan.message} {info.name}")
                raise LoadError(f"Bad file format reading the append only file {info.name} "
                                f"(line {scan.line}: {scan.message}): make a backup of your "
                                f"AOF file, then use redislab check-aof --fix <filename>")
            if scan.status == "truncated":
                if not last:
                    raise LoadError(f"Fatal error: the truncated file {info.name} is not the "
                                    f"last file")
                if not eng.config["aof-load-truncated"]:
                    raise LoadError(f"Unexpected end of file reading the append only file "
                                    f"{info.name}. You can: 1) Make a backup of your AOF "
                                    f"file, then use redislab check-aof --fix <filename>. 2) "
                                    f"Alternatively you can set the 'aof-load-truncated' "
                                    f"configuration option to yes and restart the server.")
                cut = len(data) - scan.ok_up_to
                self.disk.truncate(path, scan.ok_up_to)
                total -= cut
                self._publish("aof-load", f"{info.name} was truncated: cut {cut} bytes at "
                              f"offset {scan.ok_up_to} ({scan.message}); loaded anyway "
                              f"because aof-load-truncated is enabled", truncated=cut)
            images.append((info.name, ds, scan.commands))
        # Everything parsed (and the base's functions compiled): now replace the dataset.
        base = images[0][1]
        registry = build_registry(eng, base.functions, keep=False) if base else None
        for db in eng.dbs:
            db.clear()
        _set_functions(eng, registry, True)
        commands = 0
        for name, ds, cmds in images:
            if ds is not None:
                install(eng, ds, flush=False, registry=registry)
                registry = None
            commands += len(cmds)
            replay(eng, cmds)
        aof.current_size = total
        aof.base_size = total
        self.dirty_at_save = eng.dirty
        self._publish("aof-load", f"{commands} commands from {len(images)} file(s), "
                      f"{self._key_count()} keys", commands=commands, files=len(images))
        return True

    def open_aof_on_start(self) -> None:
        """aofOpenIfNeededOnServerStart: make sure a base and an increment exist."""
        aof = self.aof
        am = aof.manifest
        disk = self.disk
        disk.mkdir(aof.dirname)
        if am.base is None and not am.incr:
            use_rdb = self.engine.config["aof-use-rdb-preamble"]
            name = am.new_base(aof.prefix, use_rdb)
            image = self.snapshot(aof_base=True) if use_rdb else \
                rewrite_commands(self.engine, self.engine.config["aof-timestamp-enabled"])
            disk.write_durable(aof.path(name), image)
        if not am.incr:
            name = am.new_incr(aof.prefix)
            disk.create(aof.path(name))
        aof.incr_name = aof.path(am.incr[-1].name)
        if not disk.exists(aof.incr_name):
            disk.create(aof.incr_name)
        aof.persist_manifest()
        aof.last_incr_size = disk.size(aof.incr_name)
        aof.last_fsync_s = self.engine.clock.time_ms() // 1000
        aof.delete_history()

    # -----------------------------------------------------------------------------------------
    # Shutdown and crashes

    def shutdown(self, *, save: bool, nosave: bool, force: bool) -> str | None:
        """finishShutdown's persistence steps; an error text if the server must not exit."""
        eng = self.engine
        child = self.child
        if child is not None:
            if child.kind == "aof" and self.aof.state == "wait_rewrite" and not force:
                return "Writing initial AOF, can't exit."
            self.child = None
        if self.aof.state != "off":
            self.aof.flush(True)
            if self.aof.incr_name is not None:
                self.disk.fsync(self.aof.incr_name)
        saved = False
        if (eng.config["save"] and not nosave) or save:
            saved = self.save()
            if not saved and not force:
                return "Error trying to save the DB, can't exit."
        self.shut_down = True
        self.refresh_hook()
        self._publish("shutdown", "saved the dataset" if saved else "no save", saved=saved)
        return None

    def save_on_shutdown(self) -> None:
        """A signal (SIGTERM) stops the server: save as SHUTDOWN without arguments would."""
        if not self.shut_down and not self.dead:
            self.shutdown(save=False, nosave=False, force=True)

    def detach(self) -> None:
        """The process is gone: stop reacting to anything."""
        self.dead = True
        self.child = None
        self.aof.state = "off"
        self.aof.buf.clear()
        eng = self.engine
        if self.cron in eng.cron_hooks:
            eng.cron_hooks.remove(self.cron)
        if self._before_command in eng.before_command:
            eng.before_command.remove(self._before_command)
        self.bgsave_status = "ok"
        self.aof.last_write_status = "ok"
        self.refresh_hook()

    # -----------------------------------------------------------------------------------------
    # INFO

    def info_fields(self) -> dict[str, Any]:
        self.poll()
        eng = self.engine
        now = eng.clock.time_ms()
        child = self.child
        rdb_child = child is not None and child.kind == "rdb"
        aof_child = child is not None and child.kind == "aof"
        aof = self.aof
        fields: dict[str, Any] = {
            "current_cow_peak": child.cow_bytes if child else 0,
            "current_cow_size": child.cow_bytes if child else 0,
            "current_fork_perc": "%.2f" % (min(100.0, (now - child.started_ms) * 100
                                               / max(1, child.ends_ms - child.started_ms))
                                           if child else 0.0),
            "current_save_keys_processed": 0,
            "current_save_keys_total": child.keys if child else 0,
            "rdb_changes_since_last_save": eng.dirty - self.dirty_at_save,
            "rdb_bgsave_in_progress": 1 if rdb_child else 0,
            "rdb_last_save_time": self.lastsave_s,
            "rdb_last_bgsave_status": self.bgsave_status,
            "rdb_last_bgsave_time_sec": self.last_bgsave_time_s,
            "rdb_current_bgsave_time_sec": (now - child.started_ms) // 1000 if rdb_child
            else -1,
            "rdb_saves": self.rdb_saves,
            "rdb_last_cow_size": self.last_cow_size,
            "rdb_last_load_keys_expired": self.load_keys_expired,
            "rdb_last_load_keys_loaded": self.load_keys_loaded,
            "aof_enabled": 0 if aof.state == "off" else 1,
            "aof_rewrite_in_progress": 1 if aof_child else 0,
            "aof_rewrite_scheduled": 1 if self.aof_rewrite_scheduled else 0,
            "aof_last_rewrite_time_sec": self.aof_last_rewrite_time_s,
            "aof_current_rewrite_time_sec": (now - child.started_ms) // 1000 if aof_child
            else -1,
            "aof_last_bgrewrite_status": self.aof_last_bgrewrite_status,
            "aof_rewrites": self.aof_rewrites,
            "aof_last_write_status": aof.last_write_status,
            "aof_last_cow_size": self.aof_last_cow_size,
        }
        if aof.state != "off":
            fields.update({
                "aof_current_size": aof.current_size,
                "aof_base_size": aof.base_size,
                "aof_pending_rewrite": 1 if self.aof_rewrite_scheduled else 0,
                "aof_buffer_length": len(aof.buf),
                # Redis counts an everysec fsync put off because the background one before
                # it is still running; here an fsync completes at once, so nothing ever
                # waits and both stay 0 (the fields are kept for tools that read them).
                "aof_pending_bio_fsync": 0,
                "aof_delayed_fsync": aof.delayed_fsync,
            })
        return fields

    def info_stats(self) -> dict[str, Any]:
        return {"latest_fork_usec": self.latest_fork_usec, "total_forks": self.total_forks}


# ---------------------------------------------------------------------------------------------
# Installing parsed data and replaying commands


def build_registry(engine: "Engine", codes: list[bytes], keep: bool) -> Any:
    """Compile function libraries into a new registry (LoadError if one fails); None if
    there is nothing to compile and nothing to keep."""
    from ...protocol.reply import ErrorReply
    from ..lua import functions as fn_lib
    from ..lua.runtime import scripting

    if not codes:
        return None
    lua = scripting(engine)
    fresh = fn_lib.FunctionRegistry()
    if keep:
        for lib in lua.registry.libraries.values():
            fresh.link(lib)
    for code in codes:
        try:
            fn_lib.create(lua, fresh, code, True)
        except ErrorReply as e:
            raise LoadError(f"Failed loading library: {e.message}") from None
    return fresh


def _set_functions(engine: "Engine", registry: Any, flush: bool) -> None:
    lua = engine.extensions.get("lua")
    if registry is None:
        if flush and lua is not None:
            lua.registry.clear()
        return
    lua.registry.clear()
    for lib in registry.libraries.values():
        lua.registry.link(lib)


def install(engine: "Engine", ds: rdbfmt.Dataset, *, flush: bool = True,
            registry: Any = None) -> None:
    """Put a parsed dataset into ``engine``. Functions are compiled first (the only step
    that can still fail), so a failure leaves the engine untouched."""
    if registry is None:
        registry = build_registry(engine, ds.functions, keep=not flush)
    _set_functions(engine, registry, flush)
    policy = engine.config["maxmemory-policy"]
    lfu = policy in rdbfmt.LFU_POLICIES
    clock = engine.lru_clock
    minutes = (engine.clock.time_ms() // 60000) & 65535
    if flush:
        for db in engine.dbs:
            db.clear()
    for index, contents in ds.dbs.items():
        db = engine.dbs[index]
        if not contents.data:
            continue
        lru = {key: clock for key in contents.data}
        if lfu:
            for key, freq in contents.freq.items():
                lru[key] = (minutes << 8) | freq
        else:
            for key, idle in contents.idle.items():
                stamp = clock - idle
                lru[key] = stamp if stamp >= 0 else clock + (rdbfmt.LRU_CLOCK_MAX - idle)
        if not db.data:
            db.data = contents.data
            db.expires = contents.expires
            db.lru = lru
        else:
            for key in contents.data:
                db.expires.pop(key, None)
            db.data.update(contents.data)
            db.expires.update(contents.expires)
            db.lru.update(lru)
            mem_dirty = getattr(db, "mem_dirty", None)
            if mem_dirty is not None:
                mem_dirty.update(contents.data)
        db.scan_index = None
        for key in contents.data:
            db.signal_modified(key)


def _known_command(engine: "Engine"):  # type: ignore[no-untyped-def]
    table = engine.table

    def known(argv: list[bytes]) -> bool:
        spec = table.lookup(argv[0])
        if spec is None:
            return False
        if spec.subcommands and spec.handler is None:
            if len(argv) < 2:
                return False
            return argv[1].upper().decode("latin-1") in spec.subcommands
        return True

    return known


def replay(engine: "Engine", commands: list[list[bytes]]) -> None:
    """Run commands read from an AOF as Redis's loading client does: straight to the
    command, past every check a client's command goes through (memory limit, pause, ACL),
    without propagation or expiry, replies ignored. A transaction's commands simply run in
    order (they were written only once it had committed)."""
    if not commands:
        return
    from ..session import Session

    loader = Session(engine, 0, name="aof-loader")
    loader.addr = "aof"
    # Commands from the AOF are obeyed as Redis obeys its AOF client (mustObeyClient).
    loader.kind = "aof-loader"
    table = engine.table
    was_loading = engine.loading
    engine.loading = True
    hooks = engine.propagate_hooks
    engine.propagate_hooks = []
    engine.refresh_gate()
    try:
        for argv in commands:
            spec = table.lookup(argv[0])
            if spec is None or spec.name in ("MULTI", "EXEC", "DISCARD"):
                continue
            if spec.subcommands and len(argv) > 1:
                spec = spec.subcommands.get(argv[1].upper().decode("latin-1"), spec)
            if spec.handler is None:
                continue
            try:
                loader.run(spec, argv)
            except Exception:  # a command's own failure never stops loading
                pass
    finally:
        engine.loading = was_loading
        engine.propagate_hooks = hooks
        engine.refresh_gate()


# ---------------------------------------------------------------------------------------------
# Engine-level entry points


def attach(engine: "Engine") -> Persistence:
    p = Persistence(engine)
    p.attach()
    p.startup()
    return p


def state(engine: "Engine") -> Persistence:
    p = engine.extensions.get("persistence")
    if p is None:
        p = attach(engine)
    return p


def restart_config(engine: "Engine") -> dict[str, str]:
    """The running configuration as startup options (what differs from the defaults)."""
    from ..config import PARAMS

    cfg = engine.config
    out = {}
    for param in PARAMS:
        value = cfg.values[param.name]
        if value != param.default:
            out[param.name] = param.render(value)
    return out


def crash(engine: "Engine", kind: str = "power", clock: Any = None) -> "Engine":
    """Kill ``engine`` without warning and start a new one from what its files hold.

    ``kind="power"``: the machine lost power, so only bytes that were fsynced (or written
    back by the kernel) survive. ``kind="process"``: only the process died (kill -9, OOM
    killer): everything written to files survives in the page cache. Either way a background
    child dies with its parent and anything it had not finished is lost.
    """
    from ..engine import Engine

    if kind not in ("power", "process"):
        raise ValueError("kind must be 'power' or 'process'")
    with engine.lock:
        p = state(engine)
        disk = p.disk
        lost = disk.power_loss() if kind == "power" else 0
        p._publish("crash", f"{kind} failure: {lost} unsynced bytes lost", kind=kind,
                   lost=lost)
        p.detach()
        config = restart_config(engine)
    _handoff.disk = disk
    try:
        return Engine(clock or engine.clock, config=config)
    finally:
        _handoff.disk = None


def from_dir(path: str, clock: Any = None, config: dict[str, str] | None = None) -> "Engine":
    """A server started with ``dir`` set to ``path`` (it loads what it finds there)."""
    from ..engine import Engine

    options = dict(config or {})
    options["dir"] = str(path)
    return Engine(clock, config=options)
