"""Random stream and consumer-group sequences run on the engine and on real Redis.

Entry ids are always explicit (``*`` would take each side's own clock). Idle times are the
only readings that depend on when a command ran; they are blanked before comparing.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import rule

from ...support.machines import DiffMachine, run_machine

KEYS = st.sampled_from([b"s1", b"s2", b"str"])
GROUPS = st.sampled_from([b"g1", b"g2"])
CONSUMERS = st.sampled_from([b"c1", b"c2", b"c3"])
MS = st.integers(0, 6)
SEQ = st.integers(0, 3)
FULL_IDS = st.builds(lambda m, s: b"%d-%d" % (m, s), MS, SEQ)
IDS = st.one_of(FULL_IDS, MS.map(lambda m: b"%d" % m),
                st.sampled_from([b"0-0", b"18446744073709551615-18446744073709551615",
                                 b"bogus", b"-1"]))
RANGE_IDS = st.one_of(IDS, st.sampled_from([b"-", b"+"]), FULL_IDS.map(lambda i: b"(" + i))
COUNTS = st.integers(-1, 6).map(lambda n: b"%d" % n)
FIELDS = st.lists(st.tuples(st.sampled_from([b"f", b"g", b"h"]),
                            st.sampled_from([b"1", b"v", b"", b"12345"])),
                  min_size=1, max_size=2)


# MAXLEN/MINID with an optional = or ~ and LIMIT.
TRIMS = st.tuples(st.sampled_from([b"MAXLEN", b"MINID"]), st.sampled_from([None, b"=", b"~"]),
                  st.integers(0, 6), FULL_IDS, st.one_of(st.none(), COUNTS))


def _trim_args(t: Any) -> list[bytes]:
    kind, op, n, sid, limit = t
    args = [kind] + ([op] if op else []) + [b"%d" % n if kind == b"MAXLEN" else sid]
    if limit is not None:
        args += [b"LIMIT", limit]
    return args


def _blank_after(reply: Any, names: tuple[bytes, ...]) -> Any:
    """Replace the value following each of ``names`` in a flat field/value list, nested."""
    if isinstance(reply, tuple) and len(reply) == 2 and isinstance(reply[1], list):
        items = [_blank_after(x, names) for x in reply[1]]
        for i in range(len(items) - 1):
            if items[i] in names:
                items[i + 1] = "<time>"
        return (reply[0], items)
    return reply


def _blank_pending_idle(reply: Any) -> Any:
    # XPENDING's extended form: [id, consumer, idle, deliveries] per entry.
    if isinstance(reply, tuple) and isinstance(reply[1], list):
        out = []
        for entry in reply[1]:
            if isinstance(entry, tuple) and isinstance(entry[1], list) and len(entry[1]) == 4:
                entry = (entry[0], [entry[1][0], entry[1][1], "<idle>", entry[1][3]])
            out.append(entry)
        return (reply[0], out)
    return reply


class StreamMachine(DiffMachine):
    # Small nodes so that trimming, deletion and XINFO's radix figures cross node bounds.
    config = {"stream-node-max-entries": "3"}

    @rule(k=KEYS, sid=st.one_of(IDS, MS.map(lambda m: b"%d-*" % m)), fields=FIELDS,
          nomk=st.booleans(), trim=st.one_of(st.none(), TRIMS))
    def xadd(self, k, sid, fields, nomk, trim):
        args = [b"XADD", k] + ([b"NOMKSTREAM"] if nomk else [])
        if trim is not None:
            args += _trim_args(trim)
        args.append(sid)
        for f, v in fields:
            args += [f, v]
        self.check(*args)

    @rule(k=KEYS, trim=TRIMS)
    def xtrim(self, k, trim):
        self.check(b"XTRIM", k, *_trim_args(trim))

    @rule(k=KEYS, ids=st.lists(IDS, min_size=1, max_size=3))
    def xdel(self, k, ids):
        self.check(b"XDEL", k, *ids)

    @rule(k=KEYS, cmd=st.sampled_from([b"XRANGE", b"XREVRANGE"]), a=RANGE_IDS, b=RANGE_IDS,
          count=st.one_of(st.none(), COUNTS))
    def xrange(self, k, cmd, a, b, count):
        args = [cmd, k, a, b] + ([b"COUNT", count] if count is not None else [])
        self.check(*args)

    @rule(k=KEYS)
    def xlen(self, k):
        self.check(b"XLEN", k)

    @rule(k=KEYS, sid=IDS, added=st.one_of(st.none(), st.integers(0, 30)),
          maxdel=st.one_of(st.none(), FULL_IDS))
    def xsetid(self, k, sid, added, maxdel):
        args = [b"XSETID", k, sid]
        if added is not None:
            args += [b"ENTRIESADDED", b"%d" % added]
        if maxdel is not None:
            args += [b"MAXDELETEDID", maxdel]
        self.check(*args)

    @rule(k=KEYS, g=GROUPS, sid=st.one_of(IDS, st.just(b"$")), mk=st.booleans(),
          read=st.one_of(st.none(), st.integers(-1, 8)))
    def xgroup_create(self, k, g, sid, mk, read):
        args = [b"XGROUP", b"CREATE", k, g, sid] + ([b"MKSTREAM"] if mk else [])
        if read is not None:
            args += [b"ENTRIESREAD", b"%d" % read]
        self.check(*args)

    @rule(k=KEYS, g=GROUPS, sid=st.one_of(IDS, st.just(b"$")),
          read=st.one_of(st.none(), st.integers(-1, 8)))
    def xgroup_setid(self, k, g, sid, read):
        args = [b"XGROUP", b"SETID", k, g, sid]
        if read is not None:
            args += [b"ENTRIESREAD", b"%d" % read]
        self.check(*args)

    @rule(k=KEYS, g=GROUPS, c=CONSUMERS,
          sub=st.sampled_from([b"CREATECONSUMER", b"DELCONSUMER"]))
    def xgroup_consumer(self, k, g, c, sub):
        self.check(b"XGROUP", sub, k, g, c)

    @rule(k=KEYS, g=GROUPS)
    def xgroup_destroy(self, k, g):
        self.check(b"XGROUP", b"DESTROY", k, g)

    @rule(g=GROUPS, c=CONSUMERS, keys=st.lists(KEYS, min_size=1, max_size=2, unique=True),
          start=st.one_of(st.just(b">"), st.just(b">"), FULL_IDS, st.just(b"0")),
          count=st.one_of(st.none(), COUNTS), noack=st.booleans())
    def xreadgroup(self, g, c, keys, start, count, noack):
        args = [b"XREADGROUP", b"GROUP", g, c]
        if count is not None:
            args += [b"COUNT", count]
        if noack:
            args.append(b"NOACK")
        args += [b"STREAMS", *keys] + [start] * len(keys)
        self.check(*args)

    @rule(keys=st.lists(KEYS, min_size=1, max_size=2, unique=True), start=IDS,
          count=st.one_of(st.none(), COUNTS))
    def xread(self, keys, start, count):
        args = [b"XREAD"] + ([b"COUNT", count] if count is not None else [])
        args += [b"STREAMS", *keys] + [start] * len(keys)
        self.check(*args)

    @rule(k=KEYS, g=GROUPS, ids=st.lists(IDS, min_size=1, max_size=3))
    def xack(self, k, g, ids):
        self.check(b"XACK", k, g, *ids)

    @rule(k=KEYS, g=GROUPS)
    def xpending_summary(self, k, g):
        self.check(b"XPENDING", k, g)

    @rule(k=KEYS, g=GROUPS, a=RANGE_IDS, b=RANGE_IDS, count=COUNTS,
          c=st.one_of(st.none(), CONSUMERS))
    def xpending_extended(self, k, g, a, b, count, c):
        args = [b"XPENDING", k, g, a, b, count] + ([c] if c is not None else [])
        self.check(*args, transform=_blank_pending_idle)

    @rule(k=KEYS, g=GROUPS, c=CONSUMERS, ids=st.lists(FULL_IDS, min_size=1, max_size=3),
          opts=st.lists(st.sampled_from([b"JUSTID", b"FORCE", b"RETRYCOUNT", b"IDLE",
                                         b"LASTID"]), max_size=3, unique=True))
    def xclaim(self, k, g, c, ids, opts):
        args = [b"XCLAIM", k, g, c, b"0", *ids]
        for o in opts:
            args.append(o)
            if o == b"RETRYCOUNT":
                args.append(b"5")
            elif o == b"IDLE":
                # Not compared (idle times are blanked), but it must parse the same.
                args.append(b"1000")
            elif o == b"LASTID":
                args.append(b"4-0")
        self.check(*args)

    @rule(k=KEYS, g=GROUPS, c=CONSUMERS, start=st.one_of(FULL_IDS, st.just(b"-")),
          count=st.one_of(st.none(), st.integers(0, 4)), justid=st.booleans())
    def xautoclaim(self, k, g, c, start, count, justid):
        args = [b"XAUTOCLAIM", k, g, c, b"0", start]
        if count is not None:
            args += [b"COUNT", b"%d" % count]
        if justid:
            args.append(b"JUSTID")
        self.check(*args)

    @rule(k=KEYS)
    def xinfo_stream(self, k):
        self.check(b"XINFO", b"STREAM", k)

    @rule(k=KEYS, count=st.one_of(st.none(), st.integers(0, 3)))
    def xinfo_stream_full(self, k, count):
        args = [b"XINFO", b"STREAM", k, b"FULL"] + \
            ([b"COUNT", b"%d" % count] if count is not None else [])
        ours, theirs = self.both(*args)
        ours = _blank_full(ours)
        theirs = _blank_full(theirs)
        assert ours == theirs, f"{args!r}: redislab {ours!r} != redis {theirs!r}"

    @rule(k=KEYS)
    def xinfo_groups(self, k):
        self.check(b"XINFO", b"GROUPS", k)

    @rule(k=KEYS, g=GROUPS)
    def xinfo_consumers(self, k, g):
        self.check(b"XINFO", b"CONSUMERS", k, g, transform=lambda r: _blank_after(r, (b"idle",)))

    @rule(k=KEYS)
    def dump(self, k):
        # Node layout, master entries, flags, group and PEL: the whole value, byte for byte.
        ours, theirs = self.both(b"DUMP", k)
        value = self.session.db.get(k)
        if getattr(value, "groups", None):
            # Delivery and seen times are in the payload as fixed-width milliseconds: with
            # groups only the length can be compared.
            assert len(ours) == len(theirs), (k, ours, theirs)
        else:
            assert ours == theirs, (k, ours, theirs)

    @rule()
    def wrong_type(self):
        self.check(b"SET", b"str", b"x")


def _blank_full(reply: Any) -> Any:
    """XINFO STREAM FULL with its clock readings blanked (seen-time, delivery times)."""
    reply = _blank_after(reply, (b"seen-time",))
    return _blank_pel_times(reply)


def _blank_pel_times(reply: Any) -> Any:
    if not (isinstance(reply, tuple) and isinstance(reply[1], list)):
        return reply
    items = reply[1]
    out = []
    for i, x in enumerate(items):
        if i > 0 and items[i - 1] == b"pending" and isinstance(x, tuple):
            entries = []
            for e in x[1]:
                fields = list(e[1])
                # group PEL: [id, consumer, delivery-time, count]; consumer PEL: [id, time, count]
                fields[-2] = "<time>"
                entries.append((e[0], fields))
            out.append((x[0], entries))
        else:
            out.append(_blank_pel_times(x))
    return (reply[0], out)


def test_stream_machine(redis_server):
    run_machine(StreamMachine, redis_server, examples=100, steps=30)
