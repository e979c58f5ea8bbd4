"""Publish/subscribe: channels, patterns, shard channels and keyspace notifications (pubsub.c).

Subscribers are sessions; a delivered message becomes a :class:`Push` in the session's outbox
(an array for RESP2 clients, a push for RESP3). Keyspace notifications are ordinary messages
published by the engine on ``__keyspace@<db>__:<key>`` and ``__keyevent@<db>__:<event>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..protocol.reply import Push
from . import notify as nf
from .events import Published
from .glob import compile_glob

if TYPE_CHECKING:
    from .engine import Engine
    from .session import Session

_CLASS_BITS = {
    "g": nf.GENERIC, "$": nf.STRING, "l": nf.LIST, "s": nf.SET, "h": nf.HASH, "z": nf.ZSET,
    "x": nf.EXPIRED, "e": nf.EVICTED, "t": nf.STREAM, "m": nf.KEY_MISS, "d": nf.MODULE,
    "n": nf.NEW,
}


class PubSubHub:
    """Who listens to what, for one engine."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        # channel -> subscribers in subscription order (dicts keep order and give O(1) removal)
        self.channels: dict[bytes, dict["Session", None]] = {}
        self.patterns: dict[bytes, dict["Session", None]] = {}
        self.shard_channels: dict[bytes, dict["Session", None]] = {}
        engine.notify_hook = self.notify
        engine.close_hooks.append(self.forget)

    # ----------------------------------------------------------------------------------------
    # Subscriptions

    @staticmethod
    def count(session: "Session") -> int:
        return len(session.channels) + len(session.patterns)

    def subscribe(self, session: "Session", channel: bytes) -> None:
        if channel not in session.channels:
            session.channels[channel] = None
            self.channels.setdefault(channel, {})[session] = None
        session.push(Push([b"subscribe", channel, self.count(session)]))

    def unsubscribe(self, session: "Session", channel: bytes, notify: bool = True) -> None:
        if channel in session.channels:
            session.channels.pop(channel, None)
            subs = self.channels.get(channel)
            if subs is not None:
                subs.pop(session, None)
                if not subs:
                    del self.channels[channel]
        if notify:
            session.push(Push([b"unsubscribe", channel, self.count(session)]))

    def psubscribe(self, session: "Session", pattern: bytes) -> None:
        if pattern not in session.patterns:
            session.patterns[pattern] = None
            self.patterns.setdefault(pattern, {})[session] = None
        session.push(Push([b"psubscribe", pattern, self.count(session)]))

    def punsubscribe(self, session: "Session", pattern: bytes, notify: bool = True) -> None:
        if pattern in session.patterns:
            session.patterns.pop(pattern, None)
            subs = self.patterns.get(pattern)
            if subs is not None:
                subs.pop(session, None)
                if not subs:
                    del self.patterns[pattern]
        if notify:
            session.push(Push([b"punsubscribe", pattern, self.count(session)]))

    def ssubscribe(self, session: "Session", channel: bytes) -> None:
        if channel not in session.shard_channels:
            session.shard_channels[channel] = None
            self.shard_channels.setdefault(channel, {})[session] = None
        session.push(Push([b"ssubscribe", channel, len(session.shard_channels)]))

    def sunsubscribe(self, session: "Session", channel: bytes, notify: bool = True) -> None:
        if channel in session.shard_channels:
            session.shard_channels.pop(channel, None)
            subs = self.shard_channels.get(channel)
            if subs is not None:
                subs.pop(session, None)
                if not subs:
                    del self.shard_channels[channel]
        if notify:
            session.push(Push([b"sunsubscribe", channel, len(session.shard_channels)]))

    def forget(self, session: "Session") -> None:
        """Drop every subscription of ``session`` silently (disconnect, RESET)."""
        for ch in list(session.channels):
            self.unsubscribe(session, ch, notify=False)
        for pat in list(session.patterns):
            self.punsubscribe(session, pat, notify=False)
        for ch in list(session.shard_channels):
            self.sunsubscribe(session, ch, notify=False)
        session.refresh_gate()

    # ----------------------------------------------------------------------------------------
    # Publishing

    def publish(self, channel: bytes, message: bytes) -> int:
        receivers = 0
        subs = self.channels.get(channel)
        if subs:
            for s in list(subs):
                s.push(Push([b"message", channel, message]))
                receivers += 1
        if self.patterns:
            for pattern, subs in list(self.patterns.items()):
                if compile_glob(pattern)(channel):
                    for s in list(subs):
                        s.push(Push([b"pmessage", pattern, channel, message]))
                        receivers += 1
        bus = self.engine.bus
        if bus.active:
            bus.publish(Published(channel, receivers))
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        receivers = 0
        subs = self.shard_channels.get(channel)
        if subs:
            for s in list(subs):
                s.push(Push([b"smessage", channel, message]))
                receivers += 1
        return receivers

    def notify(self, db: int, cls: str, event: str, key: bytes) -> None:
        """notifyKeyspaceEvent: publish on the keyspace and keyevent channels as configured."""
        mask = self.engine.notify_mask
        bit = _CLASS_BITS.get(cls, 0)
        if not mask & bit:
            return
        ev = event.encode()
        if mask & nf.KEYSPACE:
            self.publish(b"__keyspace@%d__:%s" % (db, key), ev)
        if mask & nf.KEYEVENT:
            self.publish(b"__keyevent@%d__:%s" % (db, ev), key)


def hub(engine: "Engine") -> PubSubHub:
    """The engine's hub, created on first use."""
    h = engine.extensions.get("pubsub")
    if h is None:
        h = PubSubHub(engine)
        engine.extensions["pubsub"] = h
    return h
