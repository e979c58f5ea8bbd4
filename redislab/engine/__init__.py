"""The engine: a sans-IO Redis 7.0 (keyspace, types, expiry, commands, events).

Public API: :class:`Engine`, :class:`Session` (``session.execute(...)``), the clocks, and the
command table. The engine knows nothing of terminals or sockets.
"""

from __future__ import annotations

from .clock import Clock, ManualClock, SystemClock
from .commands import TABLE
from .engine import Engine
from .session import Blocked, CallRecord, Session

__all__ = ["Engine", "Session", "Blocked", "CallRecord", "Clock", "ManualClock", "SystemClock",
           "TABLE"]
