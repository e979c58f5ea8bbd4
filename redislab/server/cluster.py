"""A Redis Cluster in one process: N primaries on N consecutive ports, each its own engine.

``redislab serve --cluster N`` builds it. The slots are split as ``redis-cli --cluster create``
splits them and every node knows the others from the start. The cluster bus runs in-process:
each node's periodic work sends its PINGs, and a message reaches its target on the next turn
of the event loop, so slot changes made with CLUSTER SETSLOT spread as they do in Redis.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any, Callable

from ..engine import Engine
from ..engine.cluster import BusMessage, ClusterState, form_cluster
from .listener import Server


def announce_ip(host: str) -> str:
    """The address nodes give clients in redirects: the bound one, or loopback for any."""
    if host in ("", "0.0.0.0", "::", "*", "localhost"):
        return "127.0.0.1"
    return host


def make_cluster(engines: list[Engine], host: str, port: int) -> list[ClusterState]:
    """Join engines started with ``cluster-enabled yes`` into one cluster on ``port``,
    ``port + 1`` ...; every node is a primary."""
    states = []
    ip = announce_ip(host)
    for i, eng in enumerate(engines):
        st = eng.extensions.get("cluster")
        if st is None:
            raise ValueError("each engine needs cluster-enabled yes")
        eng.config.set_value("port", port + i)
        st.set_address(ip, port + i)
        states.append(st)
    form_cluster(states, masters=len(states))
    return states


class ClusterServer:
    """One listener per node, on one event loop, with the bus between them."""

    def __init__(self, engines: list[Engine], host: str = "127.0.0.1", port: int = 7000,
                 on_ready: Callable[["ClusterServer"], None] | None = None) -> None:
        self.engines = engines
        self.host = host
        self.port = port
        self.on_ready = on_ready
        self.states = make_cluster(engines, host, port)
        self.servers = [Server(eng, host, port + i) for i, eng in enumerate(engines)]
        self._by_address = {st.myself.address: st for st in self.states}
        self._stopping: asyncio.Event | None = None
        self.shutdown_reason = ""
        for eng in engines:
            eng.extensions["shutdown"] = self.request_shutdown
        for st in self.states:
            st.send = self._send
        for eng in engines:
            eng.extensions["migrate_peer"] = self._peer

    def _peer(self, host: str, port: int) -> Engine | None:
        """MIGRATE's target: a node of this process, found by its address."""
        if host in ("localhost", "::1"):
            host = "127.0.0.1"
        st = self._by_address.get((host, port)) or self._by_address.get(
            (self.states[0].myself.ip, port) if host == "127.0.0.1" else ("", -1))
        return None if st is None else st.engine

    def _send(self, address: tuple[str, int], message: BusMessage) -> None:
        target = self._by_address.get(address)
        if target is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_soon(self._deliver, target, message)

    @staticmethod
    def _deliver(target: ClusterState, message: BusMessage) -> None:
        with target.engine.lock:
            target.receive(message)

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        for server in self.servers:
            await server.start()
            # A node's SHUTDOWN stops the whole process, so every node saves as it goes down.
            server.engine.extensions["shutdown"] = self.request_shutdown
        if self.on_ready is not None:
            self.on_ready(self)

    async def serve(self) -> None:
        await self.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.request_shutdown, sig.name)
            except (NotImplementedError, RuntimeError):
                pass
        assert self._stopping is not None
        await self._stopping.wait()
        await self.stop()

    def request_shutdown(self, reason: str = "SHUTDOWN") -> None:
        self.shutdown_reason = reason
        if self._stopping is not None:
            self._stopping.set()

    async def stop(self) -> None:
        for server in self.servers:
            await server.stop()


def run_cluster(engines: list[Engine], host: str = "127.0.0.1", port: int = 7000,
                on_ready: Callable[[ClusterServer], None] | None = None) -> ClusterServer:
    """Serve a cluster in the foreground (blocking)."""
    server = ClusterServer(engines, host, port, on_ready)
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(server.serve())
    return server


__all__: list[Any] = ["ClusterServer", "make_cluster", "run_cluster", "announce_ip"]
