"""Glob matching against Redis's own KEYS results."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redislab.engine.glob import _match, compile_glob, stringmatch

CASES = [
    (b"*", b"anything", True), (b"h?llo", b"hello", True), (b"h?llo", b"hllo", False),
    (b"h*llo", b"heeeello", True), (b"h[ae]llo", b"hallo", True), (b"h[ae]llo", b"hillo", False),
    (b"h[^e]llo", b"hallo", True), (b"h[^e]llo", b"hello", False), (b"h[a-b]llo", b"hbllo", True),
    (b"h[b-a]llo", b"hallo", True), (b"h\\*llo", b"h*llo", True), (b"h\\*llo", b"hello", False),
    (b"a[", b"a", False), (b"a[b", b"ab", True), (b"*a", b"", False), (b"a*", b"a", True),
    (b"", b"", True), (b"[\\]]", b"]", True),
]


@pytest.mark.parametrize("pattern, string, expected", CASES)
def test_known_cases(pattern, string, expected):
    assert stringmatch(pattern, string) is expected


@given(st.text(alphabet="ab*?[]^-\\", max_size=8).map(str.encode),
       st.text(alphabet="ab-]", max_size=8).map(str.encode))
@settings(max_examples=400, deadline=None)
def test_fast_path_agrees_with_exact_matcher(pattern, string):
    assert compile_glob(pattern)(string) == _match(pattern, 0, string, 0, False, [False], 0)


def test_matches_redis_keys(redis_server):
    c = redis_server.client()
    c.execute("SELECT", "9")
    c.execute("FLUSHDB")
    strings = [b"hello", b"hallo", b"hllo", b"h*llo", b"ab", b"a", b"]", b"a-b", b"\xffx",
               b"\x7fx", b"Hello", b""]
    for s in strings:
        c.execute("SET", s, "1")
    patterns = [p for p, _, _ in CASES] + [b"[\x7f-\xff]x", b"[\x00-\x7f]x", b"*l*o",
                                           b"h[!e]llo", b"[a-", b"\\", b"a\\"]
    for p in patterns:
        theirs = sorted(c.execute("KEYS", p))
        # KEYS treats a lone "*" as every key, before any matching.
        ours = sorted(s for s in strings if p == b"*" or stringmatch(p, s))
        assert ours == theirs, p
    c.execute("FLUSHDB")
    c.close()
