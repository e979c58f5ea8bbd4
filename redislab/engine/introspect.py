"""Read-only views of the keyspace for front ends: key names, type, encoding, TTL, size.

Completion, the REPL's toolbar and its annotations look at the data between commands. None of
these functions count as an access: they do not update LRU/LFU data, hit/miss statistics or
expire anything (a key past its TTL is simply treated as absent), so looking never changes
what the next command will see or report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .values import encoding_of, type_name

if TYPE_CHECKING:
    from .keyspace import Database

__all__ = ["KeyInfo", "key_names", "key_info", "value_size", "key_count", "is_live"]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a key is, as TYPE, OBJECT ENCODING, PTTL and the type's length command see it."""

    key: bytes
    type: str
    encoding: str
    ttl_ms: int | None   # None: no expire time
    size: int            # elements (bytes for a string)


def is_live(db: "Database", key: bytes) -> bool:
    """Does ``key`` exist and has its expire time not passed? (Expires nothing.)"""
    if key not in db.data:
        return False
    when = db.expires.get(key)
    return when is None or db.engine.now_ms() <= when


def key_names(db: "Database", prefix: bytes = b"", limit: int = 200,
              scan_limit: int = 200_000) -> list[bytes]:
    """Up to ``limit`` live key names starting with ``prefix``, sorted.

    At most ``scan_limit`` keys are examined, so completing in a huge keyspace stays quick;
    the answer may then be partial.
    """
    now = db.engine.now_ms()
    expires = db.expires
    found: list[bytes] = []
    for seen, key in enumerate(db.data):
        if seen >= scan_limit:
            break
        if prefix and not key.startswith(prefix):
            continue
        when = expires.get(key) if expires else None
        if when is not None and now > when:
            continue
        found.append(key)
    found.sort()
    return found[:limit]


def value_size(value: Any) -> int:
    """Elements in a value (string length for strings); 1 for an opaque value."""
    if value is None:
        return 0
    try:
        return len(value)
    except TypeError:
        return 1


def key_info(db: "Database", key: bytes) -> KeyInfo | None:
    """Type, encoding, TTL and size of ``key``, or None if it does not exist."""
    if not is_live(db, key):
        return None
    value = db.data[key]
    when = db.expires.get(key)
    ttl = None if when is None else max(0, when - db.engine.now_ms())
    return KeyInfo(key, type_name(value), encoding_of(value), ttl, value_size(value))


def key_count(db: "Database") -> int:
    """Keys stored, counting those past their TTL that nobody has touched yet (as DBSIZE)."""
    return len(db.data)
