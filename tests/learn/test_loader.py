"""Loading lessons: where from, and malformed files named with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from redislab.learn.loader import LessonError, lessons_dir, load_all, load_lesson

from .conftest import COURSE, LESSONS


def test_good_lesson_loads_with_its_fields() -> None:
    lesson = load_lesson(COURSE / "010-good.toml")
    assert (lesson.id, lesson.level, lesson.number, lesson.minutes) == ("good", "beginner", 10, 5)
    first = lesson.steps[0]
    assert first.id == "set-a-key" and first.forbidden == ("MSET",)
    assert first.hints == ("one command", "SET key value", "SET k {v}")
    assert first.checks == ({"kind": "key", "key": "k", "value": "{v}"},)
    assert first.mistakes[0].example == ("SET k 0",)
    assert not lesson.steps[1].checks and lesson.steps[1].id == "read"
    assert lesson.steps[2].simulated and lesson.steps[2].exercise == "demo/increment.py"


@pytest.mark.parametrize("name, line, field, words", [
    ("020-bad-syntax.toml", 6, None, "not valid TOML"),
    ("030-bad-level.toml", 4, "level", "must be one of beginner"),
    ("040-unknown-check.toml", 11, "step 2: check.kind", "unknown check kind 'magic'"),
    ("100-missing-field.toml", 1, "title", "missing"),
])
def test_malformed_files_name_file_line_and_field(name: str, line: int, field: str | None,
                                                   words: str) -> None:
    with pytest.raises(LessonError) as info:
        load_lesson(COURSE / name)
    e = info.value
    assert e.path.name == name and e.line == line and e.field == field
    assert words in e.message
    assert str(e).startswith(f"{COURSE / name}:{line}: ")


def test_schema_errors_point_at_the_field_line(tmp_path: Path) -> None:
    text = (COURSE / "010-good.toml").read_text()
    bad = text.replace('hints = ["one command", "SET key value", "SET k {v}"]',
                       'hints = "one command"')
    path = tmp_path / "010-good.toml"
    path.write_text(bad)
    with pytest.raises(LessonError) as info:
        load_lesson(path)
    expected = bad.splitlines().index('hints = "one command"') + 1
    assert info.value.line == expected and info.value.field == "step 1: hints"

    bad = text.replace('check = { kind = "key", key = "k", value = "{v}" }',
                       'check = { kind = "key", key = "k", colour = "red" }')
    path.write_text(bad)
    with pytest.raises(LessonError) as info:
        load_lesson(path)
    assert "has no parameter 'colour'" in info.value.message
    assert info.value.field == "step 1: check.colour"

    path.write_text(text.replace("format_version = 1", "format_version = 9"))
    with pytest.raises(LessonError, match="format_version: must be 1"):
        load_lesson(path)

    path.write_text(text.replace('id = "read"', 'id = "set-a-key"'))
    with pytest.raises(LessonError, match="two steps have the id 'set-a-key'"):
        load_lesson(path)


def test_load_all_collects_errors_and_keeps_good_lessons() -> None:
    lessons, errors = load_all(COURSE)
    assert "good" in {lesson.id for lesson in lessons}
    names = {e.path.name for e in errors}
    assert {"020-bad-syntax.toml", "030-bad-level.toml", "040-unknown-check.toml",
            "100-missing-field.toml", "not-a-lesson-name.toml"} <= names


def test_lessons_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert lessons_dir(tmp_path) == tmp_path
    monkeypatch.setenv("REDISLAB_LESSONS", str(COURSE))
    assert lessons_dir() == COURSE
    monkeypatch.delenv("REDISLAB_LESSONS")
    assert lessons_dir() == LESSONS
