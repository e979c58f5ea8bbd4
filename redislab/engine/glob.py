"""Glob-style matching exactly as Redis does it (util.c stringmatchlen).

Used by KEYS, SCAN MATCH, PSUBSCRIBE, PUBSUB CHANNELS, CONFIG GET and every other pattern.
Redis's matcher has quirks a regular expression would not reproduce: ranges compare bytes as
signed C chars, an unterminated ``[`` matches what it has seen, and a pattern nested more
than 1000 ``*`` deep simply does not match. Plain patterns (only ``*`` and ``?``) take a
compiled regular expression, which behaves identically for them and is much faster.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from typing import Callable

_MAX_NESTING = 1000

if sys.getrecursionlimit() < 4000:
    sys.setrecursionlimit(4000)


def _signed(b: int) -> int:
    return b - 256 if b >= 128 else b


def _lower(b: int) -> int:
    return b + 32 if 65 <= b <= 90 else b


def _match(p: bytes, pi: int, s: bytes, si: int, nocase: bool, skip: list[bool],
           nesting: int) -> bool:
    if nesting > _MAX_NESTING:
        return False
    plen, slen = len(p), len(s)
    while pi < plen and si < slen:
        c = p[pi]
        if c == 0x2A:  # '*'
            while pi + 1 < plen and p[pi + 1] == 0x2A:
                pi += 1
            if pi + 1 == plen:
                return True
            while si < slen:
                if _match(p, pi + 1, s, si, nocase, skip, nesting + 1):
                    return True
                if skip[0]:
                    return False
                si += 1
            skip[0] = True
            return False
        elif c == 0x3F:  # '?'
            si += 1
        elif c == 0x5B:  # '['
            pi += 1
            negate = pi < plen and p[pi] == 0x5E
            if negate:
                pi += 1
            matched = False
            sc = s[si]
            while True:
                if pi < plen and p[pi] == 0x5C and plen - pi >= 2:
                    pi += 1
                    if p[pi] == sc:
                        matched = True
                elif pi < plen and p[pi] == 0x5D:
                    break
                elif pi >= plen:
                    pi -= 1
                    break
                elif plen - pi >= 3 and p[pi + 1] == 0x2D:
                    start, end, ch = _signed(p[pi]), _signed(p[pi + 2]), _signed(sc)
                    if start > end:
                        start, end = end, start
                    if nocase:
                        start, end, ch = _lower(start), _lower(end), _lower(ch)
                    pi += 2
                    if start <= ch <= end:
                        matched = True
                else:
                    if nocase:
                        if _lower(p[pi]) == _lower(sc):
                            matched = True
                    elif p[pi] == sc:
                        matched = True
                pi += 1
            if negate:
                matched = not matched
            if not matched:
                return False
            si += 1
        else:
            if c == 0x5C and plen - pi >= 2:  # backslash escapes the next byte
                pi += 1
                c = p[pi]
            if nocase:
                if _lower(c) != _lower(s[si]):
                    return False
            elif c != s[si]:
                return False
            si += 1
        pi += 1
        if si == slen:
            while pi < plen and p[pi] == 0x2A:
                pi += 1
            break
    return pi >= plen and si >= slen


def stringmatch(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    """Does ``string`` match the glob ``pattern``, exactly as Redis decides?"""
    return compile_glob(pattern, nocase)(string)


@lru_cache(maxsize=512)
def compile_glob(pattern: bytes, nocase: bool = False) -> Callable[[bytes], bool]:
    """A predicate for ``pattern``; cached, since one pattern usually meets many strings.

    As in Redis, an empty string matches only the empty pattern (even ``*`` does not match
    it); KEYS and SCAN treat a lone ``*`` as "everything" before matching, and so must callers.
    """
    if pattern == b"*":
        return _nonempty
    if b"[" not in pattern and b"\\" not in pattern and pattern.count(b"*") < 50:
        body = b"".join(b".*" if part == b"*" else b"." if part == b"?" else re.escape(part)
                        for part in re.split(rb"(\*|\?)", pattern) if part)
        flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
        rx = re.compile(body + rb"\Z", flags)
        empty_ok = pattern == b""
        return lambda s: rx.match(s) is not None if s else empty_ok

    def exact(s: bytes) -> bool:
        return _match(pattern, 0, s, 0, nocase, [False], 0)

    return exact


def _nonempty(s: bytes) -> bool:
    return bool(s)
