"""The in-process redis-py client answers as redis-py talking to a real server would.

Most comparisons run the same redis-py calls on ``redislab.client()`` and on a real
redis-server (the ``redis_server`` fixture), with every parser redis-py offers (hiredis and
its own Python parsers), both protocols and both ``decode_responses`` settings.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    ConnectionError,
    DataError,
    ResponseError,
    TimeoutError,
    WatchError,
)
from redis.retry import Retry

import redislab
from redislab.client import EngineConnection, EngineConnectionPool, engine_of
from redislab.engine import TABLE, Blocked, Engine, ManualClock, Session
from redislab.protocol.reply import (
    NULL_ARRAY, BigNumber, Bool, Double, ErrorReply, MapReply, Push, SetReply, Verbatim,
)

try:
    from redis._parsers import _RESP2Parser, _RESP3Parser
except ImportError:  # pragma: no cover
    from redis.connection import _RESP2Parser, _RESP3Parser  # type: ignore[attr-defined,no-redef]


# --------------------------------------------------------------------------------------------
# Helpers


def _spec(name: str) -> Any:
    parts = name.upper().split()
    spec = TABLE.lookup(parts[0].encode())
    if len(parts) > 1:
        spec = spec.subcommands[parts[1]]
    return spec


def _has(name: str) -> bool:
    return _spec(name).handler is not None


def needs(*names: str) -> pytest.MarkDecorator:
    missing = [n for n in names if not _has(n)]
    return pytest.mark.skipif(bool(missing), reason=f"engine lacks {', '.join(missing)}")


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


PARSERS = ["default", "python"]
COMBOS = [(proto, parser, decode) for proto in (2, 3) for parser in PARSERS
          for decode in (False, True)]
COMBO_IDS = [f"resp{p}-{parser}-{'decode' if d else 'bytes'}" for p, parser, d in COMBOS]


def _parser_class(protocol: int, parser: str) -> Any:
    if parser == "python":
        return _RESP3Parser if protocol == 3 else _RESP2Parser
    return None


def _pair(redis_server: Any, protocol: int, parser: str, decode: bool,
          engine: Engine | None = None) -> tuple[redis.Redis, redis.Redis]:
    """The same client configuration against the engine and against real Redis."""
    pc = _parser_class(protocol, parser)
    kwargs: dict[str, Any] = dict(protocol=protocol, decode_responses=decode, retry=_no_retry())
    ours = redislab.client(engine=engine, parser_class=pc, **kwargs) if pc \
        else redislab.client(engine=engine, **kwargs)
    pool_kwargs = dict(kwargs, port=redis_server.port)
    if pc:
        pool_kwargs["parser_class"] = pc
    theirs = redis.Redis(connection_pool=redis.ConnectionPool(**pool_kwargs))
    theirs.flushall()
    return ours, theirs


def _typed(v: Any) -> Any:
    """A value with the exact type of every part, so that b'1' != '1' != 1 != 1.0 != True."""
    if isinstance(v, dict):
        return ("dict", sorted(((_typed(k), _typed(x)) for k, x in v.items()), key=repr))
    if isinstance(v, (list, tuple, set)):
        items = [_typed(x) for x in v]
        if isinstance(v, set):
            items.sort(key=repr)
        return (type(v).__name__, items)
    if isinstance(v, BaseException):
        return ("error", type(v).__name__, str(v))
    if isinstance(v, float) and v != v:
        return ("float", "nan")
    return (type(v).__name__, v)


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("value", _typed(fn()))
    except Exception as e:  # the class and the text are part of the behaviour
        return ("raised", type(e).__name__, str(e))


def _checkout(r: redis.Redis) -> Any:
    """A connection from the client's pool (redis-py before 5.3 wants a command name)."""
    try:
        return r.connection_pool.get_connection()
    except TypeError:
        return r.connection_pool.get_connection("_")


def _raw(r: redis.Redis, *args: Any, **read: Any) -> Any:
    """One command at the connection level: the parser's output, before response callbacks."""
    conn = _checkout(r)
    try:
        conn.send_command(*args)
        return conn.read_response(**read)
    finally:
        r.connection_pool.release(conn)


def _wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Wait for another thread to reach a state (a synchronisation, not a timing)."""
    done = threading.Event()
    for _ in range(10_000):
        if predicate():
            return
        done.wait(0.001)
    raise AssertionError(f"gave up waiting for {what}")


# --------------------------------------------------------------------------------------------
# What the client is


def test_client_is_a_real_redis_client() -> None:
    r = redislab.client()
    assert type(r) is redis.Redis
    assert isinstance(r.connection_pool, redis.ConnectionPool)
    assert isinstance(r.connection_pool, EngineConnectionPool)
    engine = engine_of(r)
    assert isinstance(engine, Engine)
    assert r.connection_pool.engine is engine
    assert r.connection_pool.connection_kwargs["engine"] is engine
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"


def test_each_client_gets_its_own_engine_unless_one_is_given() -> None:
    a, b = redislab.client(), redislab.client()
    assert engine_of(a) is not engine_of(b)
    a.set("k", "1")
    assert b.get("k") is None
    c = redislab.client(engine=engine_of(a))
    assert engine_of(c) is engine_of(a)
    assert c.get("k") == b"1"


def test_engine_of_pipeline_and_pubsub() -> None:
    r = redislab.client()
    assert engine_of(r.pipeline()) is engine_of(r)
    assert engine_of(r.pubsub()) is engine_of(r)
    with pytest.raises(TypeError):
        engine_of(redis.Redis())


def test_each_connection_is_one_engine_session() -> None:
    engine = Engine()
    r = redislab.client(engine=engine)
    r.set("k", "v")
    assert len(engine.sessions) == 1
    conns = [_checkout(r) for _ in range(3)]
    assert len(engine.sessions) == 3
    assert len({c._session.id for c in conns}) == 3
    for c in conns:
        r.connection_pool.release(c)
    r.close()
    assert engine.sessions == {}


def test_connection_pool_cannot_be_replaced() -> None:
    with pytest.raises(TypeError):
        redislab.client(connection_pool=redis.ConnectionPool())


def test_db_keyword_selects_the_database() -> None:
    engine = Engine()
    r1 = redislab.client(engine=engine, db=1)
    r1.set("k", "one")
    assert engine.dbs[1].get(b"k") == b"one"
    assert engine.dbs[0].get(b"k") is None
    assert redislab.client(engine=engine).get("k") is None


def test_client_name_is_set_on_connect() -> None:
    engine = Engine()
    r = redislab.client(engine=engine, client_name="worker-1")
    r.set("k", "v")
    assert [s.name for s in engine.sessions.values()] == ["worker-1"]


def test_decode_responses() -> None:
    r = redislab.client(decode_responses=True)
    r.set("k", "héllo")
    assert r.get("k") == "héllo"
    assert r.mget("k", "missing") == ["héllo", None]
    assert r.getrange("k", 0, 0) == "h"
    raw = redislab.client(engine=engine_of(r))
    assert raw.get("k") == "héllo".encode()


@pytest.mark.parametrize("parser", PARSERS)
def test_other_encodings_as_redis_py_applies_them(redis_server: Any, parser: str) -> None:
    # redis-py's hiredis packer always sends str as UTF-8; its Python packer uses ``encoding``.
    pc = _parser_class(2, parser)
    kwargs: dict[str, Any] = dict(decode_responses=True, encoding="latin-1", protocol=2)
    ours = redislab.client(parser_class=pc, **kwargs) if pc else redislab.client(**kwargs)
    theirs = redis.Redis(connection_pool=redis.ConnectionPool(
        port=redis_server.port, **kwargs, **({"parser_class": pc} if pc else {})))
    for r in (ours, theirs):
        r.set("k", "é")
    assert _outcome(lambda: ours.get("k")) == _outcome(lambda: theirs.get("k"))
    raw = redislab.client(engine=engine_of(ours))
    assert raw.get("k") == redis.Redis(port=redis_server.port).get("k")


# --------------------------------------------------------------------------------------------
# Basic commands


def test_strings_and_numbers() -> None:
    r = redislab.client()
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.set("k", "w", nx=True) is None
    assert r.incr("n") == 1
    assert r.incrby("n", 41) == 42
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.mset({"a": 1, "b": 2.5, "c": b"\x00\xff"}) is True
    assert r.mget(["a", "b", "c", "nope"]) == [b"1", b"2.5", b"\x00\xff", None]
    assert r.append("a", "23") == 3
    assert r.strlen("a") == 3


@needs("DEL", "EXISTS", "EXPIRE", "TTL")
def test_keys_expire_on_the_engine_clock() -> None:
    clock = ManualClock()
    engine = Engine(clock)
    r = redislab.client(engine=engine)
    r.set("k", "v")
    r.set("other", "v")
    assert r.exists("k", "other", "nope") == 2
    assert r.expire("k", 10) is True
    assert r.ttl("k") == 10
    engine.advance(5)
    assert r.ttl("k") == 5
    engine.advance(6)
    assert r.get("k") is None
    assert r.exists("k") == 0
    assert r.delete("other", "nope") == 1
    assert r.exists("other") == 0


def test_arguments_are_encoded_as_redis_py_encodes_them(redis_server: Any) -> None:
    ours, theirs = _pair(redis_server, 2, "default", False)
    values = [0.1 + 0.2, 10**20, -7, 1e-5, "héllo", b"\x00\xff", memoryview(b"mem"),
              bytearray(b"arr"), True, None, 2.5j]
    for i, value in enumerate(values):
        for r in (ours, theirs):
            r.delete(f"k{i}")
        expected = _outcome(lambda: (theirs.set(f"k{i}", value), theirs.get(f"k{i}")))
        got = _outcome(lambda: (ours.set(f"k{i}", value), ours.get(f"k{i}")))
        assert got == expected, f"{value!r}: {got!r} != {expected!r}"
    with pytest.raises(DataError):
        ours.set("b", True)
    # The command name may carry words of its own, split as redis-py splits them.
    assert ours.execute_command("SET x 1") == b"OK"  # no response callback for that name
    assert ours.execute_command(b"GET", "x") == b"1"


def test_protocol_errors_in_raw_frames_close_the_connection() -> None:
    r = redislab.client(protocol=2, retry=_no_retry())
    conn = _checkout(r)
    conn.send_packed_command(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n")
    assert conn.read_response() is None
    assert conn.read_response() == b"PONG"
    conn.send_packed_command(b"*1\r\n$x\r\n")
    with pytest.raises(ResponseError, match="Protocol error"):
        conn.read_response()
    r.connection_pool.release(conn)


# --------------------------------------------------------------------------------------------
# Exactly what redis-py's parsers return


def _debug_protocol(c: Session, argv: list[bytes]) -> Any:
    """DEBUG PROTOCOL <type> as Redis answers it, plus a few error shapes to compare."""
    kind = argv[2].lower().decode()
    if kind == "push":
        if c.resp == 2:
            raise ErrorReply("ERR RESP2 is not supported by this command")
        c.push(Push([b"server-cpu-usage", 42]))
        return b"Some real reply following the push reply"
    return {
        "string": b"Hello World",
        "integer": 12345,
        "double": Double(3.141),
        "bignum": BigNumber(1234567999999999999999999999999999999),
        "null": None,
        "array": [0, 1, 2],
        "set": SetReply([0, 1, 2]),
        "map": MapReply([(0, Bool(False)), (1, Bool(True)), (2, Bool(False))]),
        "verbatim": Verbatim(b"This is a verbatim\nstring", "txt"),
        "true": Bool(True),
        "false": Bool(False),
        "nested-error": [1, ErrorReply("boom")],
        "nested-noauth": [1, ErrorReply("NOAUTH x")],
        "first-noauth": [ErrorReply("NOAUTH x"), 1],
        "noscript": ErrorReply("NOSCRIPT y"),
        "plain-error": ErrorReply("oops y"),
        "execabort": ErrorReply("EXECABORT z"),
        "wrongtype": ErrorReply("WRONGTYPE Operation against a key holding the wrong kind "
                                "of value"),
        "null-array": NULL_ARRAY,
        "doubles": [Double(1.5), Double(-0.0), Double(0.1), Double(1e300), Double(2.5e-7)],
        "double-text": [[Double(13.361389338970184, b"13.36138933897018433"),
                         Double(38.1155563954963, b"38.11555639549629859")]],
    }[kind]


# What the real server is asked for each kind the stand-in above answers.
_REAL_EQUIVALENT: dict[str, tuple[Any, ...]] = {
    "nested-error": ("EVAL", "return {1,{err='boom'}}", "0"),
    "nested-noauth": ("EVAL", "return {1,{err='NOAUTH x'}}", "0"),
    "first-noauth": ("EVAL", "return {{err='NOAUTH x'},1}", "0"),
    "noscript": ("EVAL", "return {err='NOSCRIPT y'}", "0"),
    "plain-error": ("EVAL", "return {err='oops y'}", "0"),
    "execabort": ("EVAL", "return {err='EXECABORT z'}", "0"),
    "wrongtype": ("EVAL", "redis.call('set','wt','x'); return redis.pcall('lpush','wt','y')",
                  "0"),
    "null-array": ("BLPOP", "nothing-here", "0.01"),
    "double-text": ("GEOPOS", "geo-text", "P"),
    "doubles": ("EVAL", "return {{double=1.5}, {double=-0.0}, {double=0.1}, {double=1e300}, "
                "{double=2.5e-7}}", "0"),
}
_KINDS = ["string", "integer", "double", "bignum", "null", "array", "set", "map", "verbatim",
          "true", "false", "push", *_REAL_EQUIVALENT]


@pytest.mark.parametrize("protocol,parser,decode", COMBOS, ids=COMBO_IDS)
def test_reply_shapes_match_redis_py_on_real_redis(redis_server: Any, monkeypatch: Any,
                                                   protocol: int, parser: str,
                                                   decode: bool) -> None:
    monkeypatch.setattr(_spec("DEBUG"), "handler", _debug_protocol)
    ours, theirs = _pair(redis_server, protocol, parser, decode)
    theirs.geoadd("geo-text", [13.361389, 38.115556, "P"])
    for kind in _KINDS:
        real = _REAL_EQUIVALENT.get(kind, ("DEBUG", "PROTOCOL", kind))
        if kind == "doubles" and protocol == 2:
            continue  # Lua turns doubles into RESP2 bulk strings its own way; not a reply shape
        expected = _outcome(lambda: _raw(theirs, *real))
        got = _outcome(lambda: _raw(ours, "DEBUG", "PROTOCOL", kind))
        assert got == expected, f"{kind}: {got!r} != {expected!r}"
        for disable in (True,):
            expected = _outcome(lambda: _raw(theirs, *real, disable_decoding=disable))
            got = _outcome(lambda: _raw(ours, "DEBUG", "PROTOCOL", kind,
                                        disable_decoding=disable))
            assert got == expected, f"{kind} (no decoding): {got!r} != {expected!r}"


@pytest.mark.parametrize("protocol,parser,decode", COMBOS, ids=COMBO_IDS)
def test_handshake_matches_real_redis(redis_server: Any, protocol: int, parser: str,
                                      decode: bool) -> None:
    ours, theirs = _pair(redis_server, protocol, parser, decode)
    mine = _checkout(ours)
    real = _checkout(theirs)
    assert type(mine._parser) is type(real._parser)
    if not hasattr(mine, "handshake_metadata"):  # redis-py < 5.1 keeps no record
        return
    if protocol == 3:
        drop = ("id", b"id", "modules", b"modules", "version", b"version")
        keys_mine = {k: v for k, v in mine.handshake_metadata.items() if k not in drop}
        keys_real = {k: v for k, v in real.handshake_metadata.items() if k not in drop}
        assert _typed(keys_mine) == _typed(keys_real)
    else:
        assert mine.handshake_metadata == real.handshake_metadata is None


def _corpus() -> list[tuple[str, Callable[[redis.Redis], Any]]]:
    calls: list[tuple[str, Callable[[redis.Redis], Any]]] = [
        ("set", lambda r: r.set("s", "v")),
        ("set get", lambda r: r.set("s", "w", get=True)),
        ("set nx", lambda r: r.set("s", "x", nx=True)),
        ("get", lambda r: r.get("s")),
        ("get missing", lambda r: r.get("missing")),
        ("getrange", lambda r: r.getrange("s", 0, -1)),
        ("setrange", lambda r: r.setrange("s", 3, "abc")),
        ("append", lambda r: r.append("s", "!")),
        ("strlen", lambda r: r.strlen("s")),
        ("mset", lambda r: r.mset({"a": "1", "b": "2"})),
        ("msetnx", lambda r: r.msetnx({"a": "1", "c": "3"})),
        ("mget", lambda r: r.mget("a", "b", "nope")),
        ("incr", lambda r: r.incr("n")),
        ("incrby", lambda r: r.incrby("n", -5)),
        ("decr", lambda r: r.decr("n")),
        ("incrbyfloat", lambda r: r.incrbyfloat("fl", 2.25)),
        ("incrbyfloat exp", lambda r: r.incrbyfloat("fl", 1e10)),
        ("incr not int", lambda r: r.incr("s")),
        ("incrbyfloat not float", lambda r: r.incrbyfloat("s", 1)),
        ("getdel", lambda r: r.getdel("b")),
        ("getset", lambda r: r.getset("a", "9")),
        ("lcs", lambda r: r.lcs("a", "s")),
        ("unknown command", lambda r: r.execute_command("NOSUCHCOMMAND", "x")),
        ("wrong arity", lambda r: r.execute_command("GET")),
        ("syntax error", lambda r: r.execute_command("SET", "k", "v", "BOGUS")),
        ("wrongtype", lambda r: r.lpush("s", "x")),
        ("publish", lambda r: r.publish("nobody", "hello")),
        ("pubsub numsub", lambda r: r.pubsub_numsub("a", "b")),
        ("pubsub numpat", lambda r: r.pubsub_numpat()),
    ]
    if _has("LPUSH"):
        calls += [
            ("rpush", lambda r: r.rpush("l", "a", "b", "c", "b")),
            ("lrange", lambda r: r.lrange("l", 0, -1)),
            ("lpos", lambda r: r.lpos("l", "b", rank=-1)),
            ("lpop count", lambda r: r.lpop("l", 2)),
            ("lindex", lambda r: r.lindex("l", 0)),
            ("llen", lambda r: r.llen("l")),
            ("lmpop", lambda r: r.lmpop(2, "none", "l", direction="RIGHT")),
            ("lset bad index", lambda r: r.lset("l", 99, "x")),
        ]
    if _has("HSET"):
        calls += [
            ("hset", lambda r: r.hset("h", mapping={"f1": "1", "f2": "2"})),
            ("hget", lambda r: r.hget("h", "f1")),
            ("hgetall", lambda r: r.hgetall("h")),
            ("hincrbyfloat", lambda r: r.hincrbyfloat("h", "f1", 0.5)),
            ("hmget", lambda r: r.hmget("h", ["f1", "zz"])),
        ]
    if _has("SADD"):
        calls += [
            ("sadd", lambda r: r.sadd("st", "a", "b", "c")),
            ("sismember", lambda r: r.sismember("st", "a")),
            ("smismember", lambda r: r.smismember("st", ["a", "z"])),
            ("scard", lambda r: r.scard("st")),
            ("smembers", lambda r: sorted(r.smembers("st"))),  # the order is the hash's
        ]
    if _has("ZADD"):
        calls += [
            ("zadd", lambda r: r.zadd("z", {"a": 1.5, "b": 2, "c": -0.25})),
            ("zscore", lambda r: r.zscore("z", "a")),
            ("zrange withscores", lambda r: r.zrange("z", 0, -1, withscores=True)),
            ("zrevrank", lambda r: r.zrevrank("z", "a")),
            ("zincrby", lambda r: r.zincrby("z", 0.5, "a")),
            ("zmscore", lambda r: r.zmscore("z", ["a", "nope"])),
        ]
    if _has("GEOADD"):
        calls += [
            ("geoadd", lambda r: r.geoadd("g", [13.361389, 38.115556, "Palermo",
                                                15.087269, 37.502669, "Catania"])),
            ("geopos", lambda r: r.geopos("g", "Palermo", "nowhere", "Catania")),
            ("geodist", lambda r: r.geodist("g", "Palermo", "Catania", unit="km")),
        ]
    if _has("XADD"):
        calls += [
            ("xadd", lambda r: r.xadd("x", {"f": "v"}, id="1-1")),
            ("xadd 2", lambda r: r.xadd("x", {"g": "w"}, id="2-0")),
            ("xrange", lambda r: r.xrange("x")),
            ("xread", lambda r: r.xread({"x": "0"})),
            ("xlen", lambda r: r.xlen("x")),
        ]
    if _has("DEL"):
        calls += [("delete", lambda r: r.delete("a", "nope")),
                  ("exists", lambda r: r.exists("a", "s"))]
    if _has("TYPE"):
        calls += [("type", lambda r: r.type("s"))]
    return calls


@pytest.mark.parametrize("protocol,parser,decode", COMBOS, ids=COMBO_IDS)
def test_redis_py_calls_match_real_redis(redis_server: Any, protocol: int, parser: str,
                                         decode: bool) -> None:
    ours, theirs = _pair(redis_server, protocol, parser, decode)
    for name, call in _corpus():
        expected = _outcome(lambda: call(theirs))
        got = _outcome(lambda: call(ours))
        assert got == expected, f"{name}: {got!r} != {expected!r}"


@pytest.mark.parametrize("protocol", [2, 3])
def test_pipelines_match_real_redis(redis_server: Any, protocol: int) -> None:
    ours, theirs = _pair(redis_server, protocol, "default", False)

    def run(r: redis.Redis, raise_on_error: bool) -> Any:
        p = r.pipeline(transaction=False)
        p.set("k", "v").get("k").incr("n").incr("k").incrbyfloat("f", 0.5).get("nope")
        return p.execute(raise_on_error=raise_on_error)

    assert _outcome(lambda: run(ours, False)) == _outcome(lambda: run(theirs, False))
    assert _outcome(lambda: run(ours, True)) == _outcome(lambda: run(theirs, True))


@needs("MULTI", "EXEC")
@pytest.mark.parametrize("protocol", [2, 3])
def test_transactions_match_real_redis(redis_server: Any, protocol: int) -> None:
    ours, theirs = _pair(redis_server, protocol, "default", False)

    def run(r: redis.Redis, raise_on_error: bool) -> Any:
        p = r.pipeline(transaction=True)
        p.set("k", "v").get("k").incr("n").incr("k").incrbyfloat("f", 0.5)
        return p.execute(raise_on_error=raise_on_error)

    def aborted(r: redis.Redis) -> Any:
        p = r.pipeline(transaction=True)
        p.set("k", "v").execute_command("GET")
        return p.execute()

    assert _outcome(lambda: run(ours, False)) == _outcome(lambda: run(theirs, False))
    assert _outcome(lambda: run(ours, True)) == _outcome(lambda: run(theirs, True))
    assert _outcome(lambda: aborted(ours)) == _outcome(lambda: aborted(theirs))


# --------------------------------------------------------------------------------------------
# Pipelines, transactions and WATCH


def test_pipeline_without_transaction() -> None:
    r = redislab.client()
    p = r.pipeline(transaction=False)
    p.set("a", 1).incr("a").get("a").incr("text-later")
    assert p.execute() == [True, 2, b"2", 1]
    p.set("t", "x").incr("t").get("t")
    result = p.execute(raise_on_error=False)
    assert result[0] is True and result[2] == b"x"
    assert isinstance(result[1], ResponseError)
    p.set("t", "x").incr("t")
    with pytest.raises(ResponseError, match="Command # 2"):
        p.execute()


@needs("MULTI", "EXEC", "DISCARD")
def test_transaction_pipeline() -> None:
    r = redislab.client()
    with r.pipeline() as p:
        p.set("a", 1).incr("a").get("a")
        assert p.execute() == [True, 2, b"2"]
    with r.pipeline() as p:
        p.set("b", "x").incr("b")
        with pytest.raises(ResponseError):
            p.execute()
    assert r.get("b") == b"x"


@needs("WATCH", "MULTI", "EXEC", "UNWATCH")
def test_watch_conflict_raises_watch_error() -> None:
    r = redislab.client()
    r.set("balance", 10)
    with r.pipeline() as p:
        p.watch("balance")
        current = int(p.get("balance"))  # immediate execution while watching
        r.set("balance", 99)  # another connection changes the key
        p.multi()
        p.set("balance", current - 1)
        with pytest.raises(WatchError):
            p.execute()
    assert r.get("balance") == b"99"


@needs("WATCH", "MULTI", "EXEC", "UNWATCH")
def test_watch_without_conflict_and_transaction_helper() -> None:
    r = redislab.client()
    r.set("counter", 5)

    def double(pipe: Any) -> None:
        value = int(pipe.get("counter"))
        pipe.multi()
        pipe.set("counter", value * 2)

    assert r.transaction(double, "counter") == [True]
    assert r.get("counter") == b"10"


@needs("EVAL", "EVALSHA", "SCRIPT LOAD", "SCRIPT EXISTS")
def test_scripts_load_on_noscript_as_redis_py_expects() -> None:
    r = redislab.client()
    add = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert add(keys=["n"], args=[5]) == 5  # EVALSHA fails with NOSCRIPT, redis-py loads it
    assert add(keys=["n"], args=[2]) == 7
    p = r.pipeline()
    add(keys=["n"], args=[1], client=p)
    assert p.execute() == [8]


@needs("EVALSHA")
def test_script_errors_match_real_redis(redis_server: Any) -> None:
    ours, theirs = _pair(redis_server, 3, "default", False)
    for call in (lambda r: r.evalsha("0" * 40, 0),
                 lambda r: r.eval("return redis.call('nosuchcommand')", 0),
                 lambda r: r.eval("return {1, 'two', {3, false}, 4.5}", 0),
                 lambda r: r.eval("return redis.error_reply('MY custom')", 0)):
        assert _outcome(lambda: call(ours)) == _outcome(lambda: call(theirs))


@needs("EVAL", "EVALSHA", "SCRIPT LOAD", "DEL")
def test_redis_py_lock() -> None:
    r = redislab.client()
    lock = r.lock("resource", timeout=10)
    assert lock.acquire(blocking=False) is True
    assert r.lock("resource", timeout=10).acquire(blocking=False) is False
    assert lock.extend(5) is True
    lock.release()
    assert r.get("resource") is None


# --------------------------------------------------------------------------------------------
# Pub/sub


@pytest.mark.parametrize("protocol", [2, 3])
def test_pubsub_subscribe_publish_get_message(protocol: int) -> None:
    r = redislab.client(protocol=protocol)
    p = r.pubsub()
    p.subscribe("news")
    p.psubscribe("n*")
    assert p.get_message() == {"type": "subscribe", "pattern": None, "channel": b"news",
                               "data": 1}
    assert p.get_message() == {"type": "psubscribe", "pattern": None, "channel": b"n*",
                               "data": 2}
    assert p.get_message() is None
    assert r.publish("news", "hello") == 2
    assert p.get_message() == {"type": "message", "pattern": None, "channel": b"news",
                               "data": b"hello"}
    assert p.get_message() == {"type": "pmessage", "pattern": b"n*", "channel": b"news",
                               "data": b"hello"}
    p.unsubscribe("news")
    assert p.get_message()["type"] == "unsubscribe"
    p.close()
    assert r.publish("news", "x") == 0


@pytest.mark.parametrize("protocol", [2, 3])
def test_pubsub_handlers_and_listen_across_threads(protocol: int) -> None:
    r = redislab.client(protocol=protocol, decode_responses=True)
    got: list[str] = []
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe(**{"jobs": lambda m: got.append(m["data"])})
    p.subscribe("events")
    received: list[Any] = []

    def listener() -> None:
        for message in p.listen():
            if message["type"] == "message":
                received.append(message["data"])
                if message["data"] == "stop":
                    break

    t = threading.Thread(target=listener)
    t.start()
    _wait_until(lambda: r.pubsub_numsub("events")[0][1] == 1, "the subscription")
    for word in ("one", "two", "stop"):
        r.publish("events", word)
    r.publish("jobs", "ran-by-handler")
    t.join(10)
    assert not t.is_alive()
    assert received == ["one", "two", "stop"]
    p.get_message()
    assert got == ["ran-by-handler"]
    p.close()


def test_pubsub_message_waits_for_timeout_and_wakes_on_publish() -> None:
    r = redislab.client()
    p = r.pubsub(ignore_subscribe_messages=True)
    p.subscribe("c")
    p.get_message()
    assert p.get_message(timeout=0.01) is None
    cond = p.connection._cond

    def publish_once_waiting() -> None:
        _wait_until(lambda: len(cond._waiters) > 0, "the subscriber to wait")
        r.publish("c", "late")

    threading.Thread(target=publish_once_waiting).start()
    message = p.get_message(timeout=10)
    assert message is not None and message["data"] == b"late"
    p.close()


def test_resp2_subscribed_context_refuses_other_commands() -> None:
    r = redislab.client(protocol=2)
    p = r.pubsub()
    p.subscribe("c")
    p.get_message()
    p.execute_command("GET", "k")
    with pytest.raises(ResponseError, match="only \\(P\\|S\\)SUBSCRIBE"):
        p.parse_response(block=False, timeout=1)
    p.close()


# --------------------------------------------------------------------------------------------
# Threads


def test_threads_share_one_client_and_keep_exact_counts() -> None:
    r = redislab.client()
    threads, per_thread = 8, 500

    def work() -> None:
        for _ in range(per_thread):
            r.incr("hits")

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert r.get("hits") == str(threads * per_thread).encode()
    assert len(r.connection_pool._in_use_connections) == 0


def test_threads_with_pipelines() -> None:
    r = redislab.client()

    def work(i: int) -> None:
        for _ in range(100):
            p = r.pipeline(transaction=False)
            p.incr("total").incr(f"mine-{i}")
            p.execute()

    pool = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert r.get("total") == b"400"
    assert r.mget([f"mine-{i}" for i in range(4)]) == [b"100"] * 4


# --------------------------------------------------------------------------------------------
# Blocking commands (served by the engine's blocking machinery through a stand-in command)


def _fake_blocked(c: Session, argv: list[bytes]) -> Any:
    """BLPOP's shape on string keys: wait for ``key`` to exist, then take it (as GETDEL)."""
    key = argv[1]
    timeout_ms = int(float(argv[-1]) * 1000)
    db = c.db
    holder: dict[str, Any] = {}

    def attempt() -> Any:
        value = db.get(key)
        if value is None:
            return holder["marker"]
        db.delete(key)
        return [key, value]

    value = db.get(key)
    if value is not None:
        db.delete(key)
        return [key, value]
    deadline = c.engine.now_ms() + timeout_ms if timeout_ms else 0
    marker = Blocked([key], deadline, attempt, lambda: NULL_ARRAY)
    holder["marker"] = marker
    return marker


@pytest.fixture
def blocking(monkeypatch: Any) -> None:
    """BLPOP answered by the stand-in above, to exercise the client's waiting."""
    spec = _spec("BLPOP")
    monkeypatch.setattr(spec, "handler", _fake_blocked)
    monkeypatch.setattr(spec, "fast", False)


@pytest.mark.parametrize("protocol", [2, 3])
def test_blocked_command_is_served_by_another_threads_write(blocking: None,
                                                            protocol: int) -> None:
    engine = Engine()
    r = redislab.client(engine=engine, protocol=protocol)
    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(r.execute_command("BLPOP", "job", 0)))
    t.start()
    _wait_until(lambda: engine.blocked_count == 1, "the client to block")
    assert result == []
    r.set("job", "payload")
    t.join(10)
    # redis-py shapes BLPOP as a tuple for RESP2 and a list for RESP3.
    assert result == [(b"job", b"payload") if protocol == 2 else [b"job", b"payload"]]
    assert r.get("job") is None


def test_blocked_command_times_out_on_the_manual_clock(blocking: None) -> None:
    engine = Engine(ManualClock())
    r = redislab.client(engine=engine)
    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(r.execute_command("BLPOP", "k", 5)))
    t.start()
    _wait_until(lambda: engine.blocked_count == 1, "the client to block")
    engine.advance(4)
    assert result == [] and t.is_alive()
    engine.advance(2)
    t.join(10)
    assert result == [None]


def test_blocked_command_times_out_on_the_system_clock(blocking: None) -> None:
    r = redislab.client()
    assert r.execute_command("BLPOP", "k", 0.01) is None
    assert engine_of(r).blocked_count == 0


def test_commands_behind_a_blocked_one_wait_for_it(blocking: None) -> None:
    engine = Engine()
    r = redislab.client(engine=engine)
    result: list[Any] = []

    def pipelined() -> None:
        p = r.pipeline(transaction=False)
        p.execute_command("BLPOP", "job", 0)
        p.incr("after")
        result.append(p.execute())

    t = threading.Thread(target=pipelined)
    t.start()
    _wait_until(lambda: engine.blocked_count == 1, "the client to block")
    assert r.get("after") is None  # not run yet: Redis does not read behind a blocked command
    r.set("job", "x")
    t.join(10)
    assert result == [[(b"job", b"x"), 1]]
    assert r.get("after") == b"1"


def test_socket_timeout_while_blocked_drops_the_session(blocking: None) -> None:
    engine = Engine()
    r = redislab.client(engine=engine, socket_timeout=0.02, retry=_no_retry())
    with pytest.raises(TimeoutError, match="^Timeout reading from socket$"):
        r.execute_command("BLPOP", "k", 0)
    assert engine.blocked_count == 0
    assert r.set("k", "v") is True


@needs("BLPOP", "BRPOP", "RPUSH")
@pytest.mark.parametrize("protocol", [2, 3])
def test_blpop_waits_for_another_clients_push(protocol: int) -> None:
    engine = Engine()
    r = redislab.client(engine=engine, protocol=protocol)
    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(r.blpop(["a", "b"], 0)))
    t.start()
    _wait_until(lambda: engine.blocked_count == 1, "the client to block")
    assert r.rpush("b", "x", "y") == 2
    t.join(10)
    assert result == [(b"b", b"x") if protocol == 2 else [b"b", b"x"]]
    assert r.lrange("b", 0, -1) == [b"y"]
    assert r.brpop("b", 1) == ((b"b", b"y") if protocol == 2 else [b"b", b"y"])


@needs("XADD", "XREAD")
def test_xread_block_waits_for_an_entry() -> None:
    engine = Engine()
    r = redislab.client(engine=engine, protocol=3)
    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(r.xread({"s": "$"}, block=0)))
    t.start()
    _wait_until(lambda: engine.blocked_count == 1, "the client to block")
    r.xadd("s", {"f": "v"}, id="5-0")
    t.join(10)
    assert result == [{b"s": [[(b"5-0", {b"f": b"v"})]]}]


# --------------------------------------------------------------------------------------------
# Connection life


def test_close_ends_every_session() -> None:
    engine = Engine()
    r = redislab.client(engine=engine)
    p = r.pubsub()
    p.subscribe("c")
    r.set("k", "v")
    assert len(engine.sessions) == 2
    p.close()
    r.close()
    assert engine.sessions == {}


def test_single_connection_client() -> None:
    engine = Engine()
    r = redislab.client(engine=engine, single_connection_client=True)
    assert len(engine.sessions) == 1
    r.set("k", "v")
    assert r.get("k") == b"v"
    assert len(engine.sessions) == 1
    r.close()
    assert engine.sessions == {}


def test_server_side_close_reconnects_through_redis_py_retry() -> None:
    engine = Engine()
    r = redislab.client(engine=engine, retry=Retry(NoBackoff(), 1),
                        retry_on_error=[ConnectionError])
    r.set("k", "v")
    (session,) = engine.sessions.values()
    engine.close_session(session)  # as CLIENT KILL would
    assert r.get("k") == b"v"
    (fresh,) = engine.sessions.values()
    assert fresh is not session


def test_server_side_close_without_retry_raises_connection_error() -> None:
    engine = Engine()
    r = redislab.client(engine=engine, retry=_no_retry())
    r.set("k", "v")
    (session,) = engine.sessions.values()
    engine.close_session(session)
    with pytest.raises(ConnectionError):
        r.get("k")
    assert r.get("k") == b"v"


def test_unread_replies_are_not_handed_to_the_next_user() -> None:
    engine = Engine()
    r = redislab.client(engine=engine)
    conn = _checkout(r)
    conn.send_command("GET", "never-read")
    first = conn._session
    r.connection_pool.release(conn)
    again = _checkout(r)
    assert again is conn and again._session is not first
    assert not again._pending
    r.connection_pool.release(again)


def test_connection_collected_inside_a_command_is_closed_later() -> None:
    engine = Engine()
    r = redislab.client(engine=engine)
    conn = _checkout(r)
    session = conn._session
    with engine.lock:  # as when garbage collection runs in the middle of a command
        conn.disconnect()
        assert not session.closed and session.id in engine.sessions
    redislab.client(engine=engine).ping()  # the next connection tidies up
    assert session.closed and session.id not in engine.sessions
    r.connection_pool.release(conn)


def test_health_check_sends_ping() -> None:
    engine = Engine()
    r = redislab.client(engine=engine, health_check_interval=30)
    r.set("k", "v")
    conn = _checkout(r)
    ping = _spec("PING")
    before = engine.cmd_calls[ping.id]
    conn.next_health_check = 0  # as if the interval had passed
    r.connection_pool.release(conn)
    assert r.get("k") == b"v"
    assert engine.cmd_calls[ping.id] == before + 1


def test_max_connections() -> None:
    r = redislab.client(max_connections=1)
    held = _checkout(r)
    with pytest.raises(ConnectionError):
        _checkout(r)
    r.connection_pool.release(held)


def test_noauth_error_is_an_authentication_error_and_disconnects(monkeypatch: Any) -> None:
    monkeypatch.setattr(_spec("DEBUG"), "handler", _debug_protocol)
    r = redislab.client(protocol=2, retry=_no_retry())
    conn = _checkout(r)
    first = conn._session
    conn.send_command("DEBUG", "PROTOCOL", "first-noauth")
    with pytest.raises(AuthenticationError):
        conn.read_response()
    assert conn._session is None and first.closed
    r.connection_pool.release(conn)


@pytest.fixture(scope="module")
def password_server() -> Iterator[Any]:
    from .support.real_redis import RedisServer

    server = RedisServer()  # its start-up probe needs PING without a password
    setup = server.client()
    setup.execute("CONFIG", "SET", "requirepass", "secret")
    setup.close()
    try:
        yield server
    finally:
        server.stop()


@needs("AUTH", "HELLO")
@pytest.mark.real
@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("password", [None, "secret", "wrong"])
def test_authentication_matches_real_redis(password_server: Any, protocol: int,
                                           password: str | None) -> None:
    engine = Engine(config={"requirepass": "secret"})
    kwargs: dict[str, Any] = dict(protocol=protocol, password=password, retry=_no_retry())
    ours = redislab.client(engine=engine, **kwargs)
    theirs = redis.Redis(port=password_server.port, **kwargs)
    assert _outcome(ours.ping) == _outcome(theirs.ping)
    assert _outcome(lambda: ours.set("k", "v")) == _outcome(lambda: theirs.set("k", "v"))


# --------------------------------------------------------------------------------------------
# asyncio


def test_async_client_basic_ops_and_pipeline() -> None:
    async def main() -> None:
        r = redislab.async_client()
        assert isinstance(r, redis.asyncio.Redis)
        assert await r.set("k", "v") is True
        assert await r.get("k") == b"v"
        assert await r.incr("n") == 1
        async with r.pipeline(transaction=False) as p:
            p.set("a", 1).incr("a").get("a")
            assert await p.execute() == [True, 2, b"2"]
        shared = redislab.async_client(engine=engine_of(r), decode_responses=True)
        assert await shared.get("a") == "2"
        await shared.aclose()
        await r.aclose()
        assert engine_of(r).sessions == {}

    asyncio.run(main())


@needs("MULTI", "EXEC")
def test_async_transaction() -> None:
    async def main() -> None:
        r = redislab.async_client()
        async with r.pipeline(transaction=True) as p:
            p.set("a", 1).incr("a")
            assert await p.execute() == [True, 2]
        await r.aclose()

    asyncio.run(main())


def test_async_pubsub_and_blocking(blocking: None) -> None:
    async def main() -> None:
        r = redislab.async_client(protocol=3)
        p = r.pubsub()
        await p.subscribe("c")
        assert (await p.get_message(timeout=1))["type"] == "subscribe"
        await r.publish("c", "hi")
        assert (await p.get_message(timeout=1))["data"] == b"hi"
        await p.aclose()

        other = redislab.async_client(engine=engine_of(r))

        async def later() -> None:
            while engine_of(r).blocked_count == 0:
                await asyncio.sleep(0)
            await other.set("job", "x")

        task = asyncio.create_task(later())
        assert await r.execute_command("BLPOP", "job", 0) == [b"job", b"x"]
        await task
        await other.aclose()
        await r.aclose()

    asyncio.run(main())


def test_async_single_connection_client() -> None:
    engine = Engine()

    async def main() -> None:
        r = redislab.async_client(engine=engine, single_connection_client=True)
        for i in range(3):
            await r.set(f"k{i}", i)
        assert await r.mget("k0", "k1", "k2") == [b"0", b"1", b"2"]
        assert len(engine.sessions) == 1
        await r.aclose()

    asyncio.run(main())
    assert engine.sessions == {}


def test_async_client_shares_an_engine_with_a_sync_client() -> None:
    engine = Engine()
    sync = redislab.client(engine=engine)
    sync.set("k", "from-sync")

    async def main() -> Any:
        r = redislab.async_client(engine=engine)
        value = await r.get("k")
        await r.set("k2", "from-async")
        await r.aclose()
        return value

    assert asyncio.run(main()) == b"from-sync"
    assert sync.get("k2") == b"from-async"


def test_module_is_callable_as_the_package_function() -> None:
    import redislab.client as module

    r = module(decode_responses=True)  # type: ignore[operator]
    assert r.set("k", "v") is True and r.get("k") == "v"
    assert isinstance(redislab.client(), redis.Redis)


def test_engine_connection_repr_names_the_engine() -> None:
    r = redislab.client(client_name="x")
    conn = _checkout(r)
    assert isinstance(conn, EngineConnection)
    assert "engine=" in repr(conn) and "client_name=x" in repr(conn)
    r.connection_pool.release(conn)
