"""Splitting an input line into words with their positions, tolerant of unfinished input.

The rules are redis-cli's (sds.c sdssplitargs, also ``redislab.protocol.split_args``): words
are separated by blanks, double quotes allow ``\\n``-style and ``\\xHH`` escapes, single
quotes only ``\\'``. Unlike ``split_args`` this never gives up: a word whose quote is still
open is returned as open, so the suggester, lexer and hints can work while the user types.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Word", "Scan", "scan"]

_BLANK = " \n\r\t\v\f"
_HEX = "0123456789abcdefABCDEF"
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}


@dataclass(frozen=True, slots=True)
class Word:
    """One word: where it sits in the line and what it means once unquoted."""

    start: int
    end: int
    value: str
    quote: str = ""        # '"' or "'" when the word was quoted
    closed: bool = True    # False while a quote is still open
    bad: bool = False      # a closing quote followed by something other than a blank


@dataclass(frozen=True, slots=True)
class Scan:
    words: tuple[Word, ...]
    trailing_blank: bool   # the line ends with a blank: the last word is finished

    @property
    def open_quote(self) -> bool:
        return bool(self.words) and not self.words[-1].closed

    @property
    def balanced(self) -> bool:
        return not self.open_quote and not any(w.bad for w in self.words)

    @property
    def done(self) -> tuple[Word, ...]:
        """Words the user has finished typing."""
        if self.trailing_blank or not self.words:
            return self.words
        return self.words[:-1]

    @property
    def current(self) -> Word | None:
        """The word under construction at the end of the line, if any."""
        if self.trailing_blank or not self.words:
            return None
        return self.words[-1]


def scan(text: str) -> Scan:
    """Split ``text`` into words (never fails)."""
    words: list[Word] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _BLANK:
            i += 1
        if i >= n:
            return Scan(tuple(words), True)
        start = i
        buf: list[str] = []
        quote = ""
        in_quote = ""
        bad = False
        closed = True
        while True:
            if i >= n:
                if in_quote:
                    closed = False
                break
            c = text[i]
            if in_quote == '"':
                if c == "\\" and i + 3 < n and text[i + 1] == "x" and text[i + 2] in _HEX \
                        and text[i + 3] in _HEX:
                    buf.append(chr(int(text[i + 2:i + 4], 16)))
                    i += 4
                    continue
                if c == "\\" and i + 1 < n:
                    buf.append(_ESCAPES.get(text[i + 1], text[i + 1]))
                    i += 2
                    continue
                if c == '"':
                    in_quote = ""
                    i += 1
                    if i < n and text[i] not in _BLANK:
                        bad = True
                    continue
                buf.append(c)
                i += 1
            elif in_quote == "'":
                if c == "\\" and i + 1 < n and text[i + 1] == "'":
                    buf.append("'")
                    i += 2
                    continue
                if c == "'":
                    in_quote = ""
                    i += 1
                    if i < n and text[i] not in _BLANK:
                        bad = True
                    continue
                buf.append(c)
                i += 1
            else:
                if c in _BLANK:
                    break
                if c in "\"'":
                    in_quote = quote = c
                else:
                    buf.append(c)
                i += 1
        words.append(Word(start, i, "".join(buf), quote, closed, bad))
        if not closed:
            return Scan(tuple(words), False)
        if i >= n:
            return Scan(tuple(words), False)
