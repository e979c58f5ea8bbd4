"""Command handlers, bound to the command table by name.

Every module in this package may define handlers named ``<command>_command`` (``get_command``,
``config_get_command``); importing the package binds each to its table entry. By convention one
module holds one Redis group (strings.py, lists.py ...). An entry without a handler answers
with a clear error; :func:`integrity_problems` lists any mismatch and a test keeps it empty.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Callable

from .spec import ABSENT, NOT_YET, READY, TABLE, CommandSpec, CommandTable, handler_name

__all__ = ["TABLE", "CommandSpec", "CommandTable", "READY", "NOT_YET", "ABSENT",
           "integrity_problems", "handler_name"]

_HANDLERS: dict[str, tuple[str, Callable[..., object]]] = {}
_DUPLICATES: list[str] = []


def _modules() -> list[ModuleType]:
    mods = []
    for info in pkgutil.iter_modules(__path__):
        if info.name in ("spec",) or info.name.startswith("_"):
            continue
        mods.append(importlib.import_module(f"{__name__}.{info.name}"))
    return mods


def _bind() -> None:
    for mod in _modules():
        for attr, fn in vars(mod).items():
            if attr.endswith("_command") and callable(fn) and not attr.startswith("_") \
                    and getattr(fn, "__module__", "") == mod.__name__:
                if attr in _HANDLERS:
                    _DUPLICATES.append(f"{attr} in {mod.__name__} and {_HANDLERS[attr][0]}")
                _HANDLERS[attr] = (mod.__name__, fn)
    for spec in TABLE.all:
        found = _HANDLERS.get(handler_name(spec.name))
        if found is not None and spec.status == READY:
            # A container's own handler runs only when it is called without a subcommand
            # (COMMAND alone); containers never take the hot path.
            spec.handler = found[1]
            spec.fast = not spec.subcommands and "blocking" not in spec.flags
            spec.sampled = "fast" in spec.flags


def integrity_problems() -> list[str]:
    """Every table entry has a handler or a status; every handler has an entry."""
    problems = list(f"duplicate handler {d}" for d in _DUPLICATES)
    names = {handler_name(s.name) for s in TABLE.all}
    for attr, (mod, _) in sorted(_HANDLERS.items()):
        if attr not in names:
            problems.append(f"{mod}.{attr} has no entry in the command table")
    for spec in TABLE.all:
        if spec.subcommands:
            continue
        if spec.handler is None and spec.status == READY:
            problems.append(f"{spec.name} has no handler and is not marked 'not yet' or 'absent'")
        if spec.status in (NOT_YET, ABSENT) and not spec.reason:
            problems.append(f"{spec.name} is marked {spec.status!r} without a reason")
        if spec.status != READY and handler_name(spec.name) in _HANDLERS:
            problems.append(f"{spec.name} is marked {spec.status!r} but has a handler")
    return problems


_bind()
