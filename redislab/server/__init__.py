"""RESP2/RESP3 over TCP on top of one engine: redis-cli, redis-py and any client can connect."""

from __future__ import annotations

from .listener import Server, run

__all__ = ["Server", "run"]
