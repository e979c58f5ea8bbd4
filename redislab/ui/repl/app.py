"""The interactive REPL: a prompt-toolkit session assembled from the small parts beside it.

``build_prompt`` wires the parts together in one place (as pgcli's ``_build_cli`` does): the
lexer, the completer, the inline hint, the toolbar, the key bindings, the history and the
theme. Each part gets only what it needs (the :class:`Shell`, or nothing at all). ``run_repl``
reads lines until Ctrl-D or ``quit`` and hands each one to the shell.
"""

from __future__ import annotations

from typing import Any

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.application import get_app_or_none
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.shortcuts import CompleteStyle, clear

from ... import __version__
from ..batch import make_backend
from ..startup import Options
from ..theme import Fragments, plain, prompt_style
from .bindings import make_bindings
from .completer import ReplCompleter
from .hints import HintProcessor
from .history import make_history
from .lexer import ReplLexer
from .shell import Shell
from .toolbar import toolbar_fragments

__all__ = ["run_repl", "build_prompt", "to_pt"]


def to_pt(fragments: Fragments) -> FormattedText:
    """Theme-named fragments as prompt-toolkit formatted text."""
    return FormattedText([(f"class:{s}" if s else "", t) for s, t in fragments])


def _continuation(width: int, line_number: int, is_soft_wrap: bool) -> Any:
    if is_soft_wrap:
        return ""
    return FormattedText([("class:prompt.state", "...> ".rjust(width))])


def build_prompt(shell: Shell, *, input: Input | None = None,
                 output: Output | None = None) -> PromptSession[str]:
    """The prompt-toolkit session for ``shell``."""

    def toolbar() -> FormattedText:
        app = get_app_or_none()
        text = app.current_buffer.document.text_before_cursor if app is not None else ""
        try:
            return to_pt(toolbar_fragments(shell, text))
        except Exception:  # the toolbar must never take the prompt down
            return FormattedText([])

    return PromptSession(
        message=lambda: to_pt(shell.prompt_fragments()),
        lexer=ReplLexer(),
        completer=ReplCompleter(shell),
        complete_while_typing=True,
        complete_style=CompleteStyle.COLUMN,
        bottom_toolbar=toolbar,
        input_processors=[HintProcessor(lambda: shell.hints,
                                        lambda: len(plain(shell.prompt_fragments())))],
        history=make_history(),
        key_bindings=make_bindings(shell),
        style=prompt_style(),
        include_default_pygments_style=False,
        prompt_continuation=_continuation,
        reserve_space_for_menu=6,
        input=input,
        output=output,
    )


def run_repl(options: Options, annotate: str = "brief", *, input: Input | None = None,
             output: Output | None = None) -> int:
    """Run the REPL until the user leaves; returns the exit status."""
    style = prompt_style()

    def write(fragments: Fragments) -> None:
        print_formatted_text(to_pt(fragments), style=style, end="", output=output,
                             include_default_pygments_style=False)

    backend = make_backend(options)
    shell = Shell(backend, write, raw=bool(options.raw), annotate=annotate)
    session = build_prompt(shell, input=input, output=output)
    shell.clear_screen = lambda: clear() if output is None else None
    write([("info.dim", f"redislab {__version__} · help <command> · :help · Ctrl-D to leave\n")])
    failures = 0
    while shell.running:
        try:
            line = session.prompt()
            failures = 0
        except KeyboardInterrupt:
            continue  # Ctrl-C drops the line being typed, as in redis-cli
        except EOFError:
            break
        except Exception as exc:  # a broken terminal: report it instead of a traceback
            failures += 1
            shell.error(f"terminal error: {type(exc).__name__}: {exc}")
            if failures >= 3:
                return 1
            continue
        try:
            shell.handle(line)
        except KeyboardInterrupt:
            shell.info("(interrupted)")
        except Exception as exc:  # the REPL must survive its own bugs
            shell.error(f"internal error: {type(exc).__name__}: {exc}")
    return 0
