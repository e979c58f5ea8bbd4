"""redis-py throughput: ``redislab.client()`` against ``fakeredis.FakeRedis()``, in one run.

Both are real ``redis.Redis`` clients driven through the same redis-py calls; only what sits
under the connection differs. Prints ops/s per command, the ratio, and the geometric mean of
the ratios.

Run: ``python tests/benchmarks/bench_client.py [--seconds 0.3] [--repeat 3] [--protocol 2]``
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
from typing import Any, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import redislab  # noqa: E402
from redislab.client import engine_of  # noqa: E402

KEYS = 1000

# CPU time of the measuring thread: other work on the machine then skews the figures far
# less than it skews wall time (both sides run single-threaded in this thread).
_clock = time.thread_time

# name, call for step i, setup for the client (untimed), probe argv (to skip missing commands)
Op = tuple[str, Callable[[Any, int], Any], Callable[[Any], None], list[bytes]]


def _setup_strings(r: Any) -> None:
    r.mset({f"s:{j}": "value" for j in range(KEYS)})


def _setup_hashes(r: Any) -> None:
    p = r.pipeline(transaction=False)
    for j in range(KEYS):
        p.hset(f"h:{j}", "field", "value")
    p.execute()


def _setup_zset(r: Any) -> None:
    r.zadd("z", {f"m{j}": j * 7 % 101 for j in range(KEYS)})


def _setup_list(r: Any) -> None:
    # More than any run pops: RPOP must never find the list empty.
    for _ in range(300):
        r.rpush("list", *(["item"] * 1000))


def _nothing(r: Any) -> None:
    pass


def ops() -> list[Op]:
    return [
        ("SET", lambda r, i: r.set(f"s:{i % KEYS}", "value"), _nothing, [b"SET", b"k", b"v"]),
        ("GET", lambda r, i: r.get(f"s:{i % KEYS}"), _setup_strings, [b"GET", b"k"]),
        ("INCR", lambda r, i: r.incr(f"n:{i % KEYS}"), _nothing, [b"INCR", b"probe-n"]),
        ("HSET", lambda r, i: r.hset(f"h:{i % KEYS}", "field", "value"), _nothing,
         [b"HSET", b"probe-h", b"f", b"v"]),
        ("HGET", lambda r, i: r.hget(f"h:{i % KEYS}", "field"), _setup_hashes,
         [b"HGET", b"probe-h", b"f"]),
        ("LPUSH", lambda r, i: r.lpush("list", "item"), _nothing,
         [b"LPUSH", b"probe-l", b"x"]),
        ("RPOP", lambda r, i: r.rpop("list"), _setup_list, [b"RPOP", b"probe-l"]),
        ("SADD", lambda r, i: r.sadd("set", f"m{i % KEYS}"), _nothing,
         [b"SADD", b"probe-s", b"x"]),
        ("ZADD", lambda r, i: r.zadd("zw", {f"m{i % KEYS}": i % 97}), _nothing,
         [b"ZADD", b"probe-z", b"1", b"x"]),
        ("ZRANGE 0 9 WITHSCORES", lambda r, i: r.zrange("z", 0, 9, withscores=True),
         _setup_zset, [b"ZRANGE", b"probe-z", b"0", b"9", b"WITHSCORES"]),
        ("ZREVRANK", lambda r, i: r.zrevrank("z", f"m{i % KEYS}"), _setup_zset,
         [b"ZREVRANK", b"probe-z", b"x"]),
    ]


def measure(r: Any, call: Callable[[Any, int], Any], seconds: float, repeat: int) -> float:
    best = 0.0
    for _ in range(repeat):
        done = 0
        gc.disable()
        start = _clock()
        deadline = start + seconds
        while True:
            for i in range(200):
                call(r, i)
            done += 200
            now = _clock()
            if now >= deadline:
                break
        gc.enable()
        best = max(best, done / (now - start))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.3, help="length of one timed round")
    ap.add_argument("--repeat", type=int, default=3, help="rounds per op; the best counts")
    ap.add_argument("--protocol", type=int, choices=(2, 3), default=None,
                    help="RESP version for both clients (default: redis-py's default)")
    args = ap.parse_args()

    import fakeredis
    import redis

    from redislab.engine import TABLE

    kwargs: dict[str, Any] = {}
    if args.protocol is None and TABLE.lookup(b"HELLO").handler is None:
        # redis-py negotiates RESP3 with HELLO by default; without HELLO, compare on RESP2.
        args.protocol = 2
        print("the engine has no HELLO yet: both clients use protocol=2")
    if args.protocol is not None:
        kwargs["protocol"] = args.protocol
    ours = redislab.client(**kwargs)
    theirs = fakeredis.FakeRedis(**kwargs)
    session = engine_of(ours).session()

    print(f"Python {sys.version.split()[0]}, redis-py {redis.__version__}, fakeredis "
          f"{getattr(fakeredis, '__version__', '?')}, protocol "
          f"{args.protocol or 'redis-py default'}, best of {args.repeat} x {args.seconds}s")
    print(f"{'op':<24}{'redislab ops/s':>16}{'fakeredis ops/s':>17}{'ratio':>8}")
    ratios: list[float] = []
    skipped: list[str] = []
    for name, call, setup, probe in ops():
        reply = session.execute_argv(probe)
        if isinstance(reply, Exception) and "not available" in str(reply):
            skipped.append(name)
            print(f"{name:<24}{'skipped':>16}")
            continue
        setup(ours)
        setup(theirs)
        a = measure(ours, call, args.seconds, args.repeat)
        b = measure(theirs, call, args.seconds, args.repeat)
        ratios.append(a / b)
        print(f"{name:<24}{a:>16,.0f}{b:>17,.0f}{a / b:>7.1f}x")
    if ratios:
        gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        print(f"geometric mean of ratios over {len(ratios)} ops: {gm:.2f}x "
              f"(target >= 3x: {'met' if gm >= 3 else 'NOT met'})")
    if skipped:
        print(f"skipped (the engine answers 'not available'): {', '.join(skipped)}")


if __name__ == "__main__":
    main()
