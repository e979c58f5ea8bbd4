"""One client connection: bytes in, commands through the engine, replies and pushes out.

Commands are read from an incremental RESP parser and run in order. Replies of one batch of
pipelined commands are written together. A command that blocks stops the reading of further
commands until the engine serves or times it out, as Redis does; pushes (pub/sub messages)
for an idle client are written at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ..engine.commands.connection import client_info_line, client_type
from ..engine.session import Blocked, Session
from ..protocol.reply import NO_REPLY
from ..protocol.resp import ProtocolError, encode
from .requests import ServerRequestParser

if TYPE_CHECKING:
    from .listener import Server

log = logging.getLogger("redislab.server")


def _error_text(e: ProtocolError) -> bytes:
    # The parser names offending bytes with chr(); Redis sends that byte raw, with CR and LF
    # turned into spaces as addReplyErrorFormat does.
    return str(e).encode("latin-1", "replace").replace(b"\r", b" ").replace(b"\n", b" ")


class ClientConnection(asyncio.Protocol):
    def __init__(self, server: "Server") -> None:
        self.server = server
        self.engine = server.engine
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.parser = ServerRequestParser(self.engine.config["proto-max-bulk-len"])
        self.processing = False
        self.waiting = False          # blocked on a command
        self.closing = False
        self.out = bytearray()
        # When (engine clock, whole seconds) the output first stayed over its soft limit.
        self.soft_limit_since: int | None = None
        # Optional observer of every command (``serve --watch``): (session, argv, reply).
        self.on_command = getattr(server, "on_command", None)

    # ----------------------------------------------------------------------------------------
    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        local = transport.get_extra_info("sockname") or ("?", 0)
        refusal = self.server.admit(peer)
        if refusal is not None:
            transport.write(refusal)
            transport.close()
            self.closing = True
            return
        eng = self.engine
        with eng.lock:
            s = eng.session()
        s.addr = f"{peer[0]}:{peer[1]}"
        s.laddr = f"{local[0]}:{local[1]}"
        s.kind = "normal"
        s.on_push = self._on_push
        s.on_unblocked = self._on_unblocked
        s.extra["kill"] = self.kill
        if eng.config["requirepass"]:
            s.authenticated = False
            s.refresh_gate()
        self.session = s
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.connections.discard(self)
        if self.session is not None:
            self.engine.close_session(self.session)

    def data_received(self, data: bytes) -> None:
        if self.closing or self.session is None:
            return
        self.session.last_ms = self.engine.clock.time_ms()
        self.engine.stats.total_net_input_bytes += len(data)
        self.parser.feed(data)
        if not self.waiting:
            self.process()

    # ----------------------------------------------------------------------------------------
    # Running commands

    def process(self) -> None:
        session = self.session
        assert session is not None
        self.processing = True
        out = self.out
        try:
            parser = self.parser
            while not self.waiting and not self.closing:
                # Before AUTH, Redis caps request sizes (authRequired in networking.c).
                parser.authenticated = session.authenticated
                try:
                    argv = parser.next_command()
                except ProtocolError as e:
                    self._flush_outbox()
                    out += b"-ERR " + _error_text(e) + b"\r\n"
                    self.closing = True
                    break
                if argv is None:
                    break
                if not argv:
                    continue
                reply = session.execute_argv(argv)
                if self.on_command is not None:
                    self.on_command(session, argv, reply)
                if session.outbox:
                    self._flush_outbox()
                if type(reply) is Blocked:
                    self.waiting = True
                    self.server.schedule_timeout(reply)
                    break
                self._append_reply(reply)
                if session.close_after_reply:
                    self.closing = True
                    break
        finally:
            self.processing = False
        self._write()
        if self.closing and self.transport is not None:
            self.transport.close()

    def _append_reply(self, reply: Any) -> None:
        session = self.session
        assert session is not None
        if reply is NO_REPLY:
            return
        mode = session.reply_mode
        if mode != "on":
            if mode == "skip":
                session.reply_mode = "on"
            return
        self.out += encode(reply, session.resp == 3)

    def _flush_outbox(self) -> None:
        session = self.session
        assert session is not None
        resp3 = session.resp == 3
        for push in session.drain():
            self.out += encode(push, resp3)

    def _write(self) -> None:
        if self.out and self.transport is not None and not self.transport.is_closing():
            data = bytes(self.out)
            self.engine.stats.total_net_output_bytes += len(data)
            self.transport.write(data)
            if self.transport.get_write_buffer_size() and self._over_output_limit():
                self._close_for_output_limit()
        self.out.clear()

    def _over_output_limit(self) -> bool:
        """checkClientOutputBufferLimits for the output the kernel has not taken yet.

        Redis counts its reply list (what did not fit the socket); the transport's write
        buffer is the same quantity here. The soft limit must hold for more than its seconds,
        timed on the engine's clock in whole seconds as Redis times it on server.unixtime.
        """
        session = self.session
        assert session is not None and self.transport is not None
        kind = client_type(session)
        hard, soft, seconds = self.engine.config["client-output-buffer-limit"][
            "normal" if kind == "master" else kind]
        used = self.transport.get_write_buffer_size()
        over_hard = bool(hard) and used >= hard
        over_soft = bool(soft) and used >= soft
        if over_soft:
            now = self.engine.clock.time_ms() // 1000
            if self.soft_limit_since is None:
                self.soft_limit_since = now
                over_soft = False
            elif now - self.soft_limit_since <= seconds:
                over_soft = False
        else:
            self.soft_limit_since = None
        return over_hard or over_soft

    def _close_for_output_limit(self) -> None:
        # freeClientAsync: the pending output is dropped, not flushed.
        session = self.session
        assert session is not None and self.transport is not None
        log.warning("Client %s scheduled to be closed ASAP for overcoming of output buffer "
                    "limits.", client_info_line(session))
        self.closing = True
        self.transport.abort()

    # ----------------------------------------------------------------------------------------
    # Engine callbacks

    def _on_push(self, session: Session) -> None:
        if not self.processing:
            self._flush_outbox()
            self._write()

    def _on_unblocked(self, session: Session, reply: Any) -> None:
        self._append_reply(reply)
        self.waiting = False
        if self.processing:
            return
        # Serve what the client pipelined behind the blocking command, outside the engine's
        # callback so that the write that woke us finishes first.
        asyncio.get_event_loop().call_soon(self._resume)

    def _resume(self) -> None:
        if self.closing:
            return
        self._write()
        self.process()

    def kill(self) -> None:
        """CLIENT KILL: close after the current command."""
        self.closing = True
        if self.transport is not None:
            self.transport.close()
