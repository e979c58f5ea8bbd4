"""redislab: learn Redis on a complete Redis 7 engine that runs inside Python.

Layout:
    protocol/   reply values and the RESP2/RESP3 codec (imports nothing of redislab)
    engine/     the sans-IO Redis 7.0 engine: keyspace, types, expiry, command table, events
    client.py   ``redislab.client()``: a real redis-py client bound to an in-process engine
    server/     RESP over TCP on top of one engine
    learn/      lessons, quiz, progress and the content checker
    sim/        deterministic simulations (many clients, clock, failures)
    ui/         the terminal REPL (the only layer that uses rich and prompt-toolkit)
    cli.py      the ``redislab`` command (the only layer that uses typer)
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "client", "async_client", "engine_of"]


def client(**kwargs):  # type: ignore[no-untyped-def]
    """A ``redis.Redis`` whose connections run commands on an in-process engine."""
    from .client import client as _client

    return _client(**kwargs)


def async_client(**kwargs):  # type: ignore[no-untyped-def]
    """A ``redis.asyncio.Redis`` whose connections run commands on an in-process engine."""
    from .client import async_client as _async_client

    return _async_client(**kwargs)


def engine_of(obj):  # type: ignore[no-untyped-def]
    """The engine behind a client made by ``client()`` / ``async_client()``."""
    from .client import engine_of as _engine_of

    return _engine_of(obj)
