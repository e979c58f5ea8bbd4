"""Lesson steps on a simulated topology: the field, the lines, node checks, the four lessons."""

from __future__ import annotations

from pathlib import Path

import pytest

from redislab.learn import topology as topo_mod
from redislab.learn.loader import LessonError, load_lesson
from redislab.learn.runner import LessonRun
from redislab.learn.topology import TopologyRun, check_line, parse_topology
from redislab.learn.validate import Report, check_command_line, validate_lesson

from .conftest import LESSONS

TOPOLOGY_LESSONS = ["190-replication.toml", "200-sentinel.toml", "210-cluster.toml",
                    "220-sentinel-vs-cluster.toml"]


def _run(name: str, step: str, seed: int = 11) -> LessonRun:
    lesson = load_lesson(LESSONS / name)
    return LessonRun(lesson, seed=seed, isolate=False,
                     start=[s.id for s in lesson.steps].index(step))


# ------------------------------------------------------------------------------------------
# The field and the lines

def test_topology_specs() -> None:
    assert str(parse_topology("replicas 2")) == "replicas 2"
    assert str(parse_topology("cluster 3 replicas 1")) == "cluster 3 replicas 1"
    assert parse_topology("sentinel").options == {"replicas": 2, "sentinels": 3, "quorum": 2}
    assert parse_topology("sentinel sentinels 5 quorum 3").options["quorum"] == 3
    assert parse_topology("none") is None and parse_topology("") is None
    for bad, words in [("mesh 3", "unknown topology"), ("replicas 2 extra", "pairs"),
                       ("sentinel quorum 4", "never forms"), ("cluster 9", "between"),
                       ("cluster 3 shards 2", "takes primaries, replicas")]:
        with pytest.raises(ValueError, match=words):
            parse_topology(bad)


def test_a_bad_topology_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "010-bad.toml"
    path.write_text('format_version = 1\nid = "bad"\ntitle = "T"\nlevel = "advanced"\n'
                    'tags = ["x"]\n\n[[step]]\ntitle = "S"\ntext = "t"\n'
                    'topology = "mesh 3"\n', "utf-8")
    with pytest.raises(LessonError) as e:
        load_lesson(path)
    assert e.value.line == 10 and "unknown topology 'mesh'" in str(e.value)


def test_topology_lines_are_validated() -> None:
    for good in [":kill primary", ":restart primary", ":partition primary | replica-1 replica-2",
                 ":heal", ":delay primary replica-1 200ms", ":failover", ":failover replica-1",
                 ":reshard 100 C A", ":reshard slot:12182 C A", ":reshard slot:0-99 A B",
                 ":node replica-1", "@node:replica-1 GET k"]:
        assert check_command_line(good) is None, good
    for bad in [":partition a b", ":partition | a", ":delay a b", ":delay a b soon",
                ":reshard x A B", ":reshard slot:20000 A B", ":kill", ":heal now"]:
        assert "usage" in (check_command_line(bad) or ""), bad
    assert "wrong number of arguments for get" in (check_command_line("@node:a GET") or "")
    assert check_line([":teleport"]) == "unknown lesson line ':teleport'"


# ------------------------------------------------------------------------------------------
# The shipped lessons

@pytest.mark.parametrize("name", TOPOLOGY_LESSONS)
def test_topology_lessons_pass_dev_check(name: str) -> None:
    report = Report()
    validate_lesson(load_lesson(LESSONS / name), report)
    assert report.errors == []
    assert report.skipped == []   # the simulated topologies exist: nothing is skipped


def test_ids_tags_and_prerequisites() -> None:
    lessons = {load_lesson(LESSONS / n).id: load_lesson(LESSONS / n) for n in TOPOLOGY_LESSONS}
    assert set(lessons) == {"replication", "sentinel", "cluster", "sentinel-vs-cluster"}
    assert lessons["sentinel"].prerequisites == ("replication",)
    assert set(lessons["sentinel-vs-cluster"].prerequisites) == {"sentinel", "cluster"}
    assert lessons["replication"].topology == "replicas 2"
    assert lessons["cluster"].topology_of(lessons["cluster"].steps[-1]) == "cluster 3 replicas 1"
    assert lessons["sentinel-vs-cluster"].topology == ""


def test_lost_write_right_and_wrong() -> None:
    run = _run("190-replication.toml", "lost-write")
    assert run.topo is not None and run.engine is run.topo.engine_of("primary")
    assert not run.check().passed
    # wrong: no partition, so the write reaches the replicas before the primary dies
    for line in ["SET order:1001 paid", ":advance 1s", ":kill primary", ":failover replica-1"]:
        run.submit(line)
    v = run.check()
    assert not v.passed and "reached the replicas" in (v.misconception or "")
    run.reset()
    assert run.submit(":partition primary | replica-1 replica-2").meta.startswith("partition")
    assert run.submit("SET order:1001 paid").reply == "OK"
    run.submit(":kill primary")
    down = run.submit("GET order:1001")
    assert down.refused == ("could not connect to primary at 127.0.0.1:7000: connection "
                            "refused (the node is down)")
    assert run.submit(":failover replica-1").meta == "failover: replica-1 is the primary now"
    assert run.submit("@node:replica-1 GET order:1001").reply is None
    assert run.passed


def test_wait_lets_simulated_time_pass() -> None:
    run = _run("190-replication.toml", "wait")
    start = run.topo.now_ms()
    run.submit("SET balance 100")
    sub = run.submit("WAIT 2 500")
    assert sub.reply == 1 and sub.verdict is not None and sub.verdict.passed
    # WAIT timed out on the cut-off replica: half a second (and a cron tick) went by
    assert 500 <= run.topo.now_ms() - start <= 700


def test_node_errors_in_lines() -> None:
    run = _run("190-replication.toml", "read-from-a-replica")
    assert run.submit("@node:nowhere GET k").refused.startswith("no node 'nowhere'")
    with pytest.raises(ValueError, match="no node 'nowhere'"):
        run.submit(":kill nowhere")
    plain = _run("220-sentinel-vs-cluster.toml", "sessions")
    assert plain.topo is None
    assert plain.submit("@node:primary GET k").refused == \
        "@node: needs a step that runs on a topology"
    assert "on a topology" in _run("190-replication.toml", "wait").crash()


def test_checks_name_nodes() -> None:
    run = _run("190-replication.toml", "read-from-a-replica")
    from redislab.learn.checks import run_check

    run.submit("SET greeting hello")
    env = run._env()
    on_replica = {"kind": "key", "key": "greeting", "value": "hello", "node": "replica-1"}
    assert not run_check(on_replica, env).passed        # not copied yet: no time has passed
    run.submit(":advance 10ms")
    assert run_check(on_replica, run._env()).passed
    v = run_check({"kind": "keyspace", "expr": "role('replica-1') == 'slave' and "
                   "primary() == 'primary' and replies('SET') == ['OK']",
                   "describe": "roles"}, run._env())
    assert v.passed, v
    run.submit(":kill replica-1")
    v = run_check(on_replica, run._env())
    assert not v.passed and v.summary == "replica-1 is down"
    v = run_check({"kind": "key", "key": "k", "node": "mars"}, run._env())
    assert "no node 'mars'" in v.summary
    plain = _run("220-sentinel-vs-cluster.toml", "sessions")
    v = run_check({"kind": "key", "key": "k", "node": "primary"}, plain._env())
    assert "no topology" in v.summary


def test_cluster_checks_read_keys_where_they_live() -> None:
    run = _run("210-cluster.toml", "hash-tags")
    sub = run.submit("MSET {user:42}:name Ada {user:42}:email ada@example.com")
    assert sub.reply == "OK" and sub.redirects == ["-> MOVED 15880 to node C"]
    assert run.passed
    from redislab.learn.checks import run_check

    v = run_check({"kind": "keyspace", "expr": "keys('*') == ['{user:42}:email', "
                   "'{user:42}:name'] and owner('{user:42}:name') == 'C' and "
                   "slot('foo') == 12182", "describe": "cluster-wide"}, run._env())
    assert v.passed, v
    # a key check without a node looks on the key's owner
    assert run_check({"kind": "key", "key": "{user:42}:name", "value": "Ada"},
                     run._env()).passed


def test_sentinel_failover_is_the_same_for_a_seed() -> None:
    def story(seed: int) -> tuple[str, str]:
        run = _run("200-sentinel.toml", "automatic-failover", seed=seed)
        for line in [":kill primary", ":advance 60s"]:
            run.submit(line)
        assert run.topo is not None
        return run.topo.default_node(), run.topo.describe()

    assert story(5) == story(5)
    promoted, _ = story(5)
    assert promoted in ("replica-1", "replica-2")


def test_a_missing_simulation_skips_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(spec: object) -> None:
        raise ImportError("no simulated topology")

    monkeypatch.setattr(topo_mod, "_builder", missing)
    run = _run("190-replication.toml", "wait")
    assert run.topo is None
    assert run.skip_reason == ("needs the simulated topology (replication and Sentinel), "
                               "which this engine does not have yet")
    assert run.check().skipped == run.skip_reason


def test_topologies_are_closed_between_steps() -> None:
    run = _run("190-replication.toml", "wait")
    first = run.topo
    assert first is not None
    base = Path(first.topology.base_dir)
    assert base.exists()
    run.reset()
    assert run.topo is not first and not base.exists()


def test_lines_refuse_what_the_topology_cannot_do() -> None:
    spec = parse_topology("replicas 1")
    assert spec is not None
    run = TopologyRun(spec, seed=3)
    try:
        assert run.node_names() == ["primary", "replica-1"]
        with pytest.raises(ValueError, match="usage"):
            run.act([":partition", "primary"])
        with pytest.raises(ValueError, match=":reshard needs a cluster"):
            run.act([":reshard", "10", "primary", "replica-1"])
    finally:
        run.close()


def test_an_open_migration_answers_ask() -> None:
    run = _run("210-cluster.toml", "ask-mid-migration")
    assert run.submit(":reshard slot:14498 C A 1").meta == (
        "moved 1 key(s) of slot 14498 from C to A; 2 left on C (slot 14498: MIGRATING on C, "
        "IMPORTING on A)")
    with pytest.raises(ValueError, match="a migration from C to A is still open"):
        run.submit(":reshard 10 B A")
    replies = [run.submit(f"@node:C GET {{order:5}}:{k}").reply for k in ("items", "total",
                                                                          "status")]
    asks = [r for r in replies if "ASK" in str(r)]
    assert len(asks) == 1 and str(asks[0]) == "ASK 14498 127.0.0.1:7000"
    # through the cluster connection every key reads, the moved one by way of ASK
    through = [run.submit(f"GET {{order:5}}:{k}") for k in ("items", "total", "status")]
    assert [s.reply for s in through] == [b"3", b"42", b"paid"]
    assert sum(s.redirects == ["-> ASK 14498 to node A"] for s in through) == 1
    assert run.submit(":reshard slot:14498 C A").meta == \
        "migration finished: 1 slot(s), 3 key(s) now on A"
    assert run.check().passed


def test_a_slow_link_serves_stale_reads() -> None:
    run = _run("190-replication.toml", "stale-read")
    run.submit("SET price 12")
    assert run.submit("@node:replica-1 GET price").reply == b"10"
    run.submit(":advance 1s")
    assert run.submit("@node:replica-2 GET price").reply == b"12"   # the fast link
    assert run.submit("@node:replica-1 GET price").reply == b"10"   # 2 s each way
    run.submit(":advance 2s")
    sub = run.submit("@node:replica-1 GET price")
    assert sub.reply == b"12" and sub.verdict is not None and sub.verdict.passed
