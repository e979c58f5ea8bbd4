"""Where the REPL keeps its command history, and which lines it never keeps.

The file lives in the platform's per-user data directory (``$XDG_DATA_HOME/redislab/history``
on Linux, ``~/Library/Application Support/redislab/history`` on macOS, ``%APPDATA%`` on
Windows); ``REDISLAB_HISTFILE`` overrides it, and an empty value turns the file off. Lines
that may carry a password (AUTH, HELLO ... AUTH, ACL SETUSER, ...) are never written, as
redis-cli does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from prompt_toolkit.history import FileHistory, History, InMemoryHistory

__all__ = ["history_path", "make_history", "FilteredFileHistory", "is_secret",
           "SECRET_COMMANDS"]

# Lines starting with these never reach the history file (redis-cli skips them too).
SECRET_COMMANDS = ("auth", "hello", "acl setuser", "config set masterauth",
                   "config set requirepass", "migrate", ":config requirepass",
                   ":config masterauth")


def is_secret(line: str) -> bool:
    """Lines that must not be saved in the history file (they may carry passwords)."""
    low = " ".join(line.strip().lower().split())
    if low.startswith("@"):
        low = low.split(" ", 1)[1] if " " in low else ""
    return any(low == c or low.startswith(c + " ") for c in SECRET_COMMANDS)


def data_dir() -> Path:
    """The per-user data directory for redislab on this platform."""
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / "redislab"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "redislab"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "redislab"


def history_path() -> Path | None:
    """The history file, or None when history must not be written."""
    override = os.environ.get("REDISLAB_HISTFILE")
    if override is not None:
        return Path(override).expanduser() if override.strip() else None
    return data_dir() / "history"


class FilteredFileHistory(FileHistory):
    """A history file that leaves out lines carrying secrets."""

    def append_string(self, string: str) -> None:
        if is_secret(string):
            return
        super().append_string(string)


def make_history() -> History:
    path = history_path()
    if path is None:
        return InMemoryHistory()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        # A read-only home must not stop the REPL; history just is not kept.
        return InMemoryHistory()
    return FilteredFileHistory(str(path))
