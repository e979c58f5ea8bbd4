"""100,000 malformed, truncated and valid frames over many connections, checked against Redis.

Redis closes a connection after a protocol error, so each connection carries a batch: frames
that do not end it (valid commands, inline junk, unknown commands, empty requests, bulks with
a wrong trailer), then one frame that does (a protocol error of some class, or a truncated
frame followed by the client hanging up). The generator is seeded; the same batches replayed
on a real redis-server must produce byte-identical reply streams.
"""

from __future__ import annotations

import random
import socket
import threading
from functools import lru_cache
from dataclasses import dataclass, field

import pytest

from redislab.protocol import ErrorReply, ReplyParser, encode_command

from ..support.real_redis import RawClient, RedisServer
from .conftest import RunningServer

TOTAL_FRAMES = 100_000
FRAMES_PER_CONNECTION = 100
WORKERS = 4
SAMPLE_CONNECTIONS = 60

# Inline junk: a first token that can never name a command (so nothing random runs SAVE or
# SHUTDOWN), then tokens, some quoted with escapes.
JUNK_START = "!#%&()+,-./0123456789:;<=>?@[]^_`{|}~"
JUNK_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789!#%&()+,-./:;<=>?@[]^_`{|}~"
QUOTED = ['"a b"', "'it'", '"\\x41\\x00\\n"', '"\\t\\r"', "''", '""', '"\\\\"', "'\\''"]

INT_MAX = 2**31 - 1
PROTO_MAX_BULK_LEN = 512 * 1024 * 1024
INLINE_MAX = 64 * 1024

# Each class of protocol error and the text Redis closes the connection with.
ERRORS = {
    "multibulk": b"-ERR Protocol error: invalid multibulk length\r\n",
    "bulk": b"-ERR Protocol error: invalid bulk length\r\n",
    "prefix": None,  # "expected '$', got '<byte>'": the byte varies
    "quotes": b"-ERR Protocol error: unbalanced quotes in request\r\n",
    "big-inline": b"-ERR Protocol error: too big inline request\r\n",
    "big-mbulk": b"-ERR Protocol error: too big mbulk count string\r\n",
    "big-bulk": b"-ERR Protocol error: too big bulk count string\r\n",
    "truncated": b"",
}


@dataclass
class Batch:
    """One connection's frames, what the client knows its replies must be, and its end."""

    tag: int
    frames: list[bytes] = field(default_factory=list)
    # For each reply-producing frame: the exact reply value, or None when only an error of
    # some text is known to come (checked against Redis in the sampled replay).
    expected: list[object] = field(default_factory=list)
    end: str = ""
    end_reply: bytes = b""

    def data(self) -> bytes:
        return b"".join(self.frames)


def _token(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return rng.choice(QUOTED)
    return "".join(rng.choice(JUNK_CHARS) for _ in range(rng.randint(1, 12)))


def _mbulk(*args: bytes) -> bytes:
    return encode_command(*args)


def _open_frame(rng: random.Random, batch: Batch, n: int) -> None:
    """A frame that leaves the connection open."""
    kind = rng.randrange(9)
    key = b"fz:%d" % batch.tag
    if kind == 0:
        payload = rng.randbytes(rng.randint(0, 40))
        batch.frames.append(_mbulk(b"ECHO", payload))
        batch.expected.append(payload)
    elif kind == 1:
        batch.frames.append(b"PING\r\n" if rng.random() < 0.5 else _mbulk(b"PING"))
        batch.expected.append("PONG")
    elif kind == 2:
        batch.frames.append(_mbulk(b"INCR", key))
        batch.expected.append(sum(1 for f in batch.frames if f == _mbulk(b"INCR", key)))
    elif kind == 3:  # inline junk: an unknown command with arguments
        first = rng.choice(JUNK_START) + _token(rng)
        words = [first] + [_token(rng) for _ in range(rng.randint(0, 5))]
        sep = rng.choice([" ", "  ", "\t", " \t "])
        line = sep.join(words) + rng.choice(["\r\n", "\n"])
        batch.frames.append(line.encode())
        batch.expected.append(None)
    elif kind == 4:
        # A multibulk unknown command with binary arguments; Redis's error text prints them
        # with %s, so a NUL cuts one short.
        name = rng.choice(JUNK_START).encode() + rng.randbytes(rng.randint(0, 8))
        args = [rng.randbytes(rng.randint(0, 20))
                for _ in range(rng.randint(0, 4))]
        batch.frames.append(_mbulk(name, *args))
        batch.expected.append(None)
    elif kind == 5:  # known command, wrong arity
        batch.frames.append(_mbulk(b"GET", key, b"extra"))
        batch.expected.append(ErrorReply("ERR wrong number of arguments for 'get' command"))
    elif kind == 6:  # empty requests: no reply at all
        batch.frames.append(rng.choice([b"\r\n", b"\n", b"   \r\n", b"*0\r\n", b"*-1\r\n",
                                        b"*-7\r\n"]))
    elif kind == 7:  # a bulk whose two trailing bytes are not CRLF: Redis skips them anyway
        trailer = bytes(rng.choice(b"xyz:+-") for _ in range(2))
        batch.frames.append(b"*1\r\n$4\r\nPING" + trailer)
        batch.expected.append("PONG")
    else:  # EXISTS on the connection's key: 1 once INCR ran
        batch.frames.append(_mbulk(b"EXISTS", key))
        batch.expected.append(int(any(f == _mbulk(b"INCR", key) for f in batch.frames)))


def _closing_frame(rng: random.Random, batch: Batch) -> None:
    """The frame that ends the connection."""
    end = rng.choice(["multibulk", "multibulk", "bulk", "bulk", "bulk", "prefix", "prefix",
                      "quotes", "truncated", "truncated", "big-inline", "big-mbulk",
                      "big-bulk"])
    valid = _mbulk(b"SET", b"fz:t:%d" % batch.tag, rng.randbytes(rng.randint(0, 30)))
    if end == "multibulk":
        bad = rng.choice([b"abc", b"1x", b"01", b"", b"+1", b" 1", b"-0", b"1.5",
                          b"%d" % rng.randint(INT_MAX + 1, 2**63 - 1),
                          b"%d" % rng.randint(2**63, 2**70), b"-%d" % 2**64])
        frame = b"*" + bad + b"\r\n"
    elif end == "bulk":
        bad = rng.choice([b"abc", b"-5", b"-1", b"01", b"", b"+4", b"1.5", b"-0",
                          b"%d" % rng.randint(PROTO_MAX_BULK_LEN + 1, 2**63 - 1),
                          b"%d" % rng.randint(2**63, 2**80)])
        frame = b"*2\r\n$3\r\nGET\r\n$" + bad + b"\r\n"
    elif end == "prefix":
        byte = rng.choice([b for b in range(1, 256) if b not in b"$"])
        frame = b"*2\r\n$3\r\nGET\r\n" + bytes([byte]) + b"3\r\nkey\r\n"
        shown = b" " if byte in b"\r\n" else bytes([byte])
        batch.end_reply = b"-ERR Protocol error: expected '$', got '" + shown + b"'\r\n"
    elif end == "quotes":
        frame = rng.choice([b'SET "a b\r\n', b"GET 'x\r\n", b"'a'b\r\n", b'ECHO "x"y\r\n',
                            b'"\r\n'])
    elif end == "truncated":
        cut = rng.randint(1, len(valid) - 1)
        frame = valid[:cut]
    elif end == "big-inline":
        frame = b"x" * (INLINE_MAX + rng.randint(1, 100))
    elif end == "big-mbulk":
        frame = b"*" + b"1" * (INLINE_MAX + rng.randint(1, 100))
    else:
        frame = b"*1\r\n$" + b"2" * (INLINE_MAX + rng.randint(1, 100))
    batch.frames.append(frame)
    batch.end = end
    if end != "prefix":
        batch.end_reply = ERRORS[end]  # type: ignore[assignment]


@lru_cache(maxsize=1)
def make_batches(seed: int = 20260522) -> list[Batch]:
    rng = random.Random(seed)
    batches: list[Batch] = []
    frames = 0
    tag = 0
    while frames < TOTAL_FRAMES:
        batch = Batch(tag)
        n = min(FRAMES_PER_CONNECTION, TOTAL_FRAMES - frames) - 1
        for _ in range(max(0, n)):
            _open_frame(rng, batch, n)
        _closing_frame(rng, batch)
        frames += len(batch.frames)
        batches.append(batch)
        tag += 1
    return batches


def exchange(port: int, data: bytes) -> bytes:
    """Send a batch, hang up our side, and collect everything until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def check_stream(batch: Batch, stream: bytes) -> None:
    """The replies of one batch: each expected value in order, then the closing error."""
    assert stream.endswith(batch.end_reply), (batch.tag, batch.end, stream[-120:])
    body = stream[: len(stream) - len(batch.end_reply)]
    parser = ReplyParser()
    parser.feed(body)
    replies = list(parser.replies())
    assert len(replies) == len(batch.expected), (batch.tag, len(replies), len(batch.expected))
    for got, want in zip(replies, batch.expected):
        if want is None:
            assert isinstance(got, ErrorReply), (batch.tag, got)
            assert got.message.startswith("ERR unknown command '"), (batch.tag, got)
        elif isinstance(want, ErrorReply):
            assert isinstance(got, ErrorReply) and got.message == want.message, (batch.tag, got)
        else:
            assert got == want, (batch.tag, got, want)


def test_batches_cover_every_class_and_the_frame_count() -> None:
    batches = make_batches()
    assert sum(len(b.frames) for b in batches) == TOTAL_FRAMES
    assert {b.end for b in batches} == set(ERRORS)


def test_hundred_thousand_frames_leave_the_server_serving(served) -> None:
    batches = make_batches()
    port = served.port
    served.engine.flushall()
    # Well-behaved clients connected throughout, each with its own counter.
    steady = [RawClient(port) for _ in range(3)]
    failures: list[BaseException] = []

    def fuzz(worker: int) -> None:
        try:
            for batch in batches[worker::WORKERS]:
                check_stream(batch, exchange(port, batch.data()))
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=fuzz, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    rounds = 0
    while any(t.is_alive() for t in threads):
        rounds += 1
        for i, c in enumerate(steady):
            assert c.execute("INCR", f"steady:{i}") == rounds
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    for i, c in enumerate(steady):
        assert c.execute("GET", f"steady:{i}") == str(rounds).encode()
    fresh = RawClient(port)
    assert fresh.execute("PING") == "PONG"
    listing = fresh.execute("CLIENT", "LIST").decode().splitlines()
    assert len(listing) == len(steady) + 1, listing
    info = fresh.execute("INFO", "clients").decode()
    assert "connected_clients:4\r\n" in info
    for c in [*steady, fresh]:
        c.close()


@pytest.mark.real
def test_sampled_batches_match_redis_byte_for_byte(redis_server: RedisServer, served) -> None:
    batches = make_batches()
    rng = random.Random(5)
    by_class: dict[str, list[Batch]] = {}
    for b in batches:
        by_class.setdefault(b.end, []).append(b)
    # Every closing class is in the sample, then random batches up to the sample size.
    sample = [group[0] for group in by_class.values()]
    sample += rng.sample(batches, SAMPLE_CONNECTIONS - len(sample))
    served.engine.flushall()
    flush = RawClient(redis_server.port)
    flush.execute("FLUSHALL")
    flush.close()
    for batch in sample:
        theirs = exchange(redis_server.port, batch.data())
        ours = exchange(served.port, batch.data())
        assert ours == theirs, (batch.tag, batch.end, _first_difference(ours, theirs))


def _first_difference(a: bytes, b: bytes) -> tuple[bytes, bytes]:
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return a[max(0, i - 60): i + 60], b[max(0, i - 60): i + 60]


@pytest.mark.real
def test_nul_bytes_hide_line_ends_as_in_redis(redis_server: RedisServer, served) -> None:
    """Redis finds line ends with strchr: a NUL before one leaves the request incomplete."""
    cases = [b"\x00\x01 foo\r\n", b"PING\r\nfoo\x00bar x\r\n", b"*\x00\r\n",
             b"*1\r\n$\x004\r\n", b"*1\r\n\x003\r\nGET\r\n", b"*2\r\n$4\r\nECHO\r\n$3\r\na\x00b\r\n"]
    for data in cases:
        assert exchange(served.port, data) == exchange(redis_server.port, data), data


def test_server_parser_reads_every_batch_as_the_general_parser_does() -> None:
    """The server's fast path and the general parser agree on every fuzz batch, fed in
    random pieces: same commands, same error at the same point."""
    from redislab.protocol.resp import ProtocolError, RequestParser
    from redislab.server.requests import ServerRequestParser

    def run(parser: RequestParser, pieces: list[bytes]) -> list[object]:
        out: list[object] = []
        try:
            for piece in pieces:
                parser.feed(piece)
                while (cmd := parser.next_command()) is not None:
                    out.append(cmd)
        except ProtocolError as e:
            out.append(("error", str(e)))
        return out

    rng = random.Random(11)
    for batch in make_batches()[::4]:
        data = batch.data()
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 6))))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
        for authenticated in (True, False):
            general, fast = RequestParser(PROTO_MAX_BULK_LEN), ServerRequestParser(
                PROTO_MAX_BULK_LEN)
            general.authenticated = fast.authenticated = authenticated
            assert run(fast, pieces) == run(general, pieces), batch.tag


@pytest.mark.real
def test_unauthenticated_request_limits_match_redis() -> None:
    real = RedisServer()
    ours = RunningServer()
    try:
        for port in (real.port, ours.port):
            setup = RawClient(port)
            assert setup.execute("CONFIG", "SET", "requirepass", "secret") == "OK"
            setup.close()
        for data in [b"*11\r\n", b"*10\r\n$4\r\nPING\r\n", b"*1\r\n$16385\r\n",
                     b"*1\r\n$16384\r\n", b"PING\r\n*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*11\r\n",
                     b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n*1\r\n$16385\r\n" + b"x" * 16385
                     + b"\r\n"]:
            assert exchange(ours.port, data) == exchange(real.port, data), data
    finally:
        real.stop()
        ours.stop()
