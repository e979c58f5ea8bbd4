"""A slow backing database for simulations: every query costs simulated time and is counted.

Caching lessons need the thing a cache protects: ``SlowDatabase.query(ctx, key)`` waits its
latency on the simulated clock (other clients run meanwhile), counts the query, remembers
when it started (for plots of load over time) and how many ran at once (the spike a
stampede causes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .scheduler import Ctx

__all__ = ["SlowDatabase", "FencedStore"]


@dataclass
class SlowDatabase:
    """Rows by key, each read or write taking ``latency`` simulated seconds."""

    latency: float = 0.2
    rows: dict[str, Any] = field(default_factory=dict)
    queries: int = 0
    writes: int = 0
    in_flight: int = 0
    peak: int = 0
    started_ms: list[int] = field(default_factory=list)
    by_key: dict[str, int] = field(default_factory=dict)
    # True: a read returns the row as it was when the query started (its answer then spends
    # the latency on the way back), which is what lets a slow reader carry an old value.
    snapshot_reads: bool = False
    write_latency: float | None = None    # None: the same as reads

    def query(self, ctx: "Ctx", key: str) -> Any:
        """Read ``key``; the answer arrives after the latency."""
        key = key.decode() if isinstance(key, bytes) else str(key)
        self.queries += 1
        self.by_key[key] = self.by_key.get(key, 0) + 1
        self.started_ms.append(ctx.now_ms())
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        before = self.rows.get(key)
        try:
            ctx.sleep(self.latency)
        finally:
            self.in_flight -= 1
        return before if self.snapshot_reads else self.rows.get(key)

    def write(self, ctx: "Ctx", key: str, value: Any) -> None:
        """Write ``key``; the new value is visible once the write's latency has passed."""
        key = key.decode() if isinstance(key, bytes) else str(key)
        self.writes += 1
        ctx.sleep(self.latency if self.write_latency is None else self.write_latency)
        self.rows[key] = value

    def per_bucket(self, start_ms: int, end_ms: int, bucket_ms: int) -> list[int]:
        """Queries started in each ``bucket_ms`` slice of [start_ms, end_ms)."""
        n = max(1, (end_ms - start_ms + bucket_ms - 1) // bucket_ms)
        out = [0] * n
        for t in self.started_ms:
            i = (t - start_ms) // bucket_ms
            if 0 <= i < n:
                out[i] += 1
        return out


@dataclass
class FencedStore:
    """A resource that accepts a write only with a fencing token above every token it saw."""

    highest: int | None = None
    value: Any = None
    accepted: list[tuple[int, Any, str]] = field(default_factory=list)
    rejected: list[tuple[Any, Any, str]] = field(default_factory=list)

    def write(self, ctx: "Ctx", token: Any, value: Any) -> bool:
        try:
            t = int(token)
        except (TypeError, ValueError):
            self.rejected.append((token, value, ctx.name))
            return False
        if self.highest is not None and t <= self.highest:
            self.rejected.append((t, value, ctx.name))
            return False
        self.highest = t
        self.value = value
        self.accepted.append((t, value, ctx.name))
        return True
