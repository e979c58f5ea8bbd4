"""The quiz in the terminal: questions, feedback, the interview report and the progress view.

Everything is drawn with rich on a Console the caller passes in, and every answer is read
through a ``read(prompt) -> str`` function, so the screens run the same in a terminal, with
piped input and in tests (a list of scripted lines and a string console). The quiz logic
itself lives in ``redislab.learn``; this module only shows it.

While answering, a line that starts with ``:`` is an instruction: ``:hint`` shows the next
hint, ``:reveal`` (or ``:skip``) shows the answer and counts the item as missed, ``:quit``
ends the session. Multi-line answers (replies, commands, scripts, explanations) end with an
empty line.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..learn.quiz import (
    Interview, InterviewReport, Outcome, Question, QuizSession, TopicProgress, lesson_titles,
    progress_overview,
)
from ..learn.quiz_bank import Bank, Item, load_bank
from ..learn.quiz_grade import predict_reply
from ..learn.quiz_progress import ProgressError, QuizProgress
from ..learn.scheduling import RATING_NAMES, Now, Scheduling, forecast, utc_now
from .render import render

__all__ = ["QuizScreen", "run_quiz", "run_progress", "KIND_LABELS", "describe_due"]

Read = Callable[[str], str]

KIND_LABELS = {"choice": "multiple choice", "short": "short answer",
               "predict": "predict the reply", "hands-on": "hands-on",
               "complexity": "complexity", "explain": "30-second answer"}
BARS = " ▁▂▃▄▅▆▇█"


class _Quit(Exception):
    """The learner asked to stop."""


def describe_due(due: datetime | None, now: datetime) -> str:
    if due is None:
        return ""
    delta = due - now
    secs = delta.total_seconds()
    if secs <= 60:
        return "in a moment"
    if secs < 3600:
        return f"in {round(secs / 60)} min"
    if secs < 86400 * 1.5:
        return f"in {round(secs / 3600)} h"
    return f"in {round(secs / 86400)} days"


class QuizScreen:
    def __init__(self, console: Console, read: Read, *, now: Now = utc_now,
                 lessons: dict[str, str] | None = None) -> None:
        self.console = console
        self.read = read
        self.now = now
        self.lessons = lessons if lessons is not None else {}

    # ------------------------------------------------------------------------------------
    # Input

    def _line(self, prompt: str) -> str:
        try:
            return self.read(prompt)
        except EOFError:
            raise _Quit() from None

    def _lines(self, prompt: str, more: str = "... ") -> str:
        """Lines until an empty one; an instruction (``:hint``) on the first line returns at
        once."""
        first = self._line(prompt)
        if first.strip().startswith(":"):
            return first.strip()
        lines = [first]
        if not first.strip():
            return ""
        while True:
            try:
                line = self.read(more)
            except EOFError:
                break
            if not line.strip():
                break
            if line.strip().lower() in (":quit", ":q"):
                raise _Quit()
            lines.append(line)
        return "\n".join(lines)

    # ------------------------------------------------------------------------------------
    # One question

    def _header(self, q: Question, total: int, extra: str = "") -> None:
        item = q.item
        bits = [f"Question {q.number}" + (f"/{total}" if total else ""),
                KIND_LABELS.get(item.kind, item.kind), item.topic.replace("-", " ")]
        if extra:
            bits.append(extra)
        self.console.print()
        self.console.rule(Text(" · ".join(bits), style="bold"))

    def _show(self, q: Question) -> None:
        item = q.item
        c = self.console
        c.print(_markdown(item.prompt))
        if item.kind in ("choice", "complexity"):
            grid = Table.grid(padding=(0, 1))
            grid.add_column(no_wrap=True)
            grid.add_column()
            for i, choice in enumerate(q.choices):
                grid.add_row(Text(f"  {'abcdefghij'[i]})", style="bold"), Text(choice.text))
            c.print(grid)
        elif item.kind == "predict":
            c.print()
            for line in item.commands:
                if line.strip().startswith(":advance"):
                    c.print(Text(f"  ({line.split(None, 1)[1]} pass)", style="dim"))
                else:
                    c.print(Text("  redis> ", style="dim") + Text(line, style="cyan"))
            c.print(Text("Type the reply of the last command as redis-cli prints it "
                         "(several lines for an array; an empty line ends).", style="dim"))
        elif item.kind == "hands-on":
            setup = q.setup
            if setup:
                c.print(Text("The data (yours is one of several variants):", style="dim"))
                for line in setup:
                    c.print(Text("  " + line, style="cyan"))
            if item.answer_kind == "lua":
                keys, args = q.lua_inputs
                c.print(Text(f"Your script runs with KEYS = {keys} and ARGV = {args}.",
                             style="dim"))
                c.print(Text("Type the Lua script (an empty line ends it).", style="dim"))
            else:
                c.print(Text("Type the commands, one per line (an empty line ends).",
                             style="dim"))
            if item.forbidden:
                c.print(Text("Not allowed here: " + ", ".join(item.forbidden), style="dim"))
        elif item.kind == "explain":
            c.print(Text("Answer as you would out loud, in a few sentences (an empty line "
                         "ends).", style="dim"))
        hints = " · :hint" if item.hints else ""
        c.print(Text(f"(:reveal shows the answer{hints} · :quit stops)", style="dim"))

    def ask(self, session: QuizSession, q: Question, total: int = 0,
            extra: Callable[[], str] | None = None) -> Outcome:
        self._header(q, total, extra() if extra else "")
        self._show(q)
        item = q.item
        multi = item.kind in ("predict", "hands-on", "explain")
        while True:
            text = self._lines("> ") if multi else self._line("> ").strip()
            cmd = text.strip().lower()
            if cmd in (":quit", ":q", ":exit"):
                raise _Quit()
            if cmd == ":hint":
                hint = session.hint(q)
                self.console.print(Text("Hint: " + hint, style="yellow") if hint
                                   else Text("No more hints. :reveal shows the answer.",
                                             style="dim"))
                continue
            if cmd in (":reveal", ":skip", ":answer"):
                out = session.reveal(q)
                self._feedback(out)
                return out
            if cmd.startswith(":"):
                self.console.print(Text("Unknown instruction; :hint, :reveal or :quit.",
                                        style="dim"))
                continue
            if not text.strip():
                self.console.print(Text("No answer yet (:reveal to see it).", style="dim"))
                continue
            covered: Sequence[int] | None = None
            if item.kind == "explain":
                covered = self._self_grade(q, text)
            if item.kind == "hands-on":
                self.console.print(Text("Running your answer on fresh engines...",
                                        style="dim"))
            out = session.submit(q, text, covered)
            self._feedback(out)
            return out

    def _self_grade(self, q: Question, text: str) -> list[int]:
        item = q.item
        suggested = q.suggest(text)
        self.console.print(Text("Key points an interviewer listens for:", style="bold"))
        for i, p in enumerate(item.rubric, 1):
            mark = "x" if i - 1 in suggested else " "
            self.console.print(f"  [{mark}] {i}. {p.point}", highlight=False, markup=False)
        default = " ".join(str(i + 1) for i in suggested)
        while True:
            raw = self._line(f"Which did you cover? numbers, 'none'"
                             + (f" [Enter: {default}]" if default else "") + " > ").strip()
            if not raw:
                return suggested
            if raw.lower() in ("none", "0", "-"):
                return []
            if raw.lower() == "all":
                return list(range(len(item.rubric)))
            try:
                picked = sorted({int(x) - 1 for x in raw.replace(",", " ").split()})
            except ValueError:
                self.console.print(Text("Numbers please, e.g. 1 3", style="dim"))
                continue
            if all(0 <= p < len(item.rubric) for p in picked):
                return picked
            self.console.print(Text(f"Numbers from 1 to {len(item.rubric)}", style="dim"))

    def _feedback(self, out: Outcome) -> None:
        c = self.console
        item, g = out.item, out.grade
        if out.revealed:
            c.print(Text("Answer shown: this item comes back soon.", style="yellow"))
        elif g.correct:
            c.print(Text("✓ " + _sentence(g.summary), style="bold green"))
        else:
            c.print(Text("✗ " + _sentence(g.summary), style="bold red"))
        if g.why and not g.correct:
            c.print(Text(g.why, style="red"))
        for d in g.details:
            c.print(Text("  " + d, style="dim" if g.correct else ""))
        if item.kind == "predict":
            reply = predict_reply(item)
            c.print(Text("Redis replies:", style="bold"))
            c.print(Text(render(reply, resp=item.resp, raw=False).rstrip("\n")),
                    highlight=False)
        elif item.kind == "hands-on" and not g.correct:
            c.print(Text("A reference solution:", style="bold"))
            c.print(Text(item.solution, style="cyan"), highlight=False)
        elif item.kind == "explain":
            self._side_by_side([(item, out.response, len(out.covered))])
        elif g.expected_text and (not g.correct or item.kind == "short"):
            c.print(Text("Answer: ", style="bold") + Text(g.expected_text))
        if item.explanation:
            c.print(Panel(_markdown(item.explanation), border_style="dim"))
        if out.rating is not None:
            when = describe_due(out.due, self.now())
            c.print(Text(f"Recorded as {RATING_NAMES[out.rating]}; next review {when}."
                         + (f" Lesson: {self._lesson(item.lesson)}" if item.lesson else ""),
                         style="dim"))

    def _lesson(self, lesson_id: str) -> str:
        title = self.lessons.get(lesson_id)
        return f"{lesson_id} ({title})" if title and title != lesson_id else lesson_id

    def _side_by_side(self, rows: Sequence[tuple[Item, str, int]]) -> None:
        table = Table(show_lines=True, expand=True)
        table.add_column("Your answer", ratio=1)
        table.add_column("Model answer", ratio=1)
        for item, answer, covered in rows:
            label = f"[b]{item.prompt.splitlines()[0][:90]}[/b]"
            table.add_row(Group(Text.from_markup(label), Text(answer or "(no answer)"),
                                Text(f"{covered}/{len(item.rubric)} key points",
                                     style="dim")),
                          Text(" ".join(item.model.split())))
        self.console.print(table)

    # ------------------------------------------------------------------------------------
    # Sessions

    def run_session(self, session: QuizSession) -> int:
        total = len(session.items)
        if not total:
            self.console.print("Nothing is due and there is nothing new for this choice. "
                               "Come back later, or pick another --topic or --kind.")
            return 0
        due = sum(1 for i in session.items if i.id in session.progress.items)
        self.console.print(Text(f"{total} questions: {due} due for review, {total - due} new.",
                                style="bold"))
        try:
            for q in session:
                self.ask(session, q, total)
        except _Quit:
            self.console.print(Text("Stopped. Progress so far is saved.", style="dim"))
        right, asked = session.score()
        if asked:
            self.console.print()
            self.console.print(Text(f"{right}/{asked} right this session.", style="bold"))
            upcoming = sorted(o.due for o in session.outcomes if o.due)
            if upcoming:
                self.console.print(Text("Next item due " + describe_due(upcoming[0],
                                                                         self.now()) + ".",
                                        style="dim"))
        return 0

    def run_interview(self, interview: Interview) -> InterviewReport:
        total = len(interview.items)
        self.console.print(Panel(Text(
            f"Mock interview: {interview.minutes:g} minutes, up to {total} questions mixing "
            "kinds and topics. The clock is running.", style="bold")))

        def left() -> str:
            secs = int(interview.time_left())
            return f"{secs // 60}:{secs % 60:02d} left"

        try:
            for q in interview:
                self.ask(interview, q, total, extra=left)
                if interview.over:
                    self.console.print(Text("Time is up.", style="bold yellow"))
        except _Quit:
            self.console.print(Text("Interview ended early.", style="dim"))
        report = interview.finish()
        self.show_report(report)
        return report

    def show_report(self, report: InterviewReport) -> None:
        c = self.console
        c.print()
        c.rule(Text("Interview report", style="bold"))
        c.print(Text(f"{report.right}/{report.asked} right · score {report.score:.0%} · "
                     f"{report.elapsed / 60:.1f} of {report.minutes:g} minutes", style="bold"))
        if report.topics:
            table = Table(title="Score per topic")
            table.add_column("Topic")
            table.add_column("Asked", justify="right")
            table.add_column("Right", justify="right")
            table.add_column("Score", justify="right")
            table.add_column("")
            for t in report.topics:
                table.add_row(t.title, str(t.asked), str(t.right), f"{t.score:.0%}",
                              _bar(t.score, 12))
            c.print(table)
        if report.weakest:
            c.print(Text("Weakest areas: " + ", ".join(t.title for t in report.weakest),
                         style="bold yellow"))
        if report.lessons:
            c.print(Text("Lessons to take next:", style="bold"))
            for lesson in report.lessons[:5]:
                c.print(f"  redislab learn {lesson}" + (f"   {self.lessons[lesson]}"
                                                        if lesson in self.lessons else ""),
                        highlight=False, markup=False)
        if report.unanswered:
            c.print(Text(f"{len(report.unanswered)} planned questions were not reached.",
                         style="dim"))
        if report.explains:
            c.print(Text("Your spoken answers next to the model answers:", style="bold"))
            self._side_by_side([(o.item, o.response, len(o.covered))
                                for o in report.explains])

    # ------------------------------------------------------------------------------------
    # Progress

    def show_progress(self, bank: Bank, progress: QuizProgress,
                      scheduling: Scheduling | None = None) -> None:
        now = self.now()
        rows = progress_overview(bank, progress, now, scheduling)
        c = self.console
        table = Table(title="Quiz progress")
        table.add_column("Topic")
        table.add_column("Items", justify="right")
        table.add_column("Seen", justify="right")
        table.add_column("Learned", justify="right")
        table.add_column("Due", justify="right")
        table.add_column("Weak", justify="right")
        table.add_column("Recall", justify="right")
        table.add_column("", no_wrap=True)
        totals = TopicProgress("", "Total")
        for r in rows:
            table.add_row(r.title, str(r.total), str(r.seen), str(r.learned),
                          str(r.due) if r.due else "", str(r.weak) if r.weak else "",
                          f"{r.retrievability:.0%}" if r.seen else "",
                          _bar(r.learned / r.total if r.total else 0, 10))
            totals.total += r.total
            totals.seen += r.seen
            totals.learned += r.learned
            totals.due += r.due
            totals.weak += r.weak
        table.add_row(Text("Total", style="bold"), str(totals.total), str(totals.seen),
                      str(totals.learned), str(totals.due), str(totals.weak), "",
                      _bar(totals.learned / totals.total if totals.total else 0, 10))
        c.print(table)
        days = forecast(progress.items.values(), now, 14)
        if any(days):
            c.print(Text("Reviews due over the next 14 days:", style="bold"))
            c.print(Text("  " + _spark(days), style="cyan"))
            c.print(Text("  " + "".join("T" if i == 0 else ("|" if i % 7 == 0 else " ")
                                          for i in range(len(days))), style="dim"))
            c.print(Text(f"  today {days[0]} · this week {sum(days[:7])} · "
                         f"next week {sum(days[7:])}", style="dim"))
        weak = [(r.title, i) for r in rows for i in r.weak_items]
        if weak:
            c.print(Text("Weak items (missed recently or forgotten often):", style="bold"))
            for title, item_id in weak[:10]:
                c.print(f"  {item_id}  ({title})", highlight=False, markup=False)
        if progress.interviews:
            c.print(Text("Recent interviews:", style="bold"))
            for iv in progress.interviews[-5:]:
                c.print(f"  {str(iv.get('at', ''))[:16].replace('T', ' ')}  "
                        f"{iv.get('right', 0)}/{iv.get('asked', 0)} right, score "
                        f"{float(iv.get('score', 0)):.0%}", highlight=False, markup=False)
        if not progress.items:
            c.print("No quiz answers yet: start with `redislab quiz`.", markup=False)


_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def _markdown(text: str) -> Markdown:
    """Markdown where ``<token>``-style placeholders stay visible (not read as HTML tags)."""
    out, pos = [], 0
    for m in _CODE_SPAN.finditer(text):
        out.append(text[pos:m.start()].replace("<", "&lt;"))
        out.append(m.group(0))
        pos = m.end()
    out.append(text[pos:].replace("<", "&lt;"))
    return Markdown("".join(out))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _bar(share: float, width: int) -> Text:
    share = max(0.0, min(1.0, share))
    full = int(share * width)
    part = int((share * width - full) * 8)
    s = "█" * full + (BARS[part] if part and full < width else "")
    return Text(s.ljust(width, "·"), style="green" if share >= 0.75 else
                "yellow" if share >= 0.4 else "red")


def _spark(values: Sequence[int]) -> str:
    top = max(values) or 1
    return "".join(BARS[min(8, round(v / top * 8))] if v else "·" for v in values)


# ------------------------------------------------------------------------------------------
# Entry points for the command line

def _console_read(console: Console) -> Read:
    def read(prompt: str) -> str:
        return console.input(prompt)
    return read


def _load(console: Console, bank_dir: str | Path | None, progress_file: str | Path | None,
          now: Now) -> tuple[Bank, QuizProgress] | None:
    bank = load_bank(bank_dir)
    for err in bank.errors:
        console.print(Text(f"skipped: {err}", style="yellow"), highlight=False)
    try:
        progress = QuizProgress.load(progress_file, now())
    except ProgressError as e:
        console.print(Text(str(e), style="red"), highlight=False)
        return None
    if progress.problem:
        console.print(Text(progress.problem, style="yellow"), highlight=False)
    return bank, progress


def run_quiz(*, topic: str | None = None, kind: str | None = None, count: int = 10,
             interview: bool = False, minutes: float | None = None, seed: int | None = None,
             bank_dir: str | Path | None = None, progress_file: str | Path | None = None,
             list_topics: bool = False, console: Console | None = None,
             read: Read | None = None, now: Now = utc_now,
             scheduling: Scheduling | None = None) -> int:
    """``redislab quiz``: a session of due and new items, or a timed mock interview."""
    console = console or Console(highlight=False)
    loaded = _load(console, bank_dir, progress_file, now)
    if loaded is None:
        return 1
    bank, progress = loaded
    if list_topics:
        table = Table(title=f"{len(bank)} quiz items")
        table.add_column("Topic")
        table.add_column("Items", justify="right")
        table.add_column("Kinds")
        for t in bank.topics:
            items = bank.select(t)
            kinds = sorted({i.kind for i in items if i.topic == t})
            table.add_row(t, str(sum(1 for i in items if i.topic == t)), ", ".join(kinds))
        console.print(table)
        console.print(Text("Tags: " + ", ".join(bank.tags), style="dim"))
        return 0
    if kind and kind not in KIND_LABELS:
        console.print(Text(f"--kind must be one of {', '.join(KIND_LABELS)}", style="red"))
        return 2
    if topic and not bank.select(topic):
        console.print(Text(f"No item has the topic or tag {topic!r}; see `redislab quiz "
                           "--list`.", style="red"), highlight=False)
        return 2
    screen = QuizScreen(console, read or _console_read(console), now=now,
                        lessons=lesson_titles())
    if interview:
        iv = Interview.plan(bank, progress, minutes=minutes or 20, topic=topic, kind=kind,
                            now=now, seed=seed, scheduling=scheduling)
        screen.run_interview(iv)
        return 0
    session = QuizSession.plan(bank, progress, count=count, topic=topic, kind=kind, now=now,
                               seed=seed, scheduling=scheduling)
    return screen.run_session(session)


def run_progress(*, progress_file: str | Path | None = None,
                 bank_dir: str | Path | None = None, export: str | Path | None = None,
                 import_file: str | Path | None = None, replace: bool = False,
                 reset: bool = False, items: Sequence[str] = (), topic: str | None = None,
                 console: Console | None = None, now: Now = utc_now,
                 scheduling: Scheduling | None = None,
                 confirm: Callable[[str], bool] = lambda question: True) -> int:
    """``redislab progress``: the table and chart, or export / import / reset.

    ``confirm`` is asked before everything is forgotten (the command line asks the user
    unless ``--yes``)."""
    console = console or Console(highlight=False)
    loaded = _load(console, bank_dir, progress_file, now)
    if loaded is None:
        return 1
    bank, progress = loaded
    try:
        if export:
            path = progress.export(export)
            console.print(f"Progress exported to {path} ({len(progress.items)} items).",
                          markup=False, highlight=False)
            return 0
        if import_file:
            n = progress.import_from(import_file, replace=replace)
            progress.save()
            console.print(f"Imported {n} item records from {import_file}"
                          + (" (replacing everything)." if replace else " (merged)."),
                          markup=False, highlight=False)
            return 0
        if reset:
            if items or topic:
                ids = list(items) + [i.id for i in bank.select(topic)] if topic else list(items)
                n = progress.reset(ids)
                what = f"{n} item(s)"
            else:
                if progress.items and not confirm(
                        f"Forget all quiz progress ({len(progress.items)} items)?"):
                    console.print("Nothing was reset.")
                    return 1
                n = progress.reset()
                what = f"all quiz progress ({n} items)"
            progress.save()
            console.print(f"Reset {what}.", markup=False, highlight=False)
            return 0
    except ProgressError as e:
        console.print(Text(str(e), style="red"), highlight=False)
        return 1
    QuizScreen(console, lambda p: "", now=now).show_progress(bank, progress, scheduling)
    return 0

