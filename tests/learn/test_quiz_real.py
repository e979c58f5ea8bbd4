"""The quiz bank is accurate for Redis 7.0: predict items and hands-on reference solutions are
replayed on a real redis-server, and what Redis replies must be what the engine replies and
what the items claim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from redislab.learn.quiz_bank import Item, fill, load_bank
from redislab.learn.quiz_grade import Sandbox, predict_reply
from redislab.learn.quiz_replies import reply_matches
from redislab.protocol import split_args

from ..support.real_redis import RawClient, RedisServer, normalize, wire

pytestmark = pytest.mark.real

BANK = load_bank(Path(__file__).resolve().parents[2] / "lessons" / "quiz")
ADVANCE = ":advance"


def _timeless(lines: list[str]) -> bool:
    return not any(line.strip().startswith(ADVANCE) for line in lines)


PREDICT = [i for i in BANK if i.kind == "predict" and _timeless(list(i.commands))]
HANDS_ON = [i for i in BANK if i.kind == "hands-on"
            and all(_timeless(list(c.setup)) and not any(g.advance for g in c.goals)
                    for c in i.cases)]


class Real:
    """A connection to the shared server, restored to a clean state around each item."""

    def __init__(self, server: RedisServer) -> None:
        self.c: RawClient = server.client()
        self.defaults = self._config()

    def _config(self) -> dict[bytes, bytes]:
        flat = self.c.execute("CONFIG", "GET", "*")
        return dict(zip(flat[::2], flat[1::2]))

    def reset(self, resp: int = 2) -> None:
        self.c.execute("HELLO", str(resp))
        self.c.execute("FLUSHALL")
        self.c.execute("SCRIPT", "FLUSH")
        self.c.execute("FUNCTION", "FLUSH")
        for name, value in self._config().items():
            if self.defaults.get(name) != value:
                self.c.execute("CONFIG", "SET", name, self.defaults[name])

    def run(self, line: str) -> Any:
        argv = split_args(line)
        assert argv, line
        return self.c.execute(*argv)


@pytest.fixture(scope="module")
def real(redis_server: RedisServer) -> Real:
    r = Real(redis_server)
    yield r
    r.reset()
    r.c.close()


@pytest.mark.parametrize("item", PREDICT, ids=lambda i: i.id)
def test_predict_item_matches_real_redis(real: Real, item: Item) -> None:
    real.reset(item.resp)
    reply = None
    for line in item.commands:
        reply = real.run(line)
    ours = wire(predict_reply(item), item.resp == 3)
    assert normalize(ours) == normalize(reply)
    assert reply_matches(reply, item.answer, resp=item.resp, unordered=item.unordered)
    for w in item.wrong:
        assert not reply_matches(reply, w, resp=item.resp, unordered=item.unordered), w


def _solution_replies(real: Real, item: Item, setup: list[str], values: dict[str, str]) -> Any:
    for line in setup:
        real.run(line)
    if item.answer_kind == "lua":
        keys = [fill(k, values) for k in item.keys]
        args = [fill(a, values) for a in item.args]
        return real.c.execute("EVAL", item.solution, str(len(keys)), *keys, *args)
    last = None
    for line in item.solution.splitlines():
        if line.strip() and not line.strip().startswith("#"):
            last = real.run(line)
    return last


@pytest.mark.parametrize("item", HANDS_ON, ids=lambda i: i.id)
def test_hands_on_reference_solution_on_real_redis(real: Real, item: Item) -> None:
    values = item.values(0)
    for case in item.cases:
        setup = [fill(s, values) for s in case.setup]
        # Real Redis
        real.reset()
        result = _solution_replies(real, item, setup, values)
        theirs = [result if g.result else real.run(fill(g.probe, values)) for g in case.goals]
        # The engine, as the grader runs it
        box = Sandbox()
        box.allow = frozenset(item.allow)
        box.run_lines(setup)
        if item.answer_kind == "lua":
            mine = box.eval_script(item.solution, [fill(k, values) for k in item.keys],
                                   [fill(a, values) for a in item.args]).last
        else:
            mine = box.run_lines([ln for ln in item.solution.splitlines() if ln.strip()]).last
        ours = [mine if g.result else box.probe(fill(g.probe, values)) for g in case.goals]
        for goal, a, b in zip(case.goals, ours, theirs):
            if goal.between is not None:
                assert goal.between[0] <= float(b) <= goal.between[1], goal.describe()
                continue
            assert normalize(wire(a)) == normalize(b), goal.describe()
            if goal.equals is not None:
                assert reply_matches(b, fill(goal.equals, values), unordered=goal.unordered)
