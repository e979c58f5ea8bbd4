"""``redislab dev check`` on a tiny course with deliberately broken lessons."""

from __future__ import annotations

from redislab.learn.validate import check_command_line, validate

from .conftest import COURSE


def test_validator_finds_every_planted_problem() -> None:
    report = validate(COURSE)
    assert not report.ok
    text = "\n".join(report.errors)
    expected = [
        "020-bad-syntax.toml:6: not valid TOML",
        "030-bad-level.toml:4: level: must be one of",
        "040-unknown-check.toml:11: step 2: check.kind: unknown check kind 'magic'",
        "100-missing-field.toml:1: title: missing",
        "not-a-lesson-name.toml: lesson files are named NNN-slug.toml",
        "050-solution-fails.toml: step 1 (step-1): the reference solution does not pass",
        "060-already-passes.toml: step 1 (step-1): the check already passes before the "
        "learner does anything",
        "070-unreachable-mistake.toml: step 1 (step-1): mistake 1 is not reached by its "
        "example",
        "080-bad-command.toml: prerequisites: no lesson 'no-such-lesson'",
        "080-bad-command.toml: commands: unknown command 'TELEPORT'",
        "080-bad-command.toml: step 1 (step-1): setup: wrong number of arguments for get",
        "080-bad-command.toml: step 1 (step-1): solution: unknown command 'FROBNICATE'",
    ]
    for words in expected:
        assert words in text, words
    assert "010-good.toml" not in text  # the good lesson passes, simulation step included
    assert len(report.errors) == len(expected)
    assert report.skipped == [f"{COURSE}/090-needs-feature.toml: step 1 (step-1): skipped: "
                              "needs teleportation, which this engine does not have yet"]


def test_command_lines() -> None:
    assert check_command_line("SET a 1") is None
    assert check_command_line("CONFIG SET maxmemory 1mb") is None
    assert check_command_line(":advance 5s") is None
    assert check_command_line("@bob GET a") is None
    assert "unknown subcommand" in (check_command_line("CONFIG FROB") or "")
    assert "wrong number of arguments for set" in (check_command_line("SET a") or "")
    assert "unknown lesson line" in (check_command_line(":teleport") or "")
