"""``:topology`` in the REPL: replicas, Sentinel or a cluster on one simulated clock.

``:topology replicas 2`` (or ``sentinel``, ``cluster 3``) swaps the shell's backend for a
:class:`TopologyBackend`: commands go to one node at a time (the prompt names it), clients
are opened per node, and ``:advance`` moves the topology's clock, so replication, Sentinel
timers and the cluster bus run in simulated time. ``:topology off`` puts the single engine
back. The companions act on the running topology: ``:node``, ``:kill``, ``:restart``,
``:partition``, ``:heal``, ``:delay``, ``:failover``, ``:reshard``.

In a cluster the connection behaves as ``redis-cli -c``: a MOVED or ASK reply is followed to
the node it names, and a line before the reply says so (``-> MOVED 12182 to node C``); after
a MOVED the prompt stays on the node that answered. ``@node:NAME CMD`` runs one command on
NAME without following anything. ``WAIT`` lets simulated time pass until it is answered.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...learn.topology import (
    LINE_WORDS, MAX_REDIRECTS, TopologyRun, parse_topology, topology_missing,
)
from ...protocol import NO_REPLY
from ..backend import DEFAULT_CLIENT, Delivery, EmbeddedBackend, NeedsEngine, Outcome
from .meta import meta

if TYPE_CHECKING:
    from ...engine.events import Event
    from ...engine.introspect import KeyInfo
    from .shell import Shell

__all__ = ["TopologyBackend", "TopologyOutcome", "NODE_CLIENT", "start_topology",
           "topology_line"]

# ``@node:replica-1 GET k``: the shell takes ``node:replica-1`` as the client's name.
NODE_CLIENT = "node:"
# Log lines shown after one :advance (a Sentinel failover logs a few dozen).
LOG_LINES = 15


@dataclass
class TopologyOutcome(Outcome):
    """An outcome with the lines the topology shows before the reply (redirects, a node that
    is down)."""

    notes: list[str] = field(default_factory=list)
    node: str = ""


class TopologyBackend:
    """The REPL's backend on a topology: named clients on the node being talked to.

    Each node's engine is wrapped in its own :class:`EmbeddedBackend`, so a command on any
    node is recorded and annotated as on the single engine. ``client`` names of the form
    ``node:NAME`` mean the default client on node NAME.
    """

    kind = "embedded"

    def __init__(self, run: TopologyRun, *, resp: int = 2, previous: Any = None) -> None:
        self.run = run
        self.resp = resp
        self.previous = previous            # the single-engine backend, for :topology off
        self.deliveries: deque[Delivery] = deque()
        self._recording = False
        self._backends: dict[str, EmbeddedBackend] = {}
        self._log: list[str] = []

    # -- nodes ---------------------------------------------------------------------------

    @property
    def current(self) -> str:
        return self.run.current

    @property
    def engine(self) -> Any:
        return self.run.engine

    def node_backend(self, node: str) -> EmbeddedBackend:
        engine = self.run.engine_of(node)
        b = self._backends.get(node)
        if b is None or b.engine is not engine:
            if b is not None:
                b.recording = False
            b = EmbeddedBackend(engine, resp=self.resp)
            b.deliveries = self.deliveries
            b.recording = self._recording
            self._backends[node] = b
        return b

    def _split(self, client: str) -> tuple[str, str]:
        if client.startswith(NODE_CLIENT):
            return client[len(NODE_CLIENT):], DEFAULT_CLIENT
        return self.current, client

    def prompt_name(self) -> str:
        return self.current

    # -- the Backend interface -----------------------------------------------------------

    @property
    def recording(self) -> bool:
        return self._recording

    @recording.setter
    def recording(self, on: bool) -> None:
        self._recording = on
        for b in self._backends.values():
            b.recording = on

    def session(self, name: str) -> Any:
        node, client = self._split(name)
        if node not in self.run.node_names():
            node = self.current
        return self.node_backend(node).session(client)

    def client_names(self) -> list[str]:
        return self.node_backend(self.current).client_names()

    def execute(self, argv: list[bytes], client: str = DEFAULT_CLIENT) -> Outcome:
        """Run one command; in a cluster, follow MOVED and ASK (not for ``node:NAME``)."""
        node, name = self._split(client)
        run = self.run
        if node not in run.node_names():
            return TopologyOutcome(client, argv, NO_REPLY, notes=[
                f"no node {node} (nodes: {', '.join(run.node_names())})"])
        follow = run.cluster and not client.startswith(NODE_CLIENT)
        notes: list[str] = []
        for attempt in range(MAX_REDIRECTS + 1):
            if follow and not attempt and not run.alive(node):
                node = run.fallback(node, notes)
            if not run.alive(node):
                notes.append(f"could not connect to {node} at {run.address(node)}: connection "
                             f"refused (the node is down; :restart {node} starts it again)")
                return TopologyOutcome(client, argv, NO_REPLY, notes=notes, node=node)
            backend = self.node_backend(node)
            outcome = backend.execute(argv, name)
            if outcome.blocked and argv and argv[0].upper() in (b"WAIT", b"WAITAOF"):
                # a client waiting for WAIT's answer: simulated time passes meanwhile
                outcome.reply = run.wait_for(backend.session(name), outcome.reply)
                outcome.blocked = type(outcome.reply).__name__ == "Blocked"
            redirect = run.redirect_of(outcome.reply) if follow else None
            if redirect is None:
                return TopologyOutcome(**outcome.__dict__, notes=notes, node=node)
            kind, slot, target = redirect
            notes.append(f"-> {kind} {slot} to node {target}")
            if kind == "ASK":
                if run.alive(target):
                    self.node_backend(target).execute([b"ASKING"], name)
            else:
                run.current = target
            node = target
        notes.append("too many redirects: the cluster is still moving this slot")
        return TopologyOutcome(client, argv, NO_REPLY, notes=notes, node=node)

    def take_deliveries(self) -> list[Delivery]:
        out = list(self.deliveries)
        self.deliveries.clear()
        return out

    def key_names(self, client: str, prefix: bytes = b"", limit: int = 200) -> list[bytes]:
        node, name = self._split(client)
        return self.node_backend(node).key_names(name, prefix, limit)

    def key_info(self, client: str, key: bytes) -> "KeyInfo | None":
        node, name = self._split(client)
        if self.run.cluster and not client.startswith(NODE_CLIENT):
            node = self.run.owner(key) or node
        return self.node_backend(node).key_info(name, key)

    def key_count(self, client: str) -> int:
        node, name = self._split(client)
        return self.node_backend(node).key_count(name)

    def db_index(self, client: str) -> int:
        return self.session(client).db.id

    def config_names(self) -> list[str]:
        return self.node_backend(self.current).config_names()

    @property
    def clock(self) -> "TopologyClock":
        return TopologyClock(self)

    def now_ms(self) -> int:
        return int(self.run.engine.clock.time_ms())

    def advance(self, seconds: float) -> list["Event"]:
        """Move the topology's clock; returns the keys that expired meanwhile (what the
        servers and Sentinels logged waits in :meth:`take_log`)."""
        seen: list[Event] = []
        stops = [self.run.engine_of(n).bus.subscribe(seen.append)
                 for n in self.run.node_names()]
        logged = len(self.run.topology.events)
        try:
            self.run.advance(seconds)
        finally:
            for stop in stops:
                stop()
        new = self.run.topology.events[logged:] if logged <= len(self.run.topology.events) \
            else self.run.topology.events
        self._log = [f"{e}" for e in new]
        # replication events reach the topology's log too: shown once, from there
        return [e for e in seen if e.kind == "expired"]

    def take_log(self) -> list[str]:
        """What the last :advance made the servers and Sentinels log (at most a screenful)."""
        lines, self._log = self._log, []
        if len(lines) > LOG_LINES:
            # how it started and how it ended matter most (+sdown ... +switch-master)
            head, tail = LOG_LINES // 2, LOG_LINES - LOG_LINES // 2
            lines = lines[:head] + [f"... {len(lines) - LOG_LINES} more (:topology events "
                                    f"{len(lines)} shows them all)"] + lines[-tail:]
        return lines

    def events(self, last: int = 20) -> list[str]:
        return list(self.run.topology.event_lines(last))

    def tick(self) -> None:
        self.run.advance(0)

    def stop_waiting(self, session: Any) -> None:
        self.node_backend(self.current).stop_waiting(session)

    def reset(self) -> None:
        """The same topology, built afresh."""
        recording = self._recording
        self.recording = False
        self.run.close()
        self.run = TopologyRun(self.run.spec, self.run.seed)
        self._backends.clear()
        self.deliveries.clear()
        self.recording = recording

    def describe(self) -> str:
        return self.run.describe()


class TopologyClock:
    """The topology's clock as the REPL sees it: always manual, moved only by ``:advance``."""

    manual = True

    def __init__(self, backend: TopologyBackend) -> None:
        self.backend = backend

    @property
    def skipped_seconds(self) -> float:
        return 0.0

    def freeze(self) -> None:
        pass

    def release(self) -> None:
        raise NeedsEngine("a topology runs on simulated time: only :advance moves its clock "
                          "(:topology off returns to the single engine)")


# ------------------------------------------------------------------------------------------
# Meta-commands

def _topology_of(shell: "Shell") -> TopologyBackend | None:
    b = shell.backend
    return b if isinstance(b, TopologyBackend) else None


def _need(shell: "Shell") -> TopologyBackend | None:
    b = _topology_of(shell)
    if b is None:
        shell.error("no topology running: start one with :topology replicas 2, "
                    ":topology sentinel or :topology cluster 3")
    return b


def start_topology(shell: "Shell", text: str, seed: int = 0) -> TopologyBackend:
    """Swap ``shell``'s backend for a new topology (ValueError/NeedsEngine say why not)."""
    spec = parse_topology(text)
    if spec is None:
        raise ValueError("usage: :topology replicas N | sentinel | cluster N | off")
    problem = topology_missing(spec)
    if problem:
        raise NeedsEngine(f"this topology {problem}")
    current = _topology_of(shell)
    previous = current.previous if current is not None else shell.backend
    if getattr(previous, "kind", "embedded") != "embedded":
        raise NeedsEngine(":topology needs the embedded engine: a real server is not "
                          "simulated (run redislab without --url)")
    backend = TopologyBackend(TopologyRun(spec, seed), resp=getattr(previous, "resp", 2),
                              previous=previous)
    backend.recording = shell.annotate != "off"
    if current is None:
        previous.recording = False
    else:
        current.recording = False
        current.run.close()
    shell.backend = backend
    shell.client = DEFAULT_CLIENT
    shell.history.clear()
    return backend


def _complete_kinds(shell: "Shell", index: int, prefix: str) -> list[str]:
    options = ["replicas 2", "sentinel", "cluster 3", "off", "events"] if index == 0 else []
    return [o.split()[0] for o in options if o.startswith(prefix.lower())]


@meta("topology", "[replicas N|sentinel|cluster N|off|events [N]]",
      "simulate replicas, Sentinel or a cluster on one clock (off: back to one engine; "
      "events: what its servers and Sentinels logged)",
      complete=_complete_kinds)
def topology_meta(shell: "Shell", args: list[str]) -> None:
    b = _topology_of(shell)
    if not args:
        if b is None:
            shell.info("no topology: one engine (:topology replicas 2 | sentinel | cluster 3)")
        else:
            shell.info(b.describe())
        return
    if args[0].lower() == "events":
        if b is None:
            shell.info("no topology running")
            return
        try:
            last = int(args[1]) if len(args) > 1 else 20
        except ValueError:
            shell.error("usage: :topology events [N]")
            return
        lines = b.events(max(1, last))
        shell.emit([("annotation.event", f"  {line}\n") for line in lines] or
                   [("info", "nothing logged yet\n")])
        return
    if getattr(shell, "lesson_run", None) is not None:
        shell.error("inside a lesson the step decides what it runs on (:topology shows it)")
        return
    if args[0].lower() == "off":
        if b is None:
            shell.info("no topology to stop")
            return
        b.recording = False
        b.run.close()
        shell.backend = b.previous
        shell.backend.recording = shell.annotate != "off"
        shell.client = DEFAULT_CLIENT
        shell.history.clear()
        shell.info("topology off: back to the single engine")
        return
    try:
        backend = start_topology(shell, " ".join(args))
    except ValueError as e:
        shell.error(str(e))
        return
    shell.info(f"topology {backend.run.spec}: {backend.describe()}")
    shell.info(f"talking to {backend.current}; :node NAME switches, @node:NAME CMD runs one "
               "command there, :advance moves the clock")


def _complete_nodes(shell: "Shell", index: int, prefix: str) -> list[str]:
    b = _topology_of(shell)
    if b is None:
        return []
    return [n for n in b.run.node_names() if n.startswith(prefix)]


def topology_line(shell: "Shell", word: str, args: list[str]) -> None:
    """Run a topology line (``kill``, ``partition`` ...) on the shell's topology."""
    b = _need(shell)
    if b is None:
        return
    try:
        message = b.run.act([":" + word] + args)
    except ValueError as e:
        shell.error(str(e))
        return
    if word == "node":
        shell.client = DEFAULT_CLIENT
    shell.info(message)
    changed = getattr(shell, "topology_changed", None)
    if changed is not None:  # a lesson checks its step after every change
        changed()


def _register(word: str, syntax: str, summary: str) -> None:
    def handler(shell: "Shell", args: list[str]) -> None:
        topology_line(shell, word, args)

    handler.__name__ = f"{word}_meta"
    meta(word, syntax, summary, complete=_complete_nodes)(handler)


_SUMMARIES = {
    "node": "talk to node NAME of the topology (the prompt shows it)",
    "kill": "stop a node of the topology (its clients get connection refused)",
    "restart": "start a stopped node again (it rejoins as it was configured)",
    "partition": "cut the network: nodes left of | cannot reach nodes right of it",
    "heal": "end every partition",
    "delay": "make one link slower (e.g. :delay primary replica-1 200ms)",
    "failover": "fail over: Sentinel's forced failover, or CLUSTER FAILOVER on a replica",
    "reshard": "move hash slots and their keys between cluster primaries (KEYS: only that "
               "many keys, leaving the migration open)",
}
for _word, _usage in LINE_WORDS.items():
    _register(_word, _usage.split(" ", 1)[1] if " " in _usage else "", _SUMMARIES[_word])
