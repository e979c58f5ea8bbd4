"""Key bindings of the REPL, one docstring per key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.filters import has_focus, is_done
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from .words import scan

if TYPE_CHECKING:
    from .shell import Shell

__all__ = ["make_bindings", "continues"]

# Arguments whose value is source code that may span lines.
_SCRIPT_ARGS = frozenset({"script", "function-code"})


def continues(text: str) -> bool:
    """Should Enter start a new line instead of running the input?

    Yes while a quote is open in the argument of a command that takes a script (EVAL,
    SCRIPT LOAD, FUNCTION LOAD ...): the script goes on over several lines.
    """
    sc = scan(text)
    if not sc.open_quote:
        return False
    from .suggest import grammar, suggest

    s = suggest(text)
    spec = s.spec
    if spec is None:
        return False
    return any(a.name in _SCRIPT_ARGS for a in grammar(spec))


def make_bindings(get_shell: Callable[[], "Shell | None"]) -> KeyBindings:
    """Key bindings; ``get_shell`` gives the shell once the engine has loaded (else None)."""
    kb = KeyBindings()

    # Only in the input line itself: Enter in the Ctrl-R search keeps its own meaning.
    @kb.add("enter", filter=~is_done & has_focus(DEFAULT_BUFFER))
    def _enter(event: KeyPressEvent) -> None:
        """Run the input, or go on to the next line inside an open script."""
        buf = event.current_buffer
        if continues(buf.document.text_before_cursor) and buf.document.is_cursor_at_the_end:
            buf.insert_text("\n")
        else:
            buf.validate_and_handle()

    @kb.add("f2")
    def _hints(event: KeyPressEvent) -> None:
        """Show or hide the syntax hint."""
        shell = get_shell()
        if shell is not None:
            shell.hints = not shell.hints

    @kb.add("f3")
    def _annotate(event: KeyPressEvent) -> None:
        """Cycle the annotation line: brief, full, off."""
        shell = get_shell()
        if shell is None:
            return
        order = ["brief", "full", "off"]
        nxt = order[(order.index(shell.annotate) + 1) % len(order)] \
            if shell.annotate in order else "brief"
        shell.set_annotate(nxt)

    @kb.add("c-l")
    def _clear(event: KeyPressEvent) -> None:
        """Clear the screen."""
        event.app.renderer.clear()
    return kb
