"""The inline syntax hint: the arguments still to type, shown dim after the cursor.

Like redis-cli's hints it is display only: it is never inserted into the input (an
auto-suggestion would be, which is why this is an input processor instead).
"""

from __future__ import annotations

from typing import Callable

from prompt_toolkit.application import get_app_or_none
from prompt_toolkit.formatted_text.utils import fragment_list_width
from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput

from .meta import find_meta
from .suggest import suggest
from .words import scan

__all__ = ["hint_for", "HintProcessor"]


def hint_for(text: str) -> str:
    """The hint to show after ``text`` (with its leading blank), or ``""``."""
    if not text.strip():
        return ""
    stripped = text.lstrip()
    if stripped.startswith(":"):
        sc = scan(stripped)
        if len(sc.done) != 1 or sc.current is not None:
            return ""
        cmd = find_meta(sc.done[0].value)
        hint = cmd.syntax if cmd is not None else ""
    else:
        s = suggest(text)
        if not s.matched or s.scan.open_quote:
            return ""
        hint = s.hint
    if not hint:
        return ""
    return hint if text[-1].isspace() else " " + hint


class HintProcessor(Processor):
    """Appends :func:`hint_for` of the whole input when the cursor is at its end."""

    def __init__(self, enabled: Callable[[], bool], prefix_width: Callable[[], int] = lambda: 0,
                 style: str = "class:hint") -> None:
        self.enabled = enabled
        self.prefix_width = prefix_width
        self.style = style

    def apply_transformation(self, ti: TransformationInput) -> Transformation:
        doc = ti.document
        app = get_app_or_none()
        # Once the line is accepted the hint goes, leaving the line as typed (as linenoise).
        done = app is not None and app.is_done
        if done or ti.lineno != doc.line_count - 1 or not doc.is_cursor_at_the_end \
                or not self.enabled():
            return Transformation(fragments=ti.fragments)
        try:
            hint = hint_for(doc.text)
        except Exception:  # a hint is a nicety: never let it break typing
            hint = ""
        # Like linenoise, cut the hint at the edge of the screen rather than wrap it.
        room = ti.width - self.prefix_width() - fragment_list_width(ti.fragments) - 1
        hint = hint[:max(0, room)]
        if not hint:
            return Transformation(fragments=ti.fragments)
        return Transformation(fragments=ti.fragments + [(self.style, hint)])
