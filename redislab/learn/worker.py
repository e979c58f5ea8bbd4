"""Running the learner's Python in a separate process, so nothing it does can hurt the REPL.

The learner's functions run inside the simulator on threads; a thread that loops forever
without sending a command cannot be stopped from inside Python, and a memory bomb or a crash
of the interpreter would take the REPL with it. So a simulation check of Python code runs
here, in a child process: the parent sends the scenario and the source as JSON on standard
input and reads the verdict as JSON from standard output. A child that overruns its time,
dies, or prints nonsense is killed and reported as such.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from .model import Verdict
from .solutions import Solution

__all__ = ["run_isolated", "main", "TIME_LIMIT"]

# Real seconds a whole simulation check may take in the child.
TIME_LIMIT = 90.0
MEMORY_LIMIT = 4 << 30


def run_isolated(name: str, sol: Solution, params: dict[str, Any], seeds: tuple[int, ...],
                 describe: str = "", time_limit: float = TIME_LIMIT) -> Verdict:
    """Run scenario ``name`` on ``sol`` in a child process; always returns a verdict."""
    request = json.dumps({"scenario": name, "language": sol.language, "source": sol.source,
                          "origin": sol.origin, "params": params, "seeds": list(seeds),
                          "describe": describe})
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.run([sys.executable, "-m", "redislab.learn.worker"], input=request,
                              capture_output=True, text=True, timeout=time_limit, env=env)
    except subprocess.TimeoutExpired:
        return Verdict(False, "your code did not finish", goal=[describe] if describe else [],
                       current=[f"✗ the simulation was stopped after {time_limit:g}s: an "
                                "endless loop, or a wait that never ends?"],
                       violations=["hang"])
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return Verdict(False, "your code stopped the simulation",
                       goal=[describe] if describe else [],
                       current=["✗ the process running your code ended abnormally "
                                f"(exit status {proc.returncode})"] + tail,
                       violations=["error"])
    try:
        return Verdict.from_json(json.loads(lines[-1]))
    except (ValueError, TypeError) as e:
        return Verdict(False, "the simulation's answer could not be read",
                       current=[str(e)], violations=["error"])


def main() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass
    from ..sim import scheduler
    from .scenarios import run_scenario, verdict_from

    wall = os.environ.get("REDISLAB_SIM_WALL_TIMEOUT")
    if wall:
        scheduler.DEFAULT_WALL_TIMEOUT = float(wall)

    req = json.loads(sys.stdin.read())
    sol = Solution(req["language"], req["source"], req["origin"])
    try:
        results = run_scenario(req["scenario"], sol, req["params"], tuple(req["seeds"]))
        verdict = verdict_from(req["scenario"], results, req.get("describe", ""),
                               req["params"])
    except MemoryError:
        verdict = Verdict(False, "your code used too much memory", violations=["error"],
                          current=["✗ the simulation ran out of memory"])
    sys.stdout.write(json.dumps(verdict.to_json()) + "\n")
    sys.stdout.flush()
    # Threads of a stopped simulation may still be running the learner's code: leave now.
    os._exit(0)


if __name__ == "__main__":
    main()
