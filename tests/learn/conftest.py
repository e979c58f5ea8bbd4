"""Fixtures for lesson tests: the tiny fixture course, a private data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
COURSE = FIXTURES / "course"
LESSONS = Path(__file__).resolve().parents[2] / "lessons"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Progress and exercise files go to a temporary folder, never the user's."""
    d = tmp_path / "data"
    monkeypatch.setenv("REDISLAB_DATA_DIR", str(d))
    return d
