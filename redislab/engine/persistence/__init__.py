"""Persistence in Redis 7.0's own formats: RDB snapshots, DUMP payloads, the multi-part AOF.

What redislab writes, redis-server 7.0 loads, and the other way round: :mod:`.rdb` (RDB
version 10 and DUMP/RESTORE payloads), :mod:`.aof` (manifest, base and increment files),
:mod:`.check` (the diagnoses behind ``redislab check-rdb`` / ``check-aof``). :mod:`.manager`
runs it all for one engine, and :mod:`.disk` models what the operating system has really put
on the disk.

Where the files live
    Nothing touches the real file system until ``dir`` is configured (at startup, or with
    CONFIG SET dir): until then the files are kept in memory, so SAVE, BGSAVE, the AOF and
    crashes all work in a lesson or a test without leaving files behind. With ``dir`` set,
    the files are real and redis-server can be started on that directory.

Crashing and restarting
    ``engine.crash(kind="power")`` kills the engine without warning and returns a new engine
    started from the same files (same clock, same configuration, including changes made
    with CONFIG SET). With ``kind="power"`` only what was durable survives: the last RDB
    snapshot, and the AOF up to its last fsync (``appendfsync always``: every acknowledged
    write; ``everysec``: up to about a second; ``no``: whatever the kernel had written back,
    i.e. data older than about 30 seconds). With ``kind="process"`` (kill -9) everything
    that had been written to the files survives, since the kernel still holds it. A
    background save or rewrite in progress dies with its parent. The crashed engine is
    detached: it no longer writes anything.

    ``Engine.from_dir(path, clock=..., config=...)`` starts an engine on a directory as
    ``redis-server --dir path`` would: with ``appendonly yes`` it loads the AOF (and ignores
    any RDB file, as Redis does), otherwise ``dbfilename``.
"""

from __future__ import annotations

from .manager import LoadError, Persistence, attach, crash, from_dir, state

__all__ = ["LoadError", "Persistence", "attach", "crash", "from_dir", "state"]
