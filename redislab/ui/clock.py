"""The REPL's clock: real time by default, frozen on request, always movable forward.

``:clock manual`` freezes time so TTLs and timeouts change only with ``:advance 30s``;
``:clock real`` lets it flow again from where it stands, so switching never moves time
backwards (keys would otherwise come back to life). It is a ManualClock, so
``Engine.advance`` runs the periodic work (active expiry, timeouts) for the time skipped.
"""

from __future__ import annotations

import time

from ..engine.clock import ManualClock

__all__ = ["ReplClock"]


class ReplClock(ManualClock):
    """Wall-clock time plus the time skipped by ``advance``, or a frozen instant."""

    def __init__(self, manual: bool = False) -> None:
        super().__init__(time.time_ns() // 1_000_000)
        self._manual = manual
        self._offset_us = 0            # real mode: time skipped ahead of the wall clock
        self._mono_offset = 0.0
        self._skipped_us = 0           # everything ``advance`` ever skipped (for display)
        self._mono_frozen = time.monotonic()

    @property
    def manual(self) -> bool:  # type: ignore[override]
        return self._manual

    def _real_us(self) -> int:
        return time.time_ns() // 1000 + self._offset_us

    def time_ms(self) -> int:
        return (self._us if self._manual else self._real_us()) // 1000

    def time_us(self) -> int:
        return self._us if self._manual else self._real_us()

    def monotonic(self) -> float:
        if self._manual:
            return self._mono_frozen
        return time.monotonic() + self._mono_offset

    def advance(self, seconds: float = 0.0, *, ms: int = 0) -> None:
        if seconds < 0 or ms < 0:
            raise ValueError("a clock cannot go backwards")
        step = int(round(seconds * 1_000_000)) + ms * 1000
        self._skipped_us += step
        if self._manual:
            self._us += step
            self._mono_frozen += step / 1_000_000
        else:
            self._offset_us += step
            self._mono_offset += step / 1_000_000

    @property
    def skipped_seconds(self) -> float:
        """Total time moved forward by hand since the REPL started."""
        return self._skipped_us / 1_000_000

    def freeze(self) -> None:
        """Stop time where it is now."""
        if not self._manual:
            self._us = self._real_us()
            self._mono_frozen = self.monotonic()
            self._manual = True

    def release(self) -> None:
        """Let time flow again from the frozen instant."""
        if self._manual:
            self._offset_us = self._us - time.time_ns() // 1000
            self._mono_offset = self._mono_frozen - time.monotonic()
            self._manual = False
