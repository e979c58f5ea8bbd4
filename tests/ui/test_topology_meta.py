"""``:topology`` and its companions in the REPL, without a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from redislab.learn.loader import load_lesson
from redislab.learn.runner import LessonRun
from redislab.ui.lesson_screen import LessonShell
from redislab.ui.repl.meta import META
from redislab.ui.repl.shell import Shell
from redislab.ui.repl.toolbar import toolbar_fragments
from redislab.ui.repl.topology import TopologyBackend
from redislab.ui.theme import plain

from .conftest import Transcript

Say = Callable[[str], str]
LESSONS = Path(__file__).resolve().parents[2] / "lessons"


def prompt(shell: Shell) -> str:
    return plain(shell.prompt_fragments())


@pytest.fixture
def replicas(shell: Shell, say: Say) -> Shell:
    say(":annotate off")
    out = say(":topology replicas 2")
    assert out.startswith("topology replicas 2: primary: master")
    return shell


def test_every_companion_is_registered(say: Say) -> None:
    for name in ("topology", "node", "kill", "restart", "partition", "heal", "delay",
                 "failover", "reshard"):
        assert name in META
    assert ":topology [replicas N|sentinel|cluster N|off|events [N]]" in say(":help")
    assert say(":kill primary") == ("no topology running: start one with :topology replicas "
                                    "2, :topology sentinel or :topology cluster 3\n")
    assert say(":topology") == "no topology: one engine (:topology replicas 2 | sentinel | " \
                               "cluster 3)\n"
    assert say(":topology mesh 3") == "unknown topology 'mesh' (replicas N, sentinel, " \
                                      "cluster N)\n"


def test_replication_in_the_repl(replicas: Shell, say: Say) -> None:
    assert prompt(replicas) == "primary> "
    assert say("SET k v") == "OK\n"
    assert say("@node:replica-1 GET k") == "[node:replica-1] (nil)\n"   # not copied yet
    assert say(":advance 10ms").startswith("clock advanced 0.01s")
    assert say("@node:replica-1 GET k") == '[node:replica-1] "v"\n'
    assert say(":node replica-1") == "now talking to replica-1 (127.0.0.1:7001, slave)\n"
    assert prompt(replicas) == "replica-1> "
    assert say("SET k w") == "(error) READONLY You can't write against a read only replica.\n"
    say(":node primary")
    assert say(":partition primary | replica-2") == "partition: primary cannot reach replica-2\n"
    say("SET x 1")
    assert say("WAIT 2 300") == "(integer) 1\n"       # simulated time passed while it waited
    toolbar = plain(toolbar_fragments(replicas))
    assert "clock manual" in toolbar and replicas.backend.describe() in toolbar
    assert say(":heal") == "network healed: every node can reach every other\n"


def test_kill_restart_and_failover(replicas: Shell, say: Say) -> None:
    say("SET k v")
    say(":advance 1s")
    assert say(":kill primary") == "primary is down (killed)\n"
    assert say("GET k") == ("could not connect to primary at 127.0.0.1:7000: connection "
                            "refused (the node is down; :restart primary starts it again)\n")
    assert say(":kill primary") == "primary is already down\n"
    assert say(":failover") == "failover: replica-1 is the primary now\n"
    say(":node replica-1")
    assert say("ROLE").startswith('1) "master"\n')
    assert say(":restart primary") == "primary restarted from its data directory\n"
    assert say(":node nowhere") == "no node 'nowhere' (nodes: primary, replica-1, replica-2)\n"
    assert say(":partition primary replica-1").startswith("':partition primary replica-1': "
                                                          "usage")
    assert say(":clock real").startswith("a topology runs on simulated time")


def test_cluster_redirects_and_reshard(shell: Shell, say: Say) -> None:
    say(":annotate off")
    say(":topology cluster 3")
    assert prompt(shell) == "A> "
    assert say("SET foo bar") == "-> MOVED 12182 to node C\nOK\n"
    assert prompt(shell) == "C> "                        # as redis-cli -c, it stays there
    assert say("GET foo") == '"bar"\n'
    assert say("@node:A GET foo") == "[node:A] (error) MOVED 12182 127.0.0.1:7002\n"
    assert say("MSET a 1 b 2") == \
        "(error) CROSSSLOT Keys in request don't hash to the same slot\n"
    assert say(":reshard slot:12182 C A") == "moved 1 slot(s), 1 key(s) from C to A\n"
    assert say("GET foo") == '-> MOVED 12182 to node A\n"bar"\n'
    assert say(":reshard 10 A") .startswith("':reshard 10 A': usage")
    assert "12182" in plain(toolbar_fragments(shell))


def test_off_returns_to_the_single_engine(shell: Shell, say: Say) -> None:
    say(":annotate off")
    single = shell.backend
    say("SET mine 1")
    say(":topology replicas 1")
    assert isinstance(shell.backend, TopologyBackend)
    assert say("GET mine") == "(nil)\n"
    run = shell.backend.run
    say(":topology sentinel")                       # one topology replaces the other
    assert Path(run.topology.base_dir).exists() is False
    assert prompt(shell) == "primary> "
    assert say(":topology off") == "topology off: back to the single engine\n"
    assert shell.backend is single and prompt(shell) == "redislab> "
    assert say("GET mine") == '"1"\n'


def test_reset_rebuilds_the_topology(replicas: Shell, say: Say) -> None:
    say("SET k v")
    say(":node replica-1")
    say(":reset")
    assert say("GET k") == "(nil)\n"
    assert prompt(replicas) == "primary> "


def test_annotations_and_events_on_a_topology(shell: Shell, say: Say) -> None:
    say(":topology replicas 1")
    assert say("SET k v").startswith("OK\n  ↳ O(1)")
    say(":kill primary")
    out = say(":advance 2s")
    assert "link-down" in out          # the replica's link events, from its engine's bus


def test_a_lesson_step_on_a_topology(transcript: Transcript,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDISLAB_HISTFILE", "")
    lesson = load_lesson(LESSONS / "190-replication.toml")
    run = LessonRun(lesson, seed=7, isolate=False,
                    start=[s.id for s in lesson.steps].index("lost-write"))
    shell = LessonShell(run, transcript, annotate="off")
    assert isinstance(shell.backend, TopologyBackend) and shell.backend.run is run.topo
    assert plain(shell.prompt_fragments()) == "[replication 3/6] primary> "
    for line in [":partition primary | replica-1 replica-2", "SET order:1001 paid",
                 ":kill primary"]:
        shell.handle(line)
    transcript.take()
    shell.handle(":failover replica-1")       # the step is checked after a topology line
    out = transcript.take()
    assert "failover: replica-1 is the primary now" in out and "✓" in out
    shell.handle(":next")
    assert shell.backend.run is run.topo and run.step.id == "wait"
    shell.handle(":step 6")                   # a reading step: still on a topology
    assert isinstance(shell.backend, TopologyBackend)


def test_a_lesson_keeps_its_own_topology(transcript: Transcript) -> None:
    lesson = load_lesson(LESSONS / "190-replication.toml")
    shell = LessonShell(LessonRun(lesson, seed=3, isolate=False, start=0), transcript)
    transcript.take()
    shell.handle(":topology cluster 3")
    assert transcript.take() == ("inside a lesson the step decides what it runs on "
                                 "(:topology shows it)\n")
    shell.handle(":topology")
    assert transcript.take().startswith("primary: master")


def test_advance_shows_what_the_sentinels_logged(shell: Shell, say: Say) -> None:
    say(":annotate off")
    say(":topology sentinel")
    assert "+monitor master mymaster 127.0.0.1 7000 quorum 2" in say(":topology events")
    say(":kill primary")
    out = say(":advance 60s").splitlines()
    assert out[0].startswith("clock advanced 60s")
    assert len(out) == 1 + 15 + 1                       # a screenful, with a pointer
    assert "+sdown master mymaster 127.0.0.1 7000" in "\n".join(out[1:8])
    assert any("more (:topology events" in line for line in out)
    assert "+switch-master mymaster 127.0.0.1 7000" in "\n".join(out[-8:])
    events = say(":topology events 3").splitlines()
    assert len(events) == 3 and all(line.startswith("  +") for line in events)
    assert say(":topology events x") == "usage: :topology events [N]\n"
    assert say(":advance 0") .startswith("clock advanced 0s")
