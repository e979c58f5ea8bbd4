"""The memory corpus replayed on the engine and on a real redis-server 7.0.

Every key must show the same OBJECT ENCODING; MEMORY USAGE ... SAMPLES 0 must be within the
issue's targets (median error <= 2%, worst <= 10%). Skiplist levels are random in Redis, so
sorted sets in skiplist encoding are held to a range around the real figure instead, and so
are the keys whose dict shrank (see SHRUNK).

The engine records every call (as the REPL does), so the model sees each command's effect
on history-dependent layouts: dict tables after deletes, quicklist nodes after pops.
"""

from __future__ import annotations

import statistics
from typing import Any, Iterator

import pytest

from redislab.engine import Engine, ManualClock
from redislab.protocol import ErrorReply

from .memory_corpus import corpus

SKIPLIST_RANGE = 0.06
DEFAULTS = ["hash-max-listpack-entries", "512", "hash-max-listpack-value", "64",
            "zset-max-listpack-entries", "128", "zset-max-listpack-value", "64",
            "set-max-intset-entries", "512", "list-max-listpack-size", "-2",
            "list-compress-depth", "0", "stream-node-max-bytes", "4096",
            "stream-node-max-entries", "100", "hll-sparse-max-bytes", "3000",
            "maxmemory", "0", "maxmemory-policy", "noeviction", "activerehashing", "yes",
            "latency-tracking", "yes"]
# Keys whose dict shrank: how far Redis's incremental rehash got depends on its random hash
# seed (which buckets the survivors sit in), so anything from "still rehashing the big
# table" to "rehashed and shrunk again" is a correct answer. Held to that span of tables.
SHRUNK = {"set:shrunk": 1024 + 128, "h:shrunk": 1024 + 128, "z:shrunk": 1024 + 16}


def _text(reply: Any) -> Any:
    return bytes(reply) if isinstance(reply, (bytes, bytearray)) else reply


@pytest.fixture(scope="module")
def replayed(redis_server: Any) -> Iterator[list[dict[str, Any]]]:
    real = redis_server.client()
    real.execute("FLUSHALL")
    # The server is shared with other tests: put every size rule back to its default.
    real.execute("CONFIG", "SET", *DEFAULTS)
    engine = Engine(ManualClock())
    engine.recording += 1
    engine.refresh_gate()
    ours = engine.session()
    try:
        for key, cmds in corpus():
            for cmd in cmds:
                a, b = ours.execute(*cmd), real.execute(*cmd)
                assert type(a) is ErrorReply or not isinstance(b, ErrorReply), (cmd, b)
        rows = []
        for key, _ in corpus():
            row: dict[str, Any] = {"key": key}
            for side, client in (("ours", ours), ("real", real)):
                row[side + "_enc"] = _text(client.execute("OBJECT", "ENCODING", key))
                row[side] = client.execute("MEMORY", "USAGE", key, "SAMPLES", "0")
                row[side + "_default"] = client.execute("MEMORY", "USAGE", key)
            rows.append(row)
        yield rows
    finally:
        real.execute("FLUSHALL")
        real.close()


def test_encodings_are_identical(replayed):
    wrong = [(r["key"], r["ours_enc"], r["real_enc"]) for r in replayed
             if r["ours_enc"] != r["real_enc"]]
    assert not wrong


def test_memory_usage_all_samples(replayed):
    errors = []
    out_of_range = []
    for r in replayed:
        ours, real = r["ours"], r["real"]
        assert isinstance(ours, int) and isinstance(real, int), r
        err = abs(ours - real) / real
        if r["key"] in SHRUNK:
            # Same elements; the tables differ by whole 8-byte slots, at most all of them.
            assert (ours - real) % 8 == 0 and abs(ours - real) <= 8 * SHRUNK[r["key"]], r
            continue
        if r["real_enc"] == b"skiplist":
            if err > SKIPLIST_RANGE:
                out_of_range.append((r["key"], ours, real))
            continue
        errors.append((err, r["key"], ours, real))
    median = statistics.median(e for e, *_ in errors)
    worst = max(errors)
    print(f"\nMEMORY USAGE SAMPLES 0 over {len(errors)} keys: median {median:.2%}, "
          f"worst {worst[0]:.2%} ({worst[1]}), exact {sum(1 for e in errors if not e[0])}")
    assert median <= 0.02
    assert worst[0] <= 0.10, worst
    assert not out_of_range


def test_default_samples_where_the_walk_order_is_the_same(replayed):
    """With 5 samples Redis walks quicklist head nodes, stream nodes and skiplist-free
    layouts the same way we do; dict iteration order is seeded per process, so hashtables
    are only held to the same order of magnitude."""
    for r in replayed:
        if r["real_enc"] in (b"quicklist", b"stream", b"listpack", b"intset", b"embstr",
                             b"int", b"raw"):
            assert abs(r["ours_default"] - r["real_default"]) <= 0.1 * r["real_default"], r
        else:
            assert 0.5 * r["real_default"] <= r["ours_default"] <= 2 * r["real_default"], r


def test_memory_command_errors_and_shapes(differ):
    differ.check_all("""
        SET k v
        MEMORY USAGE nokey
        MEMORY USAGE k SAMPLES -1
        MEMORY USAGE k SAMPLES x
        MEMORY USAGE k SAMPLES
        MEMORY USAGE k FOO
        MEMORY PURGE
        MEMORY FOO
        MEMORY STATS extra
        MEMORY DOCTOR extra
        MEMORY USAGE
    """)
    ours = [k for k, _ in differ.session.execute("MEMORY", "STATS")]
    theirs = differ.real.execute("MEMORY", "STATS")[0::2]
    assert ours == theirs
    help_ours = differ.session.execute("MEMORY", "HELP")
    assert len(help_ours) == len(differ.real.execute("MEMORY", "HELP"))


def test_info_memory_fields_are_redis_fields(differ):
    def names(reply: Any) -> list[str]:
        return [line.split(":")[0] for line in bytes(reply).decode().split("\r\n")
                if ":" in line]

    assert names(differ.session.execute("INFO", "memory")) == \
        names(differ.real.execute("INFO", "memory"))
