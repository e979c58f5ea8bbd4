"""String commands: unit tests on the manual clock, and differential runs against Redis."""

from __future__ import annotations

import pytest

from redislab.protocol import ErrorReply


def test_set_get_and_options(run, engine):
    assert run("SET k v") == "OK"
    assert run("GET k") == b"v"
    assert run("SET k w NX") is None
    assert run("SET k w XX GET") == b"v"
    assert run("SET n 1 NX GET") is None
    assert run("SET k v EX 10") == "OK"
    assert engine.db(0).ttl_ms(b"k") == 10_000


def test_set_expiry_on_manual_clock(run, engine, clock):
    run("SET k v PX 1500")
    clock.advance(1.5)
    assert run("GET k") == b"v"  # expired strictly after the deadline
    clock.advance(0.001)
    assert run("GET k") is None


def test_incrbyfloat_uses_long_double_formatting(run):
    run("SET f 10.5")
    assert run("INCRBYFLOAT f 0.1") == b"10.6"
    run("SET g 5.0e3")
    assert run("INCRBYFLOAT g 2.0e2") == b"5200"


def test_failed_command_changes_nothing(run):
    run("SET k notanumber")
    assert isinstance(run("INCR k"), ErrorReply)
    assert run("GET k") == b"notanumber"


STRING_SCRIPT = r"""
SET k v
GET k
GET missing
SET k v2 NX
SET k v3 XX
SET k v4 XX GET
SET nk 1 NX GET
SET k v KEEPTTL
SET k v EX 0
SET k v EX -1
SET k v PX 0
SET k v EX notanint
SET k v EX 10 PX 10
SET k v NX XX
SET k v KEEPTTL EX 10
SET k v EX 9223372036854775807
SET k v EX 9223372036854775
SET k v BADOPT
SET k v EX
SET k
SETNX k x
SETNX k2 x
SETEX k3 0 v
SETEX k3 -5 v
SETEX k3 10
PSETEX k4 abc v
GETSET k newv
GETSET fresh v
GETDEL k
GETDEL k
MSET a 1 b 2 c 3
MSET a 1 b
MSETNX a 9 z 9
MSETNX y 1 z 2
MGET a b missing y z
APPEND a 23
APPEND newappend hello
GET a
STRLEN a
STRLEN missing
GETRANGE newappend 0 -1
GETRANGE newappend 1 3
GETRANGE newappend -3 -1
GETRANGE newappend -1 -3
GETRANGE newappend 10 20
GETRANGE newappend 0 100
GETRANGE missing 0 -1
GETRANGE newappend x 1
SUBSTR newappend 1 2
SETRANGE sr 5 hi
GET sr
SETRANGE sr 0 HELLO
SETRANGE sr -1 x
SETRANGE empty 0 ""
EXISTS empty
SETRANGE sr 1 ""
INCR counter
INCRBY counter 41
DECR counter
DECRBY counter 10
DECRBY counter -9223372036854775808
INCRBY counter notanumber
INCRBY counter 9223372036854775807
SET big 9223372036854775807
INCR big
SET small -9223372036854775808
DECR small
SET sp " 1"
INCR sp
SET lz 01
INCR lz
SET plus +1
INCR plus
INCRBYFLOAT fl 1.5
INCRBYFLOAT fl 0.1
INCRBYFLOAT fl -1.6
INCRBYFLOAT fl abc
INCRBYFLOAT fl inf
INCRBYFLOAT fl 1e308
INCRBYFLOAT fl2 3.0e3
INCRBYFLOAT fl3 5.0e-3
SET lcs1 ohmytext
SET lcs2 mynewtext
LCS lcs1 lcs2
LCS lcs1 lcs2 LEN
LCS lcs1 lcs2 IDX
LCS lcs1 lcs2 IDX MINMATCHLEN 4 WITHMATCHLEN
LCS lcs1 lcs2 IDX WITHMATCHLEN
LCS lcs1 lcs2 LEN IDX
LCS lcs1 missing
LCS lcs1 lcs2 BOGUS
"""


def test_strings_match_redis(differ):
    differ.check_all(STRING_SCRIPT)


def test_strings_match_redis_resp3(differ3):
    differ3.check_all(STRING_SCRIPT)


def test_getex_matches_redis(differ):
    differ.check_all("""
    SET k v
    GETEX k
    GETEX k EX 100
    GETEX k PERSIST
    GETEX k PX 0
    GETEX k EX 10 PX 10
    GETEX k PERSIST EX 10
    GETEX k BOGUS
    GETEX missing EX 10
    GETEX k EXAT 1
    EXISTS k
    """)


def test_incrbyfloat_result_is_an_embstr(differ):
    # The float's text is stored as it is: "3" stays an embstr, sized as one, until a write
    # in place turns it into a raw string.
    differ.check_all("""
    SET f 1.5
    INCRBYFLOAT f 1.5
    OBJECT ENCODING f
    MEMORY USAGE f
    DUMP f
    APPEND f 1
    OBJECT ENCODING f
    MEMORY USAGE f
    INCRBYFLOAT g 12345678901234567
    OBJECT ENCODING g
    MEMORY USAGE g
    INCR g
    OBJECT ENCODING g
    INCRBYFLOAT h 2
    SETBIT h 1 1
    OBJECT ENCODING h
    GET h
    INCRBYFLOAT k 2
    SETRANGE k 0 9
    OBJECT ENCODING k
    MEMORY USAGE k
    INCRBYFLOAT m 0.5
    OBJECT ENCODING m
    """)
