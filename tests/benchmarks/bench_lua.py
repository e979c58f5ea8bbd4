"""Scripting throughput through the engine API: EVAL, EVALSHA and FCALL of one redis.call.

Run: ``python tests/benchmarks/bench_lua.py``. Prints calls per second for each; the target
for ``EVAL "return redis.call('GET', KEYS[1])"`` is at least 100,000 per second. A second table
runs EVAL and EVALSHA through redis-py on ``redislab.client()`` and on ``fakeredis.FakeRedis()``
in the same run and prints the ratio (fakeredis runs Lua through lupa too).
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import redislab  # noqa: E402
from redislab.engine import Engine, ManualClock  # noqa: E402

SCRIPT = "return redis.call('GET', KEYS[1])"
TARGET = 100_000


def _rate(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(1000):
        fn()
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = max(best, n / (time.perf_counter() - t0))
    return best


def main() -> None:
    engine = Engine(ManualClock())
    s = engine.session()
    s.execute("SET", "k", "value")
    execute = s.execute_argv
    sha = s.execute("SCRIPT", "LOAD", SCRIPT)
    s.execute("FUNCTION", "LOAD", "#!lua name=bench\nredis.register_function('get1', "
              "function(keys) return redis.call('GET', keys[1]) end)")
    eval_argv = [b"EVAL", SCRIPT.encode(), b"1", b"k"]
    evalsha_argv = [b"EVALSHA", sha, b"1", b"k"]
    fcall_argv = [b"FCALL", b"get1", b"1", b"k"]
    get_argv = [b"GET", b"k"]
    assert execute(eval_argv) == b"value"
    n = 100_000
    results = [
        ("GET (no script, for scale)", _rate(lambda: execute(get_argv), n)),
        ("EVAL one redis.call GET", _rate(lambda: execute(eval_argv), n)),
        ("EVALSHA one redis.call GET", _rate(lambda: execute(evalsha_argv), n)),
        ("FCALL one redis.call GET", _rate(lambda: execute(fcall_argv), n)),
    ]
    for name, rate in results:
        print(f"{name:32s} {rate:12,.0f} calls/s")
    eval_rate = results[1][1]
    verdict = "ok" if eval_rate >= TARGET else "BELOW TARGET"
    print(f"EVAL target {TARGET:,}/s: {verdict} ({eval_rate / TARGET:.1f}x)")
    _through_redis_py()


def _through_redis_py() -> None:
    try:
        import fakeredis
    except ImportError:
        print("fakeredis is not installed (pip install -e '.[dev]'): no peer comparison")
        return
    print()
    print(f"{'through redis-py':32s} {'redislab':>12s} {'fakeredis':>12s}  ratio")
    clients = [redislab.client(), fakeredis.FakeRedis()]
    for r in clients:
        r.set("k", "value")
    shas = [r.script_load(SCRIPT) for r in clients]
    n = 20_000
    for name, call in [
        ("EVAL one redis.call GET", lambda r, sha: r.eval(SCRIPT, 1, "k")),
        ("EVALSHA one redis.call GET", lambda r, sha: r.evalsha(sha, 1, "k")),
    ]:
        ours, theirs = (_rate(lambda r=r, sha=sha: call(r, sha), n)
                        for r, sha in zip(clients, shas))
        print(f"{name:32s} {ours:12,.0f} {theirs:12,.0f}  {ours / theirs:.1f}x")


if __name__ == "__main__":
    main()
