"""Lesson steps on a simulated topology: the ``topology`` field, the lines that act on it,
and where checks look.

A step with ``topology = "replicas 2"`` (or ``"sentinel"``, ``"cluster 3"``) runs on a
:class:`redislab.sim.topology.Topology` instead of one engine. The learner talks to one node
at a time (the primary at first; in a cluster, through a cluster-aware connection that follows
MOVED and ASK as ``redis-cli -c`` does). Lesson lines act on the topology:

* ``:kill NODE``, ``:restart NODE``
* ``:partition A B | C D`` (A and B can no longer reach C and D), ``:heal``
* ``:delay A B 200ms`` (one link gets slower)
* ``:failover [NODE]`` (Sentinel: a forced failover; cluster: CLUSTER FAILOVER on a replica;
  replicas without Sentinel: the operator promotes NODE by hand)
* ``:reshard COUNT FROM TO [KEYS]`` (cluster: move COUNT slots, or ``slot:N[-M]``, with
  their keys from one primary to another; with KEYS only that many keys, leaving the
  migration open until the same line without KEYS)
* ``:advance DURATION`` moves the topology's clock (replication, Sentinel timers, expiry)
* ``:node NAME`` switches the node the learner talks to
* ``@node:NAME COMMAND`` runs one command on NAME (``@name COMMAND`` is still another client)

Checks take ``node = "NAME"`` to look at one node instead of the default: the node the
learner's writes go to (the primary; after a failover, the promoted one; in a cluster, the
node serving the key). Keyspace expressions also get ``nodes()``, ``role(node)``,
``alive(node)``, ``primary()``, ``primaries()``, ``call_on(node, *command)``,
``get_on(node, key)``, ``keys_on(node, pattern)`` and, in a cluster, ``slot(key)`` and
``owner(key)`` (and ``get``, ``exists``, ``type``, ``keys`` read the whole cluster).

Nothing here fakes the simulation: while ``redislab.sim`` lacks the topology a step asks
for, the step is skipped with that reason.
"""

from __future__ import annotations

import importlib
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from ..engine.clock import parse_duration

__all__ = ["TopologySpec", "parse_topology", "TopologyRun", "topology_missing", "check_line",
           "NODE_PREFIX", "split_node", "LINE_WORDS", "check_names"]

KINDS = ("replicas", "sentinel", "cluster")
# ``@node:replica-1 GET k`` runs GET on replica-1.
NODE_PREFIX = "@node:"
# Lesson lines that act on a topology, with their usage (``:advance`` is everyone's).
LINE_WORDS: dict[str, str] = {
    "kill": ":kill NODE",
    "restart": ":restart NODE",
    "partition": ":partition NODE ... | NODE ...",
    "heal": ":heal",
    "delay": ":delay NODE NODE DURATION",
    "failover": ":failover [NODE]",
    "reshard": ":reshard COUNT|slot:N[-M] FROM TO [KEYS]",
    "node": ":node NAME",
}
SIM_MODULES = {"replicas": "redislab.sim.topology", "sentinel": "redislab.sim.topology",
               "cluster": "redislab.sim.cluster"}


# ------------------------------------------------------------------------------------------
# The ``topology`` field

@dataclass(frozen=True)
class TopologySpec:
    """What a step runs on: ``replicas 2``, ``sentinel [replicas N] [sentinels N] [quorum N]``,
    ``cluster [N] [replicas N]``."""

    kind: str
    params: tuple[tuple[str, int], ...] = ()

    @property
    def options(self) -> dict[str, int]:
        return dict(self.params)

    def __str__(self) -> str:
        o = self.options
        if self.kind == "replicas":
            return f"replicas {o['n']}"
        if self.kind == "cluster":
            return f"cluster {o['primaries']}" + (f" replicas {o['replicas']}"
                                                  if o["replicas"] else "")
        return " ".join([self.kind] + [f"{k} {v}" for k, v in self.params])


_DEFAULTS: dict[str, dict[str, int]] = {
    "replicas": {"n": 2},
    "sentinel": {"replicas": 2, "sentinels": 3, "quorum": 2},
    "cluster": {"primaries": 3, "replicas": 0},
}
_POSITIONAL = {"replicas": "n", "cluster": "primaries", "sentinel": "replicas"}
_LIMITS = {"n": (0, 5), "replicas": (0, 5), "sentinels": (1, 7), "quorum": (1, 7),
           "primaries": (1, 6)}


def parse_topology(text: str) -> TopologySpec | None:
    """The spec a ``topology`` field names (None for ``""`` or ``"none"``); ValueError says
    what is wrong."""
    words = text.split()
    if not words or words == ["none"]:
        return None
    kind = words[0].lower()
    if kind not in KINDS:
        raise ValueError(f"unknown topology {words[0]!r} (replicas N, sentinel, cluster N)")
    params = dict(_DEFAULTS[kind])
    rest = words[1:]
    if rest and rest[0].isdigit():
        params[_POSITIONAL[kind]] = int(rest.pop(0))
    if len(rest) % 2:
        raise ValueError(f"{text!r}: options come in pairs (name number)")
    for name, value in zip(rest[::2], rest[1::2]):
        if name not in params or not value.isdigit():
            raise ValueError(f"{text!r}: {kind} takes {', '.join(params)} (each with a number)")
        params[name] = int(value)
    for name, value in params.items():
        lo, hi = _LIMITS[name]
        if not lo <= value <= hi:
            raise ValueError(f"{text!r}: {name} must be between {lo} and {hi}")
    if kind == "sentinel" and params["quorum"] > params["sentinels"]:
        raise ValueError(f"{text!r}: a quorum larger than the number of Sentinels never forms")
    return TopologySpec(kind, tuple(params.items()))


def topology_missing(spec: TopologySpec | None) -> str | None:
    """Why this redislab cannot run ``spec`` yet (None when it can)."""
    if spec is None:
        return None
    try:
        _builder(spec)
    except (ImportError, AttributeError):
        what = "Redis Cluster" if spec.kind == "cluster" else "replication and Sentinel"
        return f"needs the simulated topology ({what}), which this engine does not have yet"
    return None


def _builder(spec: TopologySpec) -> Callable[..., Any]:
    """``Topology.replicas`` / ``.sentinel`` / ``.cluster`` (ImportError or AttributeError
    while the simulation lacks it)."""
    # importing the kind's module is what defines it: sim.cluster adds Topology.cluster
    importlib.import_module(SIM_MODULES[spec.kind])
    topology = importlib.import_module("redislab.sim.topology").Topology
    return getattr(topology, spec.kind)  # type: ignore[no-any-return]


def build(spec: TopologySpec, seed: int) -> Any:
    o = spec.options
    make = _builder(spec)
    if spec.kind == "replicas":
        return make(n=o["n"], seed=seed)
    if spec.kind == "sentinel":
        return make(replicas=o["replicas"], sentinels=o["sentinels"], quorum=o["quorum"],
                    seed=seed)
    return make(primaries=o["primaries"], replicas=o["replicas"], seed=seed)


# ------------------------------------------------------------------------------------------
# Lines

def split_node(text: str) -> tuple[str | None, str]:
    """``@node:NAME rest`` as (NAME, rest); other lines as (None, line)."""
    if text.startswith(NODE_PREFIX):
        head, _, rest = text.partition(" ")
        return head[len(NODE_PREFIX):], rest.strip()
    return None, text


def check_line(words: list[str]) -> str | None:
    """Why a topology line (``:kill primary`` as words) is malformed (None if it is fine)."""
    word = words[0].lstrip(":").lower()
    args = words[1:]
    usage = LINE_WORDS.get(word)
    if usage is None:
        return f"unknown lesson line {' '.join(words)!r}"
    ok = {
        "kill": len(args) == 1, "restart": len(args) == 1, "node": len(args) == 1,
        "heal": not args, "failover": len(args) <= 1,
        "partition": args.count("|") == 1 and args[0] != "|" and args[-1] != "|",
        "delay": len(args) == 3 and _duration_ok(args[2]),
        "reshard": len(args) in (3, 4) and _slots_ok(args[0]) and (
            len(args) == 3 or args[3].isdigit()),
    }[word]
    return None if ok else f"{' '.join(words)!r}: usage {usage}"


def _slots(text: str) -> int | list[int]:
    """``100`` (a count, from the source's lowest slots), ``slot:12182`` or ``slot:0-99``."""
    if text.isdigit():
        return int(text)
    lo, _, hi = text.removeprefix("slot:").partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def _slots_ok(text: str) -> bool:
    try:
        slots = _slots(text)
    except ValueError:
        return False
    if isinstance(slots, int):
        return 0 < slots <= 16384
    return text.startswith("slot:") and bool(slots) and 0 <= slots[0] <= slots[-1] < 16384


def _duration_ok(text: str) -> bool:
    try:
        return parse_duration(text) >= 0
    except ValueError:
        return False


def check_names(topology: Any, names: list[str]) -> str | None:
    """Which of ``names`` is not a node of ``topology`` (None if all are)."""
    known = list(topology.nodes)
    for n in names:
        if n not in known:
            return f"no node {n!r} (nodes: {', '.join(known)})"
    return None


# ------------------------------------------------------------------------------------------
# A step running on a topology

@dataclass
class Executed:
    """One command on a topology: the reply and the redirects followed on the way."""

    reply: Any
    node: str
    redirects: list[str] = field(default_factory=list)


class TopologyRun:
    """A topology as a lesson step (or the REPL) uses it: a current node, named clients on
    each node, the topology lines, and where checks look.

    Args:
        spec: what to build.
        seed: the attempt's seed (the simulation is deterministic for it).
    """

    def __init__(self, spec: TopologySpec, seed: int = 0) -> None:
        self.spec = spec
        self.seed = seed
        self.topology = build(spec, seed)
        # the nodes' data directories go when the run does, or at exit at the latest
        self._cleanup = weakref.finalize(self, self.topology.close)
        self.current = self.default_node()
        self.sessions: dict[tuple[str, str], Any] = {}
        self.migration: Any = None        # a slot migration left open by :reshard ... KEYS

    def close(self) -> None:
        """Forget the nodes and their data directories."""
        self._cleanup()

    # -- nodes ---------------------------------------------------------------------------

    @property
    def cluster(self) -> bool:
        return self.spec.kind == "cluster"

    def node_names(self) -> list[str]:
        return list(self.topology.nodes)

    def data_nodes(self) -> list[str]:
        """The Redis servers (Sentinels left out)."""
        return list(self.topology.data_nodes())

    def is_sentinel(self, name: str) -> bool:
        return bool(self.topology.node(name).sentinel)

    def engine_of(self, name: str) -> Any:
        return self.topology.node(name).engine

    @property
    def engine(self) -> Any:
        return self.engine_of(self.current)

    def alive(self, name: str) -> bool:
        return bool(self.topology.node(name).alive)

    def role(self, name: str) -> str:
        """``master``, ``slave``, ``sentinel`` or ``down``."""
        return str(self.topology.role(name))

    def primaries(self) -> list[str]:
        """The live nodes that say they are primaries."""
        if self.cluster:
            return list(self.topology.primaries())
        return [n for n in self.data_nodes() if self.role(n) == "master"]

    def default_node(self) -> str:
        """Where writes go: the primary (after a failover, the promoted one; when two nodes
        both say they are primaries, the one the Sentinels point at)."""
        masters = self.primaries()
        if len(masters) > 1 and not self.cluster:
            believed = self.sentinels_believe()
            if believed in masters:
                return believed
        if masters:
            return masters[0]
        return self.data_nodes()[0]

    def sentinels_believe(self) -> str | None:
        """The node most live Sentinels name as the primary (during a split, the majority's
        choice: the one clients asking a Sentinel are most likely sent to)."""
        votes: dict[str, int] = {}
        for name in self.node_names():
            if self.is_sentinel(name) and self.alive(name):
                reply = self.probe(name, b"SENTINEL", b"GET-MASTER-ADDR-BY-NAME", b"mymaster")
                if isinstance(reply, list) and len(reply) == 2:
                    node = self.by_address(_text(reply[0]), int(_text(reply[1])))
                    if node is not None:
                        votes[node] = votes.get(node, 0) + 1
        if not votes:
            return None
        return max(votes, key=lambda n: votes[n])

    def by_address(self, host: str, port: int) -> str | None:
        node = self.topology.by_address(host, port)
        return None if node is None else str(node.name)

    def address(self, name: str) -> str:
        return str(self.topology.node(name).address)

    # -- clients -------------------------------------------------------------------------

    def session(self, client: str = "learner", node: str | None = None) -> Any:
        """Client ``client``'s connection to ``node`` (the current node by default).

        Raises the topology's ``NodeDown`` when the node is not running."""
        node = node or self.current
        s = self.sessions.get((node, client))
        engine = self.engine_of(node)
        if s is None or s.closed or s.engine is not engine:
            s = self.topology.session(node)
            s.name = client
            self.sessions[(node, client)] = s
        return s

    def execute(self, argv: list[bytes], client: str = "learner",
                node: str | None = None) -> Executed:
        """Run one command as ``client``. On a cluster, without an explicit node, MOVED and
        ASK are followed as ``redis-cli -c`` does; ``WAIT`` lets simulated time pass until
        the replicas answer or it times out, as a client waiting for the reply would.
        Raises ``NodeDown`` when the node is not running."""
        target = node or self.current
        redirects: list[str] = []
        for _ in range(MAX_REDIRECTS):
            if node is None and self.cluster and not self.alive(target):
                target = self.fallback(target, redirects)
            session = self.session(client, target)
            reply = session.execute_argv(argv)
            if _is_blocked(reply) and argv and argv[0].upper() in (b"WAIT", b"WAITAOF"):
                reply = self.wait_for(session, reply)
            redirect = None if node is not None or not self.cluster else \
                self.redirect_of(reply)
            if redirect is None:
                return Executed(reply, target, redirects)
            kind, slot, where = redirect
            redirects.append(f"-> {kind} {slot} to node {where}")
            if not self.alive(where):
                self.current = where
                raise ConnectionError(f"{where} is down (connection refused)")
            if kind == "ASK":
                self.session(client, where).execute_argv([b"ASKING"])
            else:
                self.current = where
            target = where
        return Executed(reply, target, redirects)

    def fallback(self, down: str, notes: list[str]) -> str:
        """A cluster connection whose node died reconnects to a live one (a cluster client
        then follows MOVED from there); says so in ``notes``."""
        live = [n for n in self.primaries() if self.alive(n)] or \
            [n for n in self.data_nodes() if self.alive(n)]
        if not live:
            return down
        self.current = live[0]
        notes.append(f"-> node {down} is down: reconnected to {live[0]}")
        return live[0]

    def wait_for(self, session: Any, blocked: Any) -> Any:
        """Let simulated time pass until ``session``'s blocked command is answered."""
        got: list[Any] = []
        previous = session.on_unblocked
        session.on_unblocked = lambda s, reply: got.append(reply)
        try:
            deadline = blocked.deadline_ms or self.now_ms() + int(WAIT_LIMIT_S * 1000)
            # timeouts are answered by the periodic work, which runs every 100 ms at most
            deadline += 200
            while not got and self.now_ms() < deadline and not session.closed:
                self.topology.advance(0.01)
        finally:
            session.on_unblocked = previous
        return got[0] if got else blocked

    def redirect_of(self, reply: Any) -> tuple[str, int, str] | None:
        """(``MOVED``/``ASK``, slot, node name) for a redirect reply, else None."""
        from ..protocol.reply import ErrorReply

        if not isinstance(reply, ErrorReply):
            return None
        words = reply.message.split()
        if len(words) != 3 or words[0] not in ("MOVED", "ASK") or not words[1].isdigit():
            return None
        host, _, port = words[2].rpartition(":")
        name = self.by_address(host, int(port)) if port.isdigit() else None
        return None if name is None else (words[0], int(words[1]), name)

    def owner(self, key: bytes) -> str | None:
        """The node serving ``key``'s slot, as the first live node's cluster map says."""
        if not self.cluster:
            return None
        try:
            return self.topology.owner(key_slot(key))
        except ConnectionError:
            return None

    def probe(self, node: str, *argv: bytes) -> Any:
        """A look at ``node`` that changes nothing (None when it is down)."""
        if not self.alive(node):
            return None
        engine = self.engine_of(node)
        s = engine.session(name="redislab-check")
        s.no_touch = True
        try:
            return s.execute_argv(list(argv))
        finally:
            engine.close_session(s)

    def now_ms(self) -> int:
        return int(self.topology.now_ms())

    # -- lines ---------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        self.topology.advance(seconds)

    def act(self, words: list[str]) -> str:
        """Do a topology line (``[":kill", "primary"]``); returns what happened, in words.
        ValueError says why it cannot be done."""
        problem = check_line(words)
        if problem:
            raise ValueError(problem)
        word = words[0].lstrip(":").lower()
        args = words[1:]
        t = self.topology
        nodes = [a for a in args if a != "|"]
        if word == "delay":
            nodes = args[:2]
        elif word == "reshard":
            nodes = args[1:3]
        problem = check_names(t, nodes)
        if problem:
            raise ValueError(problem)
        try:
            return self._act(word, args)
        except KeyError as e:
            raise ValueError(str(e.args[0]) if e.args else str(e)) from None
        except ConnectionError as e:  # a node the line needed is down
            raise ValueError(str(e)) from None

    def _act(self, word: str, args: list[str]) -> str:
        t = self.topology
        if word == "kill":
            t.kill(args[0])
            return f"{args[0]} is down (killed)"
        if word == "restart":
            t.restart(args[0])
            return f"{args[0]} restarted from its data directory"
        if word == "node":
            self.current = args[0]
            return f"now talking to {args[0]} ({self.address(args[0])}, {self.role(args[0])})"
        if word == "partition":
            cut = args.index("|")
            t.partition(args[:cut], args[cut + 1:])
            return f"partition: {' '.join(args[:cut])} cannot reach {' '.join(args[cut + 1:])}"
        if word == "heal":
            t.heal()
            return "network healed: every node can reach every other"
        if word == "delay":
            ms = parse_duration(args[2]) * 1000
            t.delay(args[0], args[1], ms)
            return f"the link {args[0]} - {args[1]} now takes {ms:g} ms each way"
        if word == "failover":
            promoted = t.failover(args[0]) if args else t.failover()
            return f"failover: {promoted} is the primary now"
        if word == "reshard":
            return self._reshard(args)
        raise ValueError(word)

    def _reshard(self, args: list[str]) -> str:
        """Move slots with their keys; with KEYS, move only that many keys and leave the
        migration open (IMPORTING/MIGRATING) until the same line without KEYS finishes it."""
        t = self.topology
        if not self.cluster:
            raise ValueError(":reshard needs a cluster")
        source, target = args[1], args[2]
        open_ = self.migration
        if open_ is not None and (open_.source, open_.target) != (source, target):
            raise ValueError(f"a migration from {open_.source} to {open_.target} is still "
                             f"open: finish it first (:reshard ... {open_.source} "
                             f"{open_.target})")
        if len(args) == 3:
            if open_ is None:
                return f"moved {t.reshard(_slots(args[0]), source, target)} from {source} " \
                       f"to {target}"
            self.migration = None
            open_.finish()
            return f"migration finished: {len(open_.slots)} slot(s), {open_.moved} key(s) " \
                   f"now on {target}"
        if open_ is None:
            open_ = self.migration = t.start_reshard(_slots(args[0]), source, target)
        moved = open_.step(int(args[3]))
        if open_.done:
            self.migration = None
            return f"moved {moved} key(s); the migration is complete: {target} serves " \
                   f"{len(open_.slots)} more slot(s)"
        slot = open_.current
        left = t.state(source).count_keys_in_slot(slot)
        return f"moved {moved} key(s) of slot {slot} from {source} to {target}; {left} left " \
               f"on {source} (slot {slot}: MIGRATING on {source}, IMPORTING on {target})"

    # -- checks --------------------------------------------------------------------------

    def check_engine(self, node: str | None = None) -> Any:
        """The engine a check looks at: ``node``'s, or the default node's."""
        return self.engine_of(node or self.default_node())

    def describe(self) -> str:
        return str(self.topology.describe())


MAX_REDIRECTS = 5
# WAIT 1 0 waits for ever; a learner's waits for ever stop after this much simulated time.
WAIT_LIMIT_S = 60.0


def _is_blocked(reply: Any) -> bool:
    from ..engine.session import Blocked

    return type(reply) is Blocked


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# ------------------------------------------------------------------------------------------
# Where checks look

def env_for_check(check: dict[str, Any], env: Any) -> tuple[Any, Any]:
    """The check environment for ``check`` on a topology: the engine of its ``node`` (or of the
    default node; in a cluster, of the node that owns the key). Returns (env, None), or
    (env, a failed Verdict) when the node cannot be looked at."""
    from dataclasses import replace

    from .model import Verdict, fill

    topo: TopologyRun | None = env.topology
    node = fill(str(check["node"]), env.values) if "node" in check else None
    explicit = node is not None
    if topo is None:
        return env, Verdict(False, "this check names a node, but the step has no topology",
                            details=["this is a problem in the lesson, not in your answer"])
    if node is None and topo.cluster:
        node = _cluster_target(topo, check, env.values)
    if node is None:
        node = topo.default_node()
    if node not in topo.node_names():
        return env, Verdict(False, f"no node {node!r} in this topology",
                            details=["this is a problem in the lesson, not in your answer"])
    if not topo.alive(node) and (explicit or check.get("kind") != "keyspace"):
        # (a keyspace expression names its nodes itself: it may well be about a dead one)
        return env, Verdict(False, f"{node} is down", goal=[f"{node} is up"],
                            current=[f"{node} is down (:restart {node} brings it back)"])
    return replace(env, engine=topo.engine_of(node)), None


def _cluster_target(topo: TopologyRun, check: dict[str, Any], values: dict[str, str]
                    ) -> str | None:
    """The node owning the key a cluster check is about (None: the default node)."""
    from ..protocol import split_args

    from .model import fill

    key: bytes | None = None
    if check.get("kind") == "key":
        key = fill(str(check["key"]), values).encode("utf-8", "surrogateescape")
    elif check.get("kind") == "reply" and "command" in check:
        argv = split_args(fill(check["command"], values)) or []
        key = _first_key(argv)
    return topo.owner(key) if key is not None else None


def _first_key(argv: list[bytes]) -> bytes | None:
    from ..engine import TABLE

    spec = TABLE.lookup(argv[0]) if argv else None
    if spec is None or not spec.key_specs:
        return None
    try:
        positions = spec.get_keys(argv)
    except Exception:
        return None
    return argv[positions[0]] if positions else None


def expression_names(topo: TopologyRun, normalize: Callable[[Any], Any]) -> dict[str, Any]:
    """What keyspace expressions may call on a topology."""

    def call_on(node: str, *command: Any) -> Any:
        if node not in topo.node_names():
            raise ValueError(f"no node {node!r}")
        return normalize(topo.probe(node, *[_b(c) for c in command]))

    def keys_on(node: str, pattern: str = "*") -> list[str]:
        reply = call_on(node, "KEYS", pattern)
        return sorted(reply) if isinstance(reply, list) else []

    names: dict[str, Any] = {
        "nodes": topo.data_nodes, "role": topo.role, "alive": topo.alive,
        "primary": topo.default_node, "primaries": topo.primaries,
        "call_on": call_on, "keys_on": keys_on,
        "get_on": lambda node, key: call_on(node, "GET", key),
    }
    if topo.cluster:
        # in a cluster, the keyspace is the union of the primaries' keys, each key read
        # on the node that serves it
        def on_owner(key: Any, *command: Any) -> Any:
            owner = topo.owner(_b(key))
            return None if owner is None else call_on(owner, *command, key)

        def kind(key: Any) -> str | None:
            t = on_owner(key, "TYPE")
            return None if t in (None, "none") else t

        names.update({
            "slot": lambda key: key_slot(_b(key)),
            "owner": lambda key: topo.owner(_b(key)),
            "get": lambda key: on_owner(key, "GET"),
            "exists": lambda key: on_owner(key, "EXISTS") == 1,
            "type": kind,
            "keys": lambda pattern="*": sorted({k for n in topo.primaries()
                                                for k in keys_on(n, pattern)}),
        })
    return names


def _b(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogateescape")


def key_slot(key: bytes) -> int:
    """The hash slot of ``key`` (CRC16 of the key or of its hash tag, modulo 16384)."""
    from ..engine.cluster import key_hash_slot

    return key_hash_slot(key)
