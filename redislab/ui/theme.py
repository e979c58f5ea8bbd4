"""Styles by meaning: every colour the terminal front ends use is named here once.

Code refers to names such as ``annotation.warning`` or ``input.key``; this table says how each
looks. The REPL builds its prompt-toolkit style from it, and text written without a terminal
simply drops the names.
"""

from __future__ import annotations

from typing import Any

__all__ = ["STYLES", "Fragments", "plain", "prompt_style"]

# A line of styled text: (style name, text) pairs. The name is a key of STYLES or "".
Fragments = list[tuple[str, str]]

STYLES: dict[str, str] = {
    # Replies are printed as redis-cli prints them; only errors stand out.
    "reply": "",
    "reply.error": "ansired",
    "reply.push": "ansicyan",
    "reply.client": "ansimagenta bold",
    # The line under each reply.
    "annotation": "#8a8a8a",
    "annotation.cost": "#8a8a8a",
    "annotation.number": "#b0b0b0",
    "annotation.event": "ansicyan",
    "annotation.warning": "ansiyellow",
    "annotation.detail": "#8a8a8a",
    "annotation.title": "bold",
    # Messages from the REPL itself (meta-commands, help).
    "info": "",
    "info.title": "bold",
    "info.dim": "#8a8a8a",
    "info.error": "ansired",
    "info.ok": "ansigreen",
    # Help cards, coloured as redis-cli colours its help.
    "help.label": "ansiyellow",
    "help.syntax": "#8a8a8a",
    # Input colouring (lexer) and the inline syntax hint.
    "input.command": "bold ansibrightcyan",
    "input.token": "ansimagenta",
    "input.key": "ansiyellow",
    "input.number": "ansigreen",
    "input.pattern": "ansiyellow italic",
    "input.string": "",
    "input.client": "ansibrightmagenta",
    "input.meta": "bold ansibrightgreen",
    "input.unknown": "ansired",
    "input.open-quote": "ansibrightred",
    "hint": "#6c6c6c",
    # Prompt and bottom toolbar.
    "prompt": "bold",
    "prompt.client": "ansimagenta bold",
    "prompt.state": "ansiyellow",
    "toolbar": "bg:#262626 #d0d0d0",
    "toolbar.key": "bg:#262626 #ffffff bold",
    "toolbar.dim": "bg:#262626 #8a8a8a",
    "toolbar.command": "bg:#262626 ansibrightcyan bold",
    "toolbar.warn": "bg:#262626 ansiyellow",
}


def plain(fragments: Fragments) -> str:
    """The text of styled fragments, without styles."""
    return "".join(text for _, text in fragments)


def prompt_style() -> Any:
    """The prompt-toolkit Style for STYLES (imported lazily: startup stays fast)."""
    from prompt_toolkit.styles import Style

    rules = [(name, spec) for name, spec in STYLES.items() if spec]
    # prompt-toolkit's own classes, restyled to match.
    rules += [
        ("bottom-toolbar", "noreverse"),
        ("completion-menu.completion", "bg:#303030 #d0d0d0"),
        ("completion-menu.completion.current", "bg:#5f87af #ffffff"),
        ("completion-menu.meta.completion", "bg:#262626 #8a8a8a"),
        ("completion-menu.meta.completion.current", "bg:#5f87af #ffffff"),
    ]
    return Style(rules)
