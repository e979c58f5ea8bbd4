"""A backend on a real Redis or Valkey server, reached with redis-py.

The REPL, piped input and ``exec`` can run on a real server instead of the embedded engine
(``--url redis://host:port/db``). Replies are read with a parser of our own plugged into
redis-py's connection, so they arrive as the server sent them (simple strings stay simple
strings, maps keep their order, doubles stay doubles) and render exactly as redis-cli prints
them; redis-py's response callbacks never see them. What a real server cannot tell us is
left out: the cost line comes from the command table, memory from ``MEMORY USAGE`` of the key
written, and there are no engine events. Moving the clock, resetting and the other things
that need the engine in the same process say so.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..engine import CallRecord
from ..engine.commands.spec import TABLE, CommandSpec
from ..engine.introspect import KeyInfo
from ..protocol.reply import (
    NULL_ARRAY, BigNumber, Bool, Double, ErrorReply, MapReply, Push, SetReply, Status, Verbatim,
)
from .backend import DEFAULT_CLIENT, Delivery, NeedsEngine, Outcome

__all__ = ["RemoteBackend", "RemoteError", "connect"]


class RemoteError(Exception):
    """The server could not be reached (or the URL is wrong)."""


def _raw_parser(base: type) -> type:
    """A redis-py parser class that, when ``raw`` is set, reads replies into our reply types.

    redis-py's own reading stays in place for its connection handshake (HELLO, AUTH, SELECT),
    which expects its shapes.
    """

    class RawParser(base):  # type: ignore[misc, valid-type]
        raw = False
        reads_raw = True

        def on_connect(self, connection: Any) -> None:
            self.raw = False
            super().on_connect(connection)

        def _read_response(self, disable_decoding: bool = False, *args: Any,
                           **kwargs: Any) -> Any:
            if not self.raw:
                return super()._read_response(disable_decoding, *args, **kwargs)
            return self._read_raw(kwargs.get("timeout"))

        def _read_raw(self, timeout: Any) -> Any:
            from redis.exceptions import ConnectionError as RedisConnectionError
            from redis.utils import SENTINEL

            t = SENTINEL if timeout is None else timeout
            buf = self._buffer
            line = buf.readline(timeout=t)
            if not line:
                raise RedisConnectionError("Connection closed by server.")
            kind, rest = line[:1], line[1:]
            if kind == b"+":
                return Status(rest.decode("utf-8", "surrogateescape"))
            if kind == b"-":
                return ErrorReply(rest.decode("utf-8", "surrogateescape"))
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                return None if n < 0 else buf.read(n, timeout=t)
            if kind in (b"*", b"~", b">"):
                n = int(rest)
                if n < 0:
                    return NULL_ARRAY
                items = [self._read_raw(timeout) for _ in range(n)]
                return SetReply(items) if kind == b"~" else Push(items) if kind == b">" \
                    else items
            if kind == b"%":
                return MapReply([(self._read_raw(timeout), self._read_raw(timeout))
                                 for _ in range(int(rest))])
            if kind == b"_":
                return None
            if kind == b",":
                return Double(float(rest), rest)
            if kind == b"(":
                return BigNumber(int(rest))
            if kind == b"#":
                return Bool(rest == b"t")
            if kind == b"!":
                return ErrorReply(buf.read(int(rest), timeout=t).decode("utf-8",
                                                                         "surrogateescape"))
            if kind == b"=":
                data = buf.read(int(rest), timeout=t)
                return Verbatim(data[4:], data[:3].decode("ascii", "replace"))
            if kind == b"|":
                for _ in range(int(rest)):  # attributes: out-of-band facts, not the reply
                    self._read_raw(timeout)
                    self._read_raw(timeout)
                return self._read_raw(timeout)
            raise RedisConnectionError(f"unexpected reply type {kind!r} from the server")

    return RawParser


@dataclass
class _Db:
    id: int = 0


@dataclass
class RemoteClient:
    """What the REPL follows of one client connection on the real server."""

    name: str
    conn: Any
    resp: int
    db: _Db
    multi: list[list[bytes]] | None = None
    blocked: None = None          # a blocking command simply waits for its reply
    channels: set[bytes] = field(default_factory=set)
    patterns: set[bytes] = field(default_factory=set)
    shard_channels: set[bytes] = field(default_factory=set)
    closed: bool = False
    nodes: dict[str, Any] = field(default_factory=dict)   # cluster: a connection per node


def _raw_call(conn: Any, argv: list[bytes]) -> Any:
    """Send one command on a redis-py connection and read the reply as the server sent it."""
    conn.send_command(*argv)
    conn._parser.raw = True
    try:
        return conn.read_response(disable_decoding=True)
    finally:
        conn._parser.raw = False


def _spec_of(argv: list[bytes]) -> CommandSpec | None:
    spec = TABLE.get(argv[0].decode("utf-8", "replace").lower()) if argv else None
    if spec is None:
        spec = TABLE.get(argv[0].decode("utf-8", "replace").upper()) if argv else None
    if spec is not None and spec.subcommands and len(argv) > 1:
        spec = spec.subcommands.get(argv[1].decode("utf-8", "replace").upper(), spec)
    return spec


def _resp_parser(resp: int) -> type:
    from redis._parsers import _RESP2Parser, _RESP3Parser

    return _RESP3Parser if resp == 3 else _RESP2Parser


def connect(url: str, *, resp: int = 2, db: int = 0, cluster: bool = False) -> Any:
    """A redis-py client for ``url`` whose connections read raw replies."""
    try:
        import redis
    except ImportError as e:  # pragma: no cover - redis-py is a dependency
        raise RemoteError("--url needs redis-py (pip install redis)") from e
    parser = _raw_parser(_resp_parser(resp))
    kwargs: dict[str, Any] = {"protocol": resp, "parser_class": parser}
    if cluster or url.startswith(("redis+cluster://", "rediss+cluster://")):
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(url.replace("+cluster", ""), **kwargs)
    if db:
        kwargs["db"] = db
    try:
        return redis.Redis.from_url(url, **kwargs)
    except ValueError as e:
        raise RemoteError(f"bad --url {url!r}: {e}") from None


class RemoteBackend:
    """Named client connections to one real Redis or Valkey server (or cluster)."""

    kind = "remote"

    def __init__(self, url: str, *, resp: int = 2, db: int = 0, cluster: bool = False) -> None:
        self.url = url
        self.resp = resp
        self.client = connect(url, resp=resp, db=db, cluster=cluster)
        self.parser = _raw_parser(_resp_parser(resp))
        self.cluster = not hasattr(self.client, "connection_pool")
        self.sessions: dict[str, RemoteClient] = {}
        self.deliveries: deque[Delivery] = deque()
        self.recording = False
        self.clock = None
        self._config_names: list[str] | None = None
        self.session(DEFAULT_CLIENT)

    # ------------------------------------------------------------------------------------
    # Clients

    def session(self, name: str) -> RemoteClient:
        s = self.sessions.get(name)
        if s is None or s.closed:
            conn = None
            db = 0
            if not self.cluster:
                pool = self.client.connection_pool
                try:
                    conn = pool.get_connection()
                    conn.connect()
                except Exception as e:
                    raise RemoteError(f"cannot connect to {self.url}: {e}") from None
                db = int(pool.connection_kwargs.get("db") or 0)
            s = RemoteClient(name, conn, self.resp, _Db(db))
            self.sessions[name] = s
        return s

    def client_names(self) -> list[str]:
        return [n for n, s in self.sessions.items() if not s.closed]

    def take_deliveries(self) -> list[Delivery]:
        out = list(self.deliveries)
        self.deliveries.clear()
        return out

    def close(self) -> None:
        for s in self.sessions.values():
            for conn in [s.conn, *s.nodes.values()]:
                if conn is not None:
                    conn.disconnect()
            s.closed = True
        self.client.close()

    # ------------------------------------------------------------------------------------
    # Running commands

    def _send(self, s: RemoteClient, argv: list[bytes]) -> Any:
        if s.conn is None:
            return self._send_cluster(s, argv)
        return _raw_call(s.conn, argv)

    def _send_cluster(self, s: RemoteClient, argv: list[bytes]) -> Any:
        """Send to the node serving the command's key; redis-py keeps the slot map.

        A MOVED reply refreshes redis-py's map and the command goes to the new owner; ASK
        sends it there once, behind ASKING, as redis-cli -c does.
        """
        client = self.client
        spec = _spec_of(argv)
        key = None
        if spec is not None and spec.key_specs:
            try:
                positions = spec.get_keys(argv)
            except Exception:
                positions = []
            key = argv[positions[0]] if positions else None
        node = client.get_node_from_key(key) if key is not None else client.get_default_node()
        reply: Any = None
        for _ in range(5):
            reply = _raw_call(self._node_conn(s, node), argv)
            if not isinstance(reply, ErrorReply):
                return reply
            word, _, rest = reply.message.partition(" ")
            if word not in ("MOVED", "ASK"):
                return reply
            host, _, port = rest.split(" ")[-1].rpartition(":")
            if word == "MOVED":
                client.nodes_manager.initialize()
                node = client.get_node(host=host, port=int(port)) or client.get_node_from_key(
                    key) if key is not None else client.get_default_node()
                continue
            target = client.get_node(host=host, port=int(port))
            if target is None:
                return reply
            conn = self._node_conn(s, target)
            _raw_call(conn, [b"ASKING"])
            return _raw_call(conn, argv)
        return reply

    def _node_conn(self, s: RemoteClient, node: Any) -> Any:
        conn = s.nodes.get(node.name)
        if conn is None:
            pool = self.client.get_redis_connection(node).connection_pool
            conn = pool.get_connection()
            if not getattr(conn._parser, "reads_raw", False):
                # RedisCluster builds node connections with its default parser.
                conn.disconnect()
                conn.set_parser(self.parser)
                conn.connect()
            s.nodes[node.name] = conn
        return conn

    def execute(self, argv: list[bytes], client: str = DEFAULT_CLIENT) -> Outcome:
        """Run one command as ``client`` on the server."""
        s = self.session(client)
        spec = _spec_of(argv)
        key = self._written_key(s, spec, argv)
        before = self._memory(s, key) if key is not None else None
        start = time.perf_counter()
        try:
            reply = self._send(s, argv)
        except Exception as e:
            reply = ErrorReply(f"ERR {e}")
        duration = int((time.perf_counter() - start) * 1_000_000)
        self._follow(s, argv, reply)
        record = CallRecord(spec, argv, s.db.id, reply, duration)
        if key is not None and not isinstance(reply, ErrorReply):
            record.memory_before = before
            record.memory_after = self._memory(s, key)
        queued = len(s.multi) if s.multi is not None else 0
        return Outcome(client, argv, reply, record, {}, {}, False, s.resp, queued)

    def run_batch(self, commands: list[list[bytes]], client: str = DEFAULT_CLIENT
                  ) -> list[Any]:
        """Send many commands as ``client`` in one pipeline; their replies, in order."""
        s = self.session(client)
        if s.conn is None or not commands:
            return [self._send(s, argv) for argv in commands]
        conn = s.conn
        conn.send_packed_command(conn.pack_commands(commands))
        conn._parser.raw = True
        try:
            return [conn.read_response(disable_decoding=True) for _ in commands]
        finally:
            conn._parser.raw = False

    def _written_key(self, s: RemoteClient, spec: CommandSpec | None,
                     argv: list[bytes]) -> bytes | None:
        """The key worth a MEMORY USAGE before and after, when that costs little."""
        if (not self.recording or spec is None or s.conn is None or s.multi is not None
                or s.channels or s.patterns or s.shard_channels or not spec.key_specs
                or "write" not in spec.flags):
            return None
        try:
            keys = spec.get_keys(argv)
        except Exception:
            return None
        return argv[keys[0]] if len(keys) == 1 else None

    def _memory(self, s: RemoteClient, key: bytes) -> int | None:
        try:
            value = self._send(s, [b"MEMORY", b"USAGE", key])
        except Exception:
            return None
        if isinstance(value, ErrorReply):
            return None
        return value if isinstance(value, int) else 0

    def _follow(self, s: RemoteClient, argv: list[bytes], reply: Any) -> None:
        """Keep the client state the prompt shows (database, transaction, protocol)."""
        if not argv or isinstance(reply, ErrorReply):
            if s.multi is not None and argv and argv[0].upper() == b"EXEC":
                s.multi = None
            return
        name = argv[0].upper()
        if s.multi is not None and name not in (b"EXEC", b"DISCARD", b"MULTI", b"WATCH"):
            s.multi.append(argv)
            return
        if name == b"MULTI":
            s.multi = []
        elif name in (b"EXEC", b"DISCARD"):
            s.multi = None
        elif name == b"SELECT" and len(argv) == 2:
            s.db.id = int(argv[1])
            if s.conn is not None:
                s.conn.db = s.db.id  # a reconnection (after Ctrl-C) selects it again
        elif name == b"HELLO" and len(argv) > 1 and argv[1] in (b"2", b"3"):
            s.resp = int(argv[1])
        elif name == b"RESET":
            s.db.id, s.multi, s.resp = 0, None, 2
            if s.conn is not None:
                s.conn.db = 0

    # ------------------------------------------------------------------------------------
    # Looking without touching

    def _quiet(self, s: RemoteClient) -> bool:
        return s.conn is not None and s.multi is None and not (
            s.channels or s.patterns or s.shard_channels)

    def key_names(self, client: str, prefix: bytes = b"", limit: int = 200) -> list[bytes]:
        s = self.session(client)
        if not self._quiet(s):
            return []
        pattern = b"".join(b"\\" + bytes([c]) if c in b"*?[]\\" else bytes([c])
                           for c in prefix) + b"*"
        reply = self._send(s, [b"SCAN", b"0", b"MATCH", pattern, b"COUNT", b"1000"])
        if isinstance(reply, list) and len(reply) == 2 and isinstance(reply[1], list):
            return sorted(reply[1])[:limit]
        return []

    def key_info(self, client: str, key: bytes) -> KeyInfo | None:
        return None

    def key_count(self, client: str) -> int:
        s = self.session(client)
        if not self._quiet(s):
            return 0
        n = self._send(s, [b"DBSIZE"])
        return n if isinstance(n, int) else 0

    def db_index(self, client: str) -> int:
        return self.session(client).db.id

    def config_names(self) -> list[str]:
        """Parameter names the server knows (CONFIG GET *, asked once), for completion."""
        if self._config_names is None:
            s = self.session(DEFAULT_CLIENT)
            if not self._quiet(s):
                return []
            try:
                reply = self._send(s, [b"CONFIG", b"GET", b"*"])
            except Exception:
                return []
            names = [k for k, _ in reply] if isinstance(reply, MapReply) else \
                reply[::2] if isinstance(reply, list) else []
            self._config_names = sorted(bytes(n).decode("utf-8", "replace") for n in names)
        return self._config_names

    # ------------------------------------------------------------------------------------
    # Time: the server keeps its own

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def advance(self, seconds: float) -> list[Any]:
        raise NeedsEngine("moving the clock needs the embedded engine; a real server's "
                          "clock cannot be moved (run redislab without --url)")

    def tick(self) -> None:
        pass

    def stop_waiting(self, session: Any) -> None:
        pass

    def crash(self, kind: str) -> None:
        raise NeedsEngine(":crash needs the embedded engine; a real server is not ours to "
                          "kill (run redislab without --url)")

    def reset(self) -> None:
        raise NeedsEngine(":reset needs the embedded engine; on a real server use FLUSHALL "
                          "(it deletes the server's data)")

