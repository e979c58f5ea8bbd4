"""Engine API throughput: ``session.execute_argv`` against a bare-Python floor, in one run.

The floor is the least a Python program can do for the same command: a dict of values and a
table of handlers, dispatched as ``handlers[argv[0]](argv)``, each doing the same container
operation (no arity check, no type check, no statistics, no expiry). The ratio says how much
of that speed the engine keeps while being Redis.

Run: ``python tests/benchmarks/bench_engine.py [--seconds 0.2] [--repeat 4]``
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections import deque
from typing import Any, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

from sortedcontainers import SortedList  # noqa: E402

from redislab.engine import Engine  # noqa: E402

KEYS = 1000  # distinct keys per op, so no op hits one hot entry only

# CPU time of the measuring thread: other work on the machine then skews the figures far
# less than it skews wall time (both sides run single-threaded in this thread).
_clock = time.thread_time

# name, argv for step i, setup argvs (run once, untimed)
Op = tuple[str, Callable[[int], list[bytes]], list[list[bytes]]]


def _key(prefix: bytes, i: int) -> bytes:
    return b"%s:%d" % (prefix, i % KEYS)


def ops() -> list[Op]:
    """The benchmarked commands, their arguments per step, and what must exist first."""
    zsetup = [[b"ZADD", b"z", b"%d" % (j * 7 % 101), b"m%d" % j] for j in range(KEYS)]
    return [
        ("SET", lambda i: [b"SET", _key(b"s", i), b"value"], []),
        ("GET", lambda i: [b"GET", _key(b"s", i)],
         [[b"SET", _key(b"s", j), b"value"] for j in range(KEYS)]),
        ("INCR", lambda i: [b"INCR", _key(b"n", i)], []),
        ("HSET", lambda i: [b"HSET", _key(b"h", i), b"field", b"value"], []),
        ("HGET", lambda i: [b"HGET", _key(b"h", i), b"field"],
         [[b"HSET", _key(b"h", j), b"field", b"value"] for j in range(KEYS)]),
        ("LPUSH", lambda i: [b"LPUSH", b"list", b"item"], []),
        ("RPOP", lambda i: [b"RPOP", b"list"], []),  # pops what LPUSH pushed
        ("SADD", lambda i: [b"SADD", b"set", b"m%d" % (i % KEYS)], []),
        ("ZADD", lambda i: [b"ZADD", b"zw", b"%d" % (i % 97), b"m%d" % (i % KEYS)], []),
        ("ZRANGE 0 9 WITHSCORES", lambda i: [b"ZRANGE", b"z", b"0", b"9", b"WITHSCORES"],
         zsetup),
        ("ZREVRANK", lambda i: [b"ZREVRANK", b"z", b"m%d" % (i % KEYS)], zsetup),
    ]


# --------------------------------------------------------------------------------------------
# The floor: the same container operations behind the thinnest dispatch Python allows

class Floor:
    def __init__(self) -> None:
        self.d: dict[bytes, Any] = {}
        self.handlers: dict[bytes, Callable[[list[bytes]], Any]] = {
            b"SET": self.set, b"GET": self.get, b"INCR": self.incr, b"HSET": self.hset,
            b"HGET": self.hget, b"LPUSH": self.lpush, b"RPOP": self.rpop, b"SADD": self.sadd,
            b"ZADD": self.zadd, b"ZRANGE": self.zrange, b"ZREVRANK": self.zrevrank,
        }

    def execute_argv(self, argv: list[bytes]) -> Any:
        return self.handlers[argv[0]](argv)

    def set(self, argv: list[bytes]) -> Any:
        self.d[argv[1]] = argv[2]
        return "OK"

    def get(self, argv: list[bytes]) -> Any:
        return self.d.get(argv[1])

    def incr(self, argv: list[bytes]) -> Any:
        v = int(self.d.get(argv[1], b"0")) + 1
        self.d[argv[1]] = b"%d" % v
        return v

    def hset(self, argv: list[bytes]) -> Any:
        h = self.d.get(argv[1])
        if h is None:
            h = self.d[argv[1]] = {}
        new = argv[2] not in h
        h[argv[2]] = argv[3]
        return int(new)

    def hget(self, argv: list[bytes]) -> Any:
        h = self.d.get(argv[1])
        return h.get(argv[2]) if h is not None else None

    def lpush(self, argv: list[bytes]) -> Any:
        lst = self.d.get(argv[1])
        if lst is None:
            lst = self.d[argv[1]] = deque()
        lst.appendleft(argv[2])
        return len(lst)

    def rpop(self, argv: list[bytes]) -> Any:
        lst = self.d.get(argv[1])
        return lst.pop() if lst else None

    def sadd(self, argv: list[bytes]) -> Any:
        s = self.d.get(argv[1])
        if s is None:
            s = self.d[argv[1]] = set()
        n = len(s)
        s.add(argv[2])
        return len(s) - n

    def zadd(self, argv: list[bytes]) -> Any:
        z = self.d.get(argv[1])
        if z is None:
            z = self.d[argv[1]] = ({}, SortedList())
        scores, order = z
        score, member = float(argv[2]), argv[3]
        old = scores.get(member)
        if old == score:
            return 0
        if old is not None:
            order.remove((old, member))
        scores[member] = score
        order.add((score, member))
        return int(old is None)

    def zrange(self, argv: list[bytes]) -> Any:
        z = self.d.get(argv[1])
        out: list[Any] = []
        if z is not None:
            for score, member in z[1].islice(int(argv[2]), int(argv[3]) + 1):
                out.append(member)
                out.append(b"%.17g" % score)
        return out

    def zrevrank(self, argv: list[bytes]) -> Any:
        z = self.d.get(argv[1])
        if z is None:
            return None
        score = z[0].get(argv[2])
        if score is None:
            return None
        return len(z[1]) - 1 - z[1].bisect_left((score, argv[2]))


# --------------------------------------------------------------------------------------------
# Timing

def unavailable(reply: Any) -> bool:
    return isinstance(reply, Exception) and "not available" in str(reply)


def measure(run: Callable[[list[bytes]], Any], argvs: list[list[bytes]], seconds: float,
            repeat: int) -> float:
    """Best ops/s over ``repeat`` rounds of at least ``seconds`` each."""
    best = 0.0
    n = len(argvs)
    for _ in range(repeat):
        done = 0
        gc.disable()
        start = _clock()
        deadline = start + seconds
        while True:
            for argv in argvs:
                run(argv)
            done += n
            now = _clock()
            if now >= deadline:
                break
        gc.enable()
        best = max(best, done / (now - start))
    return best


def run_benchmark(seconds: float, repeat: int) -> list[tuple[str, float | None, float]]:
    results: list[tuple[str, float | None, float]] = []
    engine = Engine()
    session = engine.session()
    floor = Floor()
    for name, make, setup in ops():
        argvs = [make(i) for i in range(KEYS)]
        for argv in setup:
            session.execute_argv(list(argv))
            floor.execute_argv(list(argv))
        probe = session.execute_argv(list(argvs[0]))
        floor.execute_argv(list(argvs[0]))
        if unavailable(probe):
            results.append((name, None, 0.0))
            continue
        if name == "RPOP":
            # Enough elements for every round of both sides.
            for target in (session.execute_argv, floor.execute_argv):
                for _ in range(2_000_000 // 1000):
                    target([b"LPUSH", b"list"] + [b"item"] * 1000)
        ours = measure(session.execute_argv, argvs, seconds, repeat)
        theirs = measure(floor.execute_argv, argvs, seconds, repeat)
        results.append((name, ours, theirs))
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.2, help="length of one timed round")
    ap.add_argument("--repeat", type=int, default=4, help="rounds per op; the best counts")
    args = ap.parse_args()
    results = run_benchmark(args.seconds, args.repeat)
    print(f"Python {sys.version.split()[0]}, {KEYS} keys per op, best of {args.repeat} x "
          f"{args.seconds}s")
    print(f"{'op':<24}{'engine ops/s':>14}{'floor ops/s':>14}{'of floor':>10}")
    skipped = []
    for name, ours, theirs in results:
        if ours is None:
            skipped.append(name)
            print(f"{name:<24}{'skipped':>14}")
            continue
        print(f"{name:<24}{ours:>14,.0f}{theirs:>14,.0f}{ours / theirs:>9.0%}")
    if skipped:
        print(f"skipped (the engine answers 'not available'): {', '.join(skipped)}")
    get = next((r for r in results if r[0] == "GET"), None)
    if get and get[1]:
        ok = get[1] >= 1_000_000 and get[1] >= 0.4 * get[2]
        print(f"target GET >= 1,000,000 ops/s and >= 40% of the floor: "
              f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
