"""The learner's progress: one plain JSON file in the user's data directory.

``$REDISLAB_DATA_DIR`` or ``$XDG_DATA_HOME/redislab`` (``~/.local/share/redislab`` by
default) holds ``progress.json``::

    {"format": 1,
     "lessons": {"distributed-locking": {"done": ["take-the-lock", ...], "step": 3,
                                         "hints": {"safe-release": 2},
                                         "solutions": ["safe-release"], "completed": true,
                                         "updated": "2025-01-01T10:00:00+00:00"}}}

It can be exported, imported (merged or replacing), and reset as a whole or for one lesson.
A file that cannot be read is never silently lost: it is moved aside as
``progress.json.corrupt-<time>`` and reported.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["data_dir", "Progress", "ProgressError"]

FORMAT = 1


def data_dir() -> Path:
    """Where redislab keeps the learner's files."""
    env = os.environ.get("REDISLAB_DATA_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "redislab"


class ProgressError(Exception):
    """An import file that is not a progress file."""


class Progress:
    """Progress per lesson id, saved after every change."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "progress.json"
        self.lessons: dict[str, dict[str, Any]] = {}
        self.warning: str | None = None
        self.load()

    # ----------------------------------------------------------------------------------------
    # File

    def load(self) -> None:
        self.lessons = {}
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text("utf-8"))
            self.lessons = _validated(data)
        except (OSError, ValueError, ProgressError) as e:
            aside = self.path.with_name(
                f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                shutil.move(str(self.path), aside)
                where = f"moved aside to {aside}"
            except OSError as move_error:
                where = f"and could not be moved aside ({move_error})"
            self.warning = (f"your progress file {self.path} could not be read ({e}); it was "
                            f"{where}, and progress starts afresh")

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"format": FORMAT, "lessons": self.lessons}, indent=1,
                                  sort_keys=True), "utf-8")
        os.replace(tmp, self.path)

    # ----------------------------------------------------------------------------------------
    # Queries and updates

    def lesson(self, lesson_id: str) -> dict[str, Any]:
        return self.lessons.setdefault(lesson_id, {"done": [], "step": 0, "hints": {},
                                                   "solutions": [], "completed": False})

    def done_steps(self, lesson_id: str) -> list[str]:
        return list(self.lessons.get(lesson_id, {}).get("done", []))

    def completed(self, lesson_id: str) -> bool:
        return bool(self.lessons.get(lesson_id, {}).get("completed"))

    def mark_step(self, lesson_id: str, step_id: str, total: list[str]) -> bool:
        """Record a passed step; returns True when this completed the lesson."""
        entry = self.lesson(lesson_id)
        if step_id not in entry["done"]:
            entry["done"].append(step_id)
        was = entry.get("completed", False)
        entry["completed"] = all(s in entry["done"] for s in total)
        self._touch(entry)
        return entry["completed"] and not was

    def set_position(self, lesson_id: str, index: int) -> None:
        entry = self.lesson(lesson_id)
        entry["step"] = index
        self._touch(entry)

    def position(self, lesson_id: str) -> int:
        return int(self.lessons.get(lesson_id, {}).get("step", 0))

    def note_hint(self, lesson_id: str, step_id: str, level: int) -> None:
        entry = self.lesson(lesson_id)
        entry["hints"][step_id] = max(level, entry["hints"].get(step_id, 0))
        self._touch(entry)

    def note_solution(self, lesson_id: str, step_id: str) -> None:
        entry = self.lesson(lesson_id)
        if step_id not in entry["solutions"]:
            entry["solutions"].append(step_id)
        self._touch(entry)

    def _touch(self, entry: dict[str, Any]) -> None:
        entry["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.save()

    def reset(self, lesson_id: str | None = None) -> None:
        """Forget everything, or one lesson."""
        if lesson_id is None:
            self.lessons = {}
        else:
            self.lessons.pop(lesson_id, None)
        self.save()

    # ----------------------------------------------------------------------------------------
    # Export and import

    def export(self, path: Path) -> None:
        path.write_text(json.dumps({"format": FORMAT, "lessons": self.lessons}, indent=1,
                                   sort_keys=True), "utf-8")

    def import_(self, path: Path, replace: bool = False) -> int:
        """Read an exported file; merge it (union of done steps) unless ``replace``."""
        try:
            incoming = _validated(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError) as e:
            raise ProgressError(f"{path} is not a progress file: {e}") from None
        if replace:
            self.lessons = incoming
        else:
            for lid, entry in incoming.items():
                mine = self.lesson(lid)
                mine["done"] = sorted(set(mine["done"]) | set(entry.get("done", [])))
                mine["completed"] = mine.get("completed", False) or entry.get("completed",
                                                                              False)
                mine["step"] = max(mine.get("step", 0), entry.get("step", 0))
                for k, v in entry.get("hints", {}).items():
                    mine["hints"][k] = max(v, mine["hints"].get(k, 0))
                mine["solutions"] = sorted(set(mine["solutions"]) |
                                           set(entry.get("solutions", [])))
        self.save()
        return len(incoming)


def _validated(data: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(data, dict) or data.get("format") != FORMAT or \
            not isinstance(data.get("lessons"), dict):
        raise ProgressError("not a redislab progress file (format 1)")
    out = {}
    for lid, entry in data["lessons"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("done", []), list):
            raise ProgressError(f"lesson {lid!r} has a malformed entry")
        entry.setdefault("done", [])
        entry.setdefault("step", 0)
        entry.setdefault("hints", {})
        entry.setdefault("solutions", [])
        entry.setdefault("completed", False)
        out[str(lid)] = entry
    return out
