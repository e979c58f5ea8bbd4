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
* ``:reshard SLOTS FROM TO`` (cluster: move SLOTS slots from one primary to another)
* ``:advance DURATION`` moves the topology's clock (replication, Sentinel timers, expiry)
* ``:node NAME`` switches the node the learner talks to
* ``@node:NAME COMMAND`` runs one command on NAME (``@name COMMAND`` is still another client)

Checks take ``node = "NAME"`` to look at one node instead of the default: the node the
learner's writes go to (the primary; after a failover, the promoted one). Keyspace
expressions also get ``nodes()``, ``role(node)``, ``alive(node)``, ``primary()``,
``call_on(node, *command)``, ``keys_on(node, pattern)`` and, in a cluster, ``slot(key)`` and
``owner(key)``.

Nothing here fakes the simulation: while ``redislab.sim`` lacks the topology a step asks
for, the step is skipped with that reason.
"""

from __future__ import annotations

import importlib
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
    "reshard": ":reshard SLOTS FROM TO",
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
    module = importlib.import_module(SIM_MODULES[spec.kind])
    topology = getattr(importlib.import_module("redislab.sim.topology"), "Topology")
    if spec.kind == "cluster":
        # the cluster module adds Topology.cluster when it is imported
        del module
    return getattr(topology, spec.kind)


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
        "reshard": len(args) == 3 and args[0].isdigit(),
    }[word]
    return None if ok else f"{' '.join(words)!r}: usage {usage}"


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
        topology: an already built topology (the REPL's), instead of building one.
    """

    def __init__(self, spec: TopologySpec, seed: int = 0, topology: Any = None) -> None:
        self.spec = spec
        self.seed = seed
        self.topology = topology if topology is not None else build(spec, seed)
        self.current = self.default_node()
        self.sessions: dict[tuple[str, str], Any] = {}
        self.clients: dict[str, Any] = {}

    # -- nodes ---------------------------------------------------------------------------

    @property
    def cluster(self) -> bool:
        return self.spec.kind == "cluster"

    def node_names(self) -> list[str]:
        return list(self.topology.nodes)

    def data_nodes(self) -> list[str]:
        """The Redis servers (Sentinels left out)."""
        return [n for n in self.node_names() if not self.is_sentinel(n)]

    def is_sentinel(self, name: str) -> bool:
        node = self.topology.nodes[name]
        return bool(getattr(node, "sentinel", False)) or name.startswith("sentinel")

    def engine_of(self, name: str) -> Any:
        return self.topology.node(name).engine

    @property
    def engine(self) -> Any:
        return self.engine_of(self.current)

    def alive(self, name: str) -> bool:
        node = self.topology.node(name)
        up = getattr(node, "alive", None)
        if up is None:
            up = getattr(node, "up", True)
        return bool(up() if callable(up) else up)

    def role(self, name: str) -> str:
        """``master``, ``slave``, ``sentinel`` or ``down``."""
        if not self.alive(name):
            return "down"
        if self.is_sentinel(name):
            return "sentinel"
        reply = self._probe(name, b"ROLE")
        if isinstance(reply, list) and reply:
            first = reply[0]
            return first.decode() if isinstance(first, bytes) else str(first)
        return "master"

    def primaries(self) -> list[str]:
        return [n for n in self.data_nodes() if self.role(n) == "master"]

    def default_node(self) -> str:
        """Where writes go: the primary (after a failover, the promoted one)."""
        names = self.data_nodes()
        masters = [n for n in names if self.alive(n) and self.role(n) == "master"]
        if len(masters) > 1 and self.spec.kind != "cluster":
            # split brain: believe the Sentinels, as a Sentinel-aware client would
            believed = self._sentinels_believe()
            if believed in masters:
                return believed
        return (masters or names)[0]

    def _sentinels_believe(self) -> str | None:
        for name in self.node_names():
            if self.is_sentinel(name) and self.alive(name):
                reply = self._probe(name, b"SENTINEL", b"GET-MASTER-ADDR-BY-NAME", b"mymaster")
                if isinstance(reply, list) and reply:
                    addr = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
                    for n in self.data_nodes():
                        if n == addr or self._address(n) == addr:
                            return n
        return None

    def _address(self, name: str) -> str:
        node = self.topology.node(name)
        return str(getattr(node, "host", getattr(node, "address", name)))

    # -- clients -------------------------------------------------------------------------

    def session(self, client: str = "learner", node: str | None = None) -> Any:
        """Client ``client``'s connection to ``node`` (the current node by default)."""
        node = node or self.current
        s = self.sessions.get((node, client))
        engine = self.engine_of(node)
        if s is None or s.closed or s.engine is not engine:
            s = self.topology.session(node)
            if client:
                s.name = client
            self.sessions[(node, client)] = s
        return s

    def execute(self, argv: list[bytes], client: str = "learner",
                node: str | None = None) -> Executed:
        """Run one command; in a cluster without an explicit node, follow redirects."""
        if self.cluster and node is None:
            c = self.clients.get(client)
            if c is None:
                c = self.clients[client] = self.topology.client(start=self.current)
            result = c.execute(*argv)
            reply = getattr(result, "reply", result)
            redirects = [str(r) for r in getattr(result, "redirects", [])]
            self.current = getattr(c, "node", self.current)
            return Executed(reply, self.current, redirects)
        target = node or self.current
        return Executed(self.session(client, target).execute_argv(argv), target)

    def _probe(self, node: str, *argv: bytes) -> Any:
        engine = self.engine_of(node)
        s = engine.session(name="redislab-check")
        s.no_touch = True
        try:
            return s.execute_argv(list(argv))
        finally:
            engine.close_session(s)

    # -- lines ---------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        self.topology.advance(seconds)

    def act(self, words: list[str]) -> str:
        """Do a topology line (``[":kill", "primary"]``); returns what happened, in words."""
        problem = check_line(words)
        if problem:
            raise ValueError(problem)
        word = words[0].lstrip(":").lower()
        args = words[1:]
        t = self.topology
        names = [a for a in args if a != "|"]
        if word in ("kill", "restart", "node", "partition", "delay") or (
                word == "failover" and args):
            nodes = names[:2] if word == "delay" else names
            problem = check_names(t, nodes)
            if problem:
                raise ValueError(problem)
        if word == "kill":
            t.kill(args[0])
            return f"{args[0]} is down"
        if word == "restart":
            t.restart(args[0])
            return f"{args[0]} restarted"
        if word == "node":
            self.current = args[0]
            return f"now talking to {args[0]}"
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
            return f"link {args[0]} <-> {args[1]} now takes {ms:g} ms"
        if word == "failover":
            return self._failover(args[0] if args else None)
        if word == "reshard":
            slots = int(args[0])
            problem = check_names(t, args[1:])
            if problem:
                raise ValueError(problem)
            t.reshard(slots, args[1], args[2])
            return f"{slots} slots moved from {args[1]} to {args[2]}"
        raise ValueError(word)

    def _failover(self, node: str | None) -> str:
        t = self.topology
        failover = getattr(t, "failover", None)
        if failover is None:
            raise ValueError("this topology cannot fail over")
        promoted = failover(node) if node else failover()
        return f"failover: {promoted or node} is the primary now"

    # -- checks --------------------------------------------------------------------------

    def check_engine(self, node: str | None = None) -> Any:
        """The engine a check looks at: ``node``'s, or the default node's."""
        return self.engine_of(node or self.default_node())

    def describe(self) -> str:
        return str(self.topology.describe())


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
    if not topo.alive(node):
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
        if not topo.alive(node):
            return None
        return normalize(topo._probe(node, *[_b(c) for c in command]))

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
        names["slot"] = lambda key: key_slot(_b(key))
        names["owner"] = lambda key: topo.owner(_b(key))
    return names


def _b(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogateescape")


def key_slot(key: bytes) -> int:
    """The hash slot of ``key`` (CRC16 of the key or of its hash tag, modulo 16384)."""
    from ..engine import cluster as engine_cluster  # type: ignore[attr-defined]

    return int(engine_cluster.key_slot(key))
