"""Lua scripting as Redis 7.0 has it: EVAL scripts and function libraries in a Lua 5.1 sandbox.

:func:`scripting` returns the engine's :class:`Scripting` (created on first use). The sandbox
itself is Lua code (sandbox.lua and the libraries next to it); runtime.py drives it.
"""

from __future__ import annotations

from .runtime import BUSY_EVAL, BUSY_FUNCTION, Script, Scripting, parse_shebang, scripting

__all__ = ["Scripting", "Script", "scripting", "parse_shebang", "BUSY_EVAL", "BUSY_FUNCTION"]
