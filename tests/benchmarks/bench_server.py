"""The RESP server: ``redislab serve`` against ``redis-server`` under redis-benchmark, one run.

Starts both servers on free loopback ports, opens 1,000 idle connections to each and prints
the resident memory each connection adds, then runs redis-benchmark (50 clients, with and
without pipelining) against each and prints ops/s per test and redislab's share of
redis-server's. ``--parse`` measures the server's request parsers alone instead.

Run: ``python tests/benchmarks/bench_server.py [--requests 20000] [--clients 50] [--repeat 3]``
Needs redis-server and redis-benchmark (redis-tools) on the PATH.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Callable

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, ROOT)

from tests.support.real_redis import RedisServer  # noqa: E402

TESTS = "set,get,incr,lpush,lpop,sadd,hset,zadd,mset"
IDLE_CONNECTIONS = 1000


class Served:
    """``redislab serve`` in a child process, as a user starts it."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="redislab-bench-")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "redislab", "serve", "--port", "0", "--dir", self.dir,
             "--set", "save="], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        assert self.proc.stdout is not None
        banner = self.proc.stdout.readline()
        match = re.search(r":(\d+) ", banner)
        if not match:
            raise RuntimeError(f"redislab serve did not start: {banner!r}")
        self.port = int(match.group(1))
        self.pid = self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def benchmark(port: int, pipeline: int, requests: int, clients: int) -> dict[str, float]:
    """redis-benchmark's requests per second, per test."""
    out = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
         "-n", str(requests), "-P", str(pipeline), "-t", TESTS, "-r", "10000", "--csv"],
        capture_output=True, text=True, timeout=1800, check=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return {row[0]: float(row[1]) for row in rows[1:] if len(row) > 1}


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def idle_memory(port: int, pid: int, n: int) -> float:
    """Bytes of resident memory the server adds per idle connection (each has sent PING)."""
    socks = []
    warm = socket.create_connection(("127.0.0.1", port))
    warm.sendall(b"PING\r\n")
    warm.recv(64)
    time.sleep(0.5)  # let the server settle after the benchmark
    before = rss_kb(pid)
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"PING\r\n")
        socks.append(s)
    for s in socks:
        s.recv(64)
    time.sleep(0.5)
    after = rss_kb(pid)
    for s in socks + [warm]:
        s.close()
    return (after - before) * 1024 / n


def parse_bench() -> None:
    from redislab.protocol import encode_command
    from redislab.protocol.resp import RequestParser
    from redislab.server.requests import ServerRequestParser

    frames = b"".join(encode_command("SET", f"key:{i}", f"value-{i}") for i in range(100_000))

    def run(make: Callable[[], object], read: str) -> float:
        best = float("inf")
        for _ in range(5):
            parser = make()
            start = time.perf_counter()
            parser.feed(frames)  # type: ignore[attr-defined]
            get = getattr(parser, read)
            n = 0
            while (cmd := get()) is not None and cmd is not False:
                n += 1
            best = min(best, time.perf_counter() - start)
            assert n == 100_000
        return best * 1e6 / 100_000

    print("request parsing, 100,000 pipelined SET frames in one buffer (us per command)")
    print(f"  general parser (protocol.resp)   {run(RequestParser, 'next_command'):6.2f}")
    print(f"  server fast path (server.requests){run(ServerRequestParser, 'next_command'):6.2f}")
    try:
        import hiredis

        print(f"  hiredis.Reader (replies only)    {run(hiredis.Reader, 'gets'):6.2f}")
    except ImportError:
        print("  hiredis.Reader                   not installed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--idle", type=int, default=IDLE_CONNECTIONS)
    ap.add_argument("--repeat", type=int, default=3, help="rounds per server (best kept)")
    ap.add_argument("--parse", action="store_true", help="only the request parsers")
    args = ap.parse_args()
    if args.parse:
        parse_bench()
        return
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install redis-server redis-tools)")
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio (uvloop not installed)"
    ours, real = Served(), RedisServer()
    try:
        print(f"redislab serve: Python {sys.version.split()[0]}, {loop}; "
              f"redis-server {real.version}; {args.clients} clients, "
              f"{args.requests} requests per test (redis-server: 5x), keyspace 10000, "
              f"best of {args.repeat} alternating rounds; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        # Memory first, on fresh processes: after a benchmark, memory the run freed and
        # kept would absorb the connections' and hide them.
        ours_mem = idle_memory(ours.port, ours.pid, args.idle)
        real_mem = idle_memory(real.port, real.proc.pid, args.idle)
        print(f"resident memory per idle connection ({args.idle} connections, fresh "
              f"servers): redislab {ours_mem:,.0f} bytes, redis-server {real_mem:,.0f} bytes")
        for pipeline in (1, 16):
            # Rounds alternate between the servers; each test keeps its best round, so a
            # burst of other work on the machine hurts one round, not the figure.
            theirs: dict[str, float] = {}
            mine: dict[str, float] = {}
            for _ in range(args.repeat):
                for best, port, n in ((theirs, real.port, args.requests * 5),
                                      (mine, ours.port, args.requests)):
                    for test, rps in benchmark(port, pipeline, n, args.clients).items():
                        best[test] = max(best.get(test, 0.0), rps)
            print(f"\n-P {pipeline}")
            print(f"{'test':<24}{'redislab ops/s':>16}{'redis ops/s':>14}{'share':>8}")
            for test, rps in mine.items():
                peer = theirs.get(test)
                share = f"{rps / peer:7.1%}" if peer else "      -"
                print(f"{test:<24}{rps:>16,.0f}{(peer or 0):>14,.0f}{share:>8}")
    finally:
        ours.stop()
        real.stop()


if __name__ == "__main__":
    main()
