"""Blocking pops (t_list.c, t_zset.c): BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOP*, BZMPOP.

Each tries its non-blocking twin first. With nothing to pop the client waits on its keys
(see engine/blocking.py); a later push serves waiting clients in the order they arrived, and
what a served client did is propagated as the plain pop. Inside MULTI or a script there is no
waiting: the command answers as if its timeout had passed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ...protocol.reply import NULL_ARRAY
from ..args import parse_timeout
from ..session import Blocked
from .lists import _lmove_generic, _mpop_generic, _parse_mpop, _side
from .sorted_sets import _zmpop_parse, _zpop_generic
from .strings import rewrite

if TYPE_CHECKING:
    from ..session import Session


def _wait(c: "Session", keys: list[bytes], deadline: int, attempt: Callable[[], Any],
          on_timeout: Callable[[], Any] = lambda: NULL_ARRAY) -> Any:
    """Serve now if possible, else park the client until ``attempt`` succeeds."""
    reply = attempt()
    if reply is not None:
        return reply
    if c.no_block or c.in_exec or c.in_script:
        return on_timeout()

    def retry() -> Any:
        got = attempt()
        return got if got is not None else blocked

    blocked = Blocked(list(keys), deadline, retry, on_timeout)
    return blocked


def _timeout(c: "Session", arg: bytes) -> int:
    return parse_timeout(arg, c.engine.now_ms(), seconds=True)


# ---------------------------------------------------------------------------------------------
# Lists

def _blocking_pop(c: "Session", argv: list[bytes], left: bool) -> Any:
    deadline = _timeout(c, argv[-1])
    keys = argv[1:-1]

    def attempt() -> Any:
        reply = _mpop_generic(c, keys, left, 1, nested=False)
        if reply is not None:
            rewrite(c, [b"LPOP" if left else b"RPOP", reply[0]])
        return reply

    return _wait(c, keys, deadline, attempt)


def blpop_command(c: "Session", argv: list[bytes]) -> Any:
    return _blocking_pop(c, argv, True)


def brpop_command(c: "Session", argv: list[bytes]) -> Any:
    return _blocking_pop(c, argv, False)


def _blocking_move(c: "Session", src: bytes, dst: bytes, from_left: bool, to_left: bool,
                   timeout_arg: bytes) -> Any:
    deadline = _timeout(c, timeout_arg)

    def attempt() -> Any:
        value = _lmove_generic(c, src, dst, from_left, to_left)
        if value is not None:
            rewrite(c, [b"LMOVE", src, dst, b"LEFT" if from_left else b"RIGHT",
                        b"LEFT" if to_left else b"RIGHT"])
        return value

    if c.no_block or c.in_exec or c.in_script:
        # Redis answers a plain null here (not the null array of a timeout).
        return attempt()
    return _wait(c, [src], deadline, attempt)


def blmove_command(c: "Session", argv: list[bytes]) -> Any:
    from_left = _side(argv[3])
    to_left = _side(argv[4])
    return _blocking_move(c, argv[1], argv[2], from_left, to_left, argv[5])


def brpoplpush_command(c: "Session", argv: list[bytes]) -> Any:
    return _blocking_move(c, argv[1], argv[2], False, True, argv[3])


def blmpop_command(c: "Session", argv: list[bytes]) -> Any:
    deadline = _timeout(c, argv[1])
    keys, left, count = _parse_mpop(argv, 2)

    def attempt() -> Any:
        return _mpop_generic(c, keys, left, count)

    return _wait(c, keys, deadline, attempt)


# ---------------------------------------------------------------------------------------------
# Sorted sets

def _blocking_zpop(c: "Session", argv: list[bytes], where_max: bool) -> Any:
    deadline = _timeout(c, argv[-1])
    keys = argv[1:-1]

    def attempt() -> Any:
        reply, key = _zpop_generic(c, keys, where_max, -1, True, False, True)
        if key is None:
            return None
        rewrite(c, [b"ZPOPMAX" if where_max else b"ZPOPMIN", key])
        return reply

    return _wait(c, keys, deadline, attempt)


def bzpopmin_command(c: "Session", argv: list[bytes]) -> Any:
    return _blocking_zpop(c, argv, False)


def bzpopmax_command(c: "Session", argv: list[bytes]) -> Any:
    return _blocking_zpop(c, argv, True)


def bzmpop_command(c: "Session", argv: list[bytes]) -> Any:
    deadline = _timeout(c, argv[1])
    keys, where_max, count = _zmpop_parse(argv, 2)

    def attempt() -> Any:
        reply, key = _zpop_generic(c, keys, where_max, count, True, True, True)
        if key is None:
            return None
        rewrite(c, [b"ZPOPMAX" if where_max else b"ZPOPMIN", key, b"%d" % count])
        return reply

    return _wait(c, keys, deadline, attempt)
