"""List commands (t_list.c): pushes, pops, ranges, LPOS, LINSERT, LMOVE and LMPOP.

A list is a :class:`ListValue` (a deque: O(1) at both ends, as a quicklist is). Redis never
keeps an empty list: every command that can empty one deletes the key and reports ``del``.
The pop and move logic lives in private helpers (``_pop_generic``, ``_pop_range``,
``_lmove_generic``, ``_mpop_generic``) so that the blocking variants can serve a waiting
client with exactly the same effects as the plain commands.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any

from ...protocol.reply import NULL_ARRAY, OK, ErrorReply
from .. import errors
from ..args import LLONG_MIN, OUT_OF_RANGE, SYNTAX, parse_int, to_int
from ..keyspace import WRONGTYPE
from ..structures.quicklist import Layout
from ..values import ListValue
from .strings import rewrite

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

NO_SUCH_KEY = ErrorReply(errors.NO_SUCH_KEY)
INDEX_OUT_OF_RANGE = ErrorReply(errors.INDEX_OUT_OF_RANGE)
COUNT_POSITIVE = ErrorReply(errors.COUNT_POSITIVE)
NUMKEYS_POSITIVE = ErrorReply("ERR numkeys should be greater than 0")
RANK_ZERO = ErrorReply("ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                       "second ... or use negative to start from the end of the list")
COUNT_NEGATIVE = ErrorReply("ERR COUNT can't be negative")
MAXLEN_NEGATIVE = ErrorReply("ERR MAXLEN can't be negative")


def _lookup_write(db: "Database", key: bytes) -> ListValue | None:
    v = db.get_for_write(key)
    if v is not None and type(v) is not ListValue:
        raise WRONGTYPE
    return v


def _lookup_read(db: "Database", key: bytes) -> ListValue | None:
    v = db.get(key)
    if v is not None and type(v) is not ListValue:
        raise WRONGTYPE
    return v


def _side(arg: bytes) -> bool:
    """LEFT or RIGHT (any case) -> True for the head; anything else is a syntax error."""
    word = arg.upper()
    if word == b"LEFT":
        return True
    if word == b"RIGHT":
        return False
    raise SYNTAX


def _range(lst: ListValue, start: int, end: int) -> list[bytes]:
    """Elements start..end (inclusive, negative from the tail) as LRANGE clamps them."""
    n = len(lst)
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return []
    if end >= n:
        end = n - 1
    if start == 0 and end == n - 1:
        return list(lst)
    if start <= n - 1 - end:
        return list(islice(lst, start, end + 1))
    # Closer to the tail: walk from there, as the quicklist iterator would.
    out = list(islice(reversed(lst), n - 1 - end, n - start))
    out.reverse()
    return out


# ---------------------------------------------------------------------------------------------
# Pushes

def _layout(c: "Session", lst: ListValue) -> Layout:
    """The node layout of ``lst``, built from its elements the first time it is needed."""
    nodes = lst.nodes
    if nodes is None:
        nodes = lst.nodes = Layout.pushed(lst, c.engine.config["list-max-listpack-size"])
    return nodes


def _push_generic(c: "Session", argv: list[bytes], left: bool, only_existing: bool) -> int:
    db = c.db
    key = argv[1]
    lst = db.get_for_write(key)
    created = False
    if lst is None:
        if only_existing:
            return 0
        lst = ListValue()
        db.add(key, lst)
        created = True
    elif type(lst) is not ListValue:
        raise WRONGTYPE
    n = len(argv) - 2
    if left:
        layout = lst.nodes
        if layout is None:
            layout = _layout(c, lst)
        if n == 1:
            layout.push_head(argv[2])
        else:
            for item in islice(argv, 2, None):
                layout.push_head(item)
    elif lst.nodes is not None:
        push = lst.nodes.push_tail
        for item in islice(argv, 2, None):
            push(item)
    if n == 1:
        if left:
            lst.appendleft(argv[2])
        else:
            lst.append(argv[2])
    elif left:
        lst.extendleft(islice(argv, 2, None))
    else:
        lst.extend(islice(argv, 2, None))
    c.work += n
    db.changed(key, "lpush" if left else "rpush", "l", n)
    if created:
        db.signal_ready(key)
    return len(lst)


def lpush_command(c: "Session", argv: list[bytes]) -> Any:
    return _push_generic(c, argv, True, False)


def rpush_command(c: "Session", argv: list[bytes]) -> Any:
    return _push_generic(c, argv, False, False)


def lpushx_command(c: "Session", argv: list[bytes]) -> Any:
    return _push_generic(c, argv, True, True)


def rpushx_command(c: "Session", argv: list[bytes]) -> Any:
    return _push_generic(c, argv, False, True)


def _push_one(c: "Session", key: bytes, lst: ListValue | None, value: bytes, left: bool) -> None:
    """The push half of LMOVE (lmoveHandlePush): create the list if needed, push, notify."""
    db = c.db
    created = lst is None
    if lst is None:
        lst = ListValue()
        db.add(key, lst)
    if left:
        _layout(c, lst).push_head(value)
        lst.appendleft(value)
    else:
        if lst.nodes is not None:
            lst.nodes.push_tail(value)
        lst.append(value)
    db.changed(key, "lpush" if left else "rpush", "l", 0)
    if created:
        db.signal_ready(key)


# ---------------------------------------------------------------------------------------------
# Pops

def _elements_removed(c: "Session", key: bytes, lst: ListValue, left: bool, count: int) -> None:
    """listElementsRemoved: notify the pop, delete the key if the list is now empty."""
    db = c.db
    db.changed(key, "lpop" if left else "rpop", "l", count)
    if not lst:
        db.delete(key)
        db.changed(key, "del", "g", 0)


def _pop_range(c: "Session", key: bytes, lst: ListValue, left: bool, count: int) -> list[bytes]:
    """Pop up to ``count`` elements from one end, in pop order, with all the side effects."""
    n = len(lst)
    if count >= n:
        out = list(lst)
        if not left:
            out.reverse()
        lst.clear()
        count = n
    elif left:
        pop = lst.popleft
        out = [pop() for _ in range(count)]
        _layout_after_pop(c, lst, out, True)
    else:
        pop = lst.pop
        out = [pop() for _ in range(count)]
        _layout_after_pop(c, lst, out, False)
    c.work += count
    _elements_removed(c, key, lst, left, count)
    return out


def _layout_after_pop(c: "Session", lst: ListValue, popped: list[bytes], left: bool) -> None:
    """Take popped elements out of the layout. Pops at the tail of a list only ever appended
    to leave what RPUSH would have built, so such a list still needs none."""
    if left:
        if lst.nodes is None:
            # Built from the elements as they were before the pop.
            lst.nodes = Layout.pushed(popped + list(lst),
                                      c.engine.config["list-max-listpack-size"])
        lst.nodes.pop_head(popped)
    elif lst.nodes is not None:
        lst.nodes.pop_tail(popped)


def _pop_one(c: "Session", key: bytes, lst: ListValue, left: bool) -> bytes:
    value = lst.popleft() if left else lst.pop()
    _layout_after_pop(c, lst, [value], left)
    c.work += 1
    _elements_removed(c, key, lst, left, 1)
    return value


def _pop_generic(c: "Session", key: bytes, left: bool, count: int = -1) -> Any:
    """LPOP/RPOP on one key: ``count`` -1 pops one element (bulk reply), else an array.

    Returns None (single) or NULL_ARRAY (with a count) when the key does not exist.
    """
    db = c.db
    lst = db.get_for_write(key)
    if lst is None:
        return None if count < 0 else NULL_ARRAY
    if type(lst) is not ListValue:
        raise WRONGTYPE
    if count < 0:
        value = lst.popleft() if left else lst.pop()
        _layout_after_pop(c, lst, [value], left)
        c.work += 1
        db.changed(key, "lpop" if left else "rpop", "l")
        if not lst:
            db.delete(key)
            db.changed(key, "del", "g", 0)
        return value
    if count == 0:
        return []
    return _pop_range(c, key, lst, left, count)


def _pop_command(c: "Session", argv: list[bytes], left: bool) -> Any:
    if len(argv) > 3:
        raise errors.wrong_arity("lpop" if left else "rpop")
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count is None or count < 0:
            raise OUT_OF_RANGE
        return _pop_generic(c, argv[1], left, count)
    return _pop_generic(c, argv[1], left)


def lpop_command(c: "Session", argv: list[bytes]) -> Any:
    return _pop_command(c, argv, True)


def rpop_command(c: "Session", argv: list[bytes]) -> Any:
    return _pop_command(c, argv, False)


def _lmove_generic(c: "Session", src: bytes, dst: bytes, from_left: bool,
                   to_left: bool) -> bytes | None:
    """Pop from ``src`` and push onto ``dst`` (LMOVE, RPOPLPUSH and their blocking forms).

    Returns the moved element, or None when the source does not exist (nothing changes).
    A wrong-typed destination is reported only when there is something to move.
    """
    db = c.db
    lst = _lookup_write(db, src)
    if lst is None:
        return None
    dlst = _lookup_write(db, dst)
    value = lst.popleft() if from_left else lst.pop()
    _layout_after_pop(c, lst, [value], from_left)
    # When src is dst this pushes onto the same deque, so a one-element list survives.
    _push_one(c, dst, dlst, value, to_left)
    c.work += 1
    db.changed(src, "lpop" if from_left else "rpop", "l", 1)
    if not lst:
        db.delete(src)
        db.changed(src, "del", "g", 0)
    return value


def lmove_command(c: "Session", argv: list[bytes]) -> Any:
    from_left = _side(argv[3])
    to_left = _side(argv[4])
    return _lmove_generic(c, argv[1], argv[2], from_left, to_left)


def rpoplpush_command(c: "Session", argv: list[bytes]) -> Any:
    return _lmove_generic(c, argv[1], argv[2], False, True)


def _parse_mpop(argv: list[bytes], numkeys_at: int) -> tuple[list[bytes], bool, int]:
    """numkeys key [key ...] LEFT|RIGHT [COUNT count] -> (keys, left, count)."""
    numkeys = parse_int(argv[numkeys_at])
    if numkeys is None or numkeys < 1:
        raise NUMKEYS_POSITIVE
    where_at = numkeys_at + numkeys + 1
    if where_at >= len(argv):
        raise SYNTAX
    left = _side(argv[where_at])
    count = -1
    j = where_at + 1
    n = len(argv)
    while j < n:
        if count == -1 and argv[j].upper() == b"COUNT" and j + 1 < n:
            count = parse_int(argv[j + 1])  # type: ignore[assignment]
            if count is None or count < 1:
                raise COUNT_POSITIVE
            j += 2
        else:
            raise SYNTAX
    if count == -1:
        count = 1
    return argv[numkeys_at + 1:where_at], left, count


def _mpop_generic(c: "Session", keys: list[bytes], left: bool, count: int,
                  nested: bool = True) -> list[Any] | None:
    """Pop from the first non-empty list among ``keys``.

    Returns ``[key, [elements...]]`` (LMPOP) or, with ``nested=False`` and one element,
    ``[key, element]`` (BLPOP/BRPOP); None when every key is missing. A wrong-typed key met
    before a non-empty list raises WRONGTYPE.
    """
    db = c.db
    for key in keys:
        lst = _lookup_write(db, key)
        if lst is None:
            continue
        if not nested:
            return [key, _pop_one(c, key, lst, left)]
        n = len(lst)
        out = _pop_range(c, key, lst, left, count)
        rewrite(c, [b"LPOP" if left else b"RPOP", key, b"%d" % min(count, n)])
        return [key, out]
    return None


def lmpop_command(c: "Session", argv: list[bytes]) -> Any:
    keys, left, count = _parse_mpop(argv, 1)
    reply = _mpop_generic(c, keys, left, count)
    return NULL_ARRAY if reply is None else reply


# ---------------------------------------------------------------------------------------------
# Reads

def llen_command(c: "Session", argv: list[bytes]) -> Any:
    lst = _lookup_read(c.db, argv[1])
    return 0 if lst is None else len(lst)


def lindex_command(c: "Session", argv: list[bytes]) -> Any:
    lst = _lookup_read(c.db, argv[1])
    if lst is None:
        return None
    index = to_int(argv[2])
    n = len(lst)
    if index < 0:
        index += n
    if 0 <= index < n:
        c.work += min(index, n - index)
        return lst[index]
    return None


def lrange_command(c: "Session", argv: list[bytes]) -> Any:
    start = to_int(argv[2])
    end = to_int(argv[3])
    lst = _lookup_read(c.db, argv[1])
    if lst is None:
        return []
    out = _range(lst, start, end)
    c.work += len(out)
    return out


def lpos_command(c: "Session", argv: list[bytes]) -> Any:
    element = argv[2]
    rank, count, maxlen = 1, -1, 0
    j, n = 3, len(argv)
    while j < n:
        opt = argv[j].upper()
        more = j + 1 < n
        if opt == b"RANK" and more:
            rank = to_int(argv[j + 1])
            if rank == 0:
                raise RANK_ZERO
        elif opt == b"COUNT" and more:
            v = parse_int(argv[j + 1])
            if v is None or v < 0:
                raise COUNT_NEGATIVE
            count = v
        elif opt == b"MAXLEN" and more:
            v = parse_int(argv[j + 1])
            if v is None or v < 0:
                raise MAXLEN_NEGATIVE
            maxlen = v
        else:
            raise SYNTAX
        j += 2
    lst = _lookup_read(c.db, argv[1])
    if lst is None:
        return [] if count != -1 else None
    from_tail = rank < 0
    # Redis negates the rank in a C long: LLONG_MIN stays negative, so every match counts
    # from the first one on, and the COUNT limit (computed with an overflow) never triggers.
    unlimited = rank == LLONG_MIN
    if from_tail:
        rank = -rank
    size = len(lst)
    it = reversed(lst) if from_tail else iter(lst)
    if maxlen:
        it = islice(it, maxlen)
    matches = 0
    found: list[int] = []
    visited = 0
    for index, item in enumerate(it):
        visited = index + 1
        if item == element:
            matches += 1
            if matches >= rank or unlimited:
                found.append(size - index - 1 if from_tail else index)
                if count == -1:
                    break
                if count and not unlimited and len(found) >= count:
                    break
    c.work += visited
    if count != -1:
        return found
    return found[0] if found else None


# ---------------------------------------------------------------------------------------------
# Edits

def lset_command(c: "Session", argv: list[bytes]) -> Any:
    db = c.db
    key = argv[1]
    lst = _lookup_write(db, key)
    if lst is None:
        raise NO_SUCH_KEY
    index = to_int(argv[2])
    n = len(lst)
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise INDEX_OUT_OF_RANGE
    _layout(c, lst).replace(index, lst[index], argv[3])
    lst[index] = argv[3]
    c.work += min(index, n - index)
    db.changed(key, "lset", "l")
    return OK


def linsert_command(c: "Session", argv: list[bytes]) -> Any:
    where = argv[2].upper()
    if where == b"AFTER":
        after = True
    elif where == b"BEFORE":
        after = False
    else:
        raise SYNTAX
    db = c.db
    key = argv[1]
    lst = _lookup_write(db, key)
    if lst is None:
        return 0
    try:
        index = lst.index(argv[3])
    except ValueError:
        c.work += len(lst)
        return -1
    _layout(c, lst).insert(lst, index, argv[4], after)
    lst.insert(index + 1 if after else index, argv[4])
    c.work += index + 1
    db.changed(key, "linsert", "l")
    return len(lst)


def lrem_command(c: "Session", argv: list[bytes]) -> Any:
    limit = to_int(argv[2])
    db = c.db
    key = argv[1]
    lst = _lookup_write(db, key)
    if lst is None:
        return 0
    element = argv[3]
    n = len(lst)
    from_tail = limit < 0
    if from_tail:
        limit = -limit  # -LLONG_MIN is 2**63: larger than any list, so "all" as in Redis
    if limit == 0 or limit >= n:
        if element not in lst:
            c.work += n
            return 0
        layout = _layout(c, lst)
        layout.remove([i for i, x in enumerate(lst) if x == element], _Same(element))
        kept = [x for x in lst if x != element]
        removed = n - len(kept)
        lst.clear()
        lst.extend(kept)
        c.work += n
    else:
        items = list(reversed(lst)) if from_tail else list(lst)
        kept = []
        removed = 0
        stop = n
        for i, x in enumerate(items):
            if x == element:
                removed += 1
                if removed == limit:
                    stop = i + 1
                    break
            else:
                kept.append(x)
        c.work += stop
        if removed:
            hits = [i for i, x in enumerate(islice(items, stop)) if x == element]
            positions = sorted(n - 1 - i for i in hits) if from_tail else hits
            _layout(c, lst).remove(positions, _Same(element))
            kept.extend(items[stop:])
            if from_tail:
                kept.reverse()
            lst.clear()
            lst.extend(kept)
    if removed:
        db.changed(key, "lrem", "l", removed)
        if not lst:
            db.delete(key)
            db.changed(key, "del", "g", 0)
    return removed


def ltrim_command(c: "Session", argv: list[bytes]) -> Any:
    start = to_int(argv[2])
    end = to_int(argv[3])
    db = c.db
    key = argv[1]
    lst = _lookup_write(db, key)
    if lst is None:
        return OK
    n = len(lst)
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        ltrim, rtrim = n, 0
    else:
        if end >= n:
            end = n - 1
        ltrim, rtrim = start, n - end - 1
    removed = ltrim + rtrim
    if 0 < removed < n:
        # quicklistDelRange at each end: nodes shrink or go, none merge.
        layout = _layout(c, lst)
        layout.pop_head(islice(lst, ltrim))
        layout.pop_tail(islice(reversed(lst), rtrim))
    if removed >= n:
        lst.clear()
    elif removed > n - removed:
        kept = list(islice(lst, ltrim, n - rtrim))
        lst.clear()
        lst.extend(kept)
    else:
        pop = lst.popleft
        for _ in range(ltrim):
            pop()
        pop = lst.pop
        for _ in range(rtrim):
            pop()
    c.work += removed
    db.changed(key, "ltrim", "l", removed)
    if not lst:
        db.delete(key)
        db.changed(key, "del", "g", 0)
    return OK


class _Same:
    """The same element at every index (LREM removes copies of one value)."""

    __slots__ = ("item",)

    def __init__(self, item: bytes) -> None:
        self.item = item

    def __getitem__(self, _index: int) -> bytes:
        return self.item
