"""Help cards for commands and groups, written from the command table.

``HELP SET`` prints what redis-cli prints (syntax, summary, since, group) plus what redis-cli
never shows: the complexity, with what N and M count. ``HELP @string`` prints the card of
every command of a group. Everything comes from the one table; nothing is written twice.
"""

from __future__ import annotations

from ..engine.commands import TABLE
from ..engine.commands.spec import NOT_YET, ABSENT, CommandSpec, CommandTable
from .repl.suggest import syntax
from .theme import Fragments

__all__ = ["command_card", "group_cards", "groups", "find_commands", "help_topics",
           "general_help"]


def groups(table: CommandTable = TABLE) -> list[str]:
    return sorted(table.groups())


def _cost_lines(spec: CommandSpec) -> list[str]:
    lines = []
    if spec.complexity:
        lines.append(f"complexity: {spec.complexity}")
    cost = spec.cost
    if cost.big_o and cost.big_o != spec.complexity:
        letters = []
        for letter, meaning in (("N", cost.n), ("M", cost.m), ("K", cost.k)):
            if meaning:
                letters.append(f"{letter} = {meaning}")
        lines.append(f"cost: {cost.big_o}" + (f" ({'; '.join(letters)})" if letters else ""))
    return lines


def command_card(spec: CommandSpec, show_group: bool = True) -> Fragments:
    """One command as a card (a container shows the cards of its subcommands).

    As in redis-cli, the group line is left out when the card is part of a group listing.
    """
    if spec.subcommands:
        frags: Fragments = []
        for name in sorted(spec.subcommands):
            frags.extend(command_card(spec.subcommands[name], show_group))
        return frags
    args = syntax(spec)
    frags = [("", "\n"), ("info.title", f"  {spec.name}"),
             ("help.syntax", f" {args}\n" if args else "\n")]

    def field(label: str, text: str) -> None:
        frags.append(("help.label", f"  {label}:"))
        frags.append(("info", f" {text}\n"))

    if spec.summary:
        field("summary", spec.summary)
    for line in _cost_lines(spec):
        label, _, text = line.partition(": ")
        field(label, text)
    field("since", spec.since)
    if show_group:
        field("group", spec.group)
    if spec.deprecated_since:
        # The table's text carries doc markup (`SET` with the `!GET` argument); drop it.
        plain = spec.replaced_by.replace("`", "").replace("!", "")
        replaced = f"; use {plain}" if plain else ""
        frags.append(("info.dim", f"  deprecated since {spec.deprecated_since}{replaced}\n"))
    if spec.status in (NOT_YET, ABSENT) or spec.handler is None:
        reason = f": {spec.reason}" if spec.reason else ""
        frags.append(("info.dim", f"  not available in redislab yet{reason}\n"))
    return frags


def group_cards(group: str, table: CommandTable = TABLE) -> Fragments:
    """The card of every command of a group (``HELP @string``)."""
    frags: Fragments = []
    for spec in sorted(table.groups().get(group, []), key=lambda s: s.name):
        if spec.subcommands:
            continue  # its subcommands are in the group themselves
        frags.extend(command_card(spec, show_group=False))
    return frags


def find_commands(topic: str, table: CommandTable = TABLE) -> list[CommandSpec]:
    """Commands a HELP topic names: ``SET``, ``config get``, ``CONFIG``."""
    spec = table.get(topic)
    return [spec] if spec is not None else []


def help_topics(table: CommandTable = TABLE) -> list[str]:
    """Everything ``HELP`` accepts: command names and ``@group`` names."""
    return sorted(table.commands) + ["@" + g for g in groups(table)]


def general_help(version: str) -> Fragments:
    return [
        ("info.title", f"redislab {version}"), ("info", " (a Redis 7.0 engine inside Python)\n"),
        ("info", 'Type Redis commands as in redis-cli. Help on commands:\n'
                 '      "help <command>"  syntax, summary and cost of a command\n'
                 '      "help @<group>"   every command of a group (help @<tab> lists them)\n'
                 '      ":help"           the REPL\'s own commands (:clock, :advance, '
                 ':client, :annotate, :explain ...)\n'
                 '      "quit"            leave (or Ctrl-D)\n'),
    ]
