"""Traffic generators: when requests arrive, as lists of (milliseconds from start, user).

All are seeded and return sorted arrivals. ``steady`` spreads requests evenly, ``bursty``
sends clumps at random moments, ``boundary`` puts a full quota just before a window
boundary and another just after it (the pattern that lets a fixed window admit twice its
limit within one window's length), ``mixed`` merges them for several users.
"""

from __future__ import annotations

import random

__all__ = ["steady", "bursty", "boundary", "mixed", "PATTERNS"]

Arrivals = list[tuple[int, str]]


def steady(seed: int, duration_ms: int, rate_per_s: float, user: str = "u1") -> Arrivals:
    rng = random.Random(seed)
    gap = 1000.0 / rate_per_s
    t = rng.uniform(0, gap)
    out = []
    while t < duration_ms:
        out.append((int(t), user))
        t += gap
    return out


def bursty(seed: int, duration_ms: int, bursts: int, size: int, user: str = "u1",
           spread_ms: int = 20) -> Arrivals:
    rng = random.Random(seed)
    out = []
    for _ in range(bursts):
        at = rng.randrange(0, max(1, duration_ms - spread_ms))
        out.extend((at + rng.randrange(0, spread_ms + 1), user) for _ in range(size))
    return sorted(out)


def boundary(seed: int, window_ms: int, limit: int, user: str = "u1",
             windows: int = 3) -> Arrivals:
    """``limit`` requests in the last tenth of a window, ``limit`` in the first tenth of the
    next, for a few windows in a row (windows aligned on multiples of ``window_ms``)."""
    rng = random.Random(seed)
    out = []
    edge = max(1, window_ms // 10)
    for w in range(1, windows + 1):
        b = w * window_ms
        out.extend((b - rng.randrange(1, edge + 1), user) for _ in range(limit))
        out.extend((b + rng.randrange(0, edge), user) for _ in range(limit))
    return sorted(out)


def mixed(seed: int, window_ms: int, limit: int, users: int = 2) -> Arrivals:
    rng = random.Random(seed)
    out: Arrivals = []
    for u in range(users):
        name = f"u{u + 1}"
        kind = rng.choice(["steady", "bursty", "boundary"])
        s = rng.randrange(1 << 30)
        if kind == "steady":
            out += steady(s, window_ms * 4, rate_per_s=limit * 1500.0 / window_ms, user=name)
        elif kind == "bursty":
            out += bursty(s, window_ms * 4, bursts=4, size=limit, user=name)
        else:
            out += boundary(s, window_ms, limit, user=name)
    return sorted(out)


PATTERNS = {"steady": steady, "bursty": bursty, "boundary": boundary, "mixed": mixed}
