"""The bottom toolbar: who you are, where, how many keys, what time it is; and while typing,
the command's group, complexity and the version that introduced it.

A pure function of the shell's state and the text being typed, so it is tested as strings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..theme import Fragments
from .meta import find_meta
from .suggest import suggest

if TYPE_CHECKING:
    from .shell import Shell

__all__ = ["toolbar_fragments"]


def _command_part(text: str) -> Fragments:
    stripped = text.lstrip()
    if not stripped:
        return []
    if stripped.startswith(":"):
        cmd = find_meta(stripped.split()[0]) if stripped.split() else None
        if cmd is None:
            return []
        return [("toolbar.command", f":{cmd.name}"), ("toolbar", f"  {cmd.summary}")]
    s = suggest(text)
    spec = s.spec
    if spec is None:
        return []
    if spec.subcommands:
        return [("toolbar.command", spec.name),
                ("toolbar", f"  {spec.group} · subcommands: "
                            f"{', '.join(sorted(spec.subcommands))}")]
    cost = spec.cost.big_o or spec.complexity
    return [("toolbar.command", spec.name),
            ("toolbar", f"  {spec.group} · {cost} · since {spec.since}")]


def toolbar_fragments(shell: "Shell", text: str = "") -> Fragments:
    backend = shell.backend
    session = backend.session(shell.client)
    db = session.db.id
    keys = backend.key_count(shell.client)
    clock = backend.clock
    frags: Fragments = [
        ("toolbar.key", f" {shell.client}"), ("toolbar.dim", f" db{db} · "),
        ("toolbar", f"{keys:,} key{'s' if keys != 1 else ''}"), ("toolbar.dim", " · "),
    ]
    if clock is not None and clock.manual:
        frags.append(("toolbar.warn", f"clock manual {shell.now_text()[11:]}"))
    else:
        frags.append(("toolbar.dim", "clock real"))
    describe = getattr(backend, "describe", None)
    if describe is not None:  # a topology: who is primary, replica lag, cut links
        frags += [("toolbar.dim", " · "), ("toolbar", describe())]
    command = _command_part(text)
    if command:
        frags.append(("toolbar.dim", "  │  "))
        frags.extend(command)
    else:
        frags.append(("toolbar.dim", f"  │  annotate {shell.annotate} [F3] · hints "
                                     f"{'on' if shell.hints else 'off'} [F2] · :help"))
    return frags
