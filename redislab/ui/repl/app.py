"""The interactive REPL: a prompt-toolkit session assembled from the small parts beside it.

``build_prompt`` wires the parts together in one place (as pgcli's ``_build_cli`` does): the
lexer, the completer, the inline hint, the toolbar, the key bindings, the history and the
theme. ``run_repl`` reads lines until Ctrl-D or ``quit`` and hands each one to the shell.

The prompt comes up before the engine has finished loading: the engine and the parts that
need the command table are built on a background thread, and the prompt uses them as soon
as they are there (until then it is a plain prompt). The first command waits for them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.application import get_app_or_none
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.input import Input
from prompt_toolkit.layout.processors import DynamicProcessor, Processor
from prompt_toolkit.lexers import DynamicLexer, Lexer
from prompt_toolkit.output import Output
from prompt_toolkit.shortcuts import CompleteStyle, clear

from ... import __version__
from ..startup import Options
from ..theme import Fragments, plain, prompt_style
from .bindings import make_bindings
from .history import make_history

if TYPE_CHECKING:
    from .shell import Shell

__all__ = ["run_repl", "build_prompt", "to_pt", "Parts"]


def to_pt(fragments: Fragments) -> FormattedText:
    """Theme-named fragments as prompt-toolkit formatted text."""
    return FormattedText([(f"class:{s}" if s else "", t) for s, t in fragments])


def _continuation(width: int, line_number: int, is_soft_wrap: bool) -> Any:
    if is_soft_wrap:
        return ""
    return FormattedText([("class:prompt.state", "...> ".rjust(width))])


class Parts:
    """The shell and the table-driven prompt parts, built on a background thread."""

    def __init__(self, options: Options, annotate: str,
                 write: Callable[[Fragments], None]) -> None:
        self.options = options
        self.annotate = annotate
        self.write = write
        self.shell: Shell | None = None
        self.lexer: Lexer | None = None
        self.completer: Completer | None = None
        self.hint: Processor | None = None
        self.toolbar: Callable[[str], Fragments] | None = None
        self.error: BaseException | None = None
        self.on_ready: Callable[[], None] = lambda: None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._load, name="redislab-engine",
                                        daemon=True)

    def start(self) -> "Parts":
        self._thread.start()
        return self

    def _load(self) -> None:
        try:
            from ..batch import make_backend
            from .completer import ReplCompleter
            from .hints import HintProcessor
            from .lexer import ReplLexer
            from .shell import Shell
            from .toolbar import toolbar_fragments

            shell = Shell(make_backend(self.options), self.write, raw=bool(self.options.raw),
                          annotate=self.annotate)
            self.lexer = ReplLexer()
            self.completer = ReplCompleter(shell)
            self.hint = HintProcessor(lambda: shell.hints,
                                      lambda: len(plain(shell.prompt_fragments())))
            self.toolbar = lambda text: toolbar_fragments(shell, text)
            self.shell = shell
        except BaseException as exc:  # reported by wait(), on the main thread
            self.error = exc
        finally:
            self._done.set()
            try:
                self.on_ready()  # redraw: colours and hints for what is already typed
            except Exception:
                pass

    @property
    def ready(self) -> bool:
        return self._done.is_set() and self.shell is not None

    def wait(self) -> "Shell":
        """The shell, once loaded; re-raises what went wrong while loading."""
        self._done.wait()
        if self.error is not None:
            raise self.error
        assert self.shell is not None
        return self.shell


class _LoadingCompleter(Completer):
    """Completes with the real completer once loaded; Tab waits for it if need be."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterable[Completion]:
        if not self.parts.ready:
            if not complete_event.completion_requested:
                return
            try:
                self.parts.wait()
            except BaseException:
                return
        completer = self.parts.completer
        if completer is not None:
            yield from completer.get_completions(document, complete_event)


def build_prompt(parts: Parts, *, input: Input | None = None,
                 output: Output | None = None) -> PromptSession[str]:
    """The prompt-toolkit session over ``parts``."""

    def message() -> FormattedText:
        if parts.ready and parts.shell is not None:
            return to_pt(parts.shell.prompt_fragments())
        return to_pt([("prompt", "redislab> ")])

    def toolbar() -> FormattedText:
        app = get_app_or_none()
        text = app.current_buffer.document.text_before_cursor if app is not None else ""
        if not parts.ready or parts.toolbar is None:
            return to_pt([("toolbar.dim", " loading the engine...")])
        try:
            return to_pt(parts.toolbar(text))
        except Exception:  # the toolbar must never take the prompt down
            return FormattedText([])

    return PromptSession(
        message=message,
        lexer=DynamicLexer(lambda: parts.lexer if parts.ready else None),
        completer=_LoadingCompleter(parts),
        complete_while_typing=True,
        complete_style=CompleteStyle.COLUMN,
        bottom_toolbar=toolbar,
        input_processors=[DynamicProcessor(lambda: parts.hint if parts.ready else None)],
        history=make_history(),
        key_bindings=make_bindings(lambda: parts.shell if parts.ready else None),
        style=prompt_style(),
        include_default_pygments_style=False,
        prompt_continuation=_continuation,
        reserve_space_for_menu=6,
        input=input,
        output=output,
    )


def run_repl(options: Options, annotate: str = "brief", *, input: Input | None = None,
             output: Output | None = None) -> int:
    """Run the REPL until the user leaves; returns the exit status.

    Raises ``StartupError`` before any prompt when the configuration is wrong.
    """
    style = prompt_style()

    def write(fragments: Fragments) -> None:
        print_formatted_text(to_pt(fragments), style=style, end="", output=output,
                             include_default_pygments_style=False)

    parts = Parts(options, annotate, write).start()
    if options.settings or options.config_file is not None:
        parts.wait()  # a bad configuration is reported before the prompt appears
    session = build_prompt(parts, input=input, output=output)
    parts.on_ready = session.app.invalidate
    write([("info.dim", f"redislab {__version__} · help <command> · :help · Ctrl-D to "
                        "leave\n")])
    failures = 0
    while True:
        try:
            line = session.prompt()
            failures = 0
        except KeyboardInterrupt:
            continue  # Ctrl-C drops the line being typed, as in redis-cli
        except EOFError:
            break
        except Exception as exc:  # a broken terminal: report it instead of a traceback
            failures += 1
            write([("info.error", f"terminal error: {type(exc).__name__}: {exc}\n")])
            if failures >= 3:
                return 1
            continue
        shell = parts.wait()
        shell.clear_screen = clear if output is None else (lambda: None)
        try:
            shell.handle(line)
        except KeyboardInterrupt:
            shell.info("(interrupted)")
        except Exception as exc:  # the REPL must survive its own bugs
            shell.error(f"internal error: {type(exc).__name__}: {exc}")
        if not shell.running:
            break
    return 0
