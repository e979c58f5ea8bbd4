"""The files persistence writes, with the operating system's page cache modelled.

Redis's durability guarantees are about *when bytes reach the disk*, so the model keeps, for
every file, how much of it is durable (fsynced, or written back by the kernel) and how much
only sits in the page cache. A process crash keeps the page cache (the kernel still owns it);
a power loss keeps only the durable bytes. The kernel writes dirty pages back on its own once
they are older than 30 seconds, checked every 5 seconds (Linux's dirty_expire_centisecs and
dirty_writeback_centisecs defaults), which is what ``appendfsync no`` relies on.

Two stores share the interface: :class:`MemoryDisk` (the default: nothing touches the real
file system, so lessons and tests can save, crash and restart freely) and :class:`DirDisk`
(a real directory, used once ``dir`` is configured). On a real directory the model is still
a model: the bytes are written to the files straight away and no real fsync is issued; a
simulated power loss truncates the files back to what the model says was durable.

Names are paths relative to the directory, with ``/`` between a subdirectory
(``appendonlydir``) and a file.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from typing import Any

WRITEBACK_AGE_MS = 30_000
WRITEBACK_PERIOD_MS = 5_000


@dataclass
class _Pending:
    """Bytes of one file in the page cache: (end offset, when written) chunks, oldest first."""

    durable: int
    chunks: list[tuple[int, int]] = field(default_factory=list)


class Disk:
    """Files of one directory; subclasses store the bytes."""

    kind = "disk"

    def __init__(self) -> None:
        self.pending: dict[str, _Pending] = {}
        self.last_writeback_ms = 0
        # Set to simulate a full disk: every write fails with ENOSPC until it is cleared.
        self.full = False

    def _check_space(self) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # Subclasses implement these -----------------------------------------------------------

    def read(self, name: str) -> bytes | None:
        raise NotImplementedError

    def _write(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def _append(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def _truncate(self, name: str, size: int) -> None:
        raise NotImplementedError

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    def listdir(self, sub: str = "") -> list[str]:
        raise NotImplementedError

    def mkdir(self, sub: str) -> None:
        raise NotImplementedError

    def _rename(self, src: str, dst: str) -> None:
        raise NotImplementedError

    def _remove(self, name: str) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    # The model ---------------------------------------------------------------------------

    def write_durable(self, name: str, data: bytes) -> None:
        """Write a whole file the way Redis does for snapshots and manifests: a temporary
        file, fsync, rename over the old one. Durable when this returns."""
        self._check_space()
        folder, _, base = name.rpartition("/")
        temp = (folder + "/" if folder else "") + "temp-" + base + ".tmp"
        self._write(temp, data)
        self._rename(temp, name)
        self.pending.pop(name, None)

    def create(self, name: str) -> None:
        """Create (or empty) a file opened for appending; its directory entry is durable."""
        self._check_space()
        self._write(name, b"")
        self.pending[name] = _Pending(0)

    def append(self, name: str, data: bytes, now_ms: int) -> None:
        """write(2): the bytes land in the page cache, not yet on the disk."""
        if not data:
            return
        self._check_space()
        p = self.pending.get(name)
        if p is None:
            p = self.pending[name] = _Pending(self.size(name) if self.exists(name) else 0)
        self._append(name, data)
        p.chunks.append((self.size(name), now_ms))

    def fsync(self, name: str) -> int:
        """fsync(2): everything written so far becomes durable; returns the bytes synced."""
        p = self.pending.get(name)
        if p is None or not p.chunks:
            return 0
        end = p.chunks[-1][0]
        synced = end - p.durable
        p.durable = end
        p.chunks.clear()
        return synced

    def unsynced(self, name: str) -> int:
        p = self.pending.get(name)
        if p is None or not p.chunks:
            return 0
        return p.chunks[-1][0] - p.durable

    def writeback(self, now_ms: int) -> int:
        """The kernel's flusher: dirty data older than 30 s reaches the disk (every 5 s)."""
        if now_ms - self.last_writeback_ms < WRITEBACK_PERIOD_MS:
            return 0
        self.last_writeback_ms = now_ms - now_ms % WRITEBACK_PERIOD_MS
        total = 0
        for p in self.pending.values():
            keep = 0
            for end, when in p.chunks:
                if now_ms - when < WRITEBACK_AGE_MS:
                    break
                total += end - p.durable
                p.durable = end
                keep += 1
            if keep:
                del p.chunks[:keep]
        return total

    def rename(self, src: str, dst: str) -> None:
        self._rename(src, dst)
        p = self.pending.pop(src, None)
        if p is not None:
            self.pending[dst] = p
        else:
            self.pending.pop(dst, None)

    def remove(self, name: str) -> None:
        if self.exists(name):
            self._remove(name)
        self.pending.pop(name, None)

    def truncate(self, name: str, size: int) -> None:
        self._truncate(name, size)
        p = self.pending.get(name)
        if p is not None:
            p.durable = min(p.durable, size)
            p.chunks = [(min(end, size), when) for end, when in p.chunks if end <= size]

    def power_loss(self) -> int:
        """Lose everything not yet durable; returns the bytes lost."""
        lost = 0
        for name, p in list(self.pending.items()):
            if p.chunks and self.exists(name):
                lost += self.size(name) - p.durable
                self._truncate(name, p.durable)
            p.chunks.clear()
        return lost


class MemoryDisk(Disk):
    """Files kept in memory (the default store)."""

    kind = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytearray] = {}
        self.dirs: set[str] = set()

    def read(self, name: str) -> bytes | None:
        f = self.files.get(name)
        return None if f is None else bytes(f)

    def _write(self, name: str, data: bytes) -> None:
        self.files[name] = bytearray(data)

    def _append(self, name: str, data: bytes) -> None:
        f = self.files.get(name)
        if f is None:
            f = self.files[name] = bytearray()
        f += data

    def _truncate(self, name: str, size: int) -> None:
        f = self.files.get(name)
        if f is not None:
            del f[size:]

    def exists(self, name: str) -> bool:
        return name in self.files

    def size(self, name: str) -> int:
        f = self.files.get(name)
        return 0 if f is None else len(f)

    def listdir(self, sub: str = "") -> list[str]:
        prefix = sub + "/" if sub else ""
        return sorted(n[len(prefix):] for n in self.files
                      if n.startswith(prefix) and "/" not in n[len(prefix):])

    def mkdir(self, sub: str) -> None:
        self.dirs.add(sub)

    def is_dir(self, sub: str) -> bool:
        return sub in self.dirs

    def _rename(self, src: str, dst: str) -> None:
        self.files[dst] = self.files.pop(src)

    def _remove(self, name: str) -> None:
        del self.files[name]

    def describe(self) -> str:
        return "memory"


class DirDisk(Disk):
    """Files in a real directory.

    Files being appended to (the AOF) keep an open handle and a known size, so that each
    write costs one write(2) and no open or stat; every other operation closes it first.
    """

    kind = "dir"

    def __init__(self, root: str) -> None:
        super().__init__()
        self.root = os.path.abspath(root)
        self._open: dict[str, tuple[Any, int]] = {}

    def _close(self, name: str) -> None:
        entry = self._open.pop(name, None)
        if entry is not None:
            try:
                entry[0].close()
            except OSError:
                pass

    def close_all(self) -> None:
        for name in list(self._open):
            self._close(name)

    def path(self, name: str) -> str:
        return os.path.join(self.root, *name.split("/"))

    def read(self, name: str) -> bytes | None:
        try:
            with open(self.path(name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _write(self, name: str, data: bytes) -> None:
        self._close(name)
        with open(self.path(name), "wb") as f:
            f.write(data)

    def _append(self, name: str, data: bytes) -> None:
        entry = self._open.get(name)
        if entry is None:
            f = open(self.path(name), "ab", buffering=0)
            entry = (f, f.seek(0, os.SEEK_END))
        f, size = entry
        f.write(data)
        self._open[name] = (f, size + len(data))

    def _truncate(self, name: str, size: int) -> None:
        self._close(name)
        try:
            os.truncate(self.path(name), size)
        except FileNotFoundError:
            pass

    def exists(self, name: str) -> bool:
        return name in self._open or os.path.isfile(self.path(name))

    def size(self, name: str) -> int:
        entry = self._open.get(name)
        if entry is not None:
            return entry[1]
        try:
            return os.path.getsize(self.path(name))
        except OSError:
            return 0

    def listdir(self, sub: str = "") -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.path(sub) if sub else self.root)
                          if os.path.isfile(os.path.join(self.path(sub) if sub else self.root,
                                                         n)))
        except FileNotFoundError:
            return []

    def mkdir(self, sub: str) -> None:
        os.makedirs(self.path(sub), exist_ok=True)

    def is_dir(self, sub: str) -> bool:
        return os.path.isdir(self.path(sub))

    def _rename(self, src: str, dst: str) -> None:
        self._close(src)
        self._close(dst)
        os.replace(self.path(src), self.path(dst))

    def _remove(self, name: str) -> None:
        self._close(name)
        os.remove(self.path(name))

    def describe(self) -> str:
        return self.root
