"""Comparing a reply the learner typed (redis-cli style text) with a reply value.

The learner writes what redis-cli would print: ``(integer) 3``, ``"hello"``, ``(nil)``,
``(error) WRONGTYPE ...``, numbered lines for arrays (nested ones indented as redis-cli
indents them), ``(empty array)``. Looser forms are accepted too, because the point is the
value, not the typing: a bare ``3`` or ``hello``, one element per line without numbers, or a
flat array on one line. What a marker states is held to: ``(integer) 1`` does not match the
string ``"1"`` and a quoted ``"1"`` does not match the integer, since that difference is often
what a question is about. Errors match on their code (``WRONGTYPE``) or their whole text.

Replies are compared as a RESP2 or RESP3 client receives them (maps flatten to arrays in
RESP2, doubles arrive as strings), so no terminal rendering is needed here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from ..protocol import split_args
from ..protocol.reply import (
    BigNumber, Bool, Double, ErrorReply, MapReply, Push, SetReply, Status, Verbatim,
    _NullArray,
)

__all__ = ["canonical", "parse_reply_text", "reply_matches", "ReplyTextError"]


class ReplyTextError(ValueError):
    """The learner's text cannot be read as a reply."""


# Canonical values: ("nil",), ("int", n), ("str", bytes, marked), ("err", text),
# ("arr", [values]), ("word", text) for unmarked learner scalars, ("num", float) for doubles.

def _format_double(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if math.isnan(value):
        return "nan"
    return "%.17g" % value


def canonical(reply: Any, resp: int = 2) -> tuple:
    """A reply value as the client sees it, reduced to the canonical shapes above."""
    t = type(reply)
    if t is bytes:
        return ("str", reply)
    if t is bool:
        return ("int", int(reply))
    if t is int:
        return ("int", reply)
    if reply is None or isinstance(reply, _NullArray):
        return ("nil",)
    if isinstance(reply, ErrorReply):
        return ("err", reply.message)
    if t is Status:
        return ("str", str(reply).encode())
    if t is Double:
        text = getattr(reply, "text", None) or _format_double(reply)
        return ("num", float(reply), text.encode() if isinstance(text, str) else text)
    if t is Bool:
        return ("int", 1 if reply else 0)
    if t is BigNumber or t is Verbatim:
        return ("str", bytes(str(reply), "utf-8") if not isinstance(reply, bytes)
                else bytes(reply))
    if t is MapReply:
        flat: list[tuple] = []
        for k, v in reply:
            flat.append(canonical(k, resp))
            flat.append(canonical(v, resp))
        return ("arr", flat)
    if isinstance(reply, (list, tuple, SetReply, Push)):
        return ("arr", [canonical(x, resp) for x in reply])
    if isinstance(reply, str):
        return ("str", reply.encode())
    if isinstance(reply, float):
        return ("num", reply, _format_double(reply).encode())
    return ("str", str(reply).encode())


# ------------------------------------------------------------------------------------------
# Reading the learner's text

_EMPTY = {"(empty array)", "(empty list or set)", "(empty set)", "(empty map)", "[]", "{}",
          "empty", "(empty)"}
_NIL = {"(nil)", "nil", "null", "(null)", "none", "(nil array)"}
_MARKER = re.compile(r"(\d+)[)#~>]\s+")


def _scalar(text: str) -> tuple:
    s = text.strip()
    low = s.lower()
    if low in _NIL:
        return ("nil",)
    if low in _EMPTY:
        return ("arr", [])
    m = re.match(r"^\(integer\)\s*(-?\d+)$", s, re.I)
    if m:
        return ("int", int(m.group(1)))
    m = re.match(r"^\((?:double|float)\)\s*(\S+)$", s, re.I)
    if m:
        try:
            return ("num", float(m.group(1)), m.group(1).encode())
        except ValueError:
            pass
    if low in ("(true)", "true", "#t"):
        return ("word", "1")
    if low in ("(false)", "false", "#f"):
        return ("word", "0")
    if low.startswith("(error)"):
        return ("err", s[7:].strip())
    if s.startswith('"') or s.startswith("'"):
        parts = split_args(s)
        if parts is None or len(parts) != 1:
            raise ReplyTextError(f"cannot read {s!r}: check the quotes")
        return ("str", parts[0], True)
    return ("word", s)


def _is_numbered(lines: list[str]) -> bool:
    return bool(lines) and bool(_MARKER.match(lines[0].lstrip()))


def _parse_numbered(lines: list[str]) -> list[tuple]:
    """redis-cli's nested array layout: ``1) 1) "a"`` then ``   2) "b"`` and so on."""
    root: list[Any] = []
    stack: list[tuple[int, list[Any]]] = []
    for line in lines:
        pos = len(line) - len(line.lstrip())
        rest = line[pos:]
        markers: list[int] = []
        while True:
            m = _MARKER.match(rest)
            if not m:
                break
            markers.append(pos)
            pos += m.end()
            rest = rest[m.end():]
        if not markers:
            raise ReplyTextError(f"expected a numbered line like '1) \"a\"', got {line!r}")
        first = markers[0]
        if not stack:
            stack.append((first, root))
        while len(stack) > 1 and stack[-1][0] > first:
            stack.pop()
        if stack[-1][0] != first and len(stack) == 1 and first < stack[0][0]:
            stack[0] = (first, root)
        target = stack[-1][1]
        for col in markers[1:]:
            inner: list[Any] = []
            target.append(("arr", inner))
            stack.append((col, inner))
            target = inner
        target.append(_scalar(rest))
    return root


def parse_reply_text(text: str) -> tuple:
    """The learner's reply text as a canonical value (unmarked scalars stay "words")."""
    lines = [ln.rstrip() for ln in text.strip("\n").splitlines() if ln.strip()]
    if not lines:
        raise ReplyTextError("no reply given")
    if len(lines) == 1 and not _is_numbered(lines):
        return _scalar(lines[0])
    if _is_numbered(lines):
        return ("arr", _parse_numbered(lines))
    return ("arr", [_scalar(ln) for ln in lines])


def _one_line_array(text: str) -> tuple | None:
    """``a b c`` or ``a, b, c`` on one line, read as a flat array (when one is expected)."""
    s = text.strip()
    if "\n" in s or not s:
        return None
    parts = split_args(s.replace(",", " ")) if '"' in s or "'" in s else \
        s.replace(",", " ").split()
    if not parts:
        return None
    out: list[tuple] = []
    for p in parts:
        word = p.decode("utf-8", "surrogateescape") if isinstance(p, bytes) else p
        out.append(("word", word))
    return ("arr", out)


# ------------------------------------------------------------------------------------------
# Comparing

def _norm_err(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().rstrip(".")).lower()


def _text_of(value: tuple) -> str | None:
    kind = value[0]
    if kind == "int":
        return str(value[1])
    if kind == "str":
        return value[1].decode("utf-8", "surrogateescape")
    if kind == "num":
        return value[2].decode() if isinstance(value[2], bytes) else str(value[2])
    return None


def _num_equal(a: str, b: str) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return x == y or (math.isnan(x) and math.isnan(y))


def _match(expected: tuple, given: tuple, unordered: bool) -> bool:
    ek, gk = expected[0], given[0]
    if ek == "err":
        if gk == "err":
            text = given[1]
        elif gk == "word":
            text = given[1]
        else:
            return False
        want, got = _norm_err(expected[1]), _norm_err(text)
        if not got:
            return False
        code = want.split(" ", 1)[0]
        return got == want or got == code or (got.split(" ", 1)[0] == code
                                              and want.startswith(got) and len(got) > 12)
    if gk == "err":
        return False
    if ek == "nil":
        return gk == "nil"
    if ek == "arr":
        if gk != "arr":
            return False
        a, b = expected[1], given[1]
        if len(a) != len(b):
            return False
        if not unordered:
            return all(_match(x, y, False) for x, y in zip(a, b))
        remaining = list(b)
        for x in a:
            for i, y in enumerate(remaining):
                if _match(x, y, True):
                    del remaining[i]
                    break
            else:
                return False
        return True
    if gk in ("nil", "arr"):
        return False
    want = _text_of(expected)
    if want is None:
        return False
    if gk == "int":
        return ek == "int" and given[1] == expected[1]
    if gk == "str":
        if ek == "int":
            return False
        got = given[1].decode("utf-8", "surrogateescape")
        return got == want or (ek == "num" and _num_equal(got, want))
    if gk == "num":
        return ek in ("num", "str") and _num_equal(_text_of(given) or "", want)
    # an unmarked word
    got = given[1]
    if got == want:
        return True
    if ek in ("num", "str") and _num_equal(got, want) and re.match(r"^-?[\d.]+(e-?\d+)?$",
                                                                       got.lower()):
        return ek == "num" or got.lower() == want.lower()
    return ek == "str" and expected[1] in (b"OK", b"PONG", b"QUEUED") and \
        got.upper() == want


def reply_matches(reply: Any, text: str, *, resp: int = 2, unordered: bool = False) -> bool:
    """True if ``text`` (what the learner typed) states the value ``reply``."""
    expected = canonical(reply, resp)
    try:
        given = parse_reply_text(text)
    except ReplyTextError:
        return False
    if _match(expected, given, unordered):
        return True
    if expected[0] == "arr" and given[0] != "arr":
        alt = _one_line_array(text)
        if alt is not None and _match(expected, alt, unordered):
            return True
    return False


def reply_summary(value: Any) -> str:
    """A short plain description of a reply value, for messages (no terminal rendering)."""
    c = canonical(value)
    return _summ(c)


def _summ(c: tuple) -> str:
    kind = c[0]
    if kind == "nil":
        return "(nil)"
    if kind == "int":
        return f"(integer) {c[1]}"
    if kind == "err":
        return f"(error) {c[1]}"
    if kind in ("str", "num"):
        t = _text_of(c) or ""
        return '"' + t + '"'
    if kind == "arr":
        if not c[1]:
            return "(empty array)"
        inner = ", ".join(_summ(x) for x in c[1][:8])
        return "[" + inner + (", ..." if len(c[1]) > 8 else "") + "]"
    return str(c)


def multiset(values: list[Any]) -> Counter:
    return Counter(repr(canonical(v)) for v in values)
