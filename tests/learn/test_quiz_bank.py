"""The quiz bank: loading, file/line/field errors, and the content check over the real bank
and over a fixture bank of deliberately broken items."""

from __future__ import annotations

from pathlib import Path

import pytest

from redislab.learn.quiz_bank import KINDS, BankError, load_bank, load_file
from redislab.learn.quiz_validate import (
    MIN_ITEMS, REQUIRED_TAGS, check_quiz_bank, validate_bank,
)

FIXTURES = Path(__file__).parent / "fixtures" / "quiz"
GOOD = FIXTURES / "good"
BROKEN = FIXTURES / "broken"
REAL = Path(__file__).resolve().parents[2] / "lessons" / "quiz"


@pytest.fixture(scope="module")
def real_bank():
    return load_bank(REAL)


def test_real_bank_loads_every_file(real_bank) -> None:
    assert real_bank.errors == []
    assert len(real_bank) >= MIN_ITEMS
    assert {i.kind for i in real_bank} == set(KINDS)


def test_real_bank_items_have_tags_lessons_and_unique_ids(real_bank) -> None:
    ids = [i.id for i in real_bank]
    assert len(ids) == len(set(ids))
    for item in real_bank:
        assert item.tags, item.id
        assert item.lesson, item.id
        assert item.prompt, item.id


def test_real_bank_covers_every_interview_topic(real_bank) -> None:
    have = {t for i in real_bank for t in (i.topic, *i.tags)}
    assert not [t for t in REQUIRED_TAGS if t not in have]


def test_real_bank_passes_the_content_check() -> None:
    # Every predict answer matches the engine's real reply, every hands-on reference solution
    # passes on all hidden variants, every listed wrong answer is rejected.
    assert check_quiz_bank(REAL) == []
    assert check_quiz_bank() == []   # the default location is the same bank


def test_real_bank_hands_on_items_have_hidden_variants(real_bank) -> None:
    hands_on = [i for i in real_bank if i.kind == "hands-on"]
    assert len(hands_on) >= 15
    assert sum(1 for i in hands_on if i.vars) >= len(hands_on) * 0.7


def test_good_fixture_bank_is_clean() -> None:
    report = validate_bank(GOOD)
    assert report.problems == []
    assert report.items == 8


def test_broken_fixture_bank_reports_each_problem() -> None:
    report = validate_bank(BROKEN)
    text = "\n".join(report.problems)
    expected = [
        "syntax.toml:8: not valid TOML",
        "schema.toml:14: item schema-bad-kind: kind: must be one of",
        "item two-right: the id is also used at",
        "item two-right: needs exactly one right choice, has 2",
        "item no-why: wrong choice 'also wrong' has no why",
        "item short-own-answer: its own answer 'no' is not accepted",
        "item predict-mismatch: its answer '(integer) 3' does not match the real reply "
        "(integer) 2",
        "item predict-wrong-accepted: the wrong reply 'v' is accepted",
        "item predict-random: 'SPOP s' has a random reply",
        "item hands-on-bad-solution: its reference solution fails",
        "item hands-on-wrong-passes: the wrong answer 'INCRBY k 2'... passes",
        "item hands-on-already-done: the goal already holds without doing anything",
        "item hands-on-hidden-var: the prompt shows hidden variable {n}",
        "item explain-one-point: an explain item needs at least two rubric points",
        "item no-lesson: has no lesson link",
    ]
    missing = [e for e in expected if e not in text]
    assert not missing, text
    # A link to a lesson that does not exist yet is a warning, not a problem.
    assert "unknown-lesson" not in text
    assert any("no-such-lesson" in w for w in report.warnings)
    assert check_quiz_bank(BROKEN) == report.problems


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text('format_version = 1\ntopic = "t"\nlesson = "x"\n\n[[item]]\nid = "a"\n'
                 'kind = "choice"\nprompt = "p"\nexplanation = "e"\n'
                 'choices = [{ text = "x", correct = true, score = 3 }, { text = "y" }]\n')
    with pytest.raises(BankError) as e:
        load_file(f)
    assert e.value.line == 10
    assert e.value.field == "item a: choices"
    assert "score" in str(e.value)


@pytest.mark.parametrize("body,field,message", [
    ('id = "a"\nkind = "short"\nprompt = "p"\nexplanation = "e"\n', "accept",
     "needs accept"),
    ('id = "a"\nkind = "short"\nprompt = "p"\nexplanation = "e"\naccept = ["x"]\n'
     'colour = "red"\n', "colour", "not a field of a short item"),
    ('id = "A b"\nkind = "short"\nprompt = "p"\nexplanation = "e"\naccept = ["x"]\n', "id",
     "lowercase"),
    ('id = "a"\nkind = "hands-on"\nprompt = "p"\nexplanation = "e"\nsolution = "PING"\n',
     "goal", "at least one goal"),
    ('id = "a"\nkind = "hands-on"\nprompt = "p"\nexplanation = "e"\nsolution = "PING"\n'
     'allow = ["SHUTDOWN"]\n[[item.goal]]\nprobe = "PING"\nequals = "PONG"\n', "allow",
     "cannot be allowed"),
    ('id = "a"\nkind = "hands-on"\nprompt = "p"\nexplanation = "e"\nsolution = "PING"\n'
     '[[item.goal]]\nprobe = "PING"\n', "goal", "exactly one of equals"),
    ('kind = "complexity"\ncommand = "NOSUCH"\n', "command", "not in the command table"),
])
def test_schema_errors(tmp_path: Path, body: str, field: str, message: str) -> None:
    f = tmp_path / "t.toml"
    f.write_text('format_version = 1\ntopic = "t"\nlesson = "x"\n\n[[item]]\n' + body)
    with pytest.raises(BankError) as e:
        load_file(f)
    assert field in (e.value.field or "")
    assert message in e.value.message
    assert e.value.line is not None and e.value.line >= 5


def test_complexity_items_come_from_the_command_table(real_bank) -> None:
    from redislab.engine.commands import TABLE

    items = [i for i in real_bank if i.kind == "complexity"]
    assert len(items) >= 30
    for item in items:
        spec = TABLE.lookup(item.command.encode())
        right = item.choices[item.correct_index]
        assert right.text == spec.cost.big_o
        assert len(item.choices) == 4
        for c in item.choices:
            if not c.correct:
                assert c.why
                # distractors name a command of the same group when they can
                if c.why.startswith("That is the cost of "):
                    other = c.why.removeprefix("That is the cost of ").split(" ")[0]
                    other = other.rstrip(".")
                    assert TABLE.lookup(other.encode()).group == spec.group
