"""Sample datasets for the REPL's ``:load``: seeded generators that load through a backend.

Each dataset writes its keys through a *sink*, in batches: :class:`CommandSink` turns the
writes into ordinary commands and sends each batch in one go (``Backend.run_batch``: a
pipeline on a real server, the session's own dispatch on the embedded engine), so what
loads is what those commands would leave. On the embedded engine, :class:`EngineSink` builds
the big sorted set directly through the keyspace API instead of a million ZADD arguments
(seconds instead of tens of seconds); it is used only when nothing watches the writes
(no AOF, no replica feed, no maxmemory), since those need the commands themselves.

The same seed gives the same keys, members, fields, scores and TTLs; timestamps inside the
values are relative to the engine's clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from ..protocol import ErrorReply

__all__ = ["Dataset", "DATASETS", "LoadError", "LoadReport", "find", "load"]

SEED = 7
BATCH = 10_000            # elements per batch (one progress step)
HASH_PLAYERS_MAX = 100_000


class LoadError(Exception):
    """A dataset could not be loaded (bad size, or the server refused a write)."""

    def __init__(self, message: str, keys_now: int | None = None) -> None:
        super().__init__(message)
        self.keys_now = keys_now      # keys in the database when loading stopped


# ------------------------------------------------------------------------------------------
# Sinks

class CommandSink:
    """Writes as commands, sent a batch at a time through the backend."""

    fast = False

    def __init__(self, backend: Any, client: str) -> None:
        self.backend = backend
        self.client = client
        self.pending: list[list[bytes]] = []
        self.commands = 0

    def command(self, *argv: bytes) -> None:
        self.pending.append(list(argv))

    def zadd(self, key: bytes, pairs: list[tuple[int, bytes]]) -> None:
        argv = [b"ZADD", key]
        for score, member in pairs:
            argv.append(b"%d" % score)
            argv.append(member)
        self.pending.append(argv)

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        replies = self.backend.run_batch(batch, self.client)
        self.commands += len(batch)
        for argv, reply in zip(batch, replies):
            if isinstance(reply, ErrorReply):
                raise LoadError(f"{argv[0].decode('ascii', 'replace')} refused: "
                                f"{reply.message}")

    def finish(self, progress: Callable[[str], None]) -> None:
        self.flush()


class EngineSink(CommandSink):
    """The embedded engine: sorted sets are built directly, everything else as commands."""

    fast = True

    def __init__(self, backend: Any, client: str) -> None:
        super().__init__(backend, client)
        self.zsets: dict[bytes, dict[bytes, float]] = {}

    def zadd(self, key: bytes, pairs: list[tuple[int, bytes]]) -> None:
        scores = self.zsets.setdefault(key, {})
        for score, member in pairs:
            scores[member] = float(score)

    def finish(self, progress: Callable[[str], None]) -> None:
        self.flush()
        if not self.zsets:
            return
        from sortedcontainers import SortedList

        from ..engine.values import ZSetValue

        engine = self.backend.engine
        session = self.backend.session(self.client)
        config = engine.config
        for key, scores in self.zsets.items():
            progress(f"indexing {len(scores):,} members of {key.decode('utf-8', 'replace')}")
            z = ZSetValue()
            z.scores = scores
            z.order = SortedList((s, m) for m, s in scores.items())
            longest = max((len(m) for m in scores), default=0)
            if len(scores) > config["zset-max-listpack-entries"] \
                    or longest > config["zset-max-listpack-value"]:
                z.encoding = "skiplist"
            with engine.lock:
                db = session.db
                db.delete(key)
                db.set(key, z)
                # As ZADD would: the dirty counter, WATCH and the keyspace notification.
                db.changed(key, "zadd", "z", dirty=len(scores))
        self.zsets.clear()


def make_sink(backend: Any, client: str) -> CommandSink:
    """The fastest sink that loads exactly what the commands would."""
    engine = getattr(backend, "engine", None)
    # The gate is up whenever something must see each command: the AOF or a replica feed,
    # maxmemory, MONITOR, ACL rules, a pause (and the REPL's recording, off while loading).
    if getattr(backend, "kind", "") == "embedded" and engine is not None \
            and not engine.gate and not engine.propagate_hooks \
            and not engine.config["maxmemory"]:
        return EngineSink(backend, client)
    return CommandSink(backend, client)


# ------------------------------------------------------------------------------------------
# Datasets

Generator = Callable[[CommandSink, int, random.Random, int, set[str]], Iterator[int]]


@dataclass(frozen=True)
class Dataset:
    name: str
    unit: str
    default: int
    maximum: int
    summary: str
    flags: tuple[str, ...]
    generate: Generator
    keys: Callable[[int, int], list[bytes]]      # keys to remove before loading


_FIRST = ("ka", "lo", "mi", "ra", "zu", "te", "no", "vi", "sa", "do", "re", "fa", "xe", "jo")
_COUNTRIES = ("US", "DE", "FR", "BR", "JP", "KR", "IN", "GB", "CA", "PL", "SE", "ES")


def _leaderboard(sink: CommandSink, n: int, rng: random.Random, now_ms: int,
                 flags: set[str]) -> Iterator[int]:
    # Points are lognormal: most players casual, a long tail of dedicated ones.
    lognorm = rng.lognormvariate
    hashes = "hashes" in flags
    for start in range(0, n, BATCH):
        end = min(n, start + BATCH)
        pairs = [(int(lognorm(7.0, 1.1)), b"player:%d" % i) for i in range(start, end)]
        sink.zadd(b"leaderboard", pairs)
        if hashes and start < HASH_PLAYERS_MAX:
            for score, member in pairs[:max(0, HASH_PLAYERS_MAX - start)]:
                name = "".join(rng.choice(_FIRST) for _ in range(rng.randint(2, 4)))
                joined = now_ms // 1000 - rng.randint(0, 3 * 365 * 86400)
                sink.command(b"HSET", member, b"name", name.capitalize().encode(),
                             b"country", rng.choice(_COUNTRIES).encode(),
                             b"level", b"%d" % min(100, 1 + score // 120),
                             b"games", b"%d" % (1 + score // 35 + rng.randint(0, 50)),
                             b"joined", b"%d" % joined)
        sink.flush()
        yield end


_AGENTS = (b"Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0",
           b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
           b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/125.0",
           b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5) Mobile/15E148",
           b"curl/8.5.0")


def _session_key(rng: random.Random) -> bytes:
    return b"session:%016x" % rng.getrandbits(64)


def _sessions(sink: CommandSink, n: int, rng: random.Random, now_ms: int,
              flags: set[str]) -> Iterator[int]:
    now = now_ms // 1000
    step = BATCH // 5
    for start in range(0, n, step):
        end = min(n, start + step)
        for _ in range(start, end):
            key = _session_key(rng)
            age = rng.randint(0, 7200)
            ip = b"10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255),
                                   rng.randint(1, 254))
            sink.command(b"HSET", key, b"user_id", b"%d" % rng.randint(1, 50_000),
                         b"ip", ip, b"user_agent", rng.choice(_AGENTS),
                         b"created_at", b"%d" % (now - age),
                         b"last_seen", b"%d" % (now - rng.randint(0, min(age, 1800))),
                         b"cart_items", b"%d" % rng.choice((0, 0, 0, 1, 2, 3, 5)))
            # Idle sessions expire between 5 minutes and 2 hours from now.
            sink.command(b"EXPIRE", key, b"%d" % rng.randint(300, 7200))
        sink.flush()
        yield end


_PAGES = [b"/", b"/pricing", b"/docs", b"/docs/install", b"/docs/commands", b"/blog",
          b"/login", b"/signup", b"/about", b"/careers", b"/contact", b"/status"] + \
    [b"/blog/post-%d" % i for i in range(1, 29)]
_DAYS = 7
STREAM_KEEP = 10_000


def _days(now_ms: int) -> list[bytes]:
    day = now_ms // 86_400_000
    return [datetime.fromtimestamp((day - d) * 86400, tz=timezone.utc)
            .strftime("%Y-%m-%d").encode() for d in range(_DAYS - 1, -1, -1)]


def _pageview_keys(n: int, now_ms: int) -> list[bytes]:
    keys = [b"views"]
    for day in _days(now_ms):
        keys.append(b"pageviews:" + day)
        keys += [b"uniques:" + page + b":" + day for page in _PAGES]
    return keys


def _pageviews(sink: CommandSink, n: int, rng: random.Random, now_ms: int,
               flags: set[str]) -> Iterator[int]:
    days = _days(now_ms)
    span = _DAYS * 86_400_000
    start_ms = (now_ms // 86_400_000 - _DAYS + 1) * 86_400_000
    # Page popularity and returning visitors both follow a Zipf-like law.
    weights = [1.0 / (i + 1) ** 1.1 for i in range(len(_PAGES))]
    visitors = max(100, n // 5)
    for start in range(0, n, BATCH):
        end = min(n, start + BATCH)
        counts: dict[tuple[bytes, bytes], int] = {}
        uniques: dict[tuple[bytes, bytes], set[bytes]] = {}
        pages = rng.choices(_PAGES, weights, k=end - start)
        for i, page in zip(range(start, end), pages):
            ts = start_ms + i * span // n
            day = days[min(_DAYS - 1, (ts - start_ms) // 86_400_000)]
            visitor = b"v%d" % int(visitors * rng.random() ** 2)
            counts[(day, page)] = counts.get((day, page), 0) + 1
            uniques.setdefault((page, day), set()).add(visitor)
            if i >= n - STREAM_KEEP:
                sink.command(b"XADD", b"views", b"%d-*" % ts, b"page", page,
                             b"visitor", visitor)
        for (day, page), c in counts.items():
            sink.command(b"HINCRBY", b"pageviews:" + day, page, b"%d" % c)
        for (page, day), who in uniques.items():
            sink.command(b"PFADD", b"uniques:" + page + b":" + day, *sorted(who))
        sink.flush()
        yield end
    # A consumer group that has read some views and not acknowledged them all yet.
    sink.command(b"XGROUP", b"CREATE", b"views", b"analytics", b"0")
    sink.command(b"XREADGROUP", b"GROUP", b"analytics", b"worker-1", b"COUNT", b"40",
                 b"STREAMS", b"views", b">")
    sink.command(b"XREADGROUP", b"GROUP", b"analytics", b"worker-2", b"COUNT", b"25",
                 b"STREAMS", b"views", b">")
    sink.flush()


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("leaderboard", "players", 1_000_000, 2_000_000,
            "sorted set 'leaderboard' of players with lognormal points; 'hashes' adds a "
            f"profile hash player:<id> (first {HASH_PLAYERS_MAX:,} players)",
            ("hashes",), _leaderboard,
            lambda n, now: [b"leaderboard"]),
    Dataset("sessions", "sessions", 10_000, 1_000_000,
            "session:<token> hashes (user, ip, agent, timestamps) with TTLs of 5 min to 2 h",
            (), _sessions, lambda n, now: []),
    Dataset("pageviews", "views", 100_000, 5_000_000,
            f"a week of views: pageviews:<day> counters (hash), uniques:<page>:<day> "
            f"HyperLogLogs, stream 'views' (last {STREAM_KEEP:,}, group 'analytics')",
            (), _pageviews, _pageview_keys),
)}


def find(name: str) -> Dataset | None:
    return DATASETS.get(name.lower())


# ------------------------------------------------------------------------------------------
# Loading

@dataclass
class LoadReport:
    dataset: str
    count: int
    keys_before: int
    keys_after: int
    memory_before: int | None
    memory_after: int | None
    commands: int
    fast: bool
    interrupted: bool = False
    evicted: int = 0


def _evicted(backend: Any, client: str) -> int | None:
    engine = getattr(backend, "engine", None)
    if engine is not None and getattr(backend, "kind", "") == "embedded":
        return int(engine.stats.evicted_keys)
    try:
        (reply,) = backend.run_batch([[b"INFO", b"stats"]], client)
    except Exception:
        return None
    if isinstance(reply, (bytes, bytearray)):
        for line in bytes(reply).splitlines():
            if line.startswith(b"evicted_keys:"):
                return int(line.split(b":", 1)[1])
    return None


def _used_memory(backend: Any, client: str) -> int | None:
    engine = getattr(backend, "engine", None)
    model = engine.extensions.get("memory") if engine is not None else None
    if model is not None and getattr(backend, "kind", "") == "embedded":
        model.refresh(full=True)
        return int(model.used_memory())
    try:
        (reply,) = backend.run_batch([[b"INFO", b"memory"]], client)
    except Exception:
        return None
    if isinstance(reply, (bytes, bytearray)):
        for line in bytes(reply).splitlines():
            if line.startswith(b"used_memory:"):
                return int(line.split(b":", 1)[1])
    return None


def load(backend: Any, client: str, dataset: Dataset, count: int, *,
         flags: set[str] | None = None, seed: int = SEED,
         progress: Callable[[int, int, str], None] = lambda done, total, what: None
         ) -> LoadReport:
    """Load ``count`` units of ``dataset`` as ``client``; ``progress(done, total, phase)``
    is called after each batch. Ctrl-C stops between batches (reported, not raised)."""
    if count < 1 or count > dataset.maximum:
        raise LoadError(f"{dataset.name} takes 1 to {dataset.maximum:,} {dataset.unit}")
    flags = flags or set()
    recording = backend.recording
    backend.recording = False      # loading is not a command to annotate
    try:
        keys_before = backend.key_count(client)
        memory_before = _used_memory(backend, client)
        evicted_before = _evicted(backend, client)
        now = backend.now_ms()
        stale = dataset.keys(count, now)
        sink = make_sink(backend, client)
        rng = random.Random(f"{dataset.name}:{seed}")
        interrupted = False
        try:
            for i in range(0, len(stale), 1000):
                sink.command(b"DEL", *stale[i:i + 1000])
            sink.flush()
            for done in dataset.generate(sink, count, rng, now, flags):
                progress(done, count, "loading")
            sink.finish(lambda what: progress(count, count, what))
        except KeyboardInterrupt:
            interrupted = True
            sink.pending.clear()
            if isinstance(sink, EngineSink):
                sink.finish(lambda what: None)
        except LoadError as e:
            raise LoadError(str(e), backend.key_count(client)) from None
        keys_after = backend.key_count(client)
        memory_after = _used_memory(backend, client)
        evicted_after = _evicted(backend, client)
    finally:
        backend.recording = recording
    evicted = evicted_after - evicted_before \
        if evicted_before is not None and evicted_after is not None else 0
    return LoadReport(dataset.name, count, keys_before, keys_after, memory_before,
                      memory_after, sink.commands, sink.fast, interrupted, evicted)
