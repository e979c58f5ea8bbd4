"""The quiz in the terminal, without a terminal: scripted input lines and a string console;
and the ``redislab quiz`` / ``redislab progress`` commands."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

import pytest
from rich.console import Console
from typer.testing import CliRunner

from redislab.cli import app
from redislab.learn.quiz_progress import QuizProgress
from redislab.ui.quiz_screen import describe_due, run_progress, run_quiz

GOOD = Path(__file__).parent / "fixtures" / "quiz" / "good"


class FakeClock:
    def __init__(self) -> None:
        self.t = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.t


def scripted(lines: Iterable[str], clock: FakeClock, step: float = 20.0):
    feed = iter(lines)
    prompts: list[str] = []

    def read(prompt: str) -> str:
        prompts.append(prompt)
        clock.t += timedelta(seconds=step)
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None
    read.prompts = prompts  # type: ignore[attr-defined]
    return read


def by_question(c: Console, answers: dict[str, list[str]], clock: FakeClock,
                step: float = 20.0):
    """Answer according to the question on screen: ``answers`` maps a piece of each prompt to
    the lines to type for it, in order."""
    queues = {k: list(v) for k, v in answers.items()}

    def read(prompt: str) -> str:
        clock.t += timedelta(seconds=step)
        screen = text(c)
        current = screen[screen.rfind("Question "):]
        for key, lines in queues.items():
            if key in current and lines:
                return lines.pop(0)
        raise EOFError
    return read


def console() -> Console:
    return Console(file=io.StringIO(), width=110, force_terminal=False, color_system=None)


def text(c: Console) -> str:
    return c.file.getvalue()  # type: ignore[attr-defined]


def test_a_session_from_start_to_end(tmp_path: Path) -> None:
    clock = FakeClock()
    c = console()
    # kind=choice with the fixture bank: a-choice, b-choice and the GET complexity item.
    read = by_question(c, {"adds one to a counter": [":hint", "INCR"],
                           "ordered by score": ["Sorted set"],
                           "complexity of GET": ["O(1)"]}, clock)
    code = run_quiz(kind="choice", count=3, bank_dir=GOOD, progress_file=tmp_path / "q.json",
                    console=c, read=read, now=clock, seed=2)
    out = text(c)
    assert code == 0
    assert "3 questions: 0 due for review, 3 new." in out
    assert "Hint: It is a single command." in out
    assert out.count("✓") == 3
    assert "Recorded as hard" in out                      # the hinted one
    assert "3/3 right this session." in out
    saved = QuizProgress.load(tmp_path / "q.json")
    assert len(saved.items) == 3


def test_wrong_answer_shows_why_and_the_answer(tmp_path: Path) -> None:
    clock = FakeClock()
    c = console()
    run_quiz(topic="a-choice", bank_dir=GOOD, progress_file=tmp_path / "q.json", console=c,
             read=scripted([], clock), now=clock)  # unknown topic: an error, no session
    assert "No item has the topic or tag" in text(c)
    c = console()
    run_quiz(kind="short", bank_dir=GOOD, progress_file=tmp_path / "q.json", console=c,
             read=scripted(["-1"], clock), now=clock)
    out = text(c)
    assert "✗ Not quite" in out and "Answer: -2" in out and "-2 means no such key." in out
    assert "Recorded as again; next review in a moment." in out


def test_predict_and_hands_on_feedback(tmp_path: Path) -> None:
    clock = FakeClock()
    c = console()
    run_quiz(kind="predict", bank_dir=GOOD, progress_file=tmp_path / "q.json", console=c,
             read=scripted(['1) "b"', '2) "a"', ""], clock), now=clock)
    out = text(c)
    assert "redis> RPUSH l a b" in out
    assert "Redis replies:" in out and '1) "a"\n2) "b"' in out
    c = console()
    run_quiz(topic="beta", kind="hands-on", count=1, bank_dir=GOOD, seed=4,
             progress_file=tmp_path / "q.json", console=c,
             read=scripted(["FLUSHALL", "", "return 1", ""], clock), now=clock)
    out = text(c)
    assert "yours is one of several variants" in out
    assert "✗ Not yet" in out and "A reference solution:" in out


def test_explain_self_grading_and_side_by_side(tmp_path: Path) -> None:
    clock = FakeClock()
    c = console()
    run_quiz(kind="explain", bank_dir=GOOD, progress_file=tmp_path / "q.json", console=c,
             read=scripted(["Commands run one at a time.", "It is atomic.", "", ""], clock),
             now=clock)
    out = text(c)
    assert "[x] 1. Commands run one at a time" in out
    assert "[x] 2. INCR reads and writes in one command" in out
    assert "[ ] 3." in out
    assert "2 of 3 key points: a pass" in out
    assert "Your answer" in out and "Model answer" in out
    assert "Recorded as hard" in out


def test_reveal_and_quit(tmp_path: Path) -> None:
    clock = FakeClock()
    c = console()
    run_quiz(kind="choice", count=3, bank_dir=GOOD, progress_file=tmp_path / "q.json",
             console=c, read=scripted([":reveal", ":quit"], clock), now=clock)
    out = text(c)
    assert "Answer shown" in out and "Stopped. Progress so far is saved." in out
    assert "0/1 right this session." in out
    assert len(QuizProgress.load(tmp_path / "q.json").items) == 1


def test_interview_report(tmp_path: Path) -> None:
    clock = FakeClock()
    c = console()
    lines = ["I would say commands run one at a time.", "", "1", "a", "b", "c", "d", "", "x",
             "", "return 0", "", "q", "r", "s"]
    run_quiz(interview=True, minutes=10, bank_dir=GOOD, progress_file=tmp_path / "q.json",
             console=c, read=scripted(lines, clock, step=15), now=clock, seed=3)
    out = text(c)
    assert "Mock interview: 10 minutes" in out
    assert "left" in out
    assert "Interview report" in out and "Score per topic" in out
    assert "Lessons to take next:" in out and "redislab learn " in out
    assert "Your spoken answers next to the model answers" in out
    saved = json.loads((tmp_path / "q.json").read_text())
    assert len(saved["interviews"]) == 1


def test_progress_view_and_file_operations(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "q.json"
    c = console()
    run_quiz(kind="choice", count=3, bank_dir=GOOD, progress_file=path, console=c,
             read=by_question(c, {"adds one to a counter": ["INCR"],
                                  "ordered by score": ["Hash"],
                                  "complexity of GET": ["O(1)"]}, clock), now=clock, seed=2)
    c = console()
    assert run_progress(progress_file=path, bank_dir=GOOD, console=c, now=clock) == 0
    out = text(c)
    assert "Quiz progress" in out and "Alpha topic" in out and "Beta topic" in out
    assert "Reviews due over the next 14 days" in out
    assert "Weak items" in out and "b-choice" in out

    c = console()
    run_progress(progress_file=path, bank_dir=GOOD, export=tmp_path / "e.json", console=c,
                 now=clock)
    assert "Progress exported" in text(c)
    c = console()
    run_progress(progress_file=path, bank_dir=GOOD, reset=True, items=["b-choice"], console=c,
                 now=clock)
    assert "Reset 1 item(s)." in text(c)
    c = console()
    run_progress(progress_file=path, bank_dir=GOOD, reset=True, topic="alpha", console=c,
                 now=clock)
    assert "Reset 2 item(s)." in text(c)
    c = console()
    run_progress(progress_file=path, bank_dir=GOOD, import_file=tmp_path / "e.json",
                 console=c, now=clock)
    assert "Imported 3 item records" in text(c)

    path.write_text("{broken")
    c = console()
    run_progress(progress_file=path, bank_dir=GOOD, console=c, now=clock)
    assert "not readable JSON" in text(c)
    assert "it was kept as q.json.corrupt-20250301-" in " ".join(text(c).split())
    assert any(p.name.startswith("q.json.corrupt-") for p in tmp_path.iterdir())


@pytest.mark.parametrize("seconds,words", [(30, "in a moment"), (600, "in 10 min"),
                                           (7200, "in 2 h"), (86400 * 4, "in 4 days")])
def test_describe_due(seconds: float, words: str) -> None:
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert describe_due(now + timedelta(seconds=seconds), now) == words


# ------------------------------------------------------------------------------------------
# The command line

runner = CliRunner()


def test_cli_quiz_list() -> None:
    result = runner.invoke(app, ["quiz", "--list", "--bank", str(GOOD)])
    assert result.exit_code == 0, result.output
    assert "alpha" in result.output and "beta" in result.output


def test_cli_quiz_session_with_piped_answers(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    result = runner.invoke(app, ["quiz", "--bank", str(GOOD), "--kind", "short",
                                 "--progress-file", str(path)], input="-2\n")
    assert result.exit_code == 0, result.output
    assert "✓ Right" in result.output
    assert json.loads(path.read_text())["items"]["a-short"]["reviews"] == 1


def test_cli_minutes_need_interview() -> None:
    result = runner.invoke(app, ["quiz", "5"])
    assert result.exit_code == 2


def test_cli_bad_kind(tmp_path: Path) -> None:
    result = runner.invoke(app, ["quiz", "--kind", "essay", "--bank", str(GOOD),
                                 "--progress-file", str(tmp_path / "q.json")])
    assert result.exit_code == 2 and "--kind must be one of" in result.output


def test_cli_interview_ends_on_eof(tmp_path: Path) -> None:
    result = runner.invoke(app, ["quiz", "--interview", "2", "--bank", str(GOOD),
                                 "--progress-file", str(tmp_path / "q.json")], input="")
    assert result.exit_code == 0, result.output
    assert "Interview report" in result.output


def test_cli_progress_export_import_reset(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    runner.invoke(app, ["quiz", "--bank", str(GOOD), "--kind", "short", "--progress-file",
                        str(path)], input="-2\n")
    out = tmp_path / "copy.json"
    r = runner.invoke(app, ["progress", "--bank", str(GOOD), "--progress-file", str(path),
                            "--export", str(out)])
    assert r.exit_code == 0 and out.exists()
    r = runner.invoke(app, ["progress", "--bank", str(GOOD), "--progress-file", str(path),
                            "--reset"], input="n\n")
    assert r.exit_code == 1 and "Nothing was reset." in r.output
    r = runner.invoke(app, ["progress", "--bank", str(GOOD), "--progress-file", str(path),
                            "--reset"], input="y\n")
    assert r.exit_code == 0 and "Reset all quiz progress (1 items)." in r.output
    runner.invoke(app, ["progress", "--bank", str(GOOD), "--progress-file", str(path),
                        "--import", str(out)])
    r = runner.invoke(app, ["progress", "--bank", str(GOOD), "--progress-file", str(path),
                            "--reset", "--yes"])
    assert r.exit_code == 0 and "Reset all quiz progress (1 items)." in r.output
    r = runner.invoke(app, ["progress", "--bank", str(GOOD), "--progress-file", str(path),
                            "--import", str(out)])
    assert r.exit_code == 0 and "Imported 1 item records" in r.output
    r = runner.invoke(app, ["progress", "--bank", str(GOOD), "--progress-file", str(path)])
    assert r.exit_code == 0 and "Quiz progress" in r.output


def test_cli_uses_the_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDISLAB_DATA_DIR", str(tmp_path / "data"))
    r = runner.invoke(app, ["quiz", "--bank", str(GOOD), "--kind", "short"], input="-2\n")
    assert r.exit_code == 0
    assert (tmp_path / "data" / "quiz.json").exists()


def test_placeholders_in_markdown_stay_visible() -> None:
    from redislab.ui.quiz_screen import _markdown

    c = console()
    c.print(_markdown("Take it with SET lock <token> NX PX 30000, or `SET k <v>`."))
    assert "SET lock <token> NX PX 30000" in text(c)
    assert "SET k <v>" in text(c)
