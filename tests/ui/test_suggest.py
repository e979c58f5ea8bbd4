"""The suggester: partial input -> remaining-syntax hint and the kinds of word expected next.

The hint cases follow redis-cli's hinting rules (the same behaviour Redis checks with its own
table of input/hint pairs): the word being typed is not matched, adjacent optional arguments
come in any order, repeated arguments repeat, and a word that does not fit ends the hint.
"""

from __future__ import annotations

import pytest

from redislab.engine.commands import TABLE
from redislab.ui.repl.hints import hint_for
from redislab.ui.repl.suggest import Expect, classify, repetitions, suggest, syntax
from redislab.ui.repl.words import scan

SET_EXPIRY = ("[EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds"
              "|KEEPTTL]")

HINTS = [
    # A single argument.
    ("GET ", "key"),
    ("get ", "key"),
    ("GET k ", ""),
    ("GET k extra ", ""),
    # Two required arguments.
    ("INCRBY ", "key increment"),
    ("INCRBY k ", "increment"),
    ("INCRBY k 5 ", ""),
    ("INCRBY k five ", ""),                   # an integer that does not parse ends the hint
    # An optional argument.
    ("RPOP ", "key [count]"),
    ("RPOP k ", "[count]"),
    ("RPOP k 2 ", ""),
    # Optional argument with a token.
    ("XREVRANGE k + - ", "[COUNT count]"),
    ("XREVRANGE k + - CO", "[COUNT count]"),  # a word being typed is not matched yet
    ("XREVRANGE k + - COUNT", "[COUNT count]"),
    ("XREVRANGE k + - COUNT ", "count"),
    ("XREVRANGE k + - count 3 ", ""),
    # Repeated arguments.
    ("DEL ", "key [key ...]"),
    ("DEL a ", "[key ...]"),
    ("DEL a b c ", "[key ...]"),
    ("MSET ", "key value [key value ...]"),
    ("MSET a ", "value [key value ...]"),
    ("MSET a 1 ", "[key value ...]"),
    ("MSET a 1 b ", "value [key value ...]"),
    # Nested optional arguments.
    ("SRANDMEMBER k ", "[count]"),
    ("HRANDFIELD k ", "[count [WITHVALUES]]"),
    ("HRANDFIELD k 2 ", "[WITHVALUES]"),
    ("HRANDFIELD k 2 WITHVALUES ", ""),
    ("HRANDFIELD k two ", ""),
    # Optional arguments in any order.
    ("SCAN 0 ", "[MATCH pattern] [COUNT count] [TYPE type]"),
    ("SCAN 0 COUNT 10 ", "[MATCH pattern] [TYPE type]"),
    ("SCAN 0 TYPE ", "type [MATCH pattern] [COUNT count]"),
    ("SCAN 0 TYPE hash MATCH u:* ", "[COUNT count]"),
    ("ZRANGE k 0 -1 ", "[BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    ("ZRANGE k 0 -1 REV ", "[BYSCORE|BYLEX] [LIMIT offset count] [WITHSCORES]"),
    ("ZRANGE k 0 -1 withscores byscore ", "[REV] [LIMIT offset count]"),
    ("ZRANGE k 0 -1 LIMIT ", "offset count [BYSCORE|BYLEX] [REV] [WITHSCORES]"),
    ("ZRANGE k 0 -1 LIMIT 0 ", "count [BYSCORE|BYLEX] [REV] [WITHSCORES]"),
    # One-of choices.
    ("LMOVE a b ", "LEFT|RIGHT LEFT|RIGHT"),
    ("LMOVE a b RIGHT ", "LEFT|RIGHT"),
    ("LMOVE a b UP ", ""),
    ("SET k v ", f"[NX|XX] [GET] {SET_EXPIRY}"),
    ("SET k v PX ", "milliseconds [NX|XX] [GET]"),
    ("SET k v PX 100 ", "[NX|XX] [GET]"),
    ("SET k v NX GET ", SET_EXPIRY),
    ("SET k v KEEPTTL NX GET ", ""),
    ("SET k v NOPE ", ""),
    # An optional run followed by required arguments.
    ("ZADD k ", "[NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]"),
    ("ZADD k XX CH ", "[GT|LT] [INCR] score member [score member ...]"),
    ("ZADD k 1 ", "member [score member ...]"),
    ("ZADD k 1 a ", "[score member ...]"),
    ("ZADD k 1 a 2 ", "member [score member ...]"),
    # A token block that closes once the next optional argument starts.
    ("GEOSEARCH k FROMMEMBER m BYRADIUS 1 km COUNT 5 ",
     "[ANY] [ASC|DESC] [WITHCOORD] [WITHDIST] [WITHHASH]"),
    ("GEOSEARCH k FROMMEMBER m BYRADIUS 1 km COUNT 5 DESC ",
     "[WITHCOORD] [WITHDIST] [WITHHASH]"),
    # Subcommands.
    ("CONFIG GET ", "parameter [parameter ...]"),
    ("CONFIG SET maxmemory ", "value [parameter value ...]"),
    ("CONFIG SET maxmemory 1mb ", "[parameter value ...]"),
    ("OBJECT ENCODING ", "key"),
    # Unknown commands and subcommands give nothing.
    ("NOSUCH ", ""),
    ("CONFIG NOSUCH ", ""),
    ("", ""),
]


@pytest.mark.parametrize("text,hint", HINTS, ids=[h[0] or "<empty>" for h in HINTS])
def test_hint(text: str, hint: str) -> None:
    assert suggest(text).hint == hint


def test_container_hint_lists_subcommands() -> None:
    s = suggest("CONFIG ")
    assert s.hint == "GET|HELP|RESETSTAT|REWRITE|SET"
    assert {e.text for e in s.expected} == {"GET", "HELP", "RESETSTAT", "REWRITE", "SET"}


def test_displayed_hint_gets_a_leading_blank_mid_word() -> None:
    assert hint_for("GET") == ""           # nothing until the command is finished
    assert hint_for("GET ") == "key"
    assert hint_for("SET k v E") == f" [NX|XX] [GET] {SET_EXPIRY}"
    assert hint_for(":advance ") == "duration"
    assert hint_for(":annotate") == ""
    assert hint_for('SET k "open ') == ""  # inside an open quote: no hint


def test_syntax_of_every_command_renders() -> None:
    for spec in TABLE.all:
        text = syntax(spec)
        assert "[]" not in text, spec.name
    assert syntax(TABLE.get("GETEX")) == (
        "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds"
        "|PERSIST]")


def _expected(text: str) -> set[tuple[str, str]]:
    return {(e.kind, e.text) for e in suggest(text).expected}


def test_expected_kinds() -> None:
    assert suggest("").expected == frozenset({Expect("command", "")})
    assert _expected("GET ") == {("arg", "key")}
    assert _expected("SET k v EX ") == {("arg", "seconds")}
    assert _expected("SET k v ") == {("token", t) for t in
                                     ("NX", "XX", "GET", "EX", "PX", "EXAT", "PXAT", "KEEPTTL")}
    assert _expected("SET k v NX ") == {("token", t) for t in
                                        ("GET", "EX", "PX", "EXAT", "PXAT", "KEEPTTL")}
    # Optional tokens and the required score may all come next.
    assert _expected("ZADD k ") == {("arg", "score"), *{("token", t) for t in
                                    ("NX", "XX", "GT", "LT", "CH", "INCR")}}
    assert _expected("MGET a ") == {("arg", "key")}
    assert _expected("LMOVE a b ") == {("token", "LEFT"), ("token", "RIGHT")}
    assert _expected("ZRANGE k 0 1 LIMIT ") == {("arg", "offset")}
    assert _expected("HELP ") == {("help-topic", "")}


def test_complete_says_whether_the_command_may_end_here() -> None:
    assert not suggest("SET k ").complete
    assert suggest("SET k v ").complete
    assert not suggest("SET k v EX ").complete
    assert suggest("MGET a ").complete


def test_types_of_expected_arguments() -> None:
    exp = suggest("EXPIRE ").expected
    assert Expect("arg", "key", "key") in exp
    exp = suggest("EXPIRE k ").expected
    assert Expect("arg", "seconds", "integer") in exp


def test_client_prefix_is_skipped() -> None:
    s = suggest("@bob SET k ")
    assert s.offset == 1 and s.spec is TABLE.get("SET")
    assert s.hint == f"value [NX|XX] [GET] {SET_EXPIRY}"
    assert suggest("@bob ").expected == frozenset({Expect("command", "")})


def test_roles_for_colouring() -> None:
    sc, roles = classify("SET user:1 42 EX 10 NX")
    words = [w.value for w in sc.words]
    assert dict(zip(words, (roles.get(i) for i in range(len(words))))) == {
        "SET": "command", "user:1": "key", "42": "string", "EX": "token", "10": "number",
        "NX": "token"}
    _, roles = classify("KEYS user:*")
    assert roles[1] == "pattern"
    _, roles = classify("nosuch a b")
    assert roles[0] == "unknown"


def test_repetitions() -> None:
    assert repetitions(TABLE.get("ZADD"), "k 1 a 2 b".split()) == 2
    assert repetitions(TABLE.get("HSET"), "h f v".split()) == 1
    assert repetitions(TABLE.get("GET"), ["k"]) is None
    assert repetitions(TABLE.get("ZADD"), ["k", "x"]) is None


# ------------------------------------------------------------------------------------------
# Word scanning

def test_scan_words_and_quotes() -> None:
    sc = scan('SET "a b" \'c\\\'d\' "\\x41\\n"')
    assert [w.value for w in sc.words] == ["SET", "a b", "c'd", "A\n"]
    assert sc.balanced and sc.trailing_blank is False
    sc = scan('SET "open')
    assert sc.open_quote and not sc.balanced and sc.current is not None
    assert sc.current.value == "open"
    sc = scan('SET "a"b ')
    assert sc.words[1].bad and not sc.balanced
    sc = scan("GET ")
    assert sc.current is None and [w.value for w in sc.done] == ["GET"]
