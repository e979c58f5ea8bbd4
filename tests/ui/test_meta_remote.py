"""The looking-inside meta-commands on a real server (``--url``): datasets load through a
pipeline and hold what the embedded engine holds; engine-only views say so."""

from __future__ import annotations

import pytest

from redislab.protocol import encode
from redislab.ui.batch import make_backend
from redislab.ui.remote import RemoteBackend
from redislab.ui.repl.shell import Shell
from redislab.ui.startup import Options
from redislab.ui.theme import plain

pytestmark = pytest.mark.real


@pytest.fixture
def remote(redis_server):  # type: ignore[no-untyped-def]
    client = redis_server.client()
    client.execute("FLUSHALL")
    backend = RemoteBackend(f"redis://127.0.0.1:{redis_server.port}")
    shown: list[str] = []
    shell = Shell(backend, lambda f: shown.append(plain(f)), interactive=False,
                  annotate="off")

    def say(line: str) -> str:
        shown.clear()
        shell.handle(line)
        return "".join(shown)

    yield shell, say, client
    backend.close()
    client.execute("FLUSHALL")


def _wire(reply: object) -> bytes:
    return encode(reply, False)


def _embedded(line: str) -> Shell:
    shell = Shell(make_backend(Options(manual_clock=True)), lambda f: None, interactive=False)
    shell.handle(line)
    return shell


def test_leaderboard_loads_the_same_on_a_real_server(remote):  # type: ignore[no-untyped-def]
    shell, say, client = remote
    out = say(":load leaderboard 4000")
    assert out.startswith("loaded leaderboard: 4,000 players; keys 0 -> 1 (+1); memory +")
    ours = _embedded(":load leaderboard 4000").backend.session("default")
    # MEMORY USAGE is left out: Redis draws skiplist levels at random.
    for argv in (("ZRANGE", "leaderboard", "0", "-1", "WITHSCORES"),
                 ("OBJECT", "ENCODING", "leaderboard"), ("ZRANK", "leaderboard", "player:7")):
        assert _wire(client.execute(*argv)) == _wire(ours.execute(*argv)), argv


def test_pageviews_load_the_same_on_a_real_server(remote):  # type: ignore[no-untyped-def]
    shell, say, client = remote
    say(":load pageviews 15000")
    ours = _embedded(":load pageviews 15000").backend.session("default")
    days = sorted(client.execute("KEYS", "pageviews:*"))
    mine = sorted(ours.execute("KEYS", "pageviews:*"))
    assert len(days) == len(mine) == 7
    for a, b in zip(days, mine):
        theirs = client.execute("HGETALL", a)
        mine_pairs = ours.execute("HGETALL", b)
        assert dict(zip(theirs[::2], theirs[1::2])) == dict(mine_pairs)
    uniques = sorted(client.execute("KEYS", "uniques:*"))
    assert len(uniques) == len(ours.execute("KEYS", "uniques:*"))
    for key in uniques[:20]:
        assert client.execute("PFCOUNT", key) == ours.execute("PFCOUNT", key)
        # The same bytes: the HyperLogLog is Redis's own layout.
        assert client.execute("GET", key) == ours.execute("GET", key)
    assert client.execute("XLEN", "views") == ours.execute("XLEN", "views")
    assert client.execute("XPENDING", "views", "analytics")[0] == 65


def test_engine_only_views_say_so(remote):  # type: ignore[no-untyped-def]
    shell, say, client = remote
    client.execute("RPUSH", "l", "a", "b", "c")
    assert say(":crash") == ":crash needs the embedded engine; a real server is not ours " \
                            "to kill (run redislab without --url)\n"
    assert say(":viz l").startswith(":viz of a list reads the embedded engine's structures")
    assert say(":viz nothing") == "nothing: no such key\n"
    client.execute("PFADD", "visitors", *[f"v{i}" for i in range(200)])
    out = say(":viz visitors")
    assert out.startswith('"visitors": HyperLogLog, sparse, ')
    assert "turns dense past hll-sparse-max-bytes (3,000 B)" in out
    ours = _embedded("PFADD visitors " + " ".join(f"v{i}" for i in range(200)))
    mine: list[str] = []
    ours.write = lambda f: mine.append(plain(f))
    ours.handle(":viz visitors")
    assert out == "".join(mine)   # the same bytes, the same drawing
    client.execute("SET", "blob", b"\x00\x01" * 20000)
    out = say(":viz blob")
    assert out.startswith('"blob": string, raw, 40,000 bytes') and "0000  00 01 00 01" in out
    out = say(":memory l")
    usage = client.execute("MEMORY", "USAGE", "l", "SAMPLES", "0")
    assert out == f"l: {usage:,} bytes (MEMORY USAGE SAMPLES 0; the parts need the " \
                  "embedded engine)\n"
    assert say(":memory nothing") == "nothing: no such key\n"
    out = say(":config maxmemory-p*")
    assert "maxmemory-policy  noeviction" in out and "defaults need the embedded" in out
    assert say(":config maxmemory-policy noeviction") == "OK\n"


@pytest.mark.parametrize("resp3", [False, True])
def test_config_on_a_real_server(redis_server, resp3: bool) -> None:  # type: ignore[no-untyped-def]
    from redislab.ui.repl.completer import candidates

    backend = RemoteBackend(f"redis://127.0.0.1:{redis_server.port}", resp=3 if resp3 else 2)
    shown: list[str] = []
    shell = Shell(backend, lambda f: shown.append(plain(f)), interactive=False,
                  annotate="off")
    try:
        shell.handle(":config hash-max-listpack-*")
        text = "".join(shown)
        assert "hash-max-listpack-entries  512" in text
        assert "hash-max-listpack-value    64" in text
        names = [c[1][0] for c in candidates(":config maxmemory-p", shell)]
        assert names == ["maxmemory-policy"]
    finally:
        backend.close()


def test_load_over_resp3(redis_server) -> None:  # type: ignore[no-untyped-def]
    client = redis_server.client()
    client.execute("FLUSHALL")
    backend = RemoteBackend(f"redis://127.0.0.1:{redis_server.port}", resp=3)
    shown: list[str] = []
    shell = Shell(backend, lambda f: shown.append(plain(f)), interactive=False,
                  annotate="off")
    try:
        shell.handle(":load sessions 300")
        assert "".join(shown).startswith("loaded sessions: 300 sessions; keys 0 -> 300 "
                                         "(+300); memory +")
        assert client.execute("DBSIZE") == 300
    finally:
        backend.close()
        client.execute("FLUSHALL")
