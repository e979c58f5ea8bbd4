"""The learner's answer to a simulation step: Python functions, a Lua script or command lines.

A :class:`Solution` is the text of the exercise file (or the reference solution, or a
known wrong answer) plus its language. The scenarios turn it into callables: Python source
is compiled as a module of its own, a Lua script becomes a function that runs it with
EVAL, command lines become a small program. Problems in the source (a syntax error, a
missing function) are reported as :class:`SolutionError` with the line where it is.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, Callable

from ..protocol import split_args

__all__ = ["Solution", "SolutionError", "python_module", "lua_function", "command_program"]


class SolutionError(Exception):
    """The learner's file cannot be used as it is (syntax error, missing function ...)."""


@dataclass(frozen=True)
class Solution:
    language: str            # python, lua or commands
    source: str
    origin: str = "your file"


def python_module(sol: Solution, needs: tuple[str, ...] = ()) -> types.ModuleType:
    """Compile and run the learner's Python file as a fresh module; check it defines ``needs``."""
    module = types.ModuleType("exercise")
    module.__file__ = sol.origin
    try:
        code = compile(sol.source, sol.origin, "exec")
    except SyntaxError as e:
        raise SolutionError(f"{sol.origin}, line {e.lineno}: syntax error: {e.msg}") from None
    try:
        exec(code, module.__dict__)
    except Exception as e:
        raise SolutionError(f"{sol.origin}: loading it raised {type(e).__name__}: {e}") \
            from None
    for name in needs:
        fn = module.__dict__.get(name)
        if not callable(fn):
            raise SolutionError(f"{sol.origin} must define a function {name}()")
    return module


def lua_function(sol: Solution) -> Callable[..., Any]:
    """A function ``call(r, keys, args)`` that runs the learner's script with EVAL."""
    script = sol.source

    def call(r: Any, keys: list[Any], args: list[Any]) -> Any:
        return r.eval(script, len(keys), *keys, *args)

    return call


def command_program(sol: Solution) -> list[str]:
    """The command lines of a commands solution (blank lines and # comments dropped)."""
    lines = []
    for n, line in enumerate(sol.source.splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if split_args(text) is None:
            raise SolutionError(f"{sol.origin}, line {n}: unbalanced quotes")
        lines.append(text)
    if not lines:
        raise SolutionError(f"{sol.origin} has no commands yet")
    return lines


def run_commands(r: Any, lines: list[str], values: dict[str, str]) -> list[Any]:
    """Send each line (with ``{name}`` filled in) on ``r``; returns the replies (errors too)."""
    from .model import fill

    replies = []
    for line in lines:
        argv = split_args(fill(line, values)) or []
        try:
            replies.append(r.execute_command(*argv))
        except Exception as e:  # an error reply is an answer, not a crash
            if type(e).__module__.startswith("redis"):
                replies.append(e)
            else:
                raise
    return replies
