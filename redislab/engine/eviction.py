"""maxmemory: the eight policies, LRU and LFU access data, and the eviction pool (evict.c).

Before every command that reaches the careful dispatch path (any command while ``maxmemory``
is set), :meth:`Eviction.before_command` compares ``used_memory`` with the limit, as
processCommand does. Over the limit, keys are evicted until enough memory was freed; if the
policy finds nothing to evict, commands that may grow memory (``denyoom``, anything queued
inside MULTI, EXEC of such commands) are refused with Redis's OOM error, and reads still run.

Redis approximates LRU and LFU, and so does this module, the same way: each round samples
``maxmemory-samples`` keys per database into a 16-entry pool ordered by score (idle seconds
on the 24-bit LRU clock, 255 minus the LFU counter, or how soon the key expires) and evicts
the best entry; the pool survives between rounds, so good candidates accumulate.

LFU access data lives in ``db.lru`` exactly as in robj.lru: 16 bits of minutes, then an 8-bit
logarithmic counter. While an LFU policy is selected ``db.lru`` is an :class:`LFUMap`, whose
item assignment turns the keyspace's "stamp this key with the LRU clock" into the LFU update
(decay, then a probabilistic increment); other assignments (RENAME, MOVE, RESTORE carrying a
key's access data over) store the value as given.
"""

from __future__ import annotations

import random
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..protocol.reply import ErrorReply
from . import errors
from .events import KeyEvicted

if TYPE_CHECKING:
    from .commands.spec import CommandSpec
    from .engine import Engine
    from .keyspace import Database
    from .session import Session

EVPOOL_SIZE = 16
LFU_INIT_VAL = 5
LRU_CLOCK_MAX = (1 << 24) - 1
ULLONG_MAX = (1 << 64) - 1
LFU_POLICIES = frozenset({"volatile-lfu", "allkeys-lfu"})
OOM = ErrorReply(errors.OOM)
# Commands that stay allowed inside MULTI when memory is short (processCommand).
_MULTI_ALLOWED = frozenset({"EXEC", "DISCARD", "QUIT", "RESET"})
# Small dictionaries are sampled from a plain list; bigger ones through the scan index.
_LIST_SAMPLE_MAX = 2048


# ---------------------------------------------------------------------------------------------
# LFU

def lfu_minutes(engine: "Engine") -> int:
    """LFUGetTimeInMinutes: the low 16 bits of the Unix time in minutes."""
    return (engine.clock.time_ms() // 60000) & 65535


def lfu_decayed(engine: "Engine", data: int) -> int:
    """LFUDecrAndReturn: the counter after one decrement per lfu-decay-time minutes idle."""
    last, counter = data >> 8, data & 255
    now = lfu_minutes(engine)
    elapsed = now - last if now >= last else 65535 - last + now
    decay = engine.config["lfu-decay-time"]
    periods = elapsed // decay if decay else 0
    if periods:
        counter = 0 if periods > counter else counter - periods
    return counter


class LFUMap(dict):
    """``db.lru`` under an LFU policy (see the module docstring)."""

    __slots__ = ("ev", "last_key", "last_epoch")

    def __init__(self, ev: "Eviction", items: Any = ()) -> None:
        super().__init__(items)
        self.ev = ev
        self.last_key: bytes | None = None
        self.last_epoch = -1

    def fresh(self) -> "LFUMap":
        return LFUMap(self.ev)

    def __setitem__(self, key: bytes, value: int) -> None:
        ev = self.ev
        engine = ev.engine
        if value != engine.lru_clock:
            # Access data carried over from elsewhere (RENAME, MOVE, COPY, RESTORE).
            dict.__setitem__(self, key, value)
            return
        if key == self.last_key and ev.epoch == self.last_epoch:
            # A command looks a key up once in Redis; our handlers may stamp it twice.
            return
        self.last_key = key
        self.last_epoch = ev.epoch
        old = self.get(key)
        if old is None:
            dict.__setitem__(self, key, (lfu_minutes(engine) << 8) | LFU_INIT_VAL)
            return
        counter = lfu_decayed(engine, old)
        if counter < 255:
            base = counter - LFU_INIT_VAL if counter > LFU_INIT_VAL else 0
            if ev.rng.random() < 1.0 / (base * engine.config["lfu-log-factor"] + 1):
                counter += 1
        dict.__setitem__(self, key, (lfu_minutes(engine) << 8) | counter)


def idle_seconds(engine: "Engine", stamp: int) -> int:
    """estimateObjectIdleTime, in seconds, with the 24-bit clock's wrap-around."""
    clock = engine.lru_clock
    return clock - stamp if clock >= stamp else clock + (LRU_CLOCK_MAX - stamp)


# ---------------------------------------------------------------------------------------------
# Eviction

class Eviction:
    """maxmemory enforcement for one engine."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.model = engine.extensions["memory"]
        self.values = engine.config.values
        self.rng = random.Random(0x5EED)
        # Pool entries: [score, key, db index, score detail for the event].
        self.pool: list[list[Any] | None] = [None] * EVPOOL_SIZE
        self.epoch = 0
        self.next_db = 0
        self.timer = False
        self.lfu = False
        self.owns_gate = False
        # While the REPL records calls: the evictions made before the current command.
        self.recent: list[KeyEvicted] | None = None
        engine.extensions["eviction"] = self
        engine.extensions["evict"] = self.before_command
        engine.cron_hooks.append(self.cron)
        params = engine.config.params
        _chain(params["maxmemory-policy"], self._policy_changed)
        _chain(params["maxmemory"], self._limit_changed)
        self._apply_policy(engine.config["maxmemory-policy"])

    # -- configuration -------------------------------------------------------------------

    def _policy_changed(self, old: Any, new: Any) -> None:
        self._apply_policy(self.engine.config["maxmemory-policy"])

    def _limit_changed(self, old: Any, new: Any) -> None:
        # CONFIG SET maxmemory starts the eviction timer (config.c updateMaxmemory).
        if self.engine.config["maxmemory"]:
            self.timer = True

    def _apply_policy(self, policy: str) -> None:
        eng = self.engine
        lfu = policy in LFU_POLICIES
        self.lfu = lfu
        for db in eng.dbs:
            self._wrap(db)
        # LFU updates need to know where one command ends and the next begins.
        if lfu and not eng.extensions.get("gate"):
            eng.extensions["gate"] = True
            self.owns_gate = True
        elif not lfu and self.owns_gate:
            if eng.extensions.get("gate") is True:
                eng.extensions["gate"] = None
            self.owns_gate = False
        eng.refresh_gate()

    def _wrap(self, db: "Database") -> None:
        """Give ``db.lru`` the mapping type the policy needs (the data itself is kept)."""
        lru = db.lru
        if self.lfu:
            if type(lru) is not LFUMap:
                db.lru = LFUMap(self, lru)
        elif type(lru) is not dict:
            db.lru = dict(lru)

    # -- per command ---------------------------------------------------------------------

    def before_command(self, session: "Session", spec: "CommandSpec") -> ErrorReply | None:
        """processCommand's maxmemory step: evict, or refuse a command that may grow memory."""
        self.epoch += 1
        eng = self.engine
        self.model.command_starting(spec)
        if self.lfu and type(session.db.lru) is not LFUMap:
            self._wrap(session.db)
        if not self.values["maxmemory"] or session.in_script or session.in_exec \
                or eng.is_replica or eng.loading:
            return None
        recent = self.recent = [] if eng.recording else None
        ok = self.perform()
        self.recent = None
        if recent:
            # Shown with the command that needed the room (session.run picks them up).
            session.extra["events_before"] = recent
        if ok:
            return None
        name = spec.name
        reject = spec.denyoom
        if name == "EXEC" and session.multi:
            reject = any(s.denyoom for s, _ in session.multi)
        if session.multi is not None and name not in _MULTI_ALLOWED:
            reject = True
        return OOM if reject else None

    def perform(self) -> bool:
        """performEvictions: True if memory is (now) within the limit."""
        used = self.model.used_memory()
        limit = self.values["maxmemory"]
        if used <= limit:
            return True
        policy = self.values["maxmemory-policy"]
        if policy == "noeviction":
            return False
        tofree = used - limit
        freed = 0
        while freed < tofree:
            pick = self.pick(policy)
            if pick is None:
                return False
            db, key, reason = pick
            freed += self.evict(db, key, policy, reason)
        return True

    def cron(self) -> None:
        """evictionTimeProc after a maxmemory change; and LFU maps after a reload."""
        if self.lfu:
            for db in self.engine.dbs:
                if type(db.lru) is not LFUMap:
                    self._wrap(db)
        if self.timer:
            self.timer = False
            if self.engine.config["maxmemory"] and not self.engine.is_replica:
                self.perform()

    # -- choosing a victim ---------------------------------------------------------------

    def pick(self, policy: str) -> tuple["Database", bytes, str] | None:
        eng = self.engine
        dbs = eng.dbs
        allkeys = policy.startswith("allkeys")
        if policy.endswith("random"):
            for _ in range(len(dbs)):
                self.next_db += 1
                db = dbs[self.next_db % len(dbs)]
                d = db.data if allkeys else db.expires
                if d:
                    key = self._random_key(db, d)
                    return db, key, "chosen at random" + ("" if allkeys else
                                                          " among keys with a TTL")
            return None
        pool = self.pool
        while True:
            total = 0
            for db in dbs:
                d = db.data if allkeys else db.expires
                if d:
                    self._populate(db, d, policy)
                    total += len(d)
            if not total:
                return None
            for k in range(EVPOOL_SIZE - 1, -1, -1):
                entry = pool[k]
                if entry is None:
                    continue
                pool[k] = None
                db = dbs[entry[2]]
                key = entry[1]
                if key in (db.data if allkeys else db.expires):
                    return db, key, self._reason(policy, db, key, entry)
                # A ghost: the key went away since it entered the pool.

    def _populate(self, db: "Database", d: dict[bytes, Any], policy: str) -> None:
        """evictionPoolPopulate: sample keys of ``d`` and keep the best in the pool."""
        eng = self.engine
        pool = self.pool
        lru = db.lru
        expires = db.expires
        for key in self._some_keys(db, d, eng.config["maxmemory-samples"]):
            if policy.endswith("lru"):
                score = idle_seconds(eng, lru.get(key, eng.lru_clock))
            elif policy.endswith("lfu"):
                score = 255 - lfu_decayed(eng, lru.get(key, 0))
            else:
                score = ULLONG_MAX - expires.get(key, 0)
            k = 0
            while k < EVPOOL_SIZE and pool[k] is not None and pool[k][0] < score:  # type: ignore
                k += 1
            if k == 0 and pool[EVPOOL_SIZE - 1] is not None:
                continue  # worse than everything in a full pool
            if k < EVPOOL_SIZE and pool[k] is None:
                pass
            elif pool[EVPOOL_SIZE - 1] is None:
                pool.insert(k, None)
                pool.pop()
            else:
                k -= 1
                pool.pop(0)
                pool.insert(k, None)
            pool[k] = [score, key, db.id]

    def _some_keys(self, db: "Database", d: dict[bytes, Any], count: int) -> list[bytes]:
        """dictGetSomeKeys: up to ``count`` keys from a random spot of the table."""
        n = len(d)
        if n <= count:
            return list(d)
        rng = self.rng
        if n <= _LIST_SAMPLE_MAX:
            return rng.sample(list(d), count)
        from .scan import keyspace_order

        # Keys in hash order, as buckets are: a run from a random position.
        order = keyspace_order(db)
        size = len(order)
        out: list[bytes] = []
        if size:
            pos = rng.randrange(size)
            for step in range(min(size, count * 20)):
                key = order[(pos + step) % size]
                if key in d:
                    out.append(key)
                    if len(out) >= count:
                        return out
        while len(out) < count:
            out.append(next(islice(d, rng.randrange(n), None)))
        return out

    def _random_key(self, db: "Database", d: dict[bytes, Any]) -> bytes:
        if d is db.data:
            from .commands.keyspace import random_key

            return random_key(db)
        return next(islice(d, self.rng.randrange(len(d)), None))

    def _reason(self, policy: str, db: "Database", key: bytes, entry: list[Any]) -> str:
        eng = self.engine
        if policy.endswith("lru"):
            return (f"idle {idle_seconds(eng, db.lru.get(key, eng.lru_clock))} s, the longest "
                    "in the eviction pool")
        if policy.endswith("lfu"):
            return (f"access frequency {lfu_decayed(eng, db.lru.get(key, 0))}, the lowest in "
                    "the eviction pool")
        left = db.expires.get(key, 0) - eng.now_ms()
        return f"expires in {max(left, 0)} ms, the soonest in the eviction pool"

    # -- evicting ------------------------------------------------------------------------

    def evict(self, db: "Database", key: bytes, policy: str, reason: str) -> int:
        """Delete ``key`` as an eviction; returns the bytes it freed."""
        eng = self.engine
        model = self.model
        before = model.used_memory()
        if eng.propagate_hooks:
            lazy = eng.config["lazyfree-lazy-eviction"]
            eng.propagate(db.id, [b"UNLINK" if lazy else b"DEL", key])
        db._remove(key)
        after = model.used_memory()
        eng.stats.evicted_keys += 1
        db.signal_modified(key)
        if eng.notify_mask:
            eng.notify(db.id, "e", "evicted", key)
        event = KeyEvicted(db.id, key, policy, reason, before - after)
        if eng.bus.active:
            eng.bus.publish(event)
        if self.recent is not None:
            self.recent.append(event)
        return before - after


def _chain(param: Any, fn: Any) -> None:
    """Add ``fn`` after whatever on_change callback the parameter already has."""
    prev = param.on_change

    def both(old: Any, new: Any) -> None:
        if prev is not None:
            prev(old, new)
        fn(old, new)

    param.on_change = both


def attach(engine: "Engine") -> Eviction:
    ev = engine.extensions.get("eviction")
    return ev if ev is not None else Eviction(engine)
