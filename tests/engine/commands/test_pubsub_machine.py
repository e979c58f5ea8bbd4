"""Pub/sub with several clients, on the engine and on real Redis: every message compared.

Three clients subscribe, pattern-subscribe and unsubscribe at random while a writer
publishes and changes keys with keyspace notifications on. After each step every client
sends PING: on the wire everything that client received before the PING's reply is what it
was pushed, so the two sides' message lists, in order, can be compared exactly.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import rule

from redislab.protocol.reply import NO_REPLY

from ...support.machines import MultiMachine, Pair, compared, run_machine
from ...support.real_redis import normalize

CHANNELS = st.sampled_from([b"news", b"news.tech", b"chat", b"__keyspace@0__:k1",
                            b"__keyevent@0__:set"])
PATTERNS = st.sampled_from([b"news*", b"*", b"n?ws", b"__keyspace@0__:*", b"__keyevent@0__:*",
                            b"[cn]*", b"chat"])
KEYS = st.sampled_from([b"k1", b"k2"])


def canonical(messages: list[Any]) -> list[Any]:
    """Messages with the hash-table orders Redis does not fix put in a fixed order.

    Redis walks a dict (seeded at start-up) in two places: the patterns a published message
    is matched against, and a client's channels or patterns when UNSUBSCRIBE/PUNSUBSCRIBE
    come without arguments. So the pmessages of one publication are sorted by pattern, and a
    run of unsubscribe confirmations keeps its counts in order but its names sorted.
    """
    out: list[Any] = []
    i = 0
    while i < len(messages):
        m = messages[i]
        body = m[1] if isinstance(m, tuple) and isinstance(m[1], list) else None
        kind = body[0] if body else None
        if kind == b"pmessage":
            j = i
            while j < len(messages) and _body(messages[j])[:1] == [b"pmessage"] and \
                    _body(messages[j])[2:] == body[2:]:
                j += 1
            out += sorted(messages[i:j], key=repr)
            i = j
        elif kind in (b"unsubscribe", b"punsubscribe"):
            j = i
            while j < len(messages) and _body(messages[j])[:1] == [kind]:
                j += 1
            run = [_body(x) for x in messages[i:j]]
            out.append((kind, sorted(repr(x[1]) for x in run), [x[2] for x in run]))
            i = j
        else:
            out.append(m)
            i += 1
    return out


def _body(m: Any) -> list[Any]:
    return m[1] if isinstance(m, tuple) and len(m) == 2 and isinstance(m[1], list) else []


def _is_ping_reply(reply: Any) -> bool:
    # Unsubscribed: +PONG. Subscribed (RESP2): ["pong", ""].
    if reply == "PONG":
        return True
    return isinstance(reply, list) and len(reply) == 2 and reply[0] == b"pong"


class PubSubMachine(MultiMachine):
    # Three subscribers and a fourth client that blocks, so that pops served by a later
    # write notify as Redis orders it (the write's events, then the served pop's).
    clients = 4
    config = {"notify-keyspace-events": "KEA"}
    resp3 = False

    def setup(self) -> None:
        if self.resp3:
            for p in [*self.pairs, self.writer]:
                p.session.execute(b"HELLO", b"3")
                p.real.execute(b"HELLO", b"3")

    def exchange(self, p: Pair, *args: bytes) -> None:
        """Run ``args`` on one client, then PING it; compare all it got on both sides."""
        reply = p.session.execute(*args)
        # The protocol is the client's own: RESET takes it back to RESP2.
        resp3 = p.session.resp == 3
        ours = [compared(m, resp3) for m in p.session.drain()]
        if reply is not NO_REPLY:
            ours.append(compared(reply, resp3))
        pong = p.session.execute(b"PING")
        ours += [compared(m, resp3) for m in p.session.drain()] + [compared(pong, resp3)]
        p.real.send(*args)
        p.real.send(b"PING")
        theirs = []
        # Nothing answers a (P)SUBSCRIBE but its confirmations, so read up to the PING's.
        while True:
            raw = p.real.read()
            theirs.append(normalize(raw))
            if _is_ping_reply(raw):
                break
        ours, theirs = canonical(ours), canonical(theirs)
        assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"

    def sync_all(self, cause: Any) -> None:
        for i, p in enumerate(self.pairs):
            if p.blocked:
                continue  # a blocked client reads nothing until it is served
            try:
                self.exchange_ping(p)
            except AssertionError as e:
                raise AssertionError(f"client {i} after {cause!r}: {e}") from None

    def exchange_ping(self, p: Pair) -> None:
        pong = p.session.execute(b"PING")
        resp3 = p.session.resp == 3
        ours = [compared(m, resp3) for m in p.session.drain()] + [compared(pong, resp3)]
        p.real.send(b"PING")
        theirs = []
        while True:
            raw = p.real.read()
            theirs.append(normalize(raw))
            if _is_ping_reply(raw):
                break
        ours, theirs = canonical(ours), canonical(theirs)
        assert ours == theirs, f"redislab {ours!r} != redis {theirs!r}"

    @rule(which=st.integers(0, 2), chans=st.lists(CHANNELS, min_size=1, max_size=3))
    def subscribe(self, which, chans):
        self.exchange(self.pairs[which], b"SUBSCRIBE", *chans)

    @rule(which=st.integers(0, 2), pats=st.lists(PATTERNS, min_size=1, max_size=3))
    def psubscribe(self, which, pats):
        self.exchange(self.pairs[which], b"PSUBSCRIBE", *pats)

    @rule(which=st.integers(0, 2), chans=st.lists(CHANNELS, max_size=2))
    def unsubscribe(self, which, chans):
        self.exchange(self.pairs[which], b"UNSUBSCRIBE", *chans)

    @rule(which=st.integers(0, 2), pats=st.lists(PATTERNS, max_size=2))
    def punsubscribe(self, which, pats):
        self.exchange(self.pairs[which], b"PUNSUBSCRIBE", *pats)

    @rule(which=st.integers(0, 2), cmd=st.sampled_from([b"GET", b"RESET", b"PUBLISH"]))
    def other_command(self, which, cmd):
        # In subscribed (RESP2) mode most commands are refused; RESET leaves that mode.
        p = self.pairs[which]
        args = {b"GET": [b"GET", b"k1"], b"RESET": [b"RESET"],
                b"PUBLISH": [b"PUBLISH", b"chat", b"self"]}[cmd]
        self.exchange(p, *args)
        self.sync_all(args)

    @rule(chan=CHANNELS, msg=st.sampled_from([b"hello", b"", b"\x00\xff"]))
    def publish(self, chan, msg):
        self.write(b"PUBLISH", chan, msg)

    @rule(cmd=st.one_of(
        st.builds(lambda k, v: [b"SET", k, v], KEYS, st.sampled_from([b"1", b"x"])),
        st.builds(lambda k: [b"INCR", k], KEYS),
        st.builds(lambda k: [b"DEL", k], KEYS),
        st.builds(lambda k: [b"EXPIRE", k, b"100"], KEYS),
        st.builds(lambda k: [b"EXPIRE", k, b"-1"], KEYS),
        st.builds(lambda k: [b"PERSIST", k], KEYS),
        st.builds(lambda k: [b"LPUSH", k, b"a", b"b"], KEYS),
        st.builds(lambda k: [b"HSET", k, b"f", b"v"], KEYS),
        st.builds(lambda a, b: [b"RENAME", a, b], KEYS, KEYS),
        st.builds(lambda k: [b"APPEND", k, b"z"], KEYS),
        st.builds(lambda k: [b"SADD", k, b"m"], KEYS),
        st.builds(lambda k: [b"ZADD", k, b"1", b"m"], KEYS),
        st.builds(lambda k: [b"COPY", k, b"k2", b"REPLACE"], KEYS),
        st.just([b"FLUSHALL"]),
    ))
    def keyspace_write(self, cmd):
        self.write(*cmd)

    @rule(flags=st.lists(st.sampled_from(list(b"KEg$lshzxetmdnA")), max_size=5))
    def notify_flags(self, flags):
        # Which classes are notified, and on which of the two channels (K, E).
        self.write(b"CONFIG", b"SET", b"notify-keyspace-events", bytes(flags))
        self.write(b"CONFIG", b"GET", b"notify-keyspace-events")

    @rule(sub=st.sampled_from([[b"NUMPAT"], [b"NUMSUB", b"news", b"chat", b"none"]]))
    def pubsub_counts(self, sub):
        self.write(b"PUBSUB", *sub)

    @rule()
    def pubsub_channels(self):
        ours = compared(self.writer.session.execute(b"PUBSUB", b"CHANNELS"), self.resp3)
        theirs = normalize(self.writer.real.execute(b"PUBSUB", b"CHANNELS"))
        assert sorted(ours[1]) == sorted(theirs[1])

    @rule(cmd=st.sampled_from([[b"BLPOP", b"k1", b"0"], [b"BRPOP", b"k2", b"k1", b"0"],
                               [b"BLMOVE", b"k1", b"k2", b"LEFT", b"RIGHT", b"0"],
                               [b"BZPOPMIN", b"k2", b"0"]]))
    def block(self, cmd):
        p = self.pairs[3]
        if p.blocked:
            return
        reply = p.session.execute(*cmd)
        if type(reply).__name__ == "Blocked":
            p.blocked = True
            p.real.send(*cmd)
            self.wait_for(lambda: self.real_blocked() == 1, f"{cmd!r} blocking")
        else:
            ours = compared(reply, p.session.resp == 3)
            theirs = normalize(p.real.execute(*cmd))
            assert ours == theirs, f"{cmd!r}: redislab {ours!r} != redis {theirs!r}"
        self.sync_all(cmd)

    @rule(cmd=st.sampled_from([[b"RPUSH", b"k1", b"x"], [b"LPUSH", b"k2", b"y", b"z"],
                               [b"ZADD", b"k2", b"1", b"m"]]))
    def feed(self, cmd):
        # Pushes that may serve the blocked client (onto a fresh key: the others make
        # strings and hashes of these names too).
        self.write(b"DEL", cmd[1])
        self.write(*cmd)

    def write(self, *args: bytes) -> None:
        ours = compared(self.writer.session.execute(*args), self.resp3)
        theirs = normalize(self.writer.real.execute(*args))
        assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"
        p = self.pairs[3]
        if p.blocked and p.served:
            served = compared(p.served.pop(0), p.session.resp == 3)
            assert served == normalize(p.real.read()), args
            p.blocked = False
        assert self.real_blocked() == (1 if p.blocked else 0), args
        self.sync_all(args)


class PubSubMachine3(PubSubMachine):
    # RESP3: messages arrive as push frames, and a subscribed client may run any command.
    resp3 = True

    @rule(which=st.integers(0, 2), k=KEYS)
    def read_while_subscribed(self, which, k):
        self.exchange(self.pairs[which], b"GET", k)


def test_pubsub_machine(redis_server):
    run_machine(PubSubMachine, redis_server, examples=30, steps=25)


def test_pubsub_machine_resp3(redis_server):
    run_machine(PubSubMachine3, redis_server, examples=20, steps=25)
