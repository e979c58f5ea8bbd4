"""Stream commands (t_stream.c): XADD, ranges, trimming, XREAD, consumer groups, XINFO."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import NULL_ARRAY, OK, ErrorReply, MapReply, Status
from ..args import SYNTAX, parse_int, parse_timeout, to_int
from ..keyspace import WRONGTYPE
from ..session import Blocked
from ..structures.stream import (
    INVALID_ENTRIES_READ, MAX_ID, MIN_ID, NACK, U64, Consumer, ConsumerGroup, Entry, Stream,
    StreamID, decr_id, format_id, incr_id,
)
from ..values import register_type
from .strings import rewrite

if TYPE_CHECKING:
    from ..keyspace import Database
    from ..session import Session

register_type(Stream, "stream")

INVALID_ID = ErrorReply("ERR Invalid stream ID specified as stream command argument")
NOT_GREATER = ErrorReply(
    "ERR The ID specified in XADD is equal or smaller than the target stream top item")


# ---------------------------------------------------------------------------------------------
# ID parsing (streamGenericParseIDOrReply)

def _strtoull(text: bytes) -> int | None:
    """string2ull: string2ll for the common case, else strtoull's looser rules."""
    v = parse_int(text)
    if v is not None:
        return v if v >= 0 else None
    t = text.lstrip(b" \t\n\r\v\f")
    neg = False
    if t[:1] in (b"+", b"-"):
        neg = t[:1] == b"-"
        t = t[1:]
    if not t or not t.isdigit():
        return None
    v = int(t)
    if v > U64:
        return None
    return (-v) & U64 if neg else v


def parse_id(data: bytes, missing_seq: int = 0, strict: bool = False,
             allow_auto_seq: bool = False) -> tuple[StreamID, bool]:
    """Parse ``ms-seq``; returns the ID and whether the sequence was given (``ms-*``)."""
    if len(data) > 127:
        raise INVALID_ID
    if data in (b"-", b"+"):
        if strict:
            raise INVALID_ID
        return (MIN_ID if data == b"-" else MAX_ID), True
    cut = data.find(b"-")
    head = data if cut < 0 else data[:cut]
    ms = _strtoull(head)
    if ms is None:
        raise INVALID_ID
    if cut < 0:
        return (ms, missing_seq), True
    tail = data[cut + 1:]
    if allow_auto_seq and tail == b"*":
        return (ms, 0), False
    seq = _strtoull(tail)
    if seq is None:
        raise INVALID_ID
    return (ms, seq), True


def parse_interval(data: bytes, missing_seq: int) -> tuple[StreamID, bool]:
    """An interval bound: ``(`` makes it exclusive."""
    if len(data) > 1 and data[:1] == b"(":
        sid, _ = parse_id(data[1:], missing_seq, strict=True)
        return sid, True
    sid, _ = parse_id(data, missing_seq)
    return sid, False


def _entry_reply(e: Entry) -> list[Any]:
    return [format_id(e.id), e.pairs()]


def _lookup(c: "Session", key: bytes, write: bool = False) -> Stream | None:
    db = c.db
    v = db.get_for_write(key) if write else db.get(key)
    if v is not None and type(v) is not Stream:
        raise WRONGTYPE
    return v


def _config(c: "Session") -> tuple[int, int]:
    cfg = c.engine.config
    return cfg["stream-node-max-bytes"], cfg["stream-node-max-entries"]


# ---------------------------------------------------------------------------------------------
# XADD / XTRIM

class _TrimArgs:
    __slots__ = ("strategy", "maxlen", "minid", "approx", "limit", "arg_index", "nomkstream",
                 "id", "id_given", "seq_given")

    def __init__(self) -> None:
        self.strategy = ""
        self.maxlen = 0
        self.minid: StreamID = MIN_ID
        self.approx = False
        self.limit = 0
        self.arg_index = 0
        self.nomkstream = False
        self.id: StreamID = MIN_ID
        self.id_given = False
        self.seq_given = True


def _parse_add_or_trim(c: "Session", argv: list[bytes], xadd: bool) -> tuple[_TrimArgs, int]:
    a = _TrimArgs()
    limit_given = False
    i = 2
    n = len(argv)
    while i < n:
        more = n - 1 - i
        opt = argv[i]
        up = opt.upper()
        if xadd and opt == b"*":
            break
        elif up == b"MAXLEN" and more:
            if a.strategy:
                raise ErrorReply("ERR syntax error, MAXLEN and MINID options at the same "
                                 "time are not compatible")
            a.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt == b"~":
                a.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            a.maxlen = to_int(argv[i + 1])
            if a.maxlen < 0:
                raise ErrorReply("ERR The MAXLEN argument must be >= 0.")
            i += 1
            a.strategy = "maxlen"
            a.arg_index = i
        elif up == b"MINID" and more:
            if a.strategy:
                raise ErrorReply("ERR syntax error, MAXLEN and MINID options at the same "
                                 "time are not compatible")
            a.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt == b"~":
                a.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            a.minid, _ = parse_id(argv[i + 1], 0, strict=True)
            i += 1
            a.strategy = "minid"
            a.arg_index = i
        elif up == b"LIMIT" and more:
            a.limit = to_int(argv[i + 1])
            if a.limit < 0:
                raise ErrorReply("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and up == b"NOMKSTREAM":
            a.nomkstream = True
        elif xadd:
            a.id, a.seq_given = parse_id(opt, 0, strict=True, allow_auto_seq=True)
            a.id_given = True
            break
        else:
            raise SYNTAX
        i += 1
    if a.limit and not a.strategy:
        raise ErrorReply("ERR syntax error, LIMIT cannot be used without specifying a "
                         "trimming strategy")
    if not xadd and not a.strategy:
        raise ErrorReply("ERR syntax error, XTRIM must be called with a trimming strategy")
    if c.kind == "aof-loader":
        # Commands read from an AOF obey: their threshold was rewritten to be exact.
        a.limit = 0
    elif limit_given:
        if not a.approx:
            raise ErrorReply("ERR syntax error, LIMIT cannot be used without the special ~ "
                             "option")
    elif a.approx:
        a.limit = 100 * c.engine.config["stream-node-max-entries"]
        if a.limit <= 0 or a.limit > 1_000_000:
            a.limit = 10000
    else:
        a.limit = 0
    return a, i


def _trim(s: Stream, a: _TrimArgs) -> int:
    return s.trim(a.maxlen if a.strategy == "maxlen" else None,
                  a.minid if a.strategy == "minid" else None, a.approx, a.limit)


def _exact_trim_args(argv: list[bytes], s: Stream, a: _TrimArgs,
                     options_end: int) -> list[bytes]:
    """streamRewriteApproxSpecifier + streamRewriteTrimArgument: an approximate trim is
    propagated as the exact trim it turned out to be (``=`` and the resulting length or
    first ID), so AOF replay and replicas cut exactly the same entries. The LIMIT pair is
    dropped: it only bounds approximate trimming."""
    out = list(argv)
    out[a.arg_index - 1] = b"="
    if a.strategy == "maxlen":
        out[a.arg_index] = b"%d" % s.length
    else:
        first = s.nodes[0].entries[0].id if s.nodes else MAX_ID
        out[a.arg_index] = format_id(first)
    i = 2
    while i < options_end - 1:
        if out[i].upper() == b"LIMIT" and i != a.arg_index:
            del out[i:i + 2]
            break
        i += 1
    return out


def xadd_command(c: "Session", argv: list[bytes]) -> Any:
    a, idpos = _parse_add_or_trim(c, argv, True)
    field_pos = idpos + 1
    nfields = len(argv) - field_pos
    if nfields < 2 or nfields % 2 == 1:
        raise ErrorReply("ERR wrong number of arguments for 'xadd' command")
    if a.id_given and a.seq_given and a.id == MIN_ID:
        raise ErrorReply("ERR The ID specified in XADD must be greater than 0-0")
    db = c.db
    key = argv[1]
    s = _lookup(c, key, write=True)
    created = False
    if s is None:
        if a.nomkstream:
            return None
        s = Stream()
        created = True
    if s.last_id == MAX_ID:
        raise ErrorReply("ERR The stream has exhausted the last possible ID, unable to add "
                         "more items")
    if a.id_given:
        if a.seq_given:
            sid: StreamID | None = a.id
        elif s.last_id[0] == a.id[0]:
            if s.last_id[1] == U64:
                raise NOT_GREATER
            sid = (a.id[0], s.last_id[1] + 1)
        else:
            sid = a.id
    else:
        sid = s.next_auto_id(c.engine.now_ms())
    if sid is None or sid <= s.last_id:
        raise NOT_GREATER
    if created:
        db.add(key, s)
    max_bytes, max_entries = _config(c)
    s.append(sid, argv[field_pos:], max_bytes, max_entries)
    db.changed(key, "xadd", "t")
    if a.strategy:
        if _trim(s, a):
            if c.engine.notify_mask:
                c.engine.notify(db.id, "t", "xtrim", key)
    db.signal_ready(key)
    c.work += nfields // 2
    if c.engine.propagate_hooks and not (a.id_given and a.seq_given and not a.approx):
        # Propagate the ID that was generated, and an approximate trim as the exact one.
        out = _exact_trim_args(argv, s, a, idpos) if a.strategy and a.approx \
            else list(argv)
        if not (a.id_given and a.seq_given):
            shift = len(out) - len(argv)
            out[idpos + shift] = format_id(sid)
        rewrite(c, out)
    return format_id(sid)


def xtrim_command(c: "Session", argv: list[bytes]) -> Any:
    a, _ = _parse_add_or_trim(c, argv, False)
    s = _lookup(c, argv[1], write=True)
    if s is None:
        return 0
    deleted = _trim(s, a)
    if deleted:
        c.db.changed(argv[1], "xtrim", "t", dirty=deleted)
        if a.approx:
            rewrite(c, _exact_trim_args(argv, s, a, len(argv)))
    c.work += deleted
    return deleted


def xdel_command(c: "Session", argv: list[bytes]) -> Any:
    # The key is looked up first: a missing key answers 0 whatever the ids look like.
    s = _lookup(c, argv[1], write=True)
    if s is None:
        return 0
    ids = [parse_id(a, 0, strict=True)[0] for a in argv[2:]]
    deleted = 0
    first_deleted = False
    for sid in ids:
        if s.delete(sid):
            deleted += 1
            if sid == s.first_id:
                first_deleted = True
            if sid > s.max_deleted_id:
                s.max_deleted_id = sid
    if deleted:
        if first_deleted or s.length == 0:
            s.refresh_first_id()
        c.db.changed(argv[1], "xdel", "t", dirty=deleted)
    return deleted


def xlen_command(c: "Session", argv: list[bytes]) -> Any:
    s = _lookup(c, argv[1])
    return 0 if s is None else s.length


def xsetid_command(c: "Session", argv: list[bytes]) -> Any:
    sid, _ = parse_id(argv[2], 0, strict=True)
    entries_added = -1
    max_xdel: StreamID = MIN_ID
    i = 3
    while i < len(argv):
        more = len(argv) - 1 - i
        opt = argv[i].upper()
        if opt == b"ENTRIESADDED" and more:
            entries_added = to_int(argv[i + 1])
            if entries_added < 0:
                raise ErrorReply("ERR entries_added must be positive")
            i += 2
        elif opt == b"MAXDELETEDID" and more:
            max_xdel, _ = parse_id(argv[i + 1], 0, strict=True)
            if sid < max_xdel:
                raise ErrorReply("ERR The ID specified in XSETID is smaller than the provided "
                                 "max_deleted_entry_id")
            i += 2
        else:
            raise SYNTAX
    s = _lookup(c, argv[1], write=True)
    if s is None:
        raise ErrorReply("ERR no such key")
    # 7.0 checks the new ID against the top item and a MAXDELETEDID given here, not against
    # the stream's recorded max_deleted_entry_id: an empty stream may go below it.
    if s.length > 0:
        if sid < s.last_valid_id():
            raise ErrorReply("ERR The ID specified in XSETID is smaller than the target "
                             "stream top item")
        if entries_added != -1 and s.length > entries_added:
            raise ErrorReply("ERR The entries_added specified in XSETID is smaller than the "
                             "target stream length")
    s.last_id = sid
    if entries_added != -1:
        s.entries_added = entries_added
    if max_xdel != MIN_ID:
        s.max_deleted_id = max_xdel
    c.db.changed(argv[1], "xsetid", "t")
    return OK


# ---------------------------------------------------------------------------------------------
# XRANGE / XREVRANGE

def _range_generic(c: "Session", argv: list[bytes], reverse: bool) -> Any:
    start_arg, end_arg = (argv[3], argv[2]) if reverse else (argv[2], argv[3])
    start, start_ex = parse_interval(start_arg, 0)
    if start_ex:
        nxt = incr_id(start)
        if nxt is None:
            raise ErrorReply("ERR invalid start ID for the interval")
        start = nxt
    end, end_ex = parse_interval(end_arg, U64)
    if end_ex:
        prv = decr_id(end)
        if prv is None:
            raise ErrorReply("ERR invalid end ID for the interval")
        end = prv
    count = -1
    j = 4
    while j < len(argv):
        if argv[j].upper() == b"COUNT" and j + 1 < len(argv):
            count = to_int(argv[j + 1])
            if count < 0:
                count = 0
            j += 2
        else:
            raise SYNTAX
    s = _lookup(c, argv[1])
    if s is None:
        return []
    if count == 0:
        return NULL_ARRAY
    out = [_entry_reply(e) for e in s.range(start, end, max(count, 0), reverse)]
    c.work += len(out)
    return out


def xrange_command(c: "Session", argv: list[bytes]) -> Any:
    return _range_generic(c, argv, False)


def xrevrange_command(c: "Session", argv: list[bytes]) -> Any:
    return _range_generic(c, argv, True)


# ---------------------------------------------------------------------------------------------
# Consumer helpers

def _nogroup(key: bytes, group: bytes, tail: str = "") -> ErrorReply:
    return ErrorReply("NOGROUP No such key '%s' or consumer group '%s'%s" % (
        key.decode("utf-8", "replace"), group.decode("utf-8", "replace"), tail))


def _consumer(c: "Session", key: bytes, group: ConsumerGroup, name: bytes,
              refresh: bool = True, created: list[bool] | None = None) -> Consumer:
    consumer = group.consumers.get(name)
    now = c.engine.now_ms()
    if consumer is None:
        if created is not None:
            created.append(True)
        consumer = Consumer(name, now)
        group.consumers[name] = consumer
        c.db.changed(key, "xgroup-createconsumer", "t")
    elif refresh:
        consumer.seen_time = now
    return consumer


def _xclaim_argv(key: bytes, group: ConsumerGroup, group_name: bytes, sid: bytes,
                 nack: NACK) -> list[bytes]:
    """streamPropagateXCLAIM: the idempotent XCLAIM that recreates one pending entry."""
    owner = nack.consumer.name if nack.consumer is not None else b""
    return [b"XCLAIM", key, group_name, owner, b"0", sid, b"TIME", b"%d" % nack.delivery_time,
            b"RETRYCOUNT", b"%d" % nack.delivery_count, b"FORCE", b"JUSTID", b"LASTID",
            format_id(group.last_id)]


def _setid_argv(key: bytes, group: ConsumerGroup, group_name: bytes) -> list[bytes]:
    """streamPropagateGroupID."""
    return [b"XGROUP", b"SETID", key, group_name, format_id(group.last_id), b"ENTRIESREAD",
            b"%d" % group.entries_read]


def _read_group_new(c: "Session", s: Stream, group: ConsumerGroup, consumer: Consumer,
                    start: StreamID, count: int, noack: bool,
                    effects: list[list[bytes]] | None = None, key: bytes = b"",
                    group_name: bytes = b"") -> list[Any]:
    now = c.engine.now_ms()
    out = []
    delivered = False
    for e in list(s.range(start, MAX_ID, count)):
        s.deliver(group, e.id)
        delivered = True
        if not noack:
            nack = group.pel.get(e.id)
            if nack is None:
                nack = NACK(now, 1, consumer)
                group.pel[e.id] = nack
                consumer.pel[e.id] = nack
            else:
                if nack.consumer is not None:
                    nack.consumer.pel.pop(e.id, None)
                nack.consumer = consumer
                nack.delivery_time = now
                nack.delivery_count = 1
                consumer.pel[e.id] = nack
            if effects is not None:
                effects.append(_xclaim_argv(key, group, group_name, format_id(e.id), nack))
        out.append(_entry_reply(e))
    if delivered and effects is not None:
        effects.append(_setid_argv(key, group, group_name))
    return out


def _read_group_history(c: "Session", s: Stream, consumer: Consumer, start: StreamID,
                        count: int) -> list[Any]:
    now = c.engine.now_ms()
    out: list[Any] = []
    for sid in consumer.pel.irange(minimum=start):
        if count and len(out) >= count:
            break
        e = s.find(sid)
        if e is None:
            out.append([format_id(sid), NULL_ARRAY])
        else:
            nack = consumer.pel[sid]
            nack.delivery_time = now
            nack.delivery_count += 1
            out.append(_entry_reply(e))
    return out


# ---------------------------------------------------------------------------------------------
# XREAD / XREADGROUP

def _xread_generic(c: "Session", argv: list[bytes], group_mode: bool) -> Any:
    timeout = -1
    count = 0
    streams_arg = 0
    group_name = consumer_name = None
    noack = False
    name = "xreadgroup" if group_mode else "xread"
    i = 1
    n = len(argv)
    while i < n:
        more = n - i - 1
        opt = argv[i].upper()
        if opt == b"BLOCK" and more:
            if c.in_script:
                raise ErrorReply(f"ERR {argv[0].decode('utf-8', 'replace')} command is not "
                                 "allowed with BLOCK option from scripts")
            i += 1
            timeout = parse_timeout(argv[i], c.engine.now_ms(), seconds=False)
        elif opt == b"COUNT" and more:
            i += 1
            count = to_int(argv[i])
            if count < 0:
                count = 0
        elif opt == b"STREAMS" and more:
            streams_arg = i + 1
            total = n - streams_arg
            if total % 2:
                symbol = ">" if group_mode else "$"
                raise ErrorReply(f"ERR Unbalanced '{name}' list of streams: for each stream "
                                 f"key an ID or '{symbol}' must be specified.")
            break
        elif opt == b"GROUP" and more >= 2:
            if not group_mode:
                raise ErrorReply("ERR The GROUP option is only supported by XREADGROUP. You "
                                 "called XREAD instead.")
            group_name, consumer_name = argv[i + 1], argv[i + 2]
            i += 2
        elif opt == b"NOACK":
            if not group_mode:
                raise ErrorReply("ERR The NOACK option is only supported by XREADGROUP. You "
                                 "called XREAD instead.")
            noack = True
        else:
            raise SYNTAX
        i += 1
    if not streams_arg:
        raise SYNTAX
    if group_mode and group_name is None:
        raise ErrorReply("ERR Missing GROUP option for XREADGROUP")
    nstreams = (n - streams_arg) // 2
    keys = argv[streams_arg:streams_arg + nstreams]
    ids: list[StreamID] = []
    groups: list[ConsumerGroup | None] = []
    for k, raw in zip(keys, argv[streams_arg + nstreams:]):
        s = _lookup(c, k)
        group = None
        if group_name is not None:
            group = s.groups.get(group_name) if s is not None else None
            if group is None:
                raise ErrorReply(
                    "NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with "
                    "GROUP option" % (k.decode("utf-8", "replace"),
                                      group_name.decode("utf-8", "replace")))
        groups.append(group)
        if raw == b"$":
            if group_mode:
                raise ErrorReply("ERR The $ ID is meaningless in the context of XREADGROUP: "
                                 "you want to read the history of this consumer by specifying "
                                 "a proper ID, or use the > ID to get new messages. The $ ID "
                                 "would just return an empty result set.")
            ids.append(s.last_id if s is not None else MIN_ID)
        elif raw == b">":
            if not group_mode:
                raise ErrorReply("ERR The > ID can be specified only when calling XREADGROUP "
                                 "using the GROUP <group> <consumer> option.")
            ids.append(MAX_ID)
        else:
            ids.append(parse_id(raw, 0, strict=True)[0])

    def attempt() -> Any:
        result: list[tuple[bytes, list[Any]]] = []
        # What a group read propagates instead of itself (Redis calls it with propagation
        # prevented and emits these effects).
        effects: list[list[bytes]] | None = [] if group_mode else None
        dirty_before = c.engine.dirty
        for idx, key in enumerate(keys):
            s = _lookup(c, key)
            if s is None:
                continue
            gt = ids[idx]
            group = groups[idx]
            history = False
            if group is not None:
                if group_name is not None and s.groups.get(group_name) is not group:
                    continue
                if gt != MAX_ID:
                    history = True
                elif s.length and s.last_valid_id() > group.last_id:
                    gt = group.last_id
                else:
                    continue
            elif not (s.length and s.last_valid_id() > gt):
                continue
            start = incr_id(gt) or MAX_ID
            if group is not None:
                assert consumer_name is not None and group_name is not None
                created: list[bool] = []
                consumer = _consumer(c, key, group, consumer_name, created=created)
                if created and noack and effects is not None:
                    effects.append([b"XGROUP", b"CREATECONSUMER", key, group_name,
                                    consumer_name])
                if history:
                    entries = _read_group_history(c, s, consumer, start, count)
                else:
                    entries = _read_group_new(c, s, group, consumer, start, count, noack,
                                              effects, key, group_name)
                c.engine.dirty += 1
            else:
                entries = [_entry_reply(e) for e in s.range(start, MAX_ID, count)]
            c.work += len(entries)
            result.append((key, entries))
        if effects is not None and c.engine.dirty != dirty_before:
            rewrite(c, *effects)
        if not result:
            return None
        if c.resp == 3:
            return MapReply(result)
        return [[k, v] for k, v in result]

    reply = attempt()
    if reply is not None:
        return reply
    if timeout == -1 or c.no_block or c.in_exec or c.in_script:
        return NULL_ARRAY

    def retry() -> Any:
        # A group deleted while we waited answers with NOGROUP, as in Redis.
        for idx, key in enumerate(keys):
            group = groups[idx]
            if group is not None and group_name is not None:
                s = _lookup(c, key)
                if s is None or s.groups.get(group_name) is not group:
                    return ErrorReply("NOGROUP the consumer group this client was blocked on "
                                      "no longer exists")
        got = attempt()
        return got if got is not None else blocked

    blocked = Blocked(list(keys), timeout, retry, lambda: NULL_ARRAY)
    return blocked


def xread_command(c: "Session", argv: list[bytes]) -> Any:
    return _xread_generic(c, argv, False)


def xreadgroup_command(c: "Session", argv: list[bytes]) -> Any:
    return _xread_generic(c, argv, True)


# ---------------------------------------------------------------------------------------------
# XGROUP

def _xgroup_target(c: "Session", argv: list[bytes], need_group: bool
                   ) -> tuple[Stream | None, ConsumerGroup | None]:
    s = _lookup(c, argv[2], write=True)
    group = s.groups.get(argv[3]) if s is not None else None
    if need_group and group is None:
        raise ErrorReply("NOGROUP No such consumer group '%s' for key name '%s'" % (
            argv[3].decode("utf-8", "replace"), argv[2].decode("utf-8", "replace")))
    return s, group


_NEED_KEY = ErrorReply("ERR The XGROUP subcommand requires the key to exist. Note that for "
                       "CREATE you may want to use the MKSTREAM option to create an empty "
                       "stream automatically.")


def _subcommand_syntax(argv: list[bytes]) -> ErrorReply:
    return ErrorReply("ERR unknown subcommand or wrong number of arguments for '%s'. Try "
                      "XGROUP HELP." % argv[1].decode("utf-8", "replace"))


def xgroup_create_command(c: "Session", argv: list[bytes]) -> Any:
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    i = 5
    while i < len(argv):
        opt = argv[i].upper()
        if opt == b"MKSTREAM":
            mkstream = True
            i += 1
        elif opt == b"ENTRIESREAD" and i + 1 < len(argv):
            entries_read = to_int(argv[i + 1])
            if entries_read < 0 and entries_read != INVALID_ENTRIES_READ:
                raise ErrorReply("ERR value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise _subcommand_syntax(argv)
    s, group = _xgroup_target(c, argv, False)
    if s is None and not mkstream:
        raise _NEED_KEY
    if len(argv) > 8:
        raise _subcommand_syntax(argv)
    if argv[4] == b"$":
        sid = s.last_id if s is not None else MIN_ID
    else:
        sid, _ = parse_id(argv[4], 0, strict=True)
    db = c.db
    if s is None:
        s = Stream()
        db.add(argv[2], s)
        db.signal_modified(argv[2])
    if argv[3] in s.groups:
        raise ErrorReply("BUSYGROUP Consumer Group name already exists")
    s.groups[argv[3]] = ConsumerGroup(argv[3], sid, entries_read)
    db.changed(argv[2], "xgroup-create", "t")
    return OK


def xgroup_setid_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) not in (5, 7):
        raise _subcommand_syntax(argv)
    s, group = _xgroup_target(c, argv, False)
    if s is None:
        raise _NEED_KEY
    if group is None:
        raise ErrorReply("NOGROUP No such consumer group '%s' for key name '%s'" % (
            argv[3].decode("utf-8", "replace"), argv[2].decode("utf-8", "replace")))
    if argv[4] == b"$":
        sid = s.last_id
    else:
        sid, _ = parse_id(argv[4], 0)
    entries_read = INVALID_ENTRIES_READ
    if len(argv) == 7:
        if argv[5].upper() != b"ENTRIESREAD":
            raise _subcommand_syntax(argv)
        entries_read = to_int(argv[6])
        if entries_read < 0 and entries_read != INVALID_ENTRIES_READ:
            raise ErrorReply("ERR value for ENTRIESREAD must be positive or -1")
    group.last_id = sid
    group.entries_read = entries_read
    c.db.changed(argv[2], "xgroup-setid", "t")
    return OK


def xgroup_destroy_command(c: "Session", argv: list[bytes]) -> Any:
    s, group = _xgroup_target(c, argv, False)
    if s is None:
        raise _NEED_KEY
    if group is None:
        return 0
    del s.groups[argv[3]]
    c.db.changed(argv[2], "xgroup-destroy", "t")
    c.db.signal_ready(argv[2])
    return 1


def xgroup_createconsumer_command(c: "Session", argv: list[bytes]) -> Any:
    s, group = _xgroup_target(c, argv, False)
    if s is None:
        raise _NEED_KEY
    if group is None:
        raise ErrorReply("NOGROUP No such consumer group '%s' for key name '%s'" % (
            argv[3].decode("utf-8", "replace"), argv[2].decode("utf-8", "replace")))
    if argv[4] in group.consumers:
        return 0
    _consumer(c, argv[2], group, argv[4])
    return 1


def xgroup_delconsumer_command(c: "Session", argv: list[bytes]) -> Any:
    s, group = _xgroup_target(c, argv, False)
    if s is None:
        raise _NEED_KEY
    if group is None:
        raise ErrorReply("NOGROUP No such consumer group '%s' for key name '%s'" % (
            argv[3].decode("utf-8", "replace"), argv[2].decode("utf-8", "replace")))
    consumer = group.consumers.get(argv[4])
    if consumer is None:
        return 0
    pending = len(consumer.pel)
    for sid in list(consumer.pel):
        group.pel.pop(sid, None)
    del group.consumers[argv[4]]
    c.db.changed(argv[2], "xgroup-delconsumer", "t")
    return pending


def xgroup_help_command(c: "Session", argv: list[bytes]) -> Any:
    return [Status(line) for line in (
        "XGROUP <subcommand> [<arg> ...]. Subcommands:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a consumer group starting after <id> ($ = the stream's last entry).",
        "    Options: MKSTREAM (create an empty stream if missing), ENTRIESREAD <n>.",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Add a consumer to a group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove a consumer and its pending entries.",
        "DESTROY <key> <groupname>",
        "    Delete a consumer group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Move a group's last delivered ID.",
        "HELP",
        "    Show this text.",
    )]


# ---------------------------------------------------------------------------------------------
# XACK / XPENDING / XCLAIM / XAUTOCLAIM

def xack_command(c: "Session", argv: list[bytes]) -> Any:
    s = _lookup(c, argv[1])
    group = s.groups.get(argv[2]) if s is not None else None
    if group is None:
        return 0
    ids = [parse_id(a, 0, strict=True)[0] for a in argv[3:]]
    acked = 0
    for sid in ids:
        nack = group.pel.pop(sid, None)
        if nack is not None:
            if nack.consumer is not None:
                nack.consumer.pel.pop(sid, None)
            acked += 1
    if acked:
        c.engine.dirty += acked
    return acked


def xpending_command(c: "Session", argv: list[bytes]) -> Any:
    n = len(argv)
    if n != 3 and (n < 6 or n > 9):
        raise SYNTAX
    min_idle = 0
    count = 0
    consumer_name = None
    start, end = MIN_ID, MAX_ID
    if n >= 6:
        at = 3
        if argv[3].upper() == b"IDLE":
            min_idle = to_int(argv[4])
            if n < 8:
                raise SYNTAX
            at += 2
        count = to_int(argv[at + 2])
        if count < 0:
            count = 0
        start, ex = parse_interval(argv[at], 0)
        if ex:
            nxt = incr_id(start)
            if nxt is None:
                raise ErrorReply("ERR invalid start ID for the interval")
            start = nxt
        end, ex = parse_interval(argv[at + 1], U64)
        if ex:
            prv = decr_id(end)
            if prv is None:
                raise ErrorReply("ERR invalid end ID for the interval")
            end = prv
        if at + 3 < n:
            consumer_name = argv[at + 3]
    s = _lookup(c, argv[1])
    group = s.groups.get(argv[2]) if s is not None else None
    if group is None:
        raise _nogroup(argv[1], argv[2])
    if n == 3:
        if not group.pel:
            return [0, None, None, NULL_ARRAY]
        owners = []
        for name, consumer in group.consumers.items():
            if consumer.pel:
                owners.append([name, b"%d" % len(consumer.pel)])
        return [len(group.pel), format_id(group.pel.keys()[0]),
                format_id(group.pel.keys()[-1]), owners]
    pel = group.pel
    if consumer_name is not None:
        consumer = group.consumers.get(consumer_name)
        if consumer is None:
            return []
        pel = consumer.pel
    now = c.engine.now_ms()
    out: list[Any] = []
    for sid in pel.irange(minimum=start, maximum=end):
        if not count:
            break
        nack = pel[sid]
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        count -= 1
        owner = nack.consumer.name if nack.consumer is not None else b""
        out.append([format_id(sid), owner, max(0, now - nack.delivery_time),
                    nack.delivery_count])
    return out


def xclaim_command(c: "Session", argv: list[bytes]) -> Any:
    s = _lookup(c, argv[1])
    group = s.groups.get(argv[2]) if s is not None else None
    if s is None or group is None:
        raise _nogroup(argv[1], argv[2])
    min_idle = to_int(argv[4], ErrorReply("ERR Invalid min-idle-time argument for XCLAIM"))
    if min_idle < 0:
        min_idle = 0
    j = 5
    ids: list[StreamID] = []
    while j < len(argv):
        try:
            ids.append(parse_id(argv[j], 0, strict=True)[0])
        except ErrorReply:
            break
        j += 1
    now = c.engine.now_ms()
    retry = -1
    delivery = -1
    force = justid = False
    last_id = MIN_ID
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].upper()
        if opt == b"FORCE":
            force = True
        elif opt == b"JUSTID":
            justid = True
        elif opt == b"IDLE" and more:
            j += 1
            delivery = now - to_int(argv[j], ErrorReply(
                "ERR Invalid IDLE option argument for XCLAIM"))
        elif opt == b"TIME" and more:
            j += 1
            delivery = to_int(argv[j], ErrorReply("ERR Invalid TIME option argument for XCLAIM"))
        elif opt == b"RETRYCOUNT" and more:
            j += 1
            retry = to_int(argv[j], ErrorReply(
                "ERR Invalid RETRYCOUNT option argument for XCLAIM"))
        elif opt == b"LASTID" and more:
            j += 1
            last_id, _ = parse_id(argv[j], 0, strict=True)
        else:
            raise ErrorReply("ERR Unrecognized XCLAIM option '%s'"
                             % argv[j].decode("utf-8", "replace"))
        j += 1
    propagate_last_id = False
    effects: list[list[bytes]] = []
    dirty_before = c.engine.dirty
    if last_id > group.last_id:
        group.last_id = last_id
        propagate_last_id = True
        c.engine.dirty += 1
    if delivery != -1:
        if delivery < 0 or delivery > now:
            delivery = now
    else:
        delivery = now
    consumer: Consumer | None = None
    out: list[Any] = []
    for sid in ids:
        nack = group.pel.get(sid)
        if not s.exists(sid):
            if nack is not None:
                effects.append(_xclaim_argv(argv[1], group, argv[2], format_id(sid), nack))
                propagate_last_id = False
                del group.pel[sid]
                if nack.consumer is not None:
                    nack.consumer.pel.pop(sid, None)
                c.engine.dirty += 1
            continue
        if force and nack is None:
            nack = NACK(now, 1, None)
            group.pel[sid] = nack
        if nack is None:
            continue
        if nack.consumer is not None and min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _consumer(c, argv[1], group, argv[3])
        if nack.consumer is not consumer and nack.consumer is not None:
            nack.consumer.pel.pop(sid, None)
        nack.delivery_time = delivery
        if retry >= 0:
            nack.delivery_count = retry
        elif not justid:
            nack.delivery_count += 1
        if nack.consumer is not consumer:
            consumer.pel[sid] = nack
            nack.consumer = consumer
        if justid:
            out.append(format_id(sid))
        else:
            e = s.find(sid)
            out.append(_entry_reply(e) if e is not None else None)
        effects.append(_xclaim_argv(argv[1], group, argv[2], format_id(sid), nack))
        propagate_last_id = False
        c.engine.dirty += 1
    if propagate_last_id:
        effects.append(_setid_argv(argv[1], group, argv[2]))
    if c.engine.dirty != dirty_before:
        rewrite(c, *effects)
    return out


def xautoclaim_command(c: "Session", argv: list[bytes]) -> Any:
    min_idle = to_int(argv[4], ErrorReply("ERR Invalid min-idle-time argument for XAUTOCLAIM"))
    if min_idle < 0:
        min_idle = 0
    start, ex = parse_interval(argv[5], 0)
    if ex:
        nxt = incr_id(start)
        if nxt is None:
            raise ErrorReply("ERR invalid start ID for the interval")
        start = nxt
    count = 100
    justid = False
    j = 6
    max_count = (2**63 - 1) // 16
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].upper()
        if opt == b"COUNT" and more:
            v = parse_int(argv[j + 1])
            if v is None:
                raise ErrorReply("ERR value is not an integer or out of range")
            if v < 1 or v > max_count:
                raise ErrorReply("ERR COUNT must be > 0")
            count = v
            j += 1
        elif opt == b"JUSTID":
            justid = True
        else:
            raise SYNTAX
        j += 1
    s = _lookup(c, argv[1])
    group = s.groups.get(argv[2]) if s is not None else None
    if s is None or group is None:
        raise _nogroup(argv[1], argv[2])
    attempts = count * 10
    now = c.engine.now_ms()
    consumer: Consumer | None = None
    claimed: list[Any] = []
    deleted: list[bytes] = []
    effects: list[list[bytes]] = []
    dirty_before = c.engine.dirty
    keys = list(group.pel.irange(minimum=start))
    pos = 0
    while attempts > 0 and count > 0 and pos < len(keys):
        attempts -= 1
        sid = keys[pos]
        pos += 1
        nack = group.pel[sid]
        if not s.exists(sid):
            effects.append(_xclaim_argv(argv[1], group, argv[2], format_id(sid), nack))
            del group.pel[sid]
            if nack.consumer is not None:
                nack.consumer.pel.pop(sid, None)
            deleted.append(format_id(sid))
            count -= 1
            c.engine.dirty += 1
            continue
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _consumer(c, argv[1], group, argv[3])
        if nack.consumer is not consumer and nack.consumer is not None:
            nack.consumer.pel.pop(sid, None)
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        if nack.consumer is not consumer:
            consumer.pel[sid] = nack
            nack.consumer = consumer
        if justid:
            claimed.append(format_id(sid))
        else:
            e = s.find(sid)
            claimed.append(_entry_reply(e) if e is not None else None)
        effects.append(_xclaim_argv(argv[1], group, argv[2], format_id(sid), nack))
        count -= 1
        c.engine.dirty += 1
    if c.engine.dirty != dirty_before:
        rewrite(c, *effects)
    cursor = format_id(keys[pos]) if pos < len(keys) else b"0-0"
    return [cursor, claimed, deleted]


# ---------------------------------------------------------------------------------------------
# XINFO

def _entry_or_nil(e: Entry | None) -> Any:
    return _entry_reply(e) if e is not None else None


def xinfo_stream_command(c: "Session", argv: list[bytes]) -> Any:
    full = False
    count = 10
    if len(argv) > 3:
        if argv[3].upper() != b"FULL":
            raise SYNTAX
        full = True
        if len(argv) > 4:
            if len(argv) != 6 or argv[4].upper() != b"COUNT":
                raise SYNTAX
            count = to_int(argv[5])
            if count < 0:
                count = 10
    s = _lookup(c, argv[2])
    if s is None:
        raise ErrorReply("ERR no such key")
    head: list[tuple[bytes, Any]] = [
        (b"length", s.length),
        (b"radix-tree-keys", s.rax_keys()),
        (b"radix-tree-nodes", s.rax_nodes()),
        (b"last-generated-id", format_id(s.last_id)),
        (b"max-deleted-entry-id", format_id(s.max_deleted_id)),
        (b"entries-added", s.entries_added),
        (b"recorded-first-entry-id", format_id(s.first_id)),
    ]
    if not full:
        head += [
            (b"groups", len(s.groups)),
            (b"first-entry", _entry_or_nil(s.first_entry())),
            (b"last-entry", _entry_or_nil(s.last_entry())),
        ]
        return MapReply(head)
    entries = [_entry_reply(e) for e in s.range(MIN_ID, MAX_ID, count)]
    groups = []
    for group in s.groups.values():
        lag = s.group_lag(group)
        pel = []
        for sid, nack in list(group.pel.items())[: count or None]:
            owner = nack.consumer.name if nack.consumer is not None else b""
            pel.append([format_id(sid), owner, nack.delivery_time, nack.delivery_count])
        consumers = []
        for consumer in group.consumers.values():
            cpel = [[format_id(sid), n.delivery_time, n.delivery_count]
                    for sid, n in list(consumer.pel.items())[: count or None]]
            consumers.append(MapReply([
                (b"name", consumer.name),
                (b"seen-time", consumer.seen_time),
                (b"pel-count", len(consumer.pel)),
                (b"pending", cpel),
            ]))
        groups.append(MapReply([
            (b"name", group.name),
            (b"last-delivered-id", format_id(group.last_id)),
            (b"entries-read", group.entries_read
             if group.entries_read != INVALID_ENTRIES_READ else None),
            (b"lag", lag),
            (b"pel-count", len(group.pel)),
            (b"pending", pel),
            (b"consumers", consumers),
        ]))
    head += [(b"entries", entries), (b"groups", groups)]
    return MapReply(head)


def xinfo_groups_command(c: "Session", argv: list[bytes]) -> Any:
    s = _lookup(c, argv[2])
    if s is None:
        raise ErrorReply("ERR no such key")
    out = []
    for group in s.groups.values():
        out.append(MapReply([
            (b"name", group.name),
            (b"consumers", len(group.consumers)),
            (b"pending", len(group.pel)),
            (b"last-delivered-id", format_id(group.last_id)),
            (b"entries-read", group.entries_read
             if group.entries_read != INVALID_ENTRIES_READ else None),
            (b"lag", s.group_lag(group)),
        ]))
    return out


def xinfo_consumers_command(c: "Session", argv: list[bytes]) -> Any:
    s = _lookup(c, argv[2])
    if s is None:
        raise ErrorReply("ERR no such key")
    group = s.groups.get(argv[3])
    if group is None:
        raise ErrorReply("NOGROUP No such consumer group '%s' for key name '%s'" % (
            argv[3].decode("utf-8", "replace"), argv[2].decode("utf-8", "replace")))
    now = c.engine.now_ms()
    out = []
    for consumer in group.consumers.values():
        out.append(MapReply([
            (b"name", consumer.name),
            (b"pending", len(consumer.pel)),
            (b"idle", max(0, now - consumer.seen_time)),
        ]))
    return out


def xinfo_help_command(c: "Session", argv: list[bytes]) -> Any:
    return [Status(line) for line in (
        "XINFO <subcommand> [<arg> ...]. Subcommands:",
        "CONSUMERS <key> <groupname>",
        "    The consumers of a group, with their pending counts and idle times.",
        "GROUPS <key>",
        "    The consumer groups of a stream.",
        "STREAM <key> [FULL [COUNT <count>]]",
        "    Facts about a stream; FULL adds its entries, groups and pending lists.",
        "HELP",
        "    Show this text.",
    )]
