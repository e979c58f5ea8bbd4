"""A lesson inside the REPL: the step's text, the learner's commands, checks, hints, plots.

:class:`LessonShell` is the REPL's :class:`~redislab.ui.repl.shell.Shell` with a
:class:`~redislab.learn.runner.LessonRun` beside it. Commands run on the lesson's engine
exactly as in the plain REPL (replies, annotations, ``@name`` clients, ``:advance``); after
each one the step's check runs, and passing it says so. The lesson's own meta-commands:

    :check        check the step now (simulation steps are checked only on :check)
    :hint         the next rung of the hint ladder (nudge, concept, nearly the answer)
    :solution     the reference solution
    :goal         what the check wants, beside what is there now
    :reset        start the step over (new hidden values); ``:reset exercise`` restores the
                  exercise file as shipped
    :next :prev :skip    move between steps (:skip leaves the step unfinished)
    :step         show the step's text again; :steps lists them all
    :exercise     where the step's exercise file is
    :crash        pull the plug (needs persistence)

``redislab learn`` lists lessons with progress (:func:`lesson_list`); ``redislab learn ID``
runs one (:func:`run_lesson`). Everything here is drawn as theme-named fragments, so it runs
the same in a terminal, with piped input and in tests.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Callable

from ..learn.loader import LessonError, lessons_dir, load_all
from ..learn.model import Lesson, Verdict
from ..learn.progress import Progress
from ..learn.runner import LessonRun
from .backend import EmbeddedBackend
from .repl.meta import META, meta
from .repl.shell import Shell
from .theme import Fragments

__all__ = ["LessonShell", "run_lesson", "lesson_list", "markdown_fragments", "plot",
           "verdict_fragments", "find_lesson", "LESSON_META"]

BARS = " ▁▂▃▄▅▆▇█"
PLOT_WIDTH = 60
PLOT_HEIGHT = 6
LESSON_META = ("check", "hint", "solution", "goal", "next", "prev", "skip", "step", "steps",
               "exercise", "crash")


# ------------------------------------------------------------------------------------------
# Drawing

_INLINE = re.compile(r"(`[^`]+`|\*\*[^*]+\*\*)")


def _inline(text: str, base: str = "info") -> Fragments:
    out: Fragments = []
    for part in _INLINE.split(text):
        if not part:
            continue
        if part.startswith("`") and part.endswith("`"):
            out.append(("input.command", part[1:-1]))
        elif part.startswith("**") and part.endswith("**"):
            out.append(("info.title", part[2:-2]))
        else:
            out.append((base, part))
    return out


def markdown_fragments(text: str, indent: str = "  ") -> Fragments:
    """A small Markdown subset as styled lines: paragraphs, bullets, headings, code."""
    out: Fragments = []
    paragraph: list[str] = []
    bullet: list[Any] = []          # [prefix, words] of the bullet being read

    def flush() -> None:
        if paragraph:
            out.extend([("info", indent)] + _inline(" ".join(paragraph)) + [("info", "\n")])
            paragraph.clear()
        if bullet:
            out.extend([("info", bullet[0])] + _inline(" ".join(bullet[1])) +
                       [("info", "\n")])
            bullet.clear()

    in_code = False
    for raw in text.strip("\n").splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            in_code = not in_code
            continue
        if in_code or (line.startswith("    ") and not paragraph and not bullet):
            flush()
            out.append(("input.command", indent + "  " + stripped + "\n"))
            continue
        if not stripped:
            flush()
            out.append(("info", "\n"))
            continue
        m = re.match(r"^(\s*)([*-]|\d+\.)\s+(.*)$", line)
        if m:
            flush()
            mark = "•" if m.group(2) in "*-" else m.group(2)
            bullet.extend([indent + m.group(1) + mark + " ", [m.group(3)]])
            continue
        if bullet and raw.startswith(" "):
            bullet[1].append(stripped)
            continue
        if stripped.startswith("#"):
            flush()
            out.append(("info.title", indent + stripped.lstrip("#").strip() + "\n"))
            continue
        if bullet:
            flush()
        paragraph.append(stripped)
    flush()
    while out and out[-1] == ("info", "\n"):
        out.pop()
    return out


def plot(series: dict[str, list[float]], unit: str = "", width: int = PLOT_WIDTH,
         height: int = PLOT_HEIGHT) -> Fragments:
    """Bar charts in block characters, one per series, sharing nothing but the time axis."""
    out: Fragments = []
    for name, values in series.items():
        if not values:
            continue
        if len(values) > width:
            step = len(values) / width
            values = [max(values[int(i * step): max(int((i + 1) * step), int(i * step) + 1)])
                      for i in range(width)]
        top = max(values) or 1.0
        out.append(("info.title", f"  {name}"))
        out.append(("info.dim", f"  ({unit}; peak {max(values):g})\n" if unit
                    else f"  (peak {max(values):g})\n"))
        for row in range(height, 0, -1):
            line = []
            for v in values:
                level = v / top * height
                if level >= row:
                    line.append("█")
                elif level > row - 1:
                    line.append(BARS[max(1, int((level - row + 1) * 8))])
                else:
                    line.append(" ")
            label = f"{top:>7g} │" if row == height else "        │"
            out.append(("info.dim", label))
            out.append(("annotation.event" if name != "rejected" else "annotation.warning",
                        "".join(line) + "\n"))
        out.append(("info.dim", "      0 └" + "─" * len(values) + "\n"))
    return out


def verdict_fragments(v: Verdict, run: LessonRun | None = None) -> Fragments:
    out: Fragments = []
    if v.skipped:
        out.append(("annotation.warning", f"  this step {v.skipped}\n"))
        return out
    if v.passed:
        out.append(("info.ok", f"  ✓ {v.summary}\n"))
    else:
        out.append(("info.error", f"  ✗ {v.summary}\n"))
    if not v.passed or (v.current and any(c.startswith("✓") for c in v.current)):
        if v.goal:
            out.append(("info.title", "  goal\n"))
            for g in v.goal:
                out.append(("info", f"    {g}\n"))
        if v.current:
            out.append(("info.title", "  now\n"))
            for c in v.current:
                style = "info.error" if c.startswith("✗") else \
                    "info.ok" if c.startswith("✓") else "info"
                out.append((style, f"    {c}\n"))
    for d in v.details:
        out.append(("info.dim", f"    {d}\n"))
    if v.series:
        out.extend(plot(v.series, v.series_unit))
    if v.misconception:
        out.append(("annotation.warning", "  why: "))
        out.append(("info", v.misconception + "\n"))
    return out


# ------------------------------------------------------------------------------------------
# The shell

class LessonShell(Shell):
    """The REPL shell running a lesson on the lesson's own engine."""

    def __init__(self, run: LessonRun, write: Callable[[Fragments], None], *,
                 annotate: str = "brief", interactive: bool = True, raw: bool = False,
                 resp: int = 2) -> None:
        self.lesson_run = run
        backend = EmbeddedBackend(run.engine, resp=resp,
                                  factory=lambda clock: self.lesson_run.engine)
        super().__init__(backend, write, raw=raw, annotate=annotate, interactive=interactive,
                         sleep=lambda s: None)
        self.lessons: list[Lesson] = []
        self._checking = threading.Lock()
        self._single = backend
        self._rebind()

    # -- engine -------------------------------------------------------------------------------

    def _rebind(self) -> None:
        """The lesson moved to a new engine or topology (new step, reset, crash): follow it."""
        from .repl.topology import TopologyBackend

        run = self.lesson_run
        if run.topo is not None:
            if not isinstance(self.backend, TopologyBackend) or self.backend.run is not run.topo:
                self.backend.recording = False
                self.backend = TopologyBackend(run.topo, resp=self._single.resp)
                self.backend.recording = self.annotate != "off"
        else:
            if self.backend is not self._single:
                self.backend.recording = False
                self.backend = self._single
                self.backend.recording = self.annotate != "off"
            if self.backend.engine is not run.engine:
                self.backend.reset()
        self.history.clear()
        self.client = "default"

    def topology_changed(self) -> None:
        """A topology line (:kill, :partition, :node ...) ran: follow it, check the step."""
        verdict = self.lesson_run.topology_changed()
        if verdict is not None:
            self._celebrate(verdict)

    # -- lines --------------------------------------------------------------------------------

    def handle(self, line: str) -> bool:
        text = line.strip()
        if text.startswith(":"):
            word = text.split()[0][1:].lower()
            args = text.split()[1:]
            if word == "reset":
                self.lesson_reset(args)
                return self.running
            if word in LESSON_META:
                getattr(self, f"lesson_{word}")(args)
                return self.running
        return super().handle(line)

    def run(self, argv: list[bytes], client: str | None = None) -> bool:
        refused = self.lesson_run.refuse(argv)
        if refused:
            self.error(refused)
            return False
        before = len(self.history)
        ok = super().run(argv, client)
        if ok and len(self.history) > before:
            outcome = self.history[-1]
            verdict = self.lesson_run.observe(argv, outcome.reply)
            if verdict is not None:
                self._celebrate(verdict)
        return ok

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        verdict = self.lesson_run._auto_check()
        if verdict is not None:
            self._celebrate(verdict)

    def prompt_fragments(self) -> Fragments:
        run = self.lesson_run
        mark = "✓" if run.passed else f"{run.index + 1}/{len(run.lesson.steps)}"
        return [("prompt.state", f"[{run.lesson.id} {mark}] ")] + super().prompt_fragments()

    # -- showing ------------------------------------------------------------------------------

    def show_step(self) -> None:
        run = self.lesson_run
        step = run.step
        frags: Fragments = [("info.dim", "─" * 72 + "\n"),
                            ("info.title", run.title() + "\n\n")]
        frags += markdown_fragments(run.text())
        frags.append(("info", "\n"))
        if step.task:
            frags.append(("info.title", "\n  Your task: "))
            frags += _inline(run.task())
            frags.append(("info", "\n"))
        if run.skip_reason:
            frags.append(("annotation.warning", f"\n  This step {run.skip_reason}: read it, "
                                                "then :next.\n"))
        path = run.exercise_path() if step.exercise else None
        if path is not None:
            frags.append(("info", "\n  Edit "))
            frags.append(("input.key", str(path)))
            frags.append(("info", " then type :check.\n"))
        if not step.checks:
            frags.append(("info.dim", "\n  (nothing to check: :next when you are ready)\n"))
        elif step.simulated:
            frags.append(("info.dim", "  (:check runs the simulation; :hint, :goal, "
                                      ":solution if you are stuck)\n"))
        else:
            frags.append(("info.dim", "\n  (checked after every command; :hint, :goal, "
                                      ":solution if you are stuck)\n"))
        self.emit(frags)

    def _celebrate(self, verdict: Verdict) -> None:
        run = self.lesson_run
        frags = verdict_fragments(verdict)
        if run.step.explain:
            frags.append(("info", "  "))
            frags += _inline(run.step.explain)
            frags.append(("info", "\n"))
        if run.completed and run.at_end:
            frags.append(("info.ok", f"  Lesson complete: {run.lesson.title}.\n"))
        elif not run.at_end:
            frags.append(("info.dim", "  :next for the next step\n"))
        self.emit(frags)

    # -- lesson meta-commands --------------------------------------------------------------------

    def lesson_check(self, args: list[str]) -> None:
        run = self.lesson_run
        if run.step.simulated:
            self.info("running the simulation ...")
        verdict = run.check()
        if verdict.passed:
            self._celebrate(verdict)
        else:
            self.emit(verdict_fragments(verdict, run))
            if run.hint_level == 0 and run.step.hints:
                self.emit([("info.dim", "  (:hint for a nudge)\n")])

    def lesson_hint(self, args: list[str]) -> None:
        got = self.lesson_run.hint()
        if got is None:
            self.info("no hints for this step")
            return
        level, text = got
        names = {1: "nudge", 2: "concept", 3: "nearly the answer"}
        total = len(self.lesson_run.step.hints)
        frags: Fragments = [("annotation.warning", f"  hint {level}/{total} "
                                                   f"({names.get(level, '')}): ")]
        frags += _inline(text)
        frags.append(("info", "\n"))
        if level == total:
            frags.append(("info.dim", "  (that was the last hint; :solution shows the answer)\n"))
        self.emit(frags)

    def lesson_solution(self, args: list[str]) -> None:
        text = self.lesson_run.solution()
        if not text:
            self.info("this step has no solution to show")
            return
        frags: Fragments = [("info.title", "  reference solution\n")]
        for line in text.strip("\n").splitlines():
            frags.append(("input.command", f"    {line}\n"))
        self.emit(frags)

    def lesson_goal(self, args: list[str]) -> None:
        frags: Fragments = [("info.title", "  goal\n")]
        for g in self.lesson_run.goal():
            frags.append(("info", f"    {g}\n"))
        self.emit(frags)

    def lesson_reset(self, args: list[str]) -> None:
        run = self.lesson_run
        if args and args[0] == "exercise":
            path = run.reset_exercise()
            self.info(f"exercise file restored: {path}" if path else "no exercise file here")
            return
        run.reset()
        self._rebind()
        self.info("step reset: a fresh engine and new hidden values")
        self.show_step()

    def lesson_next(self, args: list[str]) -> None:
        if not self.lesson_run.next():
            self.info("this was the last step (:steps lists them)")
            return
        self._rebind()
        self.show_step()

    def lesson_skip(self, args: list[str]) -> None:
        self.lesson_next(args)

    def lesson_prev(self, args: list[str]) -> None:
        if not self.lesson_run.prev():
            self.info("this is the first step")
            return
        self._rebind()
        self.show_step()

    def lesson_step(self, args: list[str]) -> None:
        run = self.lesson_run
        if args:
            try:
                run.goto(int(args[0]) - 1)
            except ValueError:
                self.error("usage: :step [NUMBER]")
                return
            self._rebind()
        self.show_step()

    def lesson_steps(self, args: list[str]) -> None:
        run = self.lesson_run
        done = set(run.progress.done_steps(run.lesson.id)) if run.progress else set()
        frags: Fragments = [("info.title", f"  {run.lesson.title}\n")]
        for s in run.lesson.steps:
            mark = "✓" if s.id in done else ("›" if s.index == run.index else " ")
            frags.append(("info.ok" if s.id in done else "info",
                          f"  {mark} {s.index + 1}. {s.title}\n"))
        self.emit(frags)

    def lesson_exercise(self, args: list[str]) -> None:
        path = self.lesson_run.exercise_path()
        self.info(f"exercise file: {path}" if path else "this step has no exercise file")

    def lesson_crash(self, args: list[str]) -> None:
        message = self.lesson_run.crash(args[0] if args else "power")
        self._rebind()
        self.info(message)


# Registered so :help lists them and they complete; outside a lesson they only explain.
def _lesson_only(name: str) -> Callable[[Shell, list[str]], None]:
    def handler(shell: Shell, args: list[str]) -> None:
        if isinstance(shell, LessonShell):
            getattr(shell, f"lesson_{name}")(args)
        else:
            shell.error(f":{name} works inside a lesson: start one with `redislab learn ID`")

    return handler


_SUMMARIES = {
    "check": "check the lesson step now", "hint": "the next hint (nudge, concept, answer)",
    "solution": "the step's reference solution", "goal": "what the step's check wants",
    "next": "the next lesson step", "prev": "the previous lesson step",
    "skip": "skip this lesson step", "step": "show the step again, or go to step N",
    "steps": "the lesson's steps and what is done", "exercise": "the step's exercise file",
    "crash": "pull the plug: crash and restart the server (needs persistence)",
}
for _name in LESSON_META:
    if _name not in META:
        meta(_name, "[N]" if _name == "step" else "", _SUMMARIES[_name])(_lesson_only(_name))


# ------------------------------------------------------------------------------------------
# Entry points

def find_lesson(ref: str, base: str | Path | None = None) -> Lesson:
    """A lesson by id, by number (``30`` or ``030``) or by unique id prefix."""
    lessons, errors = load_all(base)
    for lesson in lessons:
        if lesson.id == ref:
            return lesson
    if ref.isdigit():
        for lesson in lessons:
            if lesson.number == int(ref):
                return lesson
    matches = [lesson for lesson in lessons if lesson.id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    bad = [e for e in errors if ref in str(e.path)]
    if bad:
        raise bad[0]
    names = ", ".join(lesson.id for lesson in lessons)
    raise LookupError(f"no lesson {ref!r}" + (f" (did you mean one of: "
                                               f"{', '.join(m.id for m in matches)})"
                                               if matches else f"; lessons: {names}"))


def lesson_list(base: str | Path | None = None, progress: Progress | None = None) -> Fragments:
    """``redislab learn``: every lesson, with its level, time and progress."""
    lessons, errors = load_all(base)
    progress = progress or Progress()
    frags: Fragments = []
    if progress.warning:
        frags.append(("annotation.warning", progress.warning + "\n"))
    frags.append(("info.title", f"Lessons ({lessons_dir(base)})\n"))
    for lesson in lessons:
        done = len([s for s in progress.done_steps(lesson.id)
                    if s in {st.id for st in lesson.steps}])
        total = len(lesson.steps)
        mark = "✓" if progress.completed(lesson.id) else ("…" if done else " ")
        bar = "■" * done + "□" * (total - done)
        frags.append(("info.ok" if mark == "✓" else "info",
                      f" {mark} {lesson.number:03d} {lesson.id:<26}"))
        frags.append(("info", f" {lesson.title:<44}"))
        frags.append(("info.dim", f" {lesson.level:<12} {lesson.minutes:>3} min  {bar}\n"))
    for e in errors:
        frags.append(("info.error", f"   {e}\n"))
    frags.append(("info.dim", "\nredislab learn ID starts (or resumes) a lesson.\n"))
    return frags


def run_lesson(ref: str, *, base: str | Path | None = None, progress: Progress | None = None,
               workspace: Path | None = None, step: int | None = None,
               annotate: str = "brief", input: Any = None, output: Any = None,
               lines: list[str] | None = None,
               write: Callable[[Fragments], None] | None = None) -> int:
    """Run a lesson in the REPL (or over ``lines`` without a prompt); returns an exit status."""
    lesson = find_lesson(ref, base)
    progress = progress or Progress()
    run = LessonRun(lesson, progress=progress, workspace=workspace,
                    start=None if step is None else step - 1)
    if write is None:
        from prompt_toolkit import print_formatted_text

        from .repl.app import to_pt
        from .theme import prompt_style

        style = prompt_style()

        def write(fragments: Fragments) -> None:  # type: ignore[misc]
            print_formatted_text(to_pt(fragments), style=style, end="", output=output,
                                 include_default_pygments_style=False)

    shell = LessonShell(run, write, annotate=annotate, interactive=lines is None)
    if progress.warning:
        shell.emit([("annotation.warning", progress.warning + "\n")])
    shell.show_step()
    if lines is not None:
        for line in lines:
            if not shell.handle(line):
                break
        return 0
    return _prompt_loop(shell, input=input, output=output)


def _prompt_loop(shell: LessonShell, input: Any = None, output: Any = None) -> int:
    """The interactive prompt: the REPL's own parts, around the lesson shell."""
    from prompt_toolkit.shortcuts import clear

    from .repl.app import Parts, build_prompt
    from .repl.completer import ReplCompleter
    from .repl.hints import HintProcessor
    from .repl.lexer import ReplLexer
    from .repl.toolbar import toolbar_fragments
    from .theme import plain

    parts = Parts.__new__(Parts)
    parts.options = None  # type: ignore[assignment]
    parts.annotate = shell.annotate
    parts.write = shell.write
    parts.shell = shell
    parts.lexer = ReplLexer()
    parts.completer = ReplCompleter(shell)
    parts.hint = HintProcessor(lambda: shell.hints, lambda: len(plain(shell.prompt_fragments())))
    parts.toolbar = lambda text: toolbar_fragments(shell, text)
    parts.error = None
    parts.on_ready = lambda: None
    parts._done = threading.Event()
    parts._done.set()
    session = build_prompt(parts, input=input, output=output)
    shell.clear_screen = clear if output is None else (lambda: None)
    while shell.running:
        try:
            line = session.prompt()
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        try:
            shell.handle(line)
        except KeyboardInterrupt:
            shell.info("(interrupted)")
        except Exception as exc:  # the lesson must survive its own bugs
            shell.error(f"internal error: {type(exc).__name__}: {exc}")
    return 0


__all__ += ["LessonError"]


def print_fragments(fragments: Fragments, stream: Any = None) -> None:
    """Print styled fragments: coloured on a terminal, plain text otherwise."""
    import sys

    from .theme import plain

    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        from prompt_toolkit import print_formatted_text

        from .repl.app import to_pt
        from .theme import prompt_style

        print_formatted_text(to_pt(fragments), style=prompt_style(), end="",
                             include_default_pygments_style=False)
    else:
        stream.write(plain(fragments))
        stream.flush()


def validation_fragments(report: Any) -> Fragments:
    """What ``redislab dev check`` prints."""
    frags: Fragments = []
    for e in report.errors:
        frags.append(("info.error", f"✗ {e}\n"))
    for s in report.skipped:
        frags.append(("annotation.warning", f"- {s}\n"))
    status = ("info.ok", "✓ ") if report.ok else ("info.error", "✗ ")
    frags.append(status)
    frags.append(("info", f"{report.lessons} lessons, {report.steps} steps: "
                          f"{len(report.errors)} problems, {len(report.skipped)} steps skipped "
                          "(engine features not built yet)\n"))
    return frags


__all__ += ["print_fragments", "validation_fragments"]
