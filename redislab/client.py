"""The in-process redis-py client: a real ``redis.Redis`` whose connections run on an Engine.

``redislab.client()`` returns an ordinary :class:`redis.Redis` and ``redislab.async_client()``
an ordinary :class:`redis.asyncio.Redis`. Only the connection underneath is different: instead
of a socket it holds a :class:`~redislab.engine.Session` of an in-process
:class:`~redislab.engine.Engine`. Sending a command runs it on the engine at once, as a server
would on receiving it; reading a response turns the engine's reply value into exactly what
redis-py's own parser would have returned for that reply on the wire. Nothing is encoded to
RESP and parsed back, which is what makes this client fast.

Usage::

    import redislab

    r = redislab.client()                       # a fresh engine of its own
    r.set("greeting", "hello")
    engine = redislab.engine_of(r)               # the engine behind it
    r2 = redislab.client(engine=engine, db=1, decode_responses=True)   # same server, db 1

Options: ``client(engine=None, **kwargs)`` takes redis-py's own keyword arguments
(``db``, ``decode_responses``, ``encoding``, ``protocol``, ``client_name``, ``username`` /
``password``, ``health_check_interval``, ``single_connection_client``, ``max_connections``,
``socket_timeout`` ...), plus ``parser_class`` to pick the parser whose reply shapes to give
(hiredis when installed, else redis-py's own; see below); those about sockets, TLS and hosts
are accepted and have nothing to act on. ``connection_pool`` is refused: the client builds
its own. Without ``engine`` every call creates a new engine; clients built on the same engine
share its data, as clients of one server do. The engine is reachable as
``engine_of(r)``, ``r.connection_pool.engine`` or ``r.connection_pool.connection_kwargs["engine"]``.

How it behaves, and why:

* Each redis-py connection is one engine session (one client, as ``CLIENT LIST`` shows it).
  The handshake is redis-py's own (``HELLO`` for ``protocol=3``, ``AUTH``, ``CLIENT SETNAME``,
  ``CLIENT SETINFO``, ``SELECT``), so it fails exactly where it would against a server.
* Replies take the shape of the parser the connection was configured with (hiredis when
  installed, else redis-py's Python parsers): in RESP2 simple strings and doubles arrive as
  bytes (str with ``decode_responses``); in RESP3 maps become dicts, doubles floats, booleans
  bools, and pushes go through the parser's push handlers. Error replies become the
  exception classes redis-py's parser maps them to (``ResponseError``, ``NoScriptError``,
  ``ExecAbortError``, ``AuthenticationError`` ...), raised or returned as it would.
* Pipelines, ``MULTI``/``EXEC``, ``WATCH`` and pub/sub go through redis-py's normal code.
  Pushed messages (pub/sub, keyspace notifications) are queued on the connection in the order
  the engine produced them, interleaved with replies as a server's output buffer would be.
* Threads may share one client: the pool gives each thread its own connection, and the
  engine's lock makes every command atomic.
* A blocking command that cannot be served leaves its connection waiting until the engine
  serves it (another client's write, a timeout, ``CLIENT UNBLOCK``) or ``socket_timeout``
  passes. Commands sent behind it on the same connection wait too, as Redis does not read
  from a blocked client.
* An engine created by ``client()`` runs its periodic work (active expiry, blocked-client
  timeouts ...) on a background timer when its clock is the system clock. An engine you
  pass in is driven by whoever owns it (a server, ``engine.advance()`` on a manual clock).
"""

from __future__ import annotations

import asyncio
import codecs
import inspect
import math
import socket
import sys
import threading
import time
import types
import weakref
from collections import deque
from typing import Any, Callable, Iterable

import redis
import redis.asyncio
import redis.asyncio.connection as _aconn
from redis import connection as _conn
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .engine import Blocked, Engine, ManualClock
from .engine.blocking import NOTHING
from .engine.session import Session
from .protocol.reply import (
    BigNumber, Bool, Double, ErrorReply, MapReply, Push, SetReply, Status, Verbatim,
    _NoReply, _NullArray,
)
from .protocol.resp import ProtocolError, RequestParser, format_double

__all__ = ["client", "async_client", "engine_of", "EngineConnection", "EngineConnectionPool",
           "AsyncEngineConnection", "AsyncEngineConnectionPool"]

try:
    from redis._parsers import _HiredisParser
except ImportError:  # pragma: no cover - very old redis-py
    _HiredisParser = ()  # type: ignore[assignment,misc]
try:
    from redis._parsers import _AsyncHiredisParser
except ImportError:  # pragma: no cover
    _AsyncHiredisParser = ()  # type: ignore[assignment,misc]

try:
    import hiredis as _hiredis

    _HIREDIS_PUSH: type | None = getattr(_hiredis, "PushNotification", None)
except ImportError:
    _HIREDIS_PUSH = None

_SENTINEL = getattr(_conn, "SENTINEL", object())
_MaxConnectionsError = getattr(redis.exceptions, "MaxConnectionsError", RedisConnectionError)
_SERVER_CLOSED = "Connection closed by server."
_HOST_ERROR = "redislab engine (in-process)"

# Keyword arguments of redis-py's connection classes; the rest (host, port, TLS, keepalive)
# describe sockets this client does not have.
_SYNC_PARAMS = frozenset(inspect.signature(_conn.AbstractConnection.__init__).parameters) - {"self"}
_ASYNC_PARAMS = frozenset(
    inspect.signature(_aconn.AbstractConnection.__init__).parameters) - {"self"}
_POOL_ONLY = frozenset({"connection_class", "max_connections", "cache", "cache_config",
                        "cache_factory", "maint_notifications_config",
                        "maint_notifications_pool_handler",
                        "oss_cluster_maint_notifications_handler", "maintenance_state",
                        "maintenance_notification_hash", "orig_host_address",
                        "orig_socket_timeout", "orig_socket_connect_timeout"})

try:
    from redis.maint_notifications import MaintNotificationsConfig as _MaintConfig
except ImportError:  # pragma: no cover - redis-py < 6
    _MaintConfig = None  # type: ignore[assignment,misc]

_FAST_PACKERS: tuple[type, ...] = tuple(
    c for c in (getattr(_conn, "HiredisRespSerializer", None),
                getattr(_conn, "PythonRespSerializer", None)) if c is not None)
_HIREDIS_PACKER = getattr(_conn, "HiredisRespSerializer", None)


# --------------------------------------------------------------------------------------------
# Entry points

def client(engine: Engine | None = None, **kwargs: Any) -> redis.Redis:
    """A real ``redis.Redis`` whose connections execute on ``engine`` (a new one if None)."""
    owned = engine is None
    if engine is None:
        engine = Engine()
    if "connection_pool" in kwargs:
        raise TypeError("client() builds its own connection pool; pass engine= instead")
    single = bool(kwargs.pop("single_connection_client", False))
    parser_class = kwargs.pop("parser_class", None)
    # redis.Redis translates its keyword arguments into connection arguments; let it, then
    # move them onto a pool of engine connections. Nothing connects before the swap.
    r = redis.Redis(**kwargs)
    tcp_pool = r.connection_pool
    pool_kwargs = _pool_kwargs(tcp_pool, _SYNC_PARAMS)
    if parser_class is not None:
        pool_kwargs["parser_class"] = parser_class
    pool = EngineConnectionPool(engine, **pool_kwargs)
    r.connection_pool = pool
    r.auto_close_connection_pool = True
    _drop_pool(tcp_pool)
    if single:
        if hasattr(r, "_single_connection_client"):
            r._single_connection_client = True
        else:  # redis-py < 6
            r.single_connection_client = True
        r.connection = pool.get_connection()
    _prepare_engine(engine, owned)
    return r


def async_client(engine: Engine | None = None, **kwargs: Any) -> redis.asyncio.Redis:
    """A real ``redis.asyncio.Redis`` whose connections execute on ``engine``."""
    owned = engine is None
    if engine is None:
        engine = Engine()
    if "connection_pool" in kwargs:
        raise TypeError("async_client() builds its own connection pool; pass engine= instead")
    parser_class = kwargs.pop("parser_class", None)
    # redis.asyncio.Redis takes even a single connection lazily, so nothing connects here.
    r = redis.asyncio.Redis(**kwargs)
    tcp_pool = r.connection_pool
    pool_kwargs = _pool_kwargs(tcp_pool, _ASYNC_PARAMS)
    if parser_class is not None:
        pool_kwargs["parser_class"] = parser_class
    pool = AsyncEngineConnectionPool(engine, **pool_kwargs)
    r.connection_pool = pool
    r.auto_close_connection_pool = True
    _prepare_engine(engine, owned)
    return r


def engine_of(obj: Any) -> Engine:
    """The engine behind a client, pipeline, pub/sub object, pool or connection."""
    pool = getattr(obj, "connection_pool", obj)
    engine = getattr(pool, "engine", None)
    if engine is None:
        engine = getattr(obj, "engine", None)
    if not isinstance(engine, Engine):
        raise TypeError(f"{type(obj).__name__} is not bound to a redislab engine")
    return engine


def _pool_kwargs(tcp_pool: Any, accepted: frozenset[str]) -> dict[str, Any]:
    kwargs = {k: v for k, v in tcp_pool.connection_kwargs.items()
              if k in accepted and k not in _POOL_ONLY}
    kwargs["max_connections"] = tcp_pool.max_connections
    cache = getattr(tcp_pool, "cache", None)
    if cache is not None:
        kwargs["cache"] = cache
    return kwargs


def _drop_pool(pool: Any) -> None:
    try:
        pool.disconnect()
    except Exception:
        pass


def _prepare_engine(engine: Engine, owned: bool) -> None:
    with engine.lock:
        if _session_closed not in engine.close_hooks:
            engine.close_hooks.append(_session_closed)
    if owned and not isinstance(engine.clock, ManualClock):
        _TICKER.add(engine)


_ORPHANS: deque[Session] = deque()


def _owned(lock: Any) -> bool:
    is_owned = getattr(lock, "_is_owned", None)
    return bool(is_owned()) if is_owned is not None else False


def _close_orphans() -> None:
    """Close the sessions of connections collected as garbage in the middle of a command."""
    while _ORPHANS:
        try:
            session = _ORPHANS.popleft()
        except IndexError:
            return
        engine = session.engine
        if _owned(engine.lock):
            _ORPHANS.append(session)
            return
        with engine.lock:
            if not session.closed:
                engine.close_session(session)


def _session_closed(session: Session) -> None:
    """The engine dropped a session (CLIENT KILL, shutdown): wake whoever waits on it."""
    wake = session.extra.get("redislab.client.wake")
    if wake is not None:
        wake()


class _Ticker:
    """One daemon thread running ``cron`` for the engines clients created, at their ``hz``."""

    def __init__(self) -> None:
        self.engines: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, engine: Engine) -> None:
        with self.lock:
            self.engines[engine] = 0.0
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="redislab-cron",
                                               daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            with self.lock:
                due = [e for e, t in self.engines.items() if t <= now]
            engine: Engine | None
            for engine in due:
                try:
                    hz = max(1, min(500, int(engine.config["hz"])))
                    engine.cron()
                except Exception:  # the timer must outlive a failing hook
                    hz = 10
                with self.lock:
                    if engine in self.engines:
                        self.engines[engine] = now + 1.0 / hz
            due = engine = None  # type: ignore[assignment]  # hold no engine while asleep
            if _ORPHANS:
                _close_orphans()
            with self.lock:
                nxt = min(self.engines.values(), default=None)
            pause = 0.1 if nxt is None else nxt - time.monotonic()
            time.sleep(min(0.1, max(0.001, pause)))


_TICKER = _Ticker()


# --------------------------------------------------------------------------------------------
# Markers queued on a connection besides reply values

class _Waiting:
    """The place of a blocked command's reply, filled when the engine serves it."""

    __slots__ = ("reply",)

    def __init__(self) -> None:
        self.reply: Any = _UNSET


class _Deferred:
    """A command sent behind a blocked one: Redis reads it only once the client is served."""

    __slots__ = ("argv",)

    def __init__(self, argv: list[bytes]) -> None:
        self.argv = argv


class _Switch:
    """The session changed protocol (HELLO, RESET): replies from here on use ``resp``."""

    __slots__ = ("resp",)

    def __init__(self, resp: int) -> None:
        self.resp = resp


class _Closed:
    """The server side closed the connection (QUIT, CLIENT KILL): reads see end of file."""

    __slots__ = ()


class _Unset:
    __slots__ = ()


_UNSET = _Unset()
_CLOSED = _Closed()
_MARKERS = (_Waiting, _Deferred, _Switch, _Closed)


class _Argv(list):  # type: ignore[type-arg]
    """A command already split into byte strings: what ``pack_command`` returns here."""

    __slots__ = ()


class _NoSocket:
    """Stands where redis-py keeps a socket, for the code that closes or inspects it."""

    __slots__ = ()

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        pass

    def settimeout(self, value: float | None) -> None:
        pass

    def getsockname(self) -> tuple[str, int]:
        return ("in-process", 0)

    def getpeername(self) -> tuple[str, int]:
        return ("in-process", 0)

    def fileno(self) -> int:
        return -1


class _NoStream:
    """Stands where redis.asyncio keeps its stream reader and writer."""

    __slots__ = ()
    _buffer = b""

    def close(self) -> None:
        pass

    async def wait_closed(self) -> None:
        pass

    def at_eof(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


_NO_SOCKET = _NoSocket()
_NO_STREAM = _NoStream()


# --------------------------------------------------------------------------------------------
# Reply shapes: what redis-py's parsers make of each reply value

_PROBED: dict[type, tuple[type, bool]] = {}


def _probe_resp3(parser_class: type) -> tuple[type, bool]:
    """How this parser returns a RESP3 set (list or set) and a big number (int or not).

    Parsers changed across redis-py and hiredis versions, so the installed one is asked once,
    through a socket pair, instead of being guessed from version numbers.
    """
    found = _PROBED.get(parser_class)
    if found is not None:
        return found
    default: tuple[type, bool] = (list, not _is_hiredis_class(parser_class))
    try:
        a, b = socket.socketpair()
        try:
            b.sendall(b"~1\r\n:1\r\n(12\r\n")

            class _Conn:
                _sock = a
                socket_timeout = 2.0
                encoder = _conn.Encoder("utf-8", "strict", False)

            parser = parser_class(socket_read_size=65536)
            parser.on_connect(_Conn())
            s = parser.read_response()
            big = parser.read_response()
            parser.on_disconnect()
            found = (set if isinstance(s, (set, frozenset)) else list, type(big) is int)
        finally:
            a.close()
            b.close()
    except Exception:
        found = default
    _PROBED[parser_class] = found
    return found


def _is_hiredis_class(cls: type) -> bool:
    return bool(_HiredisParser) and isinstance(cls, type) and issubclass(cls, _HiredisParser)


def _sync_equivalent(parser: Any) -> type:
    """The sync parser class whose RESP3 shapes an (a)sync parser shares."""
    if _AsyncHiredisParser and isinstance(parser, _AsyncHiredisParser):
        return _HiredisParser  # type: ignore[return-value]
    if _HiredisParser and isinstance(parser, _HiredisParser):
        return type(parser)
    return getattr(_conn, "_RESP3Parser", type(parser))


def _push_router(parser: Any) -> Callable[[Any], Any] | None:
    """The parser's entry point for a push: its router since redis-py 5.1, before that the
    pub/sub push handler itself."""
    if hasattr(parser, "pubsub_push_handler_func"):
        return getattr(parser, "handle_push_response", None)
    return getattr(parser, "push_handler_func", None)


def _error_text(e: ErrorReply) -> str:
    """The error's text as a parser reads it off the wire (one line, UTF-8 with replacement)."""
    msg = e.message
    if "\r" in msg or "\n" in msg:
        msg = msg.replace("\r", " ").replace("\n", " ")
    if not msg.isascii():
        msg = msg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return msg


def _make_converter(resp3: bool, decode: bool, encoding: str, errors: str, hiredis: bool,
                    parse_error: Callable[[str], Exception], set_type: type,
                    bignum_int: bool) -> Callable[[Any], Any]:
    """Build the function turning one reply value into what the parser would return."""
    utf8 = codecs.lookup(encoding).name == "utf-8" and errors == "strict"

    def text(b: bytes) -> Any:
        return b.decode(encoding, errors) if decode else b

    def status(s: str) -> Any:
        if decode and utf8:
            return str(s)
        return text(s.encode("utf-8", "surrogateescape"))

    def error(e: ErrorReply) -> Exception:
        exc = parse_error(_error_text(e))
        # The Python parsers raise connection-level errors wherever they meet them.
        if not hiredis and isinstance(exc, RedisConnectionError):
            raise exc
        return exc

    def double(d: Double) -> Any:
        # A double may carry the exact text Redis prints for it (GEOPOS); parsers read that.
        if resp3:
            return float(d.text) if d.text else float(d)
        return text(d.text or format_double(d))

    def items(v: list[Any]) -> list[Any]:
        out: list[Any] = []
        append = out.append
        for x in v:
            tx = type(x)
            if tx is bytes:
                append(x.decode(encoding, errors) if decode else x)
            elif tx is int or x is None:
                append(x)
            elif tx is list:
                append(items(x))
            elif tx is Double:
                append(double(x) if not resp3 or x.text else float(x))
            else:
                append(conv(x))
        return out

    def conv(v: Any) -> Any:
        t = type(v)
        if t is bytes:
            return v.decode(encoding, errors) if decode else v
        if t is int:
            return v
        if v is None:
            return None
        if t is list or t is Push:
            return items(v)
        if t is Status:
            return status(v)
        if t is Double:
            return double(v)
        if t is MapReply:
            if resp3:
                return {conv(k): conv(x) for k, x in v}
            flat = []
            for k, x in v:
                flat.append(conv(k))
                flat.append(conv(x))
            return flat
        if t is SetReply:
            members = items(v)
            return set_type(members) if resp3 and set_type is not list else members
        if isinstance(v, ErrorReply):
            return error(v)
        if t is Bool:
            return bool(v) if resp3 else int(v)
        if t is BigNumber:
            if resp3 and bignum_int:
                return int(v)
            return text(b"%d" % int(v))
        if t is Verbatim:
            return text(bytes(v))
        if t is _NullArray:
            return None
        # Values outside the reply vocabulary take the shape the RESP encoder gives them.
        if t is bool:
            return int(v)
        if isinstance(v, (bytes, bytearray, memoryview)):
            return text(bytes(v))
        if isinstance(v, int):
            return int(v)
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, str):
            return status(v)
        if isinstance(v, float):
            return conv(Double(v))
        raise TypeError(f"cannot convert reply of type {t.__name__}")

    if not hiredis:
        return conv

    def top(v: Any) -> Any:
        # hiredis raises a connection-level error only at the top or first in an array.
        value = conv(v)
        if isinstance(value, RedisConnectionError):
            raise value
        if type(value) is list and value and isinstance(value[0], RedisConnectionError):
            raise value[0]
        return value

    return top


# --------------------------------------------------------------------------------------------
# What both connection classes share: the session, the reply queue and the conversions

class _EngineLink:
    """Session handling shared by the sync and async connection classes."""

    engine: Engine
    _session: Session | None
    _pending: deque[Any]
    _convs: dict[tuple[int, bool], Callable[[Any], Any]]

    def _init_link(self, engine: Engine | None) -> None:
        if engine is None:
            raise TypeError("an engine connection needs engine=")
        self.engine = engine
        self._session = None
        self._pending = deque()
        self._blocked_slot: _Waiting | None = None
        self._deferred = 0
        self._send_resp = 2
        self._read_resp = 2
        self._convs = {}
        self._conv2: Callable[[Any], Any] | None = None
        self._conv3: Callable[[Any], Any] | None = None
        self._raw_parser: RequestParser | None = None
        self._lock_acquire = engine.lock.acquire
        self._lock_release = engine.lock.release
        enc = self.encoder
        self._decode = bool(enc.decode_responses)
        self._encoding = enc.encoding
        self._encoding_errors = enc.encoding_errors
        packer = getattr(self, "_command_packer", None)
        if packer is None or type(packer) in _FAST_PACKERS:
            self._fast_args = True
            if _HIREDIS_PACKER is not None and type(packer) is _HIREDIS_PACKER:
                self._str_encoding = ("utf-8", "strict")
            else:
                self._str_encoding = (enc.encoding, enc.encoding_errors)
        else:
            self._fast_args = False
            self._str_encoding = (enc.encoding, enc.encoding_errors)
        self._utf8_args = self._str_encoding == ("utf-8", "strict")

    # -- session life ------------------------------------------------------------------------

    def _open_session(self) -> None:
        self._close_session()
        if _ORPHANS:
            _close_orphans()
        engine = self.engine
        with engine.lock:
            session = engine.session()
            if engine.config["requirepass"]:
                # A new connection to a server with a password starts logged out.
                session.authenticated = False
                session.refresh_gate()
            session.on_push = self._on_push
            session.on_unblocked = self._on_unblocked
            session.extra["redislab.client.wake"] = self._wake
            self._session = session
            self._pending.clear()
            self._blocked_slot = None
            self._deferred = 0
            self._send_resp = self._read_resp = session.resp
            self._raw_parser = None
        self._convs.clear()
        self._conv2 = self._conv3 = None

    def _close_session(self) -> None:
        session = self._session
        if session is None:
            return
        self._session = None
        engine = self.engine
        session.on_push = None
        session.on_unblocked = None
        session.extra.pop("redislab.client.wake", None)
        if _owned(engine.lock):
            # Only garbage collection closes a connection from inside a running command;
            # closing the session there could pull it out from under that command.
            _ORPHANS.append(session)
        else:
            with engine.lock:
                if not session.closed:
                    engine.close_session(session)
        self._pending.clear()
        self._blocked_slot = None
        self._deferred = 0
        self._wake()

    # -- engine callbacks (called with the engine lock held) ------------------------------------

    def _on_push(self, session: Session) -> None:
        outbox = session.outbox
        append = self._pending.append
        while outbox:
            append(outbox.popleft())
        self._wake()

    def _on_unblocked(self, session: Session, reply: Any) -> None:
        slot = self._blocked_slot
        if slot is not None:
            self._blocked_slot = None
            slot.reply = reply
        self._wake()

    def _wake(self) -> None:
        raise NotImplementedError

    # -- sending ---------------------------------------------------------------------------------

    def _argv(self, args: tuple[Any, ...]) -> list[bytes]:
        """Split and encode a command as redis-py's packer would send it."""
        try:
            head = _HEADS.get(args[0])
        except (TypeError, IndexError):
            return self._argv_slow(args)
        if head is None or not self._fast_args:
            head = _head(args[0]) if self._fast_args else None
            if head is None:
                return self._argv_slow(args)
        argv = list(head)
        if self._utf8_args:
            for a in args[1:]:
                t = type(a)
                if t is str:
                    argv.append(a.encode())
                elif t is bytes:
                    argv.append(a)
                elif t is int:
                    argv.append(b"%d" % a)
                elif t is float:
                    argv.append(repr(a).encode())
                else:
                    return self._argv_slow(args)
            return argv
        enc, errs = self._str_encoding
        for a in args[1:]:
            t = type(a)
            if t is str:
                argv.append(a.encode(enc, errs))
            elif t is bytes:
                argv.append(a)
            elif t is int:
                argv.append(b"%d" % a)
            elif t is float:
                argv.append(repr(a).encode())
            else:
                return self._argv_slow(args)
        return argv

    def _argv_slow(self, args: tuple[Any, ...]) -> list[bytes]:
        """Anything unusual goes through redis-py's own packer, for its exact errors."""
        packed = self._real_pack(*args)
        parser = RequestParser()
        parser.feed(b"".join(bytes(p) for p in packed))
        for argv in parser.commands():
            return argv
        return []

    def _real_pack(self, *args: Any) -> list[bytes]:
        packer = getattr(self, "_command_packer", None)
        if packer is not None:
            return packer.pack(*args)
        return _conn.PythonRespSerializer(6000, self.encoder.encode).pack(*args)

    def _run_locked(self, argv: list[bytes]) -> None:
        """Execute one command and queue what it answers. Caller holds the engine lock."""
        session = self._session
        if session is None or session.closed:
            self._mark_closed()
            return
        if self._blocked_slot is not None:
            self._pending.append(_Deferred(argv))
            self._deferred += 1
            return
        self._queue(session, session.execute_argv(argv))

    def _queue(self, session: Session, reply: Any) -> None:
        """Queue what one command answered, with whatever it changed about the connection."""
        pending = self._pending
        if session.resp != self._send_resp:
            self._send_resp = session.resp
            pending.append(_Switch(session.resp))
        t = type(reply)
        if t is Blocked:
            slot = _Waiting()
            pending.append(slot)
            if session.blocked is None and session.pending_reply is not NOTHING:
                slot.reply = session.pending_reply  # answered before we got here
            else:
                self._blocked_slot = slot
        elif t is not _NoReply:
            pending.append(reply)
        if session.closed or session.close_after_reply:
            self._server_closed()

    def _run_raw_locked(self, data: bytes) -> None:
        """Bytes already in RESP (a caller's own framing): parse them as a server would."""
        parser = self._raw_parser
        if parser is None:
            parser = self._raw_parser = RequestParser()
        parser.feed(bytes(data))
        try:
            for argv in parser.commands():
                if argv:
                    self._run_locked(argv)
        except ProtocolError as e:
            self._pending.append(ErrorReply(f"ERR {e}"))
            self._server_closed()

    def _mark_closed(self) -> None:
        pending = self._pending
        if not pending or pending[-1] is not _CLOSED:
            pending.append(_CLOSED)

    def _server_closed(self) -> None:
        session = self._session
        if session is not None and not session.closed:
            session.on_push = None
            session.on_unblocked = None
            self.engine.close_session(session)
        self._mark_closed()

    def _resume_locked(self) -> None:
        """The blocked command was served: run the commands queued behind it, in order."""
        if not self._deferred:
            return
        items = list(self._pending)
        self._pending.clear()
        self._deferred = 0
        for item in items:
            if type(item) is _Deferred:
                self._run_locked(item.argv)
            else:
                self._pending.append(item)

    # -- reading -----------------------------------------------------------------------------------

    def _converter(self, resp: int, decode: bool) -> Callable[[Any], Any]:
        key = (resp, decode)
        conv = self._convs.get(key)
        if conv is None:
            parser = self._parser
            hiredis = bool((_HiredisParser and isinstance(parser, _HiredisParser))
                           or (_AsyncHiredisParser and isinstance(parser, _AsyncHiredisParser)))
            if resp == 3:
                set_type, bignum_int = _probe_resp3(_sync_equivalent(parser))
            else:
                set_type, bignum_int = list, True
            conv = _make_converter(resp == 3, decode, self._encoding, self._encoding_errors,
                                   hiredis, parser.parse_error, set_type, bignum_int)
            self._convs[key] = conv
        return conv

    def _ready(self) -> bool:
        """True when a read would not have to wait."""
        pending = self._pending
        if not pending:
            return False
        head = pending[0]
        return type(head) is not _Waiting or head.reply is not _UNSET

    def _take(self) -> Any:
        """Pop the next reply value (or marker) if one is ready, else ``_UNSET``."""
        pending = self._pending
        while pending:
            item = pending[0]
            t = type(item)
            if t is _Waiting:
                if item.reply is _UNSET:
                    return _UNSET
                pending.popleft()
                reply = item.reply
                if self._deferred:
                    with self.engine.lock:
                        self._resume_locked()
                return reply
            if t is _Switch:
                pending.popleft()
                self._read_resp = item.resp
                continue
            if t is _Closed:
                return item
            return pending.popleft()
        return _UNSET

    def _blocked_deadline(self) -> float | None:
        """Seconds until the engine must answer our blocked command with its timeout reply."""
        session = self._session
        if session is None or self._blocked_slot is None:
            return None
        blocked = session.blocked
        if blocked is None or not blocked.deadline_ms:
            return None
        if isinstance(self.engine.clock, ManualClock):
            return None  # time moves only when someone advances the clock
        return max(0.0, (blocked.deadline_ms - self.engine.now_ms()) / 1000.0)

    def _serve_timeouts(self) -> None:
        with self.engine.lock:
            self.engine.serve_timeouts()


def _head(first: Any) -> tuple[bytes, ...] | None:
    """The command name part of the arguments, split on spaces as redis-py's packers do."""
    if type(first) is str:
        try:
            head = tuple(first.encode().split())
        except UnicodeEncodeError:
            return None
    elif type(first) is bytes:
        head = tuple(first.split()) if b" " in first else (first,)
    else:
        return None
    if len(_HEADS) < 4096:
        _HEADS[first] = head
    return head


_HEADS: dict[Any, tuple[bytes, ...]] = {}


# --------------------------------------------------------------------------------------------
# The sync connection and pool

class EngineConnection(_EngineLink, _conn.AbstractConnection):
    """A redis-py connection whose far end is an engine session instead of a socket."""

    def __init__(self, engine: Engine | None = None, **kwargs: Any) -> None:
        kwargs = {k: v for k, v in kwargs.items() if k in _SYNC_PARAMS}
        if _MaintConfig is not None and "maint_notifications_config" in _SYNC_PARAMS:
            kwargs["maint_notifications_config"] = _MaintConfig(enabled=False)
        self._host = "redislab"
        super().__init__(**kwargs)
        self._init_link(engine)
        self._cond = threading.Condition(self.engine.lock)

    # redis-py asks these of a connection that has a host; there is none.
    @property  # type: ignore[override]
    def host(self) -> str:
        return self._host

    @host.setter
    def host(self, value: str) -> None:
        self._host = value

    def repr_pieces(self) -> list[tuple[str, Any]]:
        pieces: list[tuple[str, Any]] = [("engine", hex(id(self.engine))), ("db", self.db)]
        if self.client_name:
            pieces.append(("client_name", self.client_name))
        return pieces

    def _connect(self) -> _NoSocket:
        self._open_session()
        return _NO_SOCKET

    def _host_error(self) -> str:
        return _HOST_ERROR

    @property
    def is_connected(self) -> bool:
        return self._sock is not None

    def connect(self) -> None:
        if self._sock is None:
            super().connect()

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        self._close_session()
        super().disconnect(*args, **kwargs)

    def _ensure_connected(self) -> None:
        connect = getattr(self, "connect_check_health", None)
        if connect is not None:
            connect(check_health=False)
        else:  # redis-py < 6
            self.connect()

    def _wake(self) -> None:
        cond = self._cond
        with cond:
            cond.notify_all()

    # -- sending -----------------------------------------------------------------------------------

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        if self._sock is None:
            self._ensure_connected()
        if self.health_check_interval and kwargs.get("check_health", True):
            self.check_health()
        argv = self._argv(args)
        session = self._session
        self._lock_acquire()
        try:
            if session is not None and self._blocked_slot is None and not session.closed:
                reply = session.execute_argv(argv)
                t = type(reply)
                if (t is bytes or t is int or t is Status or reply is None) \
                        and session.resp == self._send_resp and not session.closed \
                        and not session.close_after_reply:
                    self._pending.append(reply)
                else:
                    self._queue(session, reply)
            else:
                self._run_locked(argv)
        finally:
            self._lock_release()

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if self._sock is None:
            self._ensure_connected()
        if check_health:
            self.check_health()
        if isinstance(command, (str, bytes, bytearray, memoryview)):
            command = [command]
        self._lock_acquire()
        try:
            for item in command:
                if type(item) is _Argv:
                    self._run_locked(item)
                else:
                    if isinstance(item, str):
                        item = item.encode()
                    self._run_raw_locked(item)
        finally:
            self._lock_release()

    def pack_command(self, *args: Any) -> list[Any]:
        return [_Argv(self._argv(args))]

    def pack_commands(self, commands: Iterable[Any]) -> list[Any]:
        return [_Argv(self._argv(tuple(cmd))) for cmd in commands]

    # -- reading -----------------------------------------------------------------------------------

    def can_read(self, timeout: float | None = 0) -> bool:
        if self._sock is None:
            self.connect()
        if self._ready():
            return True
        if timeout is not None and timeout <= 0:
            return False
        return self._wait_ready(timeout)

    def _wait_ready(self, timeout: float | None) -> bool:
        """Wait until a read would not block, or ``timeout`` seconds (None: for ever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        cond = self._cond
        with cond:
            while not self._ready():
                if self._session is None:
                    return True  # a closed connection reads as end of file
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    return False
                serve = self._blocked_deadline()
                if serve is not None and (wait is None or serve < wait):
                    if serve <= 0:
                        self.engine.serve_timeouts()
                        continue
                    wait = serve
                cond.wait(wait)
        return True

    def read_response(self, disable_decoding: bool = False, *, timeout: Any = _SENTINEL,
                      disconnect_on_error: bool = True, push_request: bool = False) -> Any:
        pending = self._pending
        if pending:
            # The common replies, straight off the queue.
            item = pending.popleft()
            t = type(item)
            if t is bytes or t is int or item is None:
                if self.health_check_interval:
                    self.next_health_check = time.monotonic() + self.health_check_interval
                if t is bytes and self._decode and not disable_decoding:
                    return item.decode(self._encoding, self._encoding_errors)
                return item
            pending.appendleft(item)
        return self._read_response(disable_decoding, timeout, disconnect_on_error,
                                   push_request)

    def _read_response(self, disable_decoding: bool, timeout: Any, disconnect_on_error: bool,
                       push_request: bool) -> Any:
        try:
            while True:
                item = self._take()
                if item is _UNSET:
                    wait = self.socket_timeout if timeout is _SENTINEL else timeout
                    if not self._wait_ready(wait):
                        raise socket.timeout("timed out")
                    if self._session is None and not self._pending:
                        raise RedisConnectionError(_SERVER_CLOSED)
                    continue
                t = type(item)
                decode = self._decode and not disable_decoding
                if t is bytes:
                    response = item.decode(self._encoding, self._encoding_errors) \
                        if decode else item
                    break
                if t is int or item is None:
                    response = item
                    break
                if t is _Closed:
                    raise RedisConnectionError(_SERVER_CLOSED)
                resp = self._read_resp
                if t is Push and resp == 3:
                    handled, response = self._push(item, decode, push_request)
                    if handled:
                        continue
                    break
                response = self._converter(resp, decode)(item)
                break
        except socket.timeout:
            # Both parsers turn a socket timeout into this error themselves.
            if disconnect_on_error:
                self.disconnect()
            raise RedisTimeoutError("Timeout reading from socket") from None
        except BaseException:
            if disconnect_on_error:
                self.disconnect()
            raise
        if self.health_check_interval:
            self.next_health_check = time.monotonic() + self.health_check_interval
        if isinstance(response, ResponseError):
            try:
                raise response
            finally:
                del response
        return response

    def _push(self, item: Push, decode: bool, push_request: bool) -> tuple[bool, Any]:
        """A RESP3 push: through the parser's handlers, as the parser would route it.

        Returns (consumed, value): consumed pushes are skipped and the next reply read.
        """
        conv = self._converter(3, decode)
        parser = self._parser
        value = conv(Push(item))
        if _HiredisParser and isinstance(parser, _HiredisParser):
            if _HIREDIS_PUSH is not None:
                value = _HIREDIS_PUSH(value)
            if getattr(parser, "_hiredis_PushNotificationType", None) is None:
                return False, value  # this redis-py hands hiredis pushes over as replies
        handler = _push_router(parser)
        if handler is None:
            return False, value
        result = handler(value)
        if push_request and self.protocol in (3, "3"):
            return False, result
        return True, None


class EngineConnectionPool(_conn.ConnectionPool):
    """A connection pool of engine connections, with a short checkout path."""

    def __init__(self, engine: Engine, **kwargs: Any) -> None:
        kwargs.pop("connection_class", None)
        if _MaintConfig is not None:
            kwargs.setdefault("maint_notifications_config", _MaintConfig(enabled=False))
        self.engine = engine
        super().__init__(connection_class=EngineConnection, engine=engine, **kwargs)

    def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Any:
        with self._lock:
            try:
                conn = self._available_connections.pop()
            except IndexError:
                conn = self.make_connection()
            self._in_use_connections.add(conn)
        try:
            if type(conn) is EngineConnection:
                if conn._sock is None:
                    conn.connect()
                elif conn._pending:
                    # Unread replies left behind: start over with a fresh session.
                    conn.disconnect()
                    conn.connect()
            else:  # wrapped, e.g. for client-side caching
                conn.connect()
        except BaseException:
            self.release(conn)
            raise
        return conn

    def release(self, connection: Any) -> None:
        with self._lock:
            try:
                self._in_use_connections.remove(connection)
            except KeyError:
                return
            should_reconnect = getattr(connection, "should_reconnect", None)
            if should_reconnect is not None and should_reconnect():
                connection.disconnect()
            self._available_connections.append(connection)


# --------------------------------------------------------------------------------------------
# The async connection and pool

class AsyncEngineConnection(_EngineLink, _aconn.AbstractConnection):
    """A redis.asyncio connection whose far end is an engine session."""

    def __init__(self, *, engine: Engine | None = None, **kwargs: Any) -> None:
        kwargs = {k: v for k, v in kwargs.items() if k in _ASYNC_PARAMS}
        super().__init__(**kwargs)
        self._init_link(engine)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self.host = "redislab"

    def repr_pieces(self) -> list[tuple[str, Any]]:
        pieces: list[tuple[str, Any]] = [("engine", hex(id(self.engine))), ("db", self.db)]
        if self.client_name:
            pieces.append(("client_name", self.client_name))
        return pieces

    async def _connect(self) -> None:
        self._open_session()
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._reader = _NO_STREAM  # type: ignore[assignment]
        self._writer = _NO_STREAM  # type: ignore[assignment]

    def _host_error(self) -> str:
        return _HOST_ERROR

    async def connect(self) -> None:
        if self._reader is None or self._writer is None:
            await super().connect()

    async def disconnect(self, nowait: bool = False, **kwargs: Any) -> None:
        self._close_session()
        try:
            await super().disconnect(nowait=nowait, **kwargs)
        finally:
            self._reader = self._writer = None

    def _close(self) -> None:
        self._close_session()
        self._reader = self._writer = None

    def _wake(self) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None:
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the loop is closed
            pass

    async def _ensure_connected(self) -> None:
        connect = getattr(self, "connect_check_health", None)
        if connect is not None:
            await connect(check_health=False)
        else:
            await self.connect()

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        if self._reader is None:
            await self._ensure_connected()
        if self.health_check_interval and kwargs.get("check_health", True):
            await self.check_health()
        argv = self._argv(args)
        self._lock_acquire()
        try:
            self._run_locked(argv)
        finally:
            self._lock_release()

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if self._reader is None:
            await self._ensure_connected()
        if check_health:
            await self.check_health()
        if isinstance(command, (str, bytes, bytearray, memoryview)):
            command = [command]
        self._lock_acquire()
        try:
            for item in command:
                if type(item) is _Argv:
                    self._run_locked(item)
                else:
                    if isinstance(item, str):
                        item = item.encode()
                    self._run_raw_locked(item)
        finally:
            self._lock_release()

    def pack_command(self, *args: Any) -> list[Any]:
        return [_Argv(self._argv(args))]

    def pack_commands(self, commands: Iterable[Any]) -> list[Any]:
        return [_Argv(self._argv(tuple(cmd))) for cmd in commands]

    async def can_read(self) -> bool:
        return self._ready()

    async def can_read_destructive(self) -> bool:
        return self._ready()

    def _socket_is_empty(self) -> bool:
        return not self._ready()

    async def _wait_ready(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready():
            if self._session is None:
                return True
            event = self._event
            if event is None:
                return True
            event.clear()
            if self._ready():
                break
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return False
            serve = self._blocked_deadline()
            if serve is not None and (wait is None or serve < wait):
                if serve <= 0:
                    self._serve_timeouts()
                    continue
                wait = serve
            try:
                if wait is None:
                    await event.wait()
                else:
                    await asyncio.wait_for(event.wait(), wait)
            except asyncio.TimeoutError:
                pass
        return True

    async def read_response(self, disable_decoding: bool = False, timeout: float | None = None,
                            *, disconnect_on_error: bool = True,
                            push_request: bool | None = False) -> Any:
        if timeout == math.inf:
            read_timeout = None
        else:
            read_timeout = timeout if timeout is not None else self.socket_timeout
        try:
            while True:
                item = self._take()
                if item is _UNSET:
                    if not await self._wait_ready(read_timeout):
                        if timeout is not None and timeout != math.inf:
                            return None  # a caller's own timeout: nothing arrived
                        raise asyncio.TimeoutError()
                    if self._session is None and not self._pending:
                        raise RedisConnectionError(_SERVER_CLOSED)
                    continue
                t = type(item)
                decode = self._decode and not disable_decoding
                if t is bytes:
                    response = item.decode(self._encoding, self._encoding_errors) \
                        if decode else item
                    break
                if t is int or item is None:
                    response = item
                    break
                if t is _Closed:
                    raise RedisConnectionError(_SERVER_CLOSED)
                resp = self._read_resp
                if t is Push and resp == 3:
                    handled, response = await self._push(item, decode, bool(push_request))
                    if handled:
                        continue
                    break
                response = self._converter(resp, decode)(item)
                break
        except asyncio.TimeoutError:
            if disconnect_on_error:
                await self.disconnect(nowait=True)
            raise RedisTimeoutError(f"Timeout reading from {_HOST_ERROR}")
        except BaseException:
            if disconnect_on_error:
                await self.disconnect(nowait=True)
            raise
        if self.health_check_interval:
            self.next_health_check = \
                asyncio.get_running_loop().time() + self.health_check_interval
        if isinstance(response, ResponseError):
            raise response from None
        return response

    async def _push(self, item: Push, decode: bool, push_request: bool) -> tuple[bool, Any]:
        conv = self._converter(3, decode)
        parser = self._parser
        value = conv(Push(item))
        if _AsyncHiredisParser and isinstance(parser, _AsyncHiredisParser):
            if _HIREDIS_PUSH is not None:
                value = _HIREDIS_PUSH(value)
            if getattr(parser, "_hiredis_PushNotificationType", None) is None:
                return False, value
        handler = _push_router(parser)
        if handler is None:
            return False, value
        result = handler(value)
        if inspect.isawaitable(result):
            result = await result
        if push_request and self.protocol in (3, "3"):
            return False, result
        return True, None


class AsyncEngineConnectionPool(_aconn.ConnectionPool):
    """A redis.asyncio connection pool of engine connections, with a short checkout path."""

    def __init__(self, engine: Engine, **kwargs: Any) -> None:
        kwargs.pop("connection_class", None)
        self.engine = engine
        super().__init__(connection_class=AsyncEngineConnection, engine=engine, **kwargs)

    async def get_connection(self, command_name: Any = None, *keys: Any,
                             **options: Any) -> Any:
        # Checkout never awaits between taking and marking a connection, so the event loop
        # cannot interleave another checkout: no lock needed.
        try:
            conn = self._available_connections.pop()
        except IndexError:
            if len(self._in_use_connections) >= self.max_connections:
                raise _MaxConnectionsError("Too many connections") from None
            conn = self.make_connection()
        self._in_use_connections.add(conn)
        try:
            if conn._reader is None:
                await conn.connect()
            elif conn._pending:
                await conn.disconnect()
                await conn.connect()
        except BaseException:
            await self.release(conn)
            raise
        return conn

    async def release(self, connection: Any) -> None:
        try:
            self._in_use_connections.remove(connection)
        except KeyError:
            return
        should_reconnect = getattr(connection, "should_reconnect", None)
        if should_reconnect is not None and should_reconnect():
            await connection.disconnect()
        self._available_connections.append(connection)



class _CallableModule(types.ModuleType):
    """Importing ``redislab.client`` rebinds the package's ``client`` name to this module;
    making the module callable keeps ``redislab.client(...)`` working either way."""

    def __call__(self, engine: Engine | None = None, **kwargs: Any) -> redis.Redis:
        return client(engine, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
