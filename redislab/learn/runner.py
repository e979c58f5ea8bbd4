"""Running a lesson: a fresh engine per step, the learner's commands, checks, hints, progress.

:class:`LessonRun` is the whole lesson logic without a terminal. The REPL's lesson screen
drives it (the learner's commands run on ``run.engine`` and are reported with
:meth:`LessonRun.observe`); tests and ``redislab dev check`` drive it directly with
:meth:`LessonRun.submit`.

Each step starts from its own setup on a fresh engine with a manual clock, so any step can
be tried, reset or skipped to without the ones before it. The step's variables are drawn
from the attempt's seed: ``reset()`` draws new ones.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine import Engine, ManualClock, Session
from ..engine.clock import parse_duration
from ..protocol import split_args
from ..protocol.reply import ErrorReply
from .checks import CheckEnv, run_check
from .features import missing
from .model import Lesson, Step, Verdict, fill, fill_any
from .progress import Progress, data_dir
from .solutions import Solution
from .topology import TopologyRun, parse_topology, split_node, topology_missing

__all__ = ["LessonRun", "Submission", "exercise_template"]

LEARNER = "learner"


@dataclass
class Submission:
    """What happened to one line the learner sent."""

    reply: Any = None
    refused: str | None = None
    verdict: Verdict | None = None     # set when the step's check passed after this command
    meta: str | None = None            # what a meta line (":advance 5s") did
    redirects: list[str] | None = None  # on a cluster: the MOVED/ASK redirects followed


def exercise_template(lesson: Lesson, step: Step) -> Path | None:
    if not step.exercise or lesson.path is None:
        return None
    return lesson.path.parent / "exercises" / step.exercise


class LessonRun:
    """One learner working through one lesson.

    Args:
        lesson: the lesson.
        progress: where progress is kept (None: not recorded).
        seed: the attempt's seed (random if None); hidden inputs come from it.
        workspace: where the learner's exercise files live (default: the data directory).
        isolate: run the learner's Python in a child process (True in the REPL).
    """

    def __init__(self, lesson: Lesson, *, progress: Progress | None = None,
                 seed: int | None = None, workspace: Path | None = None,
                 isolate: bool = True, start: int | None = None) -> None:
        self.lesson = lesson
        self.progress = progress
        self.seed = seed if seed is not None else random.randrange(1, 1 << 30)
        self.workspace = workspace or data_dir() / "exercises"
        self.isolate = isolate
        self.engine: Engine = Engine(ManualClock())
        self.session: Session = self.engine.session()
        self.values: dict[str, str] = {}
        self.history: list[tuple[list[bytes], Any]] = []
        self.hint_level = 0
        self.passed = False
        self.skip_reason: str | None = None
        self.last_verdict: Verdict | None = None
        self.others: dict[str, Session] = {}
        self.topo: TopologyRun | None = None   # the step's simulated topology, if it has one
        if start is None:
            start = progress.position(lesson.id) if progress is not None else 0
        self.index = min(max(0, start), len(lesson.steps) - 1)
        self.start_step(self.index)

    # ----------------------------------------------------------------------------------------
    # Steps

    @property
    def step(self) -> Step:
        return self.lesson.steps[self.index]

    @property
    def at_end(self) -> bool:
        return self.index >= len(self.lesson.steps) - 1

    def start_step(self, index: int, new_seed: bool = False) -> None:
        """Begin step ``index`` from its own setup on a fresh engine."""
        self.index = index
        if new_seed:
            self.seed = random.randrange(1, 1 << 30)
        step = self.step
        self.values = step.values(self.seed)
        for s in list(self.others.values()) + [self.session]:
            try:
                self.engine.close_session(s)
            except Exception:
                pass
        config = None
        if "persistence" in step.requires or "persistence" in self.lesson.requires:
            # the step's files go to a folder of its own, never the learner's current one
            import tempfile

            config = {"dir": tempfile.mkdtemp(prefix="redislab-lesson-")}
        self.engine = Engine(ManualClock(), config=config)
        self.session = self.engine.session(name=LEARNER)
        self.others = {}
        self.history = []
        self.hint_level = 0
        self.passed = False
        self.last_verdict = None
        self.skip_reason = missing(tuple(self.lesson.requires) + tuple(step.requires))
        spec = parse_topology(self.lesson.topology_of(step))
        self.skip_reason = self.skip_reason or topology_missing(spec)
        if self.topo is not None:
            self.topo.close()
            self.topo = None
        if spec is not None and not self.skip_reason:
            self.topo = TopologyRun(spec, self.seed)
            self._follow_topology()
        setup = self.engine.session(name="setup")
        # a topology step that cannot run here has nothing to set up
        lines = () if spec is not None and self.topo is None else step.setup
        for line in lines:
            text = fill(line, self.values)
            if text.startswith(":"):
                self._meta(text)
                continue
            if self.topo is not None:
                node, text = split_node(text)
                argv = split_args(text)
                if argv:
                    self.topo.execute(argv, "setup", node)
                continue
            argv = split_args(text)
            if argv:
                setup.execute_argv(argv)
        self.engine.close_session(setup)
        if self.progress is not None:
            self.progress.set_position(self.lesson.id, index)

    def reset(self) -> None:
        """Start the current step over, with new hidden values."""
        self.start_step(self.index, new_seed=True)

    def next(self) -> bool:
        if self.at_end:
            return False
        self.start_step(self.index + 1)
        return True

    def prev(self) -> bool:
        if self.index == 0:
            return False
        self.start_step(self.index - 1)
        return True

    def skip(self) -> bool:
        """Move on without passing (the step stays unfinished in the progress file)."""
        return self.next()

    def goto(self, index: int) -> None:
        self.start_step(min(max(0, index), len(self.lesson.steps) - 1))

    # ----------------------------------------------------------------------------------------
    # Text

    def title(self) -> str:
        return f"{self.lesson.title} · step {self.index + 1}/{len(self.lesson.steps)}: " \
               f"{self.step.title}"

    def text(self) -> str:
        return fill(self.step.text, self.values)

    def task(self) -> str:
        return fill(self.step.task, self.values)

    def goal(self) -> list[str]:
        """What the check wants, in words (computed on the current state)."""
        if not self.step.checks:
            return ["nothing to check here: read, try things, then :next"]
        lines = []
        for c in self.step.checks:
            if c.get("kind") == "simulation":
                from .scenarios import SCENARIOS

                if c.get("describe"):
                    lines.append(fill(c["describe"], self.values))
                checked = SCENARIOS[c["scenario"]].checked(dict(c.get("params", {})))
                lines += ["  - " + t for t in checked.values()]
                continue
            v = run_check(fill_any(c, self.values), self._env())
            lines += v.goal
        return lines

    # ----------------------------------------------------------------------------------------
    # Commands

    def refuse(self, argv: list[bytes]) -> str | None:
        """Why this command is not allowed in this step (None if it is)."""
        if not argv:
            return None
        name = argv[0].decode("utf-8", "replace").upper()
        if name in self.step.forbidden:
            return f"{name} is not allowed in this step: the point is to do it another way"
        return None

    def observe(self, argv: list[bytes], reply: Any) -> Verdict | None:
        """A command ran (in the REPL) on ``self.engine``; returns a verdict if it passed."""
        self.history.append((argv, reply))
        return self._auto_check()

    def _auto_check(self) -> Verdict | None:
        step = self.step
        if self.passed or not step.checks or step.simulated or self.skip_reason:
            return None
        v = self._evaluate()
        if v.passed:
            self._passed(v)
            return v
        return None

    def submit(self, line: str | list[bytes], client: str | None = None,
               node: str | None = None) -> Submission:
        """Run one line as the learner would type it: a command, ``@name CMD``,
        ``@node:NAME CMD`` (on a topology), or a meta line (``:advance DURATION``)."""
        if isinstance(line, str):
            text = line.strip()
            if text.startswith(":"):
                return Submission(meta=self._meta(text))
            name, rest = split_node(text)
            if name is not None:
                if self.topo is None:
                    return Submission(refused="@node: needs a step that runs on a topology")
                return self.submit(rest, client=client, node=name)
            if text.startswith("@"):
                name, _, rest = text.partition(" ")
                return self.submit(rest, client=name[1:])
            argv = split_args(text)
            if argv is None:
                return Submission(refused="unbalanced quotes")
        else:
            argv = line
        if not argv:
            return Submission()
        refused = self.refuse(argv)
        if refused:
            return Submission(refused=refused)
        if self.topo is not None:
            if node is not None and node not in self.topo.node_names():
                return Submission(refused=f"no node {node!r} (nodes: "
                                          f"{', '.join(self.topo.node_names())})")
            try:
                done = self.topo.execute(argv, client or LEARNER, node)
            except ConnectionError:
                where = node or self.topo.current
                return Submission(refused=f"could not connect to {where} at "
                                          f"{self.topo.address(where)}: connection refused "
                                          "(the node is down)")
            self._follow_topology()
            return Submission(reply=done.reply, verdict=self.observe(argv, done.reply),
                              redirects=done.redirects)
        session = self.session if client is None else self._other(client)
        reply = session.execute_argv(argv)
        return Submission(reply=reply, verdict=self.observe(argv, reply))

    def _other(self, name: str) -> Session:
        s = self.others.get(name)
        if s is None:
            s = self.others[name] = self.engine.session(name=name)
        return s

    def _meta(self, text: str) -> str:
        words = text.split()
        if words[0] in (":advance", ":wait") and len(words) == 2:
            seconds = parse_duration(words[1])
            if self.topo is not None:
                self.topo.advance(seconds)
                self._follow_topology()
            else:
                self.engine.advance(seconds)
            return f"clock advanced {seconds:g}s"
        if self.topo is not None and words[0] != ":crash":
            message = self.topo.act(words)
            self._follow_topology()
            return message
        if words[0] == ":crash":
            return self.crash(words[1] if len(words) > 1 else "power")
        raise ValueError(f"unknown lesson line {text!r}")

    def topology_changed(self) -> Verdict | None:
        """The REPL acted on the step's topology (:kill, :node ...); returns a verdict if the
        step passed."""
        if self.topo is not None:
            self._follow_topology()
        return self._auto_check()

    def _follow_topology(self) -> None:
        """Point ``engine`` and ``session`` at the node the learner now talks to."""
        assert self.topo is not None
        self.engine = self.topo.engine
        try:
            self.session = self.topo.session(LEARNER)
        except ConnectionError:
            pass  # the node is down: the learner's commands to it are refused

    def crash(self, kind: str = "power") -> str:
        """Pull the plug (``power``) or kill the process (``process``), then restart from the
        files; the learner's clients reconnect to the restarted server."""
        if self.topo is not None:
            return "on a topology, :kill NODE and :restart NODE stop and start one server"
        crash = getattr(self.engine, "crash", None)
        if crash is None:
            return "this engine cannot crash yet: it needs persistence"
        self.engine = crash(kind)
        self.session = self.engine.session(name=LEARNER)
        self.others = {}
        return f"the server crashed ({kind}) and restarted from its files"

    # ----------------------------------------------------------------------------------------
    # Checking

    def _env(self, solution: Solution | None = None, seeds: tuple[int, ...] | None = None
             ) -> CheckEnv:
        return CheckEnv(engine=self.engine if self.topo is None else self.topo.check_engine(),
                        history=self.history, values=self.values,
                        solution=solution, isolate=self.isolate,
                        seeds=seeds or (self.seed, self.seed + 1, self.seed + 2),
                        topology=self.topo)

    def _evaluate(self, solution: Solution | None = None,
                  seeds: tuple[int, ...] | None = None) -> Verdict:
        step = self.step
        env = self._env(solution, seeds)
        verdicts = [run_check(fill_any(c, self.values), env) for c in step.checks]
        failed = [v for v in verdicts if not v.passed]
        if not failed:
            merged = Verdict(True, verdicts[0].summary if len(verdicts) == 1
                             else "every check passed")
        else:
            merged = Verdict(False, failed[0].summary)
        for v in verdicts:
            merged.goal += v.goal
            merged.current += v.current
            merged.details += v.details
            merged.violations += v.violations
            if v.series and not merged.series:
                merged.series, merged.series_unit = v.series, v.series_unit
        if not merged.passed:
            merged.misconception = self._mistake(merged, env)
        return merged

    def _mistake(self, verdict: Verdict, env: CheckEnv) -> str | None:
        for m in self.step.mistakes:
            if m.violation is not None and m.violation in verdict.violations:
                return fill(m.message, self.values)
            if m.when is not None:
                v = run_check(fill_any(m.when, self.values), env)
                if v.passed:
                    return fill(m.message, self.values)
        return None

    def check(self, source: str | None = None, seeds: tuple[int, ...] | None = None
              ) -> Verdict:
        """Check the step now (``:check``); ``source`` overrides the exercise file."""
        step = self.step
        if self.skip_reason:
            return Verdict(False, "this step cannot be checked here", skipped=self.skip_reason,
                           current=[f"this step {self.skip_reason}: read it, then :next"])
        if not step.checks:
            v = Verdict(True, "nothing to check in this step", goal=self.goal())
            self._passed(v)
            return v
        solution = None
        if step.simulated:
            try:
                solution = self.solution_source(source)
            except OSError as e:
                return Verdict(False, f"cannot read your exercise file: {e}")
        v = self._evaluate(solution, seeds)
        self.last_verdict = v
        if v.passed:
            self._passed(v)
        return v

    def _passed(self, verdict: Verdict) -> None:
        self.passed = True
        self.last_verdict = verdict
        if self.progress is not None:
            every = [s.id for s in self.lesson.steps]
            # a checkpoint proves the whole lesson: passing it counts every step as done
            for sid in (every if self.step.checkpoint else [self.step.id]):
                self.progress.mark_step(self.lesson.id, sid, every)
            if self.step.checkpoint:
                verdict.details.append("checkpoint passed: the whole lesson counts as done")

    @property
    def completed(self) -> bool:
        if self.progress is None:
            return False
        return self.progress.completed(self.lesson.id)

    # ----------------------------------------------------------------------------------------
    # Exercise files

    def exercise_path(self) -> Path | None:
        """The learner's copy of the step's exercise file (created from the template)."""
        step = self.step
        if not step.exercise:
            return None
        path = self.workspace / self.lesson.id / step.exercise
        if not path.exists():
            template = exercise_template(self.lesson, step)
            path.parent.mkdir(parents=True, exist_ok=True)
            if template is not None and template.exists():
                shutil.copyfile(template, path)
            else:
                path.write_text("", "utf-8")
        return path

    def solution_source(self, source: str | None = None) -> Solution:
        """What a simulation check runs: ``source``, the script of the learner's last EVAL in
        this step (for a Lua exercise), or the exercise file."""
        step = self.step
        language = next(c["language"] for c in step.checks if c.get("kind") == "simulation")
        if source is not None:
            return Solution(language, source, "submitted source")
        if language == "lua":
            for argv, reply in reversed(self.history):
                if argv and argv[0].upper() == b"EVAL" and len(argv) > 1 and \
                        not isinstance(reply, ErrorReply):
                    return Solution("lua", argv[1].decode("utf-8", "replace"),
                                    "your last EVAL")
        path = self.exercise_path()
        assert path is not None
        return Solution(language, path.read_text("utf-8"), str(path))

    def reset_exercise(self) -> Path | None:
        """Put the exercise file back as the lesson ships it."""
        path = self.exercise_path()
        template = exercise_template(self.lesson, self.step)
        if path is not None and template is not None and template.exists():
            shutil.copyfile(template, path)
        return path

    # ----------------------------------------------------------------------------------------
    # Help

    def hint(self) -> tuple[int, str] | None:
        """The next rung of the hint ladder (1: a nudge, 2: the concept, 3: nearly the answer)."""
        hints = self.step.hints
        if not hints:
            return None
        self.hint_level = min(self.hint_level + 1, len(hints))
        if self.progress is not None:
            self.progress.note_hint(self.lesson.id, self.step.id, self.hint_level)
        return self.hint_level, fill(hints[self.hint_level - 1], self.values)

    def solution(self) -> str:
        sol = self.step.solution
        if self.progress is not None and sol:
            self.progress.note_solution(self.lesson.id, self.step.id)
        if isinstance(sol, str):
            return fill(sol, self.values)
        return "\n".join(fill(line, self.values) for line in sol)
