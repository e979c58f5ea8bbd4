"""Which engine features a lesson step may need, and whether this engine has them yet.

A step that needs something the engine does not do yet (persistence, the memory model,
eviction) still exists in the lesson; it says what it needs, and the runner and
``redislab dev check`` skip it with the reason instead of faking it.
"""

from __future__ import annotations

from typing import Callable

from ..engine import Engine, ManualClock

__all__ = ["FEATURES", "missing", "available"]


def _command_works(*argv: str) -> Callable[[], bool]:
    def probe() -> bool:
        from ..protocol.reply import ErrorReply

        eng = Engine(ManualClock())
        s = eng.session()
        s.execute("SET", "probe", "x")
        reply = s.execute(*argv)
        return not (isinstance(reply, ErrorReply) and "not available" in reply.message)

    return probe


def _persistence() -> bool:
    return hasattr(Engine, "crash") and _command_works("SAVE")()


def _eviction() -> bool:
    from ..protocol.reply import ErrorReply

    if not _command_works("MEMORY", "USAGE", "probe")():
        return False
    eng = Engine(ManualClock(), config={"maxmemory": "1mb", "maxmemory-policy": "allkeys-lru"})
    s = eng.session()
    for i in range(3000):
        if isinstance(s.execute("SET", f"k{i}", "x" * 1000), ErrorReply):
            return False
    return eng.stats.evicted_keys > 0


FEATURES: dict[str, tuple[Callable[[], bool], str]] = {
    "memory": (_command_works("MEMORY", "USAGE", "probe"),
               "MEMORY USAGE and the memory model"),
    "eviction": (_eviction, "maxmemory eviction policies"),
    "persistence": (_persistence, "persistence (RDB/AOF files, crash and restart)"),
    "lua": (_command_works("EVAL", "return 1", "0"), "Lua scripting"),
    "streams": (_command_works("XADD", "s", "*", "f", "v"), "streams"),
}

_cache: dict[str, bool] = {}


def available(feature: str) -> bool:
    if feature not in _cache:
        probe = FEATURES.get(feature)
        try:
            _cache[feature] = bool(probe and probe[0]())
        except Exception:
            _cache[feature] = False
    return _cache[feature]


def missing(features: tuple[str, ...] | list[str]) -> str | None:
    """None when all are there, else a sentence naming what this engine lacks."""
    absent = [f for f in features if not available(f)]
    if not absent:
        return None
    names = ", ".join(FEATURES[f][1] if f in FEATURES else f for f in absent)
    return f"needs {names}, which this engine does not have yet"
