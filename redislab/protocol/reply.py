"""Reply values: what a command returns, independent of RESP2, RESP3 or a terminal.

The common shapes are native Python values so that the engine's hot path allocates nothing
extra:

====================  ==========================================================
``bytes``             bulk string
``int``               integer
``None``              null (``$-1`` in RESP2, ``_`` in RESP3)
``list``              array (elements are reply values)
``Status``            simple string (``+OK``); a ``str`` subclass
``ErrorReply``        error (``-ERR ...``); an ``Exception`` so handlers can raise it
``Double``            double (RESP3 ``,``; a bulk string in RESP2)
``MapReply``          map (RESP3 ``%``; a flat array in RESP2)
``SetReply``          set (RESP3 ``~``; an array in RESP2)
``Push``              out-of-band push (RESP3 ``>``; an array in RESP2)
``Verbatim``          verbatim string (RESP3 ``=``; a bulk string in RESP2)
``BigNumber``         big number (RESP3 ``(``; a bulk string in RESP2)
``Bool``              boolean (RESP3 ``#``; an integer 0/1 in RESP2)
``NULL_ARRAY``        null array (``*-1`` in RESP2, ``_`` in RESP3)
``NO_REPLY``          nothing on the wire (the answer travels as pushes, or replies are off)
====================  ==========================================================
"""

from __future__ import annotations

from typing import Any, Union


class Status(str):
    """A simple string reply such as ``OK`` or ``QUEUED``."""

    __slots__ = ()


class ErrorReply(Exception):
    """An error reply. The message starts with the error code (``ERR``, ``WRONGTYPE`` ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return self.message.split(" ", 1)[0]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ErrorReply) and other.message == self.message

    def __hash__(self) -> int:
        return hash(("ErrorReply", self.message))

    def __repr__(self) -> str:
        return f"ErrorReply({self.message!r})"


class Double(float):
    """A double reply; RESP2 clients receive it as a bulk string.

    ``text`` overrides how it is printed, for the replies Redis formats its own way (GEOPOS
    prints coordinates as ``%.17Lf`` with trailing zeros removed).
    """

    __slots__ = ("text",)

    def __new__(cls, value: float, text: bytes | None = None) -> "Double":
        obj = super().__new__(cls, value)
        obj.text = text
        return obj


class BigNumber(int):
    """A big number reply; RESP2 clients receive it as a bulk string."""

    __slots__ = ()


class Bool(int):
    """A boolean reply; RESP2 clients receive it as an integer."""

    __slots__ = ()


class MapReply(list):
    """A map, stored as a list of ``(key, value)`` pairs to keep order and allow any key."""

    __slots__ = ()


class SetReply(list):
    """A set reply (RESP3 ``~``); an ordinary array for RESP2 clients."""

    __slots__ = ()


class Push(list):
    """An out-of-band push message (pub/sub, invalidation, monitor)."""

    __slots__ = ()


class Verbatim(bytes):
    """A verbatim string with a three-letter format (``txt`` or ``mkd``)."""

    fmt: str

    def __new__(cls, data: bytes, fmt: str = "txt") -> "Verbatim":
        obj = super().__new__(cls, data)
        obj.fmt = fmt
        return obj


class _NullArray:
    """The RESP2 null array (``*-1``), as BLPOP returns on timeout."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"

    def __bool__(self) -> bool:
        return False


NULL_ARRAY = _NullArray()


class _NoReply:
    """A command that answers only through pushes (SUBSCRIBE) or not at all (CLIENT REPLY OFF).

    Front ends write the session's pending pushes and nothing else.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_REPLY"

    def __bool__(self) -> bool:
        return False


NO_REPLY = _NoReply()

OK = Status("OK")
QUEUED = Status("QUEUED")
PONG = Status("PONG")

Reply = Union[bytes, int, None, list, Status, ErrorReply, Double, Any]
