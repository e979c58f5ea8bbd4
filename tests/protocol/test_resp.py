"""RESP codec: exact bytes, incremental parsing, Redis's protocol error texts."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redislab.protocol import (
    NULL_ARRAY, OK, Bool, Double, ErrorReply, MapReply, ProtocolError, Push, ReplyParser,
    RequestParser, SetReply, Verbatim, encode, encode_command, split_args,
)


@pytest.mark.parametrize("reply, resp2, resp3", [
    (b"abc", b"$3\r\nabc\r\n", b"$3\r\nabc\r\n"),
    (b"", b"$0\r\n\r\n", b"$0\r\n\r\n"),
    (42, b":42\r\n", b":42\r\n"),
    (None, b"$-1\r\n", b"_\r\n"),
    (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
    (OK, b"+OK\r\n", b"+OK\r\n"),
    (ErrorReply("ERR bad"), b"-ERR bad\r\n", b"-ERR bad\r\n"),
    ([b"a", 1, None], b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", b"*3\r\n$1\r\na\r\n:1\r\n_\r\n"),
    (Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n"),
    (Double(float("inf")), b"$3\r\ninf\r\n", b",inf\r\n"),
    (MapReply([(b"k", 1)]), b"*2\r\n$1\r\nk\r\n:1\r\n", b"%1\r\n$1\r\nk\r\n:1\r\n"),
    (SetReply([b"x"]), b"*1\r\n$1\r\nx\r\n", b"~1\r\n$1\r\nx\r\n"),
    (Push([b"message"]), b"*1\r\n$7\r\nmessage\r\n", b">1\r\n$7\r\nmessage\r\n"),
    (Bool(1), b":1\r\n", b"#t\r\n"),
    (Verbatim(b"hi", "txt"), b"$2\r\nhi\r\n", b"=6\r\ntxt:hi\r\n"),
])
def test_encode_exact_bytes(reply, resp2, resp3):
    assert encode(reply, resp3=False) == resp2
    assert encode(reply, resp3=True) == resp3


def test_error_replies_stay_on_one_line():
    assert encode(ErrorReply("ERR a\r\nb")) == b"-ERR a  b\r\n"


def _parse_requests(data: bytes, chunk: int | None = None) -> list[list[bytes]]:
    p = RequestParser()
    out: list[list[bytes]] = []
    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        p.feed(data[i:i + step])
        out.extend(p.commands())
    return out


def test_request_parser_multibulk_and_inline():
    data = encode_command("SET", "k", "v") + b"PING\r\n" + b'SET "a b" \'c\'\n'
    assert _parse_requests(data) == [[b"SET", b"k", b"v"], [b"PING"], [b"SET", b"a b", b"c"]]


@given(st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=6), max_size=8),
       st.integers(min_value=1, max_value=17))
@settings(max_examples=150, deadline=None)
def test_request_parser_is_incremental(commands, chunk):
    data = b"".join(encode_command(*c) for c in commands)
    assert _parse_requests(data, chunk) == commands


@pytest.mark.parametrize("frame, message", [
    (b"*abc\r\n", "Protocol error: invalid multibulk length"),
    (b"*3000000000\r\n", "Protocol error: invalid multibulk length"),
    (b"*1\r\nx3\r\nabc\r\n", "Protocol error: expected '$', got 'x'"),
    (b"*1\r\n$-5\r\n", "Protocol error: invalid bulk length"),
    (b"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"),
    (b"*1\r\n$600000000\r\n", "Protocol error: invalid bulk length"),
    (b'SET "abc\r\n', "Protocol error: unbalanced quotes in request"),
    (b"*" + b"1" * 70000, "Protocol error: too big mbulk count string"),
    (b"*1\r\n$" + b"1" * 70000, "Protocol error: too big bulk count string"),
    (b"x" * 70000, "Protocol error: too big inline request"),
])
def test_request_parser_errors(frame, message):
    with pytest.raises(ProtocolError) as info:
        _parse_requests(frame)
    assert str(info.value) == message


def test_protocol_errors_match_redis(redis_server):
    """Send the same malformed frames to real Redis and compare its error reply."""
    frames = [b"*abc\r\n", b"*1\r\nx3\r\nabc\r\n", b"*1\r\n$-5\r\n", b"*1\r\n$abc\r\n",
              b'SET "abc\r\n', b"*1\r\n$600000000\r\n"]
    for frame in frames:
        with socket.create_connection(("127.0.0.1", redis_server.port), timeout=5) as s:
            s.sendall(frame)
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        with pytest.raises(ProtocolError) as info:
            _parse_requests(frame)
        assert data == b"-ERR " + str(info.value).encode() + b"\r\n", frame


REPLY_VALUES = st.recursive(
    st.one_of(st.binary(max_size=20), st.integers(-(2**63), 2**63 - 1), st.none(),
              st.builds(ErrorReply, st.text(alphabet="abcXYZ ", min_size=1, max_size=10)
                        .map(lambda t: "ERR " + t))),
    lambda children: st.lists(children, max_size=4),
    max_leaves=12,
)


@given(REPLY_VALUES, st.booleans())
@settings(max_examples=150, deadline=None)
def test_reply_round_trip(value, resp3):
    p = ReplyParser()
    data = encode(value, resp3)
    for i in range(len(data)):
        p.feed(data[i:i + 1])
    assert list(p.replies()) == [value]


@pytest.mark.parametrize("line, args", [
    ("set a b", [b"set", b"a", b"b"]),
    ('set "a b" c', [b"set", b"a b", b"c"]),
    (r'set "\x41\n" c', [b"set", b"A\n", b"c"]),
    ("set 'it''s' x", None),
    (r"set 'it\'s' x", [b"set", b"it's", b"x"]),
    ('set "abc', None),
    ('set "a"b', None),
    ("  ", []),
    ('get ""', [b"get", b""]),
    ('set a"b c"', [b"set", b"ab c"]),
])
def test_split_args_like_redis_cli(line, args):
    assert split_args(line) == args
