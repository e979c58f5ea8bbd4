"""Clocks: the engine never reads the wall clock itself, it asks an injected Clock.

``SystemClock`` follows real time. ``ManualClock`` stands still until ``advance()`` moves it,
which is how lessons, simulations and tests control TTLs, save rules and fsync timing without
ever sleeping.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod


class Clock(ABC):
    """Time source: milliseconds and microseconds since the Unix epoch."""

    manual = False

    @abstractmethod
    def time_ms(self) -> int: ...

    def time_us(self) -> int:
        return self.time_ms() * 1000

    @abstractmethod
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (script time limits, latency)."""


class SystemClock(Clock):
    """Real time."""

    __slots__ = ()

    def time_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def time_us(self) -> int:
        return time.time_ns() // 1_000

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock(Clock):
    """A clock that moves only when told to.

    ``advance()`` on the clock moves time; ``Engine.advance()`` also runs the engine's periodic
    work for the time that passed, as a server would have.
    """

    manual = True

    def __init__(self, start_ms: int | None = None) -> None:
        self._us = (start_ms if start_ms is not None else 1_700_000_000_000) * 1000

    def time_ms(self) -> int:
        return self._us // 1000

    def time_us(self) -> int:
        return self._us

    def monotonic(self) -> float:
        return self._us / 1_000_000

    def advance(self, seconds: float = 0.0, *, ms: int = 0) -> None:
        if seconds < 0 or ms < 0:
            raise ValueError("a clock cannot go backwards")
        self._us += int(round(seconds * 1_000_000)) + ms * 1000

    def set(self, when_ms: int) -> None:
        self._us = when_ms * 1000


def parse_duration(text: str) -> float:
    """Parse ``30s``, ``250ms``, ``5m``, ``2h``, ``1d`` or a bare number of seconds."""
    text = text.strip().lower()
    units = (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0))
    for suffix, factor in units:
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            if suffix == "s" and number.endswith("m"):
                continue
            return float(number) * factor
    return float(text)
