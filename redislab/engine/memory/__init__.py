"""The memory model: Redis 7.0's byte counts for keys, INFO memory, MEMORY USAGE and maxmemory.

``alloc`` holds the allocator and string-header arithmetic (imported by the value types, so
this package's top level stays free of imports); ``sizes`` computes what one value costs;
``model`` keeps per-key figures current lazily and answers ``used_memory``. :func:`attach`
plugs the model and eviction into an engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine import Engine


def attach(engine: "Engine") -> None:
    """Give ``engine`` its memory model and maxmemory enforcement."""
    from ..eviction import attach as attach_eviction
    from .model import MemoryModel

    MemoryModel(engine)
    attach_eviction(engine)
