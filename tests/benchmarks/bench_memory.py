"""What the memory model costs: the engine benchmark's ops with and without it, in one run.

Four engines run the same ops (those of ``bench_engine.py``):

* ``untracked``: the keyspace's write paths with the memory model's one line removed (no
  ``mem_dirty`` marks), the floor this model is measured against;
* ``tracked``: the engine as shipped: every write marks its key, nothing is computed until
  someone asks (INFO memory, MEMORY USAGE, ...);
* ``careful``: every command forced onto the careful dispatch path (as ``maxmemory`` does)
  but no limit set: the cost of that path alone, for comparison with the next mode;
* ``maxmemory``: ``maxmemory`` set far above the data, so every command takes the careful
  path and checks used_memory first (the marks of the previous command are sized then);
* ``recording``: the REPL's per-call record, which reads used_memory before and after
  every command.

The issue's budget is on ``tracked`` vs ``untracked`` (the model's cost for everyone); the
other two show what asking for the figures on every command costs.

Run: ``python tests/benchmarks/bench_memory.py [--seconds 0.2] [--repeat 4]``
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import textwrap
from typing import Any, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_engine import KEYS, measure, ops, unavailable  # noqa: E402

from redislab.engine import Engine  # noqa: E402
from redislab.engine import keyspace  # noqa: E402

_TRACKED = ("changed", "add", "_remove")


def _untracked(name: str) -> Callable[..., Any]:
    """``Database.<name>`` without the memory model's bookkeeping lines."""
    src = textwrap.dedent(inspect.getsource(getattr(keyspace.Database, name)))
    lines = [line for line in src.splitlines()
             if "mem_dirty" not in line and "_trim_dirty" not in line
             and "len(dirty) > _DIRTY_SLACK" not in line]
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), vars(keyspace), namespace)
    return namespace[name]  # type: ignore[no-any-return]


class Untracked:
    """Swap the keyspace's write paths for their untracked versions while inside."""

    def __enter__(self) -> None:
        self.saved = {name: getattr(keyspace.Database, name) for name in _TRACKED}
        for name in _TRACKED:
            setattr(keyspace.Database, name, _untracked(name))

    def __exit__(self, *exc: Any) -> None:
        for name, fn in self.saved.items():
            setattr(keyspace.Database, name, fn)


def make_engine(mode: str) -> Engine:
    engine = Engine()
    if mode == "careful":
        engine.extensions["gate"] = True
        engine.refresh_gate()
    elif mode == "maxmemory":
        engine.config.set("maxmemory", str(1 << 40))
        engine.refresh_gate()
    elif mode == "recording":
        engine.recording += 1
        engine.refresh_gate()
    return engine


MODES = ("untracked", "tracked", "careful", "maxmemory", "recording")


def run(seconds: float, repeat: int) -> dict[str, dict[str, float | None]]:
    results: dict[str, dict[str, float | None]] = {m: {} for m in MODES}
    for name, make, setup in ops():
        argvs = [make(i) for i in range(KEYS)]
        for mode in MODES:
            ctx = Untracked() if mode == "untracked" else None
            if ctx is not None:
                ctx.__enter__()
            try:
                engine = make_engine(mode)
                session = engine.session()
                for argv in setup:
                    session.execute_argv(list(argv))
                if unavailable(session.execute_argv(list(argvs[0]))):
                    results[mode][name] = None
                    continue
                if name == "RPOP":
                    for _ in range(2_000_000 // 1000):
                        session.execute_argv([b"LPUSH", b"list"] + [b"item"] * 1000)
                results[mode][name] = measure(session.execute_argv, argvs, seconds, repeat)
            finally:
                if ctx is not None:
                    ctx.__exit__(None, None, None)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.2, help="length of one timed round")
    ap.add_argument("--repeat", type=int, default=4, help="rounds per op; the best counts")
    args = ap.parse_args()
    results = run(args.seconds, args.repeat)
    print(f"Python {sys.version.split()[0]}, {KEYS} keys per op, best of {args.repeat} x "
          f"{args.seconds}s; ops/s, and each mode as a share of 'untracked'")
    print(f"{'op':<24}" + "".join(f"{m:>13}" for m in MODES))
    shares: dict[str, list[float]] = {m: [] for m in MODES}
    for name in results["untracked"]:
        base = results["untracked"][name]
        row = f"{name:<24}"
        for mode in MODES:
            v = results[mode].get(name)
            if v is None or not base:
                row += f"{'-':>13}"
                continue
            if mode == "untracked":
                row += f"{v:>13,.0f}"
            else:
                shares[mode].append(v / base)
                row += f"{v / base:>12.0%} "
        print(row)
    geos: dict[str, float] = {}
    for mode in MODES[1:]:
        vals = shares[mode]
        if vals:
            geo = 1.0
            for v in vals:
                geo *= v
            geo **= 1 / len(vals)
            geos[mode] = geo
            print(f"{mode:<10} geometric mean {geo:.1%} of untracked "
                  f"(cost {1 - geo:+.1%})")
    if "careful" in geos and "maxmemory" in geos:
        print(f"the eviction check alone: maxmemory runs at "
              f"{geos['maxmemory'] / geos['careful']:.1%} of careful")
    if "tracked" in geos:
        print(f"target: tracked costs <= 15% ({1 - geos['tracked']:+.1%}): "
              f"{'met' if geos['tracked'] >= 0.85 else 'NOT met'}")


if __name__ == "__main__":
    main()
