"""RESP2/RESP3 over TCP on top of one engine: redis-cli, redis-py and any client can connect.

Requests are parsed in pure Python (``requests.py``), with or without hiredis installed:
hiredis reads replies, and reading requests with it the way Redis does (inline commands,
Redis's protocol errors and limits) would cost back most of its speed. The measured figures
are in ``requests.py``; ``tests/benchmarks/bench_server.py`` compares the whole server with
redis-server.
"""

from __future__ import annotations

from .listener import Server, run

__all__ = ["Server", "run"]
