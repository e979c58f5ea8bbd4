"""Quiz progress: one plain JSON file in the user's data directory.

``$REDISLAB_DATA_DIR/quiz.json`` if set, else ``$XDG_DATA_HOME/redislab/quiz.json``, else
``~/.local/share/redislab/quiz.json`` (``%APPDATA%\\redislab`` on Windows). The file holds one
record per item (its FSRS card and a short history) and a summary of each mock interview.

A file that cannot be read is never thrown away: it is renamed with a timestamp
(``quiz.json.corrupt-20250101-120000``), the problem is reported, and a fresh file starts.
Saving writes a temporary file and renames it over the old one, so a crash mid-save leaves
either the old or the new file, never half of one.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from .scheduling import CardRecord

__all__ = ["FORMAT", "ProgressError", "QuizProgress", "default_path", "data_dir"]

FORMAT = 1
INTERVIEWS_KEPT = 50


class ProgressError(Exception):
    """A progress file we must not touch (written by a newer redislab) or cannot write."""


def data_dir() -> Path:
    env = os.environ.get("REDISLAB_DATA_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg) / "redislab"
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "redislab"
    return Path.home() / ".local" / "share" / "redislab"


def default_path() -> Path:
    return data_dir() / "quiz.json"


@dataclass
class QuizProgress:
    path: Path | None
    items: dict[str, CardRecord] = field(default_factory=dict)
    interviews: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""      # set when the file on disk was unreadable and was set aside

    # ------------------------------------------------------------------------------------
    # Reading

    @classmethod
    def load(cls, path: str | Path | None = None, now: datetime | None = None) -> "QuizProgress":
        """Read progress; an unreadable file is set aside (renamed) and reported."""
        p = Path(path) if path is not None else default_path()
        if not p.exists():
            return cls(p)
        try:
            text = p.read_text("utf-8")
            data = json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError) as e:
            return cls._set_aside(p, f"not readable JSON ({e})", now)
        if isinstance(data, dict) and isinstance(data.get("format"), int) \
                and data["format"] > FORMAT:
            raise ProgressError(f"{p} was written by a newer redislab (format "
                                f"{data['format']}); upgrade to use it")
        try:
            items, interviews = cls._decode(data)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            return cls._set_aside(p, f"not a quiz progress file ({e})", now)
        return cls(p, items, interviews)

    @staticmethod
    def _decode(data: Any) -> tuple[dict[str, CardRecord], list[dict[str, Any]]]:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("missing or unknown format")
        raw = data.get("items", {})
        if not isinstance(raw, dict):
            raise ValueError("items must be an object")
        items = {str(k): CardRecord.from_json(v) for k, v in raw.items()}
        interviews = data.get("interviews", [])
        if not isinstance(interviews, list):
            raise ValueError("interviews must be a list")
        return items, interviews

    @classmethod
    def _set_aside(cls, p: Path, why: str, now: datetime | None) -> "QuizProgress":
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        target = p.with_name(f"{p.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target = p.with_name(f"{p.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            p.rename(target)
        except OSError as e:
            raise ProgressError(f"{p} is {why} and could not be set aside: {e}") from None
        return cls(p, problem=f"{p} was {why}; it was kept as {target.name} and a new "
                              "progress file was started")

    # ------------------------------------------------------------------------------------
    # Writing

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "items": {k: v.to_json() for k, v in sorted(self.items.items())},
                "interviews": self.interviews[-INTERVIEWS_KEPT:]}

    def save(self, path: str | Path | None = None) -> Path:
        p = Path(path) if path is not None else self.path or default_path()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(p.name + ".tmp")
            tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n", "utf-8")
            os.replace(tmp, p)
        except OSError as e:
            raise ProgressError(f"cannot save progress to {p}: {e}") from None
        return p

    def export(self, dest: str | Path) -> Path:
        """A copy of the progress in a file of your choice (same format)."""
        return self.save(dest)

    def import_from(self, src: str | Path, replace: bool = False) -> int:
        """Merge another progress file in (the most recently reviewed record wins per item),
        or replace everything with it. Returns the number of items taken from it."""
        p = Path(src)
        try:
            data = json.loads(p.read_text("utf-8"))
            items, interviews = self._decode(data)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError,
                AttributeError) as e:
            raise ProgressError(f"{p} is not a quiz progress file: {e}") from None
        if replace:
            self.items = dict(items)
            self.interviews = list(interviews)
            return len(items)
        taken = 0
        for key, rec in items.items():
            mine = self.items.get(key)
            if mine is None or _last_review(rec) > _last_review(mine):
                self.items[key] = rec
                taken += 1
        known = {json.dumps(i, sort_keys=True) for i in self.interviews}
        for iv in interviews:
            if json.dumps(iv, sort_keys=True) not in known:
                self.interviews.append(iv)
        self.interviews.sort(key=lambda i: str(i.get("at", "")))
        return taken

    def reset(self, item_ids: Iterable[str] | None = None) -> int:
        """Forget the given items (all of them, and the interviews, when None)."""
        if item_ids is None:
            n = len(self.items)
            self.items.clear()
            self.interviews.clear()
            return n
        n = 0
        for key in list(item_ids):
            if self.items.pop(key, None) is not None:
                n += 1
        return n


def _last_review(rec: CardRecord) -> str:
    lr = rec.card.last_review
    return lr.isoformat() if lr is not None else ""
