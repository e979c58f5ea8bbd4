"""The REPL's ``:memory KEY`` view: a key's MEMORY USAGE as a table of its parts."""

from __future__ import annotations

from typing import Any

from .theme import Fragments
from .viz import bar, show

__all__ = ["memory_view"]


def memory_view(bd: Any, width: int) -> Fragments:
    """Fragments for a :class:`~redislab.engine.memory.breakdown.Breakdown`."""
    width = max(40, width)
    name = show(bd.key, 40)
    frags: Fragments = [("info.title", f"{name}: {bd.type}, {bd.encoding}, "
                                       f"{bd.total:,} bytes (MEMORY USAGE {name} SAMPLES 0)\n")]
    parts = [p for p in bd.parts if p.bytes]
    labelw = min(34, max(len(p.label) for p in parts) if parts else 10)
    barw = max(0, min(20, width - labelw - 40))
    total = bd.total or 1
    group = ""
    for p in parts:
        if p.group != group:
            group = p.group
            sub = sum(q.bytes for q in bd.parts if q.group == group)
            head = "the key" if group == "key" else "the value"
            frags.append(("info.title", f"{head}: {sub:,} B\n"))
        share = p.bytes / total
        line = f"  {p.label[:labelw]:<{labelw}} {p.bytes:>12,} B "
        if barw:
            line += f"{bar(max(0.0, share), barw)} {share * 100:5.1f}%"
        frags.append(("info", line.rstrip() + "\n"))
        if p.detail and width >= 60:
            frags.append(("info.dim", f"  {'':<{labelw}}   {p.detail}"[:width] + "\n"))
    frags.append(("info", f"  {'total':<{labelw}} {bd.total:>12,} B\n"))
    if bd.type != "string":
        frags.append(("info.dim", "  (MEMORY USAGE without SAMPLES walks 5 elements and "
                                  "extrapolates; the allocator's own figure, used_memory, "
                                  "rounds every block to its size class)\n"))
    return frags
