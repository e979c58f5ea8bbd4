"""Streams: differential runs against real Redis, plus node layout and group bookkeeping."""

from __future__ import annotations

from redislab.engine.structures.stream import Stream, count_rax_nodes

BASIC = r"""
XADD s 1-1 a 1
XADD s 1-2 b 2 c 3
XADD s 1-* a 4
XADD s 2 a 5
XADD s 1-1 a 1
XADD s 0-0 a 1
XADD s 0 a 1
XADD s 3-1 a
XADD s BOGUS a 1
XADD s - a 1
XADD s + a 1
XADD s NOMKSTREAM 9-1 a 1
XADD nope NOMKSTREAM 1-1 a 1
XLEN nope
XADD s 18446744073709551615-18446744073709551615 a 1
XADD s 5-1 a 1
XLEN s
XLEN missing
XRANGE s - +
XRANGE s - + COUNT 2
XRANGE s - + COUNT 0
XRANGE s - + COUNT -1
XRANGE s (1-1 +
XRANGE s 1 1
XRANGE s (1 2
XRANGE s - (2-0
XRANGE s 2 1
XRANGE s x +
XRANGE s - + BOGUS
XRANGE missing - +
XREVRANGE s + -
XREVRANGE s + - COUNT 1
XREVRANGE s (2-0 -
XDEL s 1-2 9-9
XDEL s 1-2
XDEL s x
XRANGE s - +
XLEN s
SET str x
XADD str 1-1 a 1
XRANGE str - +
XLEN str
"""


def test_basic_stream_commands(differ):
    differ.check_all(BASIC)


def test_basic_stream_commands_resp3(differ3):
    differ3.check_all(BASIC)


def test_trimming_exact_and_approximate(differ):
    args = []
    for i in range(1, 451):
        args.append(f"XADD t {i}-1 field{i % 3} {'x' * (i % 7)}")
    differ.check_all("\n".join(args))
    differ.check_all("""
    XTRIM t MAXLEN ~ 300
    XLEN t
    XTRIM t MAXLEN = 250
    XLEN t
    XTRIM t MINID ~ 300
    XLEN t
    XTRIM t MINID 320-0
    XLEN t
    XRANGE t - + COUNT 3
    XTRIM t MAXLEN ~ 10 LIMIT 50
    XLEN t
    XTRIM t MAXLEN 10 LIMIT 50
    XTRIM t MAXLEN -1
    XTRIM t LIMIT 10
    XTRIM t
    XTRIM t MAXLEN 5 MINID 1
    XADD t MAXLEN ~ 20 1000-1 a 1
    XLEN t
    XADD t MAXLEN 20 1001-1 a 1
    XLEN t
    XADD t LIMIT 5 1002-1 a 1
    XADD t MAXLEN = 0 1003-1 a 1
    XLEN t
    XINFO STREAM t
    """)


def test_large_entries_close_nodes_by_bytes(differ):
    lines = [f"XADD big {i}-0 f {'v' * 900}" for i in range(1, 30)]
    lines += ["XTRIM big MAXLEN ~ 12", "XLEN big", "XINFO STREAM big"]
    differ.check_all("\n".join(lines))


GROUPS = """
    XGROUP CREATE g grp $
    XGROUP CREATE g grp $ MKSTREAM
    XGROUP CREATE g grp $ MKSTREAM
    XGROUP CREATE g grp2 0 ENTRIESREAD 0
    XGROUP CREATE g grp3 0 ENTRIESREAD -5
    XGROUP CREATE g grp3 0 BOGUS
    XADD g 1-1 a 1
    XADD g 2-1 b 2
    XADD g 3-1 c 3
    XINFO GROUPS g
    XREADGROUP GROUP grp alice COUNT 1 STREAMS g >
    XREADGROUP GROUP grp bob STREAMS g >
    XREADGROUP GROUP grp bob STREAMS g >
    XREADGROUP GROUP grp bob STREAMS g 0
    XREADGROUP GROUP grp alice STREAMS g 0
    XREADGROUP GROUP grp alice STREAMS g $
    XREADGROUP GROUP nogrp alice STREAMS g >
    XREADGROUP GROUP grp alice STREAMS g
    XREADGROUP STREAMS g >
    XREAD GROUP grp alice STREAMS g >
    XREAD STREAMS g >
    XREAD COUNT 2 STREAMS g 0
    XREAD STREAMS g missing 0 0
    XREAD STREAMS g $
    XPENDING g grp
    XPENDING g grp - + 10 bob
    XPENDING g grp - + 10 nobody
    XPENDING g nogrp
    XPENDING g grp - +
    XACK g grp 1-1 9-9
    XACK g grp x
    XACK g nogrp 1-1
    XPENDING g grp
    XINFO GROUPS g
    XGROUP SETID g grp 0
    XINFO GROUPS g
    XGROUP SETID g grp $ ENTRIESREAD 3
    XINFO GROUPS g
    XGROUP SETID g nogrp 0
    XGROUP CREATECONSUMER g grp carol
    XGROUP CREATECONSUMER g grp carol
    XGROUP DELCONSUMER g grp bob
    XGROUP DELCONSUMER g grp nobody
    XPENDING g grp
    XGROUP DESTROY g grp2
    XGROUP DESTROY g grp2
    XGROUP DESTROY missing grp
    XINFO GROUPS g
    XINFO STREAM missing
    XDEL g 2-1
    XINFO STREAM g
    XREADGROUP GROUP grp3 dave NOACK STREAMS g >
    XPENDING g grp3
    """


def _check_masking_idle(d, script):
    """Like check_all, but XPENDING's idle times (real milliseconds) are not compared."""
    from redislab.protocol import split_args

    for line in script.strip().splitlines():
        args = split_args(line.strip())
        if not args:
            continue
        if args[0].upper() == b"XPENDING" and len(args) > 3:
            ours, theirs = d.both(*args)
            strip = lambda r: r if r[0] != "list" else [  # noqa: E731
                x[1][:2] + x[1][3:] if isinstance(x, tuple) and x[0] == "list" else x
                for x in r[1]]
            assert strip(ours) == strip(theirs), args
        else:
            d.check(*args)


def test_consumer_groups(differ):
    _check_masking_idle(differ, GROUPS)


def test_consumer_groups_resp3(differ3):
    _check_masking_idle(differ3, GROUPS)


def test_claiming(differ):
    _check_masking_idle(differ, """
    XADD c 1-1 a 1
    XADD c 2-1 b 2
    XADD c 3-1 c 3
    XGROUP CREATE c g 0
    XREADGROUP GROUP g alice STREAMS c >
    XCLAIM c g bob 0 1-1 2-1 JUSTID
    XCLAIM c g bob 0 9-9
    XCLAIM c g bob 0 9-9 FORCE
    XCLAIM c g bob 0 3-1 RETRYCOUNT 7 JUSTID
    XCLAIM c g bob x 1-1
    XCLAIM c g bob 0 1-1 BOGUS
    XCLAIM c nogrp bob 0 1-1
    XCLAIM c g bob 0 1-1 LASTID 10-0 JUSTID
    XINFO GROUPS c
    XDEL c 2-1
    XAUTOCLAIM c g carol 0 0 COUNT 1
    XAUTOCLAIM c g carol 0 0 JUSTID
    XAUTOCLAIM c g carol 0 0 COUNT 0
    XAUTOCLAIM c g carol 0 (0
    XAUTOCLAIM c nogrp carol 0 0
    XPENDING c g - + 10 carol
    """)


def test_xsetid(differ):
    differ.check_all("""
    XADD x 5-5 a 1
    XSETID x 1-1
    XSETID x 10-0
    XSETID x 11-0 ENTRIESADDED 0
    XSETID x 11-0 ENTRIESADDED 5 MAXDELETEDID 3-0
    XSETID x 11-0 MAXDELETEDID 12-0
    XSETID missing 1-1
    XSETID x 12-0 BOGUS
    XINFO STREAM x
    XADD x 11-9 a 1
    XADD x 12-* a 1
    """)


def test_blocking_xread_is_served_by_xadd(engine):
    reader = engine.session()
    writer = engine.session()
    got = []
    reader.on_unblocked = lambda s, reply: got.append(reply)
    marker = reader.execute("XREAD", "BLOCK", "0", "STREAMS", "q", "$")
    assert type(marker).__name__ == "Blocked"
    writer.execute("XADD", "q", "1-1", "k", "v")
    assert got == [[[b"q", [[b"1-1", [b"k", b"v"]]]]]]


def test_blocking_xread_times_out_on_the_clock(engine):
    reader = engine.session()
    got = []
    reader.on_unblocked = lambda s, reply: got.append(reply)
    reader.execute("XREAD", "BLOCK", "1500", "STREAMS", "q", "$")
    engine.advance(1.4)
    assert got == []
    engine.advance(0.2)
    assert len(got) == 1 and not got[0]


def test_rax_node_count():
    assert count_rax_nodes([b"\x00" * 16]) == 2
    a, b, cc = (b"\x00" * 15 + bytes([i]) for i in (1, 2, 3))
    assert count_rax_nodes([a, b]) == 4
    assert count_rax_nodes([a, b, cc]) == 5


def test_node_layout_follows_entry_limit():
    s = Stream()
    for i in range(1, 251):
        s.append((i, 0), [b"f", b"v"], 4096, 100)
    assert [len(n.entries) for n in s.nodes] == [100, 100, 50]


def test_xdel_on_a_missing_key_does_not_parse_ids(differ):
    differ.check_all("""
    XDEL nosuchkey bogus
    XADD s 1-1 f v
    XDEL s bogus
    XDEL s 1-1 bogus
    XLEN s
    """)


def test_xsetid_may_go_below_the_recorded_max_deleted_id(differ):
    differ.check_all("""
    XADD s 1-1 f v
    XDEL s 1-1
    XSETID s 0-5
    XINFO STREAM s
    XGROUP CREATE e g 0-0 MKSTREAM
    XSETID e 0-1 MAXDELETEDID 0-1
    XSETID e 0
    XINFO STREAM e
    XSETID e 0-0 MAXDELETEDID 0-1
    """)
