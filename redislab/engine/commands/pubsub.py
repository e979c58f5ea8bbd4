"""Pub/sub commands (pubsub.c): subscriptions answer through pushes, PUBLISH counts receivers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import NO_REPLY, Push, Status
from ..glob import compile_glob
from ..pubsub import hub

if TYPE_CHECKING:
    from ..session import Session


def subscribe_command(c: "Session", argv: list[bytes]) -> Any:
    h = hub(c.engine)
    for channel in argv[1:]:
        h.subscribe(c, channel)
    c.refresh_gate()
    return NO_REPLY


def unsubscribe_command(c: "Session", argv: list[bytes]) -> Any:
    h = hub(c.engine)
    targets = argv[1:] or list(c.channels)
    if not targets:
        c.push(Push([b"unsubscribe", None, h.count(c)]))
    for channel in targets:
        h.unsubscribe(c, channel)
    c.refresh_gate()
    return NO_REPLY


def psubscribe_command(c: "Session", argv: list[bytes]) -> Any:
    h = hub(c.engine)
    for pattern in argv[1:]:
        h.psubscribe(c, pattern)
    c.refresh_gate()
    return NO_REPLY


def punsubscribe_command(c: "Session", argv: list[bytes]) -> Any:
    h = hub(c.engine)
    targets = argv[1:] or list(c.patterns)
    if not targets:
        c.push(Push([b"punsubscribe", None, h.count(c)]))
    for pattern in targets:
        h.punsubscribe(c, pattern)
    c.refresh_gate()
    return NO_REPLY


def ssubscribe_command(c: "Session", argv: list[bytes]) -> Any:
    h = hub(c.engine)
    for channel in argv[1:]:
        h.ssubscribe(c, channel)
    c.refresh_gate()
    return NO_REPLY


def sunsubscribe_command(c: "Session", argv: list[bytes]) -> Any:
    h = hub(c.engine)
    targets = argv[1:] or list(c.shard_channels)
    if not targets:
        c.push(Push([b"sunsubscribe", None, len(c.shard_channels)]))
    for channel in targets:
        h.sunsubscribe(c, channel)
    c.refresh_gate()
    return NO_REPLY


def publish_command(c: "Session", argv: list[bytes]) -> Any:
    h = c.engine.extensions.get("pubsub")
    if h is None:
        return 0
    return h.publish(argv[1], argv[2])


def spublish_command(c: "Session", argv: list[bytes]) -> Any:
    h = c.engine.extensions.get("pubsub")
    if h is None:
        return 0
    return h.spublish(argv[1], argv[2])


def _channels(index: dict[bytes, Any], argv: list[bytes]) -> list[bytes]:
    if len(argv) > 2:
        match = compile_glob(argv[2])
        return [ch for ch in index if match(ch)]
    return list(index)


def pubsub_channels_command(c: "Session", argv: list[bytes]) -> Any:
    return _channels(hub(c.engine).channels, argv)


def pubsub_shardchannels_command(c: "Session", argv: list[bytes]) -> Any:
    return _channels(hub(c.engine).shard_channels, argv)


def pubsub_numsub_command(c: "Session", argv: list[bytes]) -> Any:
    index = hub(c.engine).channels
    out: list[Any] = []
    for ch in argv[2:]:
        out += [ch, len(index.get(ch, ()))]
    return out


def pubsub_shardnumsub_command(c: "Session", argv: list[bytes]) -> Any:
    index = hub(c.engine).shard_channels
    out: list[Any] = []
    for ch in argv[2:]:
        out += [ch, len(index.get(ch, ()))]
    return out


def pubsub_numpat_command(c: "Session", argv: list[bytes]) -> Any:
    return len(hub(c.engine).patterns)


def pubsub_help_command(c: "Session", argv: list[bytes]) -> Any:
    lines = [
        "PUBSUB <subcommand> [<arg> ...]. Subcommands:",
        "CHANNELS [<pattern>]",
        "    Channels with at least one subscriber, optionally filtered by a glob pattern.",
        "NUMPAT",
        "    How many distinct patterns clients are subscribed to.",
        "NUMSUB [<channel> ...]",
        "    Subscriber count of each channel given (pattern subscribers not included).",
        "SHARDCHANNELS [<pattern>]",
        "    Shard channels with at least one subscriber, optionally filtered.",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Subscriber count of each shard channel given.",
        "HELP",
        "    Show this text.",
    ]
    return [Status(line) for line in lines]
