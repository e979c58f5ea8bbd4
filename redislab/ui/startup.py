"""Building the engine a front end runs on, from command-line options and a redis.conf file.

Options map to configuration parameters exactly as ``redis-server --maxmemory 100mb`` does:
the file is read first, then options given on the command line override it. Problems are
reported as :class:`StartupError` with a message fit for the terminal, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..protocol import ErrorReply, split_args

if TYPE_CHECKING:
    from ..engine import Clock, Engine

__all__ = ["StartupError", "Options", "read_config_file", "build_engine"]


class StartupError(Exception):
    """A bad option or configuration file; the message says what and where."""


@dataclass
class Options:
    """What the command line asked for (shared by the REPL, ``exec`` and piped input)."""

    raw: bool | None = None        # None: decide from whether stdout is a terminal
    resp3: bool = False
    db: int = 0
    config_file: Path | None = None
    settings: dict[str, str] = field(default_factory=dict)  # parameter -> value
    manual_clock: bool = False
    url: str | None = None         # a real server to run on instead of the embedded engine
    cluster: bool = False          # ``url`` names a Redis Cluster node


def read_config_file(path: Path) -> list[tuple[int, str, str]]:
    """Directives of a redis.conf file as (line number, name, value).

    Lines are split with the same quoting rules redis-server uses; a directive with several
    arguments (``save 900 1``) keeps them space-separated in its value.
    """
    try:
        text = path.read_text("utf-8", "surrogateescape")
    except OSError as e:
        raise StartupError(f"cannot read the configuration file {path}: {e.strerror}") from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        args = split_args(stripped)
        if args is None:
            raise StartupError(f"{path}, line {number}: unbalanced quotes in {stripped!r}")
        if len(args) < 2 and args[0].lower() not in (b"save",):
            raise StartupError(f"{path}, line {number}: {stripped!r} has no value")
        name = args[0].decode("utf-8", "surrogateescape").lower()
        value = " ".join(a.decode("utf-8", "surrogateescape") for a in args[1:])
        out.append((number, name, value))
    return out


def build_engine(options: Options, clock: "Clock | None" = None) -> "Engine":
    """A fresh engine with the configuration the options ask for.

    Each directive is checked first, so a bad one is reported with the file line or option
    it came from; the merged settings are then handed to ``Engine(config=...)``.
    """
    # Imported here: the REPL shows its prompt while the engine loads in the background.
    from ..engine import Engine
    from ..engine.config import Config, ConfigError
    from .clock import ReplClock

    directives: list[tuple[str, str, str]] = []  # (where, name, value)
    if options.config_file is not None:
        for number, name, value in read_config_file(options.config_file):
            directives.append((f"{options.config_file}, line {number}", name, value))
    for name, value in options.settings.items():
        directives.append((f"option {name}", name, value))
    check = Config()
    merged: dict[str, str] = {}
    for where, name, value in directives:
        param = check.param(name)
        if param is None:
            raise StartupError(f"{where}: unknown configuration parameter '{name}'")
        try:
            param.parse(value)
        except ConfigError as e:
            raise StartupError(f"{where}: cannot set '{name}' to '{value}': {e}") from None
        merged[param.name] = value
    if clock is None:
        clock = ReplClock(manual=options.manual_clock)
    try:
        return Engine(clock, config=merged)
    except (ConfigError, ErrorReply) as e:
        raise StartupError(f"cannot apply the configuration: {e}") from None
