"""Keyspace notification classes (notify.c): the flags behind ``notify-keyspace-events``."""

from __future__ import annotations

from .config import ConfigError

KEYSPACE = 1 << 0   # K
KEYEVENT = 1 << 1   # E
GENERIC = 1 << 2    # g
STRING = 1 << 3     # $
LIST = 1 << 4       # l
SET = 1 << 5        # s
HASH = 1 << 6       # h
ZSET = 1 << 7       # z
EXPIRED = 1 << 8    # x
EVICTED = 1 << 9    # e
STREAM = 1 << 10    # t
KEY_MISS = 1 << 11  # m
MODULE = 1 << 12    # d
NEW = 1 << 13       # n

CLASS_BITS = {
    "g": GENERIC, "$": STRING, "l": LIST, "s": SET, "h": HASH, "z": ZSET, "x": EXPIRED,
    "e": EVICTED, "t": STREAM, "m": KEY_MISS, "d": MODULE, "n": NEW, "K": KEYSPACE,
    "E": KEYEVENT,
}
ALL = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE


def parse_notify_flags(text: str) -> int:
    """Flags from the config string; ``A`` stands for ``g$lshzxetd``."""
    flags = 0
    for ch in text:
        if ch == "A":
            flags |= ALL
        elif ch in CLASS_BITS:
            flags |= CLASS_BITS[ch]
        else:
            raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    return flags


def render_notify_flags(flags: int) -> str:
    """The config string Redis prints back for ``flags`` (keyspaceEventsFlagsToString).

    As in Redis, ``n`` is only spelled out when the classes are not all set (``A``).
    """
    out = ""
    if flags & ALL == ALL:
        out += "A"
    else:
        for ch in "g$lshzxetdn":
            if flags & CLASS_BITS[ch]:
                out += ch
    for ch in "KEm":
        if flags & CLASS_BITS[ch]:
            out += ch
    return out
