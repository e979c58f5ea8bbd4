"""A one-line progress bar written through the REPL's output, redrawn in place with ``\\r``.

On a terminal the line is redrawn as work advances (at most once per percent) and wiped at
the end, leaving room for the summary. For piped input nothing is drawn, so scripted output
stays clean and repeatable.
"""

from __future__ import annotations

import shutil
from typing import Callable

from .theme import Fragments

__all__ = ["ProgressLine"]


class ProgressLine:
    def __init__(self, write: Callable[[Fragments], None], label: str, unit: str, *,
                 enabled: bool = True, width: int | None = None) -> None:
        self.write = write
        self.label = label
        self.unit = unit
        self.enabled = enabled
        self.width = width or shutil.get_terminal_size((80, 24)).columns
        self._last: tuple[int, str] | None = None
        self.drawn = False

    def update(self, done: int, total: int, phase: str = "loading") -> None:
        if not self.enabled:
            return
        percent = done * 100 // max(1, total)
        if self._last == (percent, phase):
            return
        self._last = (percent, phase)
        room = max(10, self.width - 1)
        tail = f" {percent:3d}%  {done:,}/{total:,} {self.unit}" if phase == "loading" \
            else f" {percent:3d}%  {phase}"
        head = f"{self.label} "
        barw = max(10, min(40, room - len(head) - len(tail) - 2))
        filled = barw * percent // 100
        text = f"{head}[{'█' * filled}{'░' * (barw - filled)}]{tail}"
        self.write([("info.dim", "\r" + text[:room])])
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.write([("", "\r" + " " * max(10, self.width - 1) + "\r")])
            self.drawn = False
