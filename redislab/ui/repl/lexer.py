"""Colours for the input line: command, tokens, keys, numbers, patterns, by what each word is.

The roles come from the same grammar match the hints use (``suggest.classify``), so a word
is coloured as a key only where the command takes a key. Styles are named in ``ui.theme``.
"""

from __future__ import annotations

from typing import Callable

from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.lexers import Lexer

from ..theme import Fragments
from .meta import find_meta
from .suggest import classify
from .words import scan

__all__ = ["ReplLexer", "fragments_for"]

_ROLE_STYLE = {
    "command": "input.command", "token": "input.token", "key": "input.key",
    "number": "input.number", "pattern": "input.pattern", "string": "input.string",
    "client": "input.client", "unknown": "input.unknown",
}


def fragments_for(text: str) -> Fragments:
    """Styled fragments covering ``text`` exactly (style names from the theme)."""
    stripped = text.lstrip()
    if stripped.startswith(":"):
        sc = scan(text)
        roles = {0: "meta" if sc.words and find_meta(sc.words[0].value) else "unknown"}
    else:
        sc, roles = classify(text)
    frags: Fragments = []
    pos = 0
    for i, w in enumerate(sc.words):
        if w.start > pos:
            frags.append(("", text[pos:w.start]))
        role = roles.get(i, "")
        if role == "meta":
            style = "input.meta"
        elif not w.closed or w.bad:
            style = "input.open-quote"
        else:
            style = _ROLE_STYLE.get(role, "")
        frags.append((style, text[w.start:w.end]))
        pos = w.end
    if pos < len(text):
        frags.append(("", text[pos:]))
    return frags


class ReplLexer(Lexer):
    """prompt-toolkit lexer over :func:`fragments_for` (handles multi-line input)."""

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        lines: list[StyleAndTextTuples] = [[]]
        try:
            frags = fragments_for(document.text)
        except Exception:  # colouring is cosmetic: never let it break typing
            frags = [("", document.text)]
        for style, text in frags:
            cls = f"class:{style}" if style else ""
            parts = text.split("\n")
            for j, part in enumerate(parts):
                if j:
                    lines.append([])
                if part:
                    lines[-1].append((cls, part))

        def get_line(lineno: int) -> StyleAndTextTuples:
            return lines[lineno] if 0 <= lineno < len(lines) else []

        return get_line
