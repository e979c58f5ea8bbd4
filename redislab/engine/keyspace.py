"""One logical database: values, expire times, and the lookups every command goes through.

Mirrors db.c. A read or write lookup first applies lazy expiry (a key whose time has passed
is deleted on access, strictly after its expire time), then checks the value's type and
raises WRONGTYPE. Every change is reported through :meth:`Database.changed`, which feeds
WATCH, the dirty counter, keyspace notifications and blocked clients waiting for a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from ..protocol.reply import ErrorReply
from . import errors
from .events import KeyDeleted, KeyExpired
from .values import MutableString

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Session

WRONGTYPE = ErrorReply(errors.WRONGTYPE)
_KEY_MISS = 1 << 11  # notify.KEY_MISS and notify.NEW, repeated to keep this hot module's
_NEW = 1 << 13       # imports small
# Dirty marks of deleted keys tolerated before they are swept (see Database._trim_dirty).
_DIRTY_SLACK = 65536


class Database:
    __slots__ = ("id", "engine", "stats", "data", "expires", "lru", "watched", "avg_ttl",
                 "expire_cursor", "ready", "scan_index", "mem_dirty", "mem")

    def __init__(self, index: int, engine: "Engine") -> None:
        self.id = index
        self.engine = engine
        self.stats = engine.stats  # the same object for life (reset in place)
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        # Last access per key in LRU-clock units (or LFU data), like robj.lru in Redis.
        self.lru: dict[bytes, int] = {}
        # WATCH: key -> {session: "the key was already expired when it was watched"}, in
        # watch order (multi.c's watched_keys lists and watchedKey.expired).
        self.watched: dict[bytes, dict["Session", bool]] = {}
        self.avg_ttl = 0
        self.expire_cursor = 0
        self.ready: set[bytes] = set()
        # Keys in SCAN order; built by the first SCAN, then kept current by add and remove.
        self.scan_index: Any = None
        # Memory model (memory/model.py): keys whose size must be recomputed before the
        # figures are next read, and the figures themselves (None until first computed).
        self.mem_dirty: set[bytes] = set()
        self.mem: Any = None

    def __len__(self) -> int:
        return len(self.data)

    # ----------------------------------------------------------------------------------------
    # Expiry

    def expired(self, key: bytes) -> bool:
        """Is ``key`` past its expire time? (Does not delete it.)"""
        when = self.expires.get(key)
        if when is None:
            return False
        eng = self.engine
        if eng.loading:
            return False
        return eng.now_ms() > when

    def expire_if_needed(self, key: bytes) -> bool:
        """Lazy expiry: delete ``key`` if its time has passed. True if it is gone."""
        when = self.expires.get(key)
        if when is None:
            return False
        eng = self.engine
        if eng.loading or eng.now_ms() <= when:
            return False
        if eng.is_replica:
            # A replica reports the key missing but waits for its primary's DEL; commands
            # from the primary itself see the key (expireIfNeeded's master-client rule).
            return not eng.applying_master
        self.delete_expired(key, "lazy")
        return True

    def delete_expired(self, key: bytes, how: str) -> None:
        self._remove(key)
        eng = self.engine
        eng.stats.expired_keys += 1
        eng.propagate_expire(self, key)
        self.signal_modified(key)
        if eng.notify_mask:
            eng.notify(self.id, "x", "expired", key)
        if eng.bus.active:
            eng.bus.publish(KeyExpired(self.id, key, how))

    # ----------------------------------------------------------------------------------------
    # Lookups (lookupKeyRead / lookupKeyWrite)

    def get(self, key: bytes) -> Any:
        """The value at ``key`` after lazy expiry, or None; touches the access time."""
        v = self.data.get(key)
        if v is None or (self.expires and key in self.expires and self.expire_if_needed(key)):
            self.missed(key)
            return None
        self.lru[key] = self.engine.lru_clock
        self.stats.keyspace_hits += 1
        return v

    def missed(self, key: bytes) -> None:
        """A read found nothing: count it, and send the ``keymiss`` notification if asked."""
        eng = self.engine
        self.stats.keyspace_misses += 1
        if eng.notify_mask & _KEY_MISS:
            eng.notify(self.id, "m", "keymiss", key)

    def get_typed(self, key: bytes, cls: type) -> Any:
        """Like :meth:`get` but raises WRONGTYPE unless the value is a ``cls``."""
        v = self.get(key)
        if v is not None and type(v) is not cls:
            raise WRONGTYPE
        return v

    def get_string(self, key: bytes) -> bytes | None:
        """A string value as bytes, or None; WRONGTYPE for other types."""
        v = self.data.get(key)
        if v is None or (self.expires and key in self.expires and self.expire_if_needed(key)):
            self.missed(key)
            return None
        self.lru[key] = self.engine.lru_clock
        self.stats.keyspace_hits += 1
        t = type(v)
        if t is bytes:
            return v
        if t is MutableString:
            return bytes(v.buf)
        raise WRONGTYPE

    def get_for_write(self, key: bytes) -> Any:
        """Lookup for a write: lazy expiry, no hit/miss statistics."""
        v = self.data.get(key)
        if v is None:
            return None
        if self.expires and key in self.expires and self.expire_if_needed(key):
            return None
        self.lru[key] = self.engine.lru_clock
        return v

    def get_for_write_typed(self, key: bytes, cls: type) -> Any:
        v = self.get_for_write(key)
        if v is not None and type(v) is not cls:
            raise WRONGTYPE
        return v

    def peek(self, key: bytes) -> Any:
        """Look without touching access time or statistics (introspection, OBJECT, TYPE)."""
        v = self.data.get(key)
        if v is None:
            return None
        if self.expires and key in self.expires and self.expire_if_needed(key):
            return None
        return v

    def exists(self, key: bytes) -> bool:
        return self.peek(key) is not None

    # ----------------------------------------------------------------------------------------
    # Writes

    def set(self, key: bytes, value: Any, keep_ttl: bool = False) -> None:
        """Store ``value`` (setKey): overwrite, drop the TTL unless ``keep_ttl``."""
        data = self.data
        if self.expires and key in self.expires:
            # setKey looks the key up for writing first, so an expired one expires here.
            self.expire_if_needed(key)
        if key not in data:
            self.ready_check(key, value)
            if self.scan_index is not None:
                self.scan_index.add(key)
        elif self.engine.blocking_keys:
            # An overwrite can end a stream that XREADGROUP clients wait on.
            self.signal_ready(key)
        data[key] = value
        if not keep_ttl and self.expires:
            self.expires.pop(key, None)
        self.lru[key] = self.engine.lru_clock

    def add(self, key: bytes, value: Any) -> None:
        """Add a new key (dbAdd); the caller knows it is absent."""
        self.data[key] = value
        self.mem_dirty.add(key)
        self.lru[key] = self.engine.lru_clock
        self.ready_check(key, value)
        if self.scan_index is not None:
            self.scan_index.add(key)

    def ready_check(self, key: bytes, value: Any) -> None:
        """A key was just created (dbAdd): the ``new`` notification, and clients blocked on
        the key get served after the command."""
        eng = self.engine
        if eng.notify_mask & _NEW:
            eng.notify(self.id, "n", "new", key)
        if eng.blocking_keys and (self.id, key) in eng.blocking_keys:
            self.ready.add(key)
            eng.ready_dbs.add(self)

    def signal_ready(self, key: bytes) -> None:
        """A write made ``key`` able to serve a blocked client (signalKeyAsReady)."""
        eng = self.engine
        if eng.blocking_keys and (self.id, key) in eng.blocking_keys:
            self.ready.add(key)
            eng.ready_dbs.add(self)

    def delete(self, key: bytes) -> bool:
        """Delete ``key`` (after lazy expiry). True if it existed."""
        if key not in self.data:
            return False
        if self.expires and key in self.expires and self.expire_if_needed(key):
            return False
        self._remove(key)
        if self.engine.bus.active:
            self.engine.bus.publish(KeyDeleted(self.id, key))
        return True

    def _remove(self, key: bytes) -> None:
        del self.data[key]
        if self.engine.blocking_keys:
            # signalDeletedKeyAsReady: XREADGROUP clients waiting on a stream learn it is gone.
            self.signal_ready(key)
        self.lru.pop(key, None)
        if self.expires:
            self.expires.pop(key, None)
        if self.scan_index is not None:
            self.scan_index.discard(key)
        dirty = self.mem_dirty
        dirty.add(key)
        if len(dirty) > _DIRTY_SLACK:
            self._trim_dirty()

    def _trim_dirty(self) -> None:
        """Forget the marks of deleted keys that were never sized: with nobody reading the
        memory figures, deletes would otherwise pile up marks without bound."""
        sized = self.mem.alloc if self.mem is not None else {}
        dirty = self.mem_dirty
        if len(dirty) > _DIRTY_SLACK + len(self.data) + len(sized):
            data = self.data
            self.mem_dirty = {k for k in dirty if k in data or k in sized}

    def set_expire(self, key: bytes, when_ms: int) -> None:
        self.expires[key] = when_ms

    def persist(self, key: bytes) -> bool:
        return self.expires.pop(key, None) is not None

    def ttl_ms(self, key: bytes) -> int | None:
        when = self.expires.get(key)
        return None if when is None else when - self.engine.now_ms()

    def changed(self, key: bytes, event: str, cls: str, dirty: int = 1) -> None:
        """Report a modification: dirty counter, WATCH, keyspace notification."""
        self.mem_dirty.add(key)
        eng = self.engine
        eng.dirty += dirty
        if self.watched and key in self.watched:
            self.touch_watchers(key)
        if eng.notify_mask:
            eng.notify(self.id, cls, event, key)

    def signal_modified(self, key: bytes) -> None:
        """signalModifiedKey: only WATCH (and client tracking) care."""
        if self.watched and key in self.watched:
            self.touch_watchers(key)

    def touch_watchers(self, key: bytes) -> None:
        """touchWatchedKey: make the next EXEC of every client watching ``key`` fail.

        A key that was already expired when watched and is now gone has not logically
        changed, so it only loses its mark; Redis 7.0 stops at such a key if it still exists.
        """
        watchers = self.watched.get(key)
        if not watchers:
            return
        for session, was_expired in list(watchers.items()):
            if was_expired:
                if key not in self.data:
                    watchers[session] = False
                    continue
                break
            session.dirty_cas = True
            # Nothing more can happen to a dirty transaction: stop watching, as Redis does.
            unwatch_all(session)

    def touch_all_watched(self, replaced_with: "Database | None" = None) -> None:
        """touchAllWatchedKeysInDb: this database is being emptied (FLUSHDB, FLUSHALL) or
        swapped with ``replaced_with`` (SWAPDB)."""
        if not self.watched:
            return
        other = replaced_with.data if replaced_with is not None else None
        for key in list(self.watched):
            exists_here = key in self.data
            exists_there = other is not None and key in other
            if not (exists_here or exists_there):
                continue
            watchers = self.watched.get(key)
            if not watchers:
                continue
            for session, was_expired in list(watchers.items()):
                if was_expired:
                    if not exists_there:
                        watchers[session] = False
                        continue
                    if replaced_with.expired(key):  # type: ignore[union-attr]
                        continue
                elif not exists_here and replaced_with.expired(key):  # type: ignore[union-attr]
                    watchers[session] = True
                    continue
                session.dirty_cas = True
                unwatch_all(session)

    def clear(self) -> int:
        """Empty the database; returns how many keys it held."""
        n = len(self.data)
        self.touch_all_watched()
        eng = self.engine
        if eng.blocking_keys:
            for db_id, key in list(eng.blocking_keys):
                if db_id == self.id and key in self.data:
                    self.signal_ready(key)
        self.data = {}
        self.expires = {}
        # An LFU policy keeps access data in its own mapping type (eviction.py): keep it.
        self.lru = {} if type(self.lru) is dict else self.lru.fresh()
        self.avg_ttl = 0
        self.expire_cursor = 0
        self.scan_index = None
        # A mark makes the memory model look here; it then notices the new, empty dict.
        self.mem_dirty = {b""}
        return n

    def swap_with(self, other: "Database") -> None:
        """Exchange contents with ``other`` (SWAPDB); ids, watchers and waiters stay put."""
        for name in ("data", "expires", "lru", "avg_ttl", "expire_cursor", "scan_index",
                     "mem_dirty", "mem"):
            mine = getattr(self, name)
            setattr(self, name, getattr(other, name))
            setattr(other, name, mine)

    def keys(self) -> Iterator[bytes]:
        return iter(list(self.data))


def unwatch_all(session: "Session") -> None:
    """unwatchAllKeys: forget every key ``session`` watches, in every database."""
    for db, key, _ in session.watched:
        watchers = db.watched.get(key)
        if watchers is not None:
            watchers.pop(session, None)
            if not watchers:
                del db.watched[key]
    session.watched.clear()
