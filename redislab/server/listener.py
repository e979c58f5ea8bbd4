"""The TCP server: accepts clients, runs the engine's periodic work, shuts down cleanly.

``Server`` serves one engine over RESP2/RESP3 with asyncio (uvloop when installed). It binds
127.0.0.1 by default, refuses non-loopback clients in protected mode when no password is set
(Redis's rule and message), enforces ``maxclients`` and the idle ``timeout``, and on shutdown
saves the dataset when the engine has persistence that asks for it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
from typing import Any, Callable

from ..engine import Engine
from ..engine.session import Blocked
from .connection import ClientConnection

DENIED = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
    b"password is set for the default user. In this mode connections are only accepted from "
    b"the loopback interface. If you want to connect from external computers to Redis you may "
    b"adopt one of the following solutions: 1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from "
    b"the same host the server is running, however MAKE SURE Redis is not publicly accessible "
    b"from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
    b"Alternatively you can just disable the protected mode by editing the Redis configuration "
    b"file, and setting the protected mode option to 'no', and then restarting the server. 3) "
    b"If you started the server manually just for testing, restart it with the "
    b"'--protected-mode no' option. 4) Set up an authentication password for the default "
    b"user. NOTE: You only need to do one of the above things in order for the server to start "
    b"accepting connections from the outside.\r\n"
)
MAX_CLIENTS = b"-ERR max number of clients reached\r\n"
PEAK_SLOTS = 8
# Redis's default tcp-backlog: a burst of connects is queued, not dropped and retried later.
TCP_BACKLOG = 511


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host in ("localhost", "")


class Server:
    """A RESP server over one engine."""

    def __init__(self, engine: Engine | None = None, host: str = "127.0.0.1", port: int = 6379,
                 on_ready: Callable[["Server"], None] | None = None) -> None:
        self.engine = engine or Engine()
        self.host = host
        self.port = port
        self.on_ready = on_ready
        self.connections: set[ClientConnection] = set()
        self._server: asyncio.base_events.Server | None = None
        self._stopping: asyncio.Event | None = None
        self._cron_task: asyncio.Task[None] | None = None
        self.engine.extensions["shutdown"] = self.request_shutdown
        self.engine.extensions["clients.recent_max_output_buffer"] = \
            lambda: max(self.output_peaks)
        self.shutdown_reason = ""
        # Largest unsent output of any client, per second over the last 8 seconds (Redis's
        # CLIENTS_PEAK_MEM_USAGE_SLOTS), for INFO's client_recent_max_output_buffer.
        self.output_peaks = [0] * PEAK_SLOTS
        self._peak_second = -1

    # ----------------------------------------------------------------------------------------

    def admit(self, peer: Any) -> bytes | None:
        """Why a new client is refused, as bytes to send it, or None to accept it."""
        cfg = self.engine.config
        if len(self.connections) >= cfg["maxclients"]:
            self.engine.stats.rejected_connections += 1
            return MAX_CLIENTS
        host = peer[0] if isinstance(peer, tuple) else str(peer)
        if cfg["protected-mode"] and not cfg["requirepass"] and not _is_loopback(host):
            return DENIED
        return None

    def schedule_timeout(self, blocked: Blocked) -> None:
        """Wake the engine exactly when a blocked client's timeout falls due."""
        if not blocked.deadline_ms:
            return
        delay = max(0.0, (blocked.deadline_ms - self.engine.now_ms()) / 1000)
        loop = asyncio.get_event_loop()
        loop.call_later(delay + 0.001, self._serve_timeouts)

    def _serve_timeouts(self) -> None:
        with self.engine.lock:
            self.engine.serve_timeouts()

    async def _cron(self) -> None:
        eng = self.engine
        while True:
            hz = max(1, min(500, eng.config["hz"]))
            await asyncio.sleep(1 / hz)
            with eng.lock:
                eng.cron()
                self._close_idle()
                self.track_output_peaks()

    def track_output_peaks(self) -> None:
        """clientsCronTrackExpansiveClients: note this second's largest output buffer."""
        second = self.engine.clock.time_ms() // 1000
        slot = second % PEAK_SLOTS
        if second != self._peak_second:
            # A new second: its slot starts over, as do any seconds the cron skipped.
            gap = min(PEAK_SLOTS, second - self._peak_second) if self._peak_second >= 0 \
                else PEAK_SLOTS
            for back in range(gap):
                self.output_peaks[(slot - back) % PEAK_SLOTS] = 0
            self._peak_second = second
        biggest = max((c.transport.get_write_buffer_size() for c in self.connections
                       if c.transport is not None), default=0)
        if biggest > self.output_peaks[slot]:
            self.output_peaks[slot] = biggest

    def _close_idle(self) -> None:
        timeout = self.engine.config["timeout"]
        if not timeout:
            return
        now = self.engine.clock.time_ms()
        for conn in list(self.connections):
            s = conn.session
            if s is None or conn.waiting or s.channels or s.patterns:
                continue
            if now - s.last_ms > timeout * 1000:
                conn.kill()

    # ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._server = await loop.create_server(
            lambda: ClientConnection(self), self.host, self.port, reuse_address=True,
            backlog=TCP_BACKLOG)
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        self._cron_task = asyncio.create_task(self._cron())
        if self.on_ready is not None:
            self.on_ready(self)

    async def serve(self) -> None:
        """Serve until SHUTDOWN, SIGTERM or SIGINT."""
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
        if self._cron_task is not None:
            self._cron_task.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
        save = self.engine.extensions.get("save_on_shutdown")
        if save is not None:
            with self.engine.lock:
                save()


def run(engine: Engine | None = None, host: str = "127.0.0.1", port: int = 6379,
        on_ready: Callable[[Server], None] | None = None) -> Server:
    """Serve in the foreground (blocking); uvloop is used when it is installed."""
    server = Server(engine, host, port, on_ready)
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(server.serve())
    return server
