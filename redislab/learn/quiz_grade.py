"""Grading quiz answers: each kind of item, and the sandbox engines answers run in.

Predict and hands-on answers are graded by running them, never by comparing strings with a
stored answer: the commands of a predict item run on a fresh engine and the learner's text is
compared with the reply they really produce; a hands-on answer runs on its own fresh engine
for every hidden variant (data drawn from a seed) and every case, and predicates over the
state it leaves decide. An answer can do nothing worse than be wrong: it runs on a throwaway
engine with a memory cap, admin commands are refused, blocking commands answer at once, and a
run that overruns its time limit is stopped (a looping script is killed even after writing).
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..engine import Engine, ManualClock, Session
from ..engine.commands import TABLE
from ..protocol import split_args
from ..protocol.reply import ErrorReply
from .quiz_bank import Case, Goal, Item, fill, iter_lines
from .quiz_replies import canonical, reply_matches, reply_summary

__all__ = ["Grade", "Sandbox", "RunResult", "grade_choice", "grade_short", "grade_predict",
           "grade_hands_on", "grade_explain", "predict_reply", "suggest_covered",
           "normalise_short", "TIME_LIMIT", "check_hands_on", "HandsOnResult", "use_server",
           "new_sandbox", "server_skip"]

# Real seconds one run of an answer may take before it is stopped.
TIME_LIMIT = 2.0
SANDBOX_CONFIG = {"proto-max-bulk-len": "1mb", "maxmemory": "64mb",
                  "maxmemory-policy": "noeviction", "save": ""}
# Commands that touch the host (files, the process, other servers) or never return.
REFUSED = frozenset({"MONITOR", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "QUIT", "RESET",
                     "SYNC", "PSYNC", "REPLCONF", "SHUTDOWN", "HELLO", "AUTH"})
ADVANCE = re.compile(r"^:advance\s+(\d+(?:\.\d+)?)(ms|s)?$", re.I)


@dataclass
class Grade:
    """What the learner's answer was worth, in words they can use."""

    correct: bool
    summary: str
    details: list[str] = field(default_factory=list)
    score: float = 0.0
    expected: Any = None            # predict: the real reply value (the UI renders it)
    expected_text: str = ""         # the right answer in words
    why: str = ""                   # choice: why the option picked is wrong
    timed_out: bool = False
    replies: list[Any] = field(default_factory=list)  # hands-on: replies on the shown data

    def __post_init__(self) -> None:
        if self.correct and not self.score:
            self.score = 1.0


# ------------------------------------------------------------------------------------------
# The sandbox

_scratch: list[str] = []


def _scratch_dir() -> str:
    """One private temporary folder per process: any file an answer makes lands there."""
    if not _scratch:
        folder = tempfile.mkdtemp(prefix="redislab-quiz-")
        atexit.register(shutil.rmtree, folder, True)
        _scratch.append(folder)
    return _scratch[0]


@dataclass
class RunResult:
    replies: list[Any]
    error: str = ""          # why the run could not complete (parse error, time limit ...)
    timed_out: bool = False

    @property
    def last(self) -> Any:
        return self.replies[-1] if self.replies else None


class Sandbox:
    """A fresh engine on a manual clock for one run of an answer."""

    def __init__(self, resp: int = 2, time_limit: float = TIME_LIMIT) -> None:
        self.clock = ManualClock()
        self.engine = Engine(self.clock, {**SANDBOX_CONFIG, "dir": _scratch_dir()})
        self.engine.extensions["before_command"] = self._gate
        self.time_limit = time_limit
        self.forbidden: frozenset[str] = frozenset()
        self.allow: frozenset[str] = frozenset()
        self.restricted = False
        self.client = self._session(resp)
        self.prober = self._session(resp)
        self.broken = False

    def _session(self, resp: int) -> Session:
        s = self.engine.session(resp=resp)
        s.no_block = True   # a blocking command answers as if its timeout had passed
        return s

    def _gate(self, session: Session, spec: Any, argv: list[bytes]) -> ErrorReply | None:
        if not self.restricted:
            return None   # the question's own setup and commands
        name = spec.name.split(" ", 1)[0]
        if name in REFUSED or ("admin" in spec.flags and name not in self.allow):
            return ErrorReply(f"ERR {name} is not available in quiz answers")
        if name in self.forbidden or spec.name in self.forbidden:
            return ErrorReply(f"ERR {name} is not allowed in this question")
        return None

    def _refusal(self, argv: list[bytes]) -> ErrorReply | None:
        spec = TABLE.lookup(argv[0])
        if spec is None:
            return None
        if spec.subcommands and len(argv) > 1:
            spec = spec.subcommands.get(argv[1].upper().decode("latin-1"), spec)
        return self._gate(self.client, spec, argv)

    def execute(self, argv: list[bytes], session: Session | None = None) -> Any:
        refusal = self._refusal(argv)
        if refusal is not None:
            return refusal
        return (session or self.client).execute_argv(argv)

    def run_lines(self, lines: Sequence[str], *, session: Session | None = None,
                  authored: bool = True) -> RunResult:
        """Run command lines (``:advance N`` moves the clock when ``authored``)."""
        argvs: list[list[bytes] | float] = []
        for line in lines:
            m = ADVANCE.match(line.strip()) if authored else None
            if m:
                amount = float(m.group(1)) / (1000 if (m.group(2) or "").lower() == "ms" else 1)
                argvs.append(amount)
                continue
            argv = split_args(line)
            if argv is None:
                return RunResult([], f"cannot read {line!r}: unbalanced quotes")
            if argv:
                argvs.append(argv)
        return self._timed(argvs, session or self.client)

    def eval_script(self, script: str, keys: Sequence[str], args: Sequence[str]) -> RunResult:
        argv = [b"EVAL", script.encode("utf-8", "surrogateescape"),
                str(len(keys)).encode()] + [k.encode() for k in keys] + \
            [a.encode() for a in args]
        return self._timed([argv], self.client)

    def _timed(self, argvs: list[Any], session: Session) -> RunResult:
        if self.broken:
            return RunResult([], "the engine was stopped earlier", timed_out=True)
        replies: list[Any] = []
        failure: list[str] = []

        def work() -> None:
            try:
                for argv in argvs:
                    if isinstance(argv, float):
                        self.engine.advance(argv)
                        continue
                    replies.append(self.execute(argv, session))
            except BaseException as e:  # an engine bug must still only make the answer wrong
                failure.append(f"{type(e).__name__}: {e}")

        worker = threading.Thread(target=work, name="quiz-answer", daemon=True)
        worker.start()
        worker.join(self.time_limit)
        if worker.is_alive():
            self._stop()
            worker.join(1.0)
            self.broken = True
            return RunResult(replies, f"stopped after {self.time_limit:g} s: it did not "
                                      "finish (an endless loop?)", timed_out=True)
        if failure:
            return RunResult(replies, failure[0])
        return RunResult(replies)

    def _stop(self) -> None:
        """Kill a running script, even one that already wrote (this engine is thrown away)."""
        lua = self.engine.extensions.get("lua")
        run = getattr(lua, "run", None)
        if run is not None:
            run.kill = True

    def call_counts(self, ids: Sequence[int]) -> list[int]:
        """How many times each command (by table id) has run here."""
        return [self.engine.cmd_calls[i] for i in ids]

    def advance(self, seconds: float) -> None:
        self.engine.advance(seconds)

    def probe(self, line: str) -> Any:
        argv = split_args(line)
        if not argv:
            return ErrorReply("ERR empty probe")
        result = self._timed([argv], self.prober)
        if result.error:
            return ErrorReply("ERR " + result.error)
        return result.last


# Where answers run: the embedded engine, or a real server set with ``use_server``.
_server: list[Any] = []


def use_server(target: Any | None) -> None:
    """Grade predict and hands-on items on a real server (a learn.remote.ServerTarget), or
    on the embedded engine again with None."""
    _server[:] = [target] if target is not None else []
    _predict_cache.clear()


def new_sandbox(resp: int = 2, time_limit: float = TIME_LIMIT) -> Sandbox:
    if _server:
        from .remote import ServerSandbox

        return ServerSandbox(_server[0], resp, time_limit)
    return Sandbox(resp=resp, time_limit=time_limit)


def server_skip(item: Item) -> str | None:
    """Why ``item`` cannot be graded on the server in use (None: it can, or no server)."""
    if not _server:
        return None
    from .remote import item_needs_engine

    return item_needs_engine(item)


# ------------------------------------------------------------------------------------------
# Choice, short and explain

def grade_choice(item: Item, response: str, order: Sequence[int] | None = None) -> Grade:
    """``response`` is a letter (a, b ...), a number (1, 2 ...) or the text of a choice."""
    order = list(order) if order is not None else list(range(len(item.choices)))
    picked = _pick(response, [item.choices[i].text for i in order])
    right = item.correct_index
    right_text = item.choices[right].text if right >= 0 else ""
    letter = "abcdefghij"[order.index(right)] if right in order else "?"
    if picked is None:
        return Grade(False, "that is not one of the choices", expected_text=
                     f"{letter}) {right_text}")
    chosen = order[picked]
    if chosen == right:
        return Grade(True, "right", expected_text=f"{letter}) {right_text}")
    return Grade(False, "not that one", why=item.choices[chosen].why,
                 expected_text=f"{letter}) {right_text}")


def _pick(response: str, texts: list[str]) -> int | None:
    r = response.strip().lower()
    if not r:
        return None
    m = re.fullmatch(r"\(?([a-z]|\d+)[).]?", r)
    if m:
        token = m.group(1)
        i = int(token) - 1 if token.isdigit() else ord(token) - ord("a")
        return i if 0 <= i < len(texts) else None
    norm = normalise_short(r, False, "collapse")
    for i, t in enumerate(texts):
        if normalise_short(t, False, "collapse") == norm:
            return i
    return None


def normalise_short(text: str, case_sensitive: bool, spaces: str) -> str:
    s = text.strip().strip("`").strip()
    s = s.rstrip(".!")
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        s = s[1:-1]
    s = re.sub(r"\s+", "" if spaces == "ignore" else " ", s).strip()
    return s if case_sensitive else s.casefold()


def grade_short(item: Item, response: str) -> Grade:
    given = normalise_short(response, item.case_sensitive, item.spaces)
    if not given:
        return Grade(False, "no answer given", expected_text=item.answer)
    for form in item.accept:
        if normalise_short(form, item.case_sensitive, item.spaces) == given:
            return Grade(True, "right", expected_text=item.answer)
    return Grade(False, "not quite", expected_text=item.answer)


def suggest_covered(item: Item, text: str) -> list[int]:
    """Rubric points whose keywords appear in the learner's answer (a starting point only)."""
    low = text.casefold()
    out = []
    for i, p in enumerate(item.rubric):
        if p.keywords and any(k in low for k in p.keywords):
            out.append(i)
    return out


def grade_explain(item: Item, text: str, covered: Sequence[int]) -> Grade:
    """Self-graded: the learner says which rubric points the answer covered."""
    n = len(item.rubric)
    points = sorted({i for i in covered if 0 <= i < n})
    score = len(points) / n if n else 0.0
    if not text.strip():
        return Grade(False, "no answer given", score=0.0, expected_text=item.model)
    passed = score >= item.pass_ratio - 1e-9
    missing = [item.rubric[i].point for i in range(n) if i not in points]
    summary = (f"{len(points)} of {n} key points" + (": a pass" if passed else ""))
    g = Grade(passed, summary, details=[f"missed: {m}" for m in missing], score=score,
              expected_text=item.model)
    if not passed:
        g.score = score
    return g


# ------------------------------------------------------------------------------------------
# Predict the reply

_predict_cache: dict[str, Any] = {}


def predict_reply(item: Item) -> Any:
    """The reply of the item's last command, from a fresh engine (computed once per item)."""
    key = item.id + "\0" + "\n".join(item.commands) + f"\0{item.resp}"
    if key in _predict_cache:
        return _predict_cache[key]
    box = new_sandbox(resp=item.resp)
    result = box.run_lines(item.commands)
    if result.error or not result.replies:
        reply: Any = ErrorReply("ERR the question's commands did not run: " +
                                (result.error or "no command"))
    else:
        reply = result.last
    _predict_cache[key] = reply
    return reply


def grade_predict(item: Item, response: str) -> Grade:
    reply = predict_reply(item)
    ok = reply_matches(reply, response, resp=item.resp, unordered=item.unordered)
    if not response.strip():
        return Grade(False, "no answer given", expected=reply)
    return Grade(ok, "right" if ok else "not what Redis replies", expected=reply,
                 expected_text=reply_summary(reply))


# ------------------------------------------------------------------------------------------
# Hands-on

@dataclass
class HandsOnResult:
    passed: bool
    failures: list[str] = field(default_factory=list)
    timed_out: bool = False
    replies: list[Any] = field(default_factory=list)   # on the first seed and case
    error: str = ""


def _answer_lines(item: Item, answer: str) -> tuple[list[str], str]:
    lines = list(iter_lines(answer))
    if not lines:
        return [], "no answer given"
    if len(lines) > item.max_commands:
        return [], f"more than {item.max_commands} commands: this needs far fewer"
    return lines, ""


def _forbidden_ids(names: Sequence[str]) -> list[tuple[str, int]]:
    out = []
    for name in names:
        parts = name.split()
        spec = TABLE.lookup(parts[0].encode())
        if spec is None:
            continue
        if len(parts) > 1:
            spec = spec.subcommands.get(parts[1].upper(), spec)
            out.append((name, spec.id))
        else:
            out.extend((name, s.id) for s in [spec, *spec.subcommands.values()])
    return out


def _run_answer(box: Sandbox, item: Item, answer: str, values: dict[str, str]) -> RunResult:
    """Run the learner's answer; a forbidden command used anywhere (scripts included) makes
    the run fail, as the engine's per-command call counts show."""
    watched = _forbidden_ids(item.forbidden)
    before = box.call_counts([i for _, i in watched])
    result = _run_restricted(box, item, answer, values)
    if not result.error and not result.timed_out:
        after = box.call_counts([i for _, i in watched])
        for (name, i), n, m in zip(watched, before, after):
            if m != n:
                return RunResult(result.replies, f"{name} is not allowed here")
    return result


def _run_restricted(box: Sandbox, item: Item, answer: str,
                    values: dict[str, str]) -> RunResult:
    box.forbidden = frozenset(item.forbidden)
    box.allow = frozenset(item.allow)
    box.restricted = True
    try:
        if item.answer_kind == "lua":
            if not answer.strip():
                return RunResult([], "no answer given")
            return box.eval_script(answer, [fill(k, values) for k in item.keys],
                                   [fill(a, values) for a in item.args])
        lines, problem = _answer_lines(item, answer)
        if problem:
            return RunResult([], problem)
        for line in lines:
            argv = split_args(line)
            if argv and argv[0].upper().decode("latin-1") in item.forbidden:
                return RunResult([], f"{argv[0].decode().upper()} is not allowed here")
        return box.run_lines(lines, authored=False)
    finally:
        box.restricted = False


def _observe(item: Item, case: Case, values: dict[str, str], answer: str,
             time_limit: float) -> tuple[RunResult, list[Any]]:
    """Run ``answer`` on the case's setup, then each goal's probe; the replies seen."""
    box = new_sandbox(time_limit=time_limit)
    setup = box.run_lines([fill(s, values) for s in case.setup])
    if setup.error:
        return RunResult([], "setup failed: " + setup.error), []
    result = _run_answer(box, item, answer, values)
    if result.timed_out:
        return result, []
    seen: list[Any] = []
    for goal in case.goals:
        if goal.advance:
            box.advance(goal.advance)
        if goal.result:
            seen.append(result.last if result.replies else None)
        else:
            seen.append(box.probe(fill(goal.probe, values)))
    return result, seen


def _goal_holds(goal: Goal, got: Any, ref: Any, values: dict[str, str]) -> bool:
    if goal.equals is not None:
        return reply_matches(got, fill(goal.equals, values), unordered=goal.unordered)
    if goal.between is not None:
        try:
            if isinstance(got, (ErrorReply, list)) or got is None:
                return False
            x = float(got)
        except (TypeError, ValueError):
            return False
        return goal.between[0] <= x <= goal.between[1]
    a, b = canonical(got), canonical(ref)
    if goal.unordered and a[0] == "arr" and b[0] == "arr":
        return sorted(map(repr, a[1])) == sorted(map(repr, b[1]))
    return a == b


def check_hands_on(item: Item, answer: str, seeds: Sequence[int],
                   time_limit: float = TIME_LIMIT) -> HandsOnResult:
    """Run ``answer`` on every case for every seed; passes only if every goal holds."""
    out = HandsOnResult(True)
    needs_ref = any(g.same for c in item.cases for g in c.goals)
    for n, seed in enumerate(seeds):
        values = item.values(seed)
        for ci, case in enumerate(item.cases):
            result, seen = _observe(item, case, values, answer, time_limit)
            if n == 0 and ci == 0:
                out.replies = list(result.replies)
            if result.error:
                out.passed = False
                out.timed_out = out.timed_out or result.timed_out
                out.error = result.error
                out.failures.append(result.error)
                return out
            ref_seen: list[Any] = []
            if needs_ref:
                ref_result, ref_seen = _observe(item, case, values, item.solution, time_limit)
                if ref_result.error:
                    out.passed = False
                    out.failures.append("the reference solution failed: " + ref_result.error)
                    return out
            for gi, goal in enumerate(case.goals):
                ref = ref_seen[gi] if ref_seen else None
                if not _goal_holds(goal, seen[gi], ref, values):
                    out.passed = False
                    where = f" ({case.title})" if case.title else ""
                    text = goal.message or f"expected: {fill(goal.describe(), values)}"
                    shown = f"got {reply_summary(seen[gi])}"
                    out.failures.append(f"{text}{where}; {shown}"
                                        + ("" if n == 0 else " (on hidden data)"))
                    return out
    return out


def grade_hands_on(item: Item, answer: str, seed: int = 0,
                   time_limit: float = TIME_LIMIT) -> Grade:
    """The visible variant ``seed`` plus hidden ones: hard-coding what you see fails."""
    seeds = [seed] + [seed + 1000 * (k + 1) for k in range(max(1, item.variants) - 1)]
    result = check_hands_on(item, answer, seeds, time_limit)
    if result.passed:
        return Grade(True, "right: every check holds on the data shown and on hidden data",
                     replies=result.replies, expected_text=item.solution)
    summary = "stopped: it did not finish in time" if result.timed_out else "not yet"
    return Grade(False, summary, details=result.failures, timed_out=result.timed_out,
                 replies=result.replies, expected_text=item.solution)


def shown_setup(item: Item, seed: int) -> list[str]:
    """The setup lines of the first case as the learner sees them (the visible variant)."""
    values = item.values(seed)
    return [fill(s, values) for s in item.cases[0].setup] if item.cases else []


def shown_inputs(item: Item, seed: int) -> tuple[list[str], list[str]]:
    """KEYS and ARGV a Lua answer receives on the visible variant."""
    values = item.values(seed)
    return [fill(k, values) for k in item.keys], [fill(a, values) for a in item.args]
