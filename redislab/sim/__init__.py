"""Deterministic simulations on the manual clock: many clients, slow databases, failures.

Layout:

* ``scheduler``: :class:`Sim` runs simulated clients (plain Python functions, the learner's
  included) that take turns at command boundaries, in an order a seeded chooser picks or
  every order (:func:`explore`); pauses and crashes planned at command boundaries.
* ``connection``: the redis-py client each simulated client uses (its commands are the
  scheduling points; pipelines, transactions and blocking commands included).
* ``backing``: a slow backing database with query counts, and a fenced resource.
* ``traffic``: seeded arrival patterns (steady, bursty, boundary-straddling, mixed).
* ``topology``: several servers (replicas, Sentinels) on one clock and a simulated
  ``network`` with delay, partitions, crashes and restarts; ``sentinel``: Sentinel itself.
* ``cluster``: a Redis Cluster on that topology (``Topology.cluster(...)`` once imported),
  a client that follows MOVED and ASK and reports them, resharding step by step, failover.

Example::

    from redislab.sim import Sim, explore

    def increment(ctx):
        n = int(ctx.r.get("hits") or 0)
        ctx.r.set("hits", n + 1)

    def once(chooser):
        sim = Sim(chooser=chooser)
        sim.spawn("a", increment)
        sim.spawn("b", increment)
        sim.run()
        return int(sim.engine.session().execute("GET", "hits"))

    results = {r for r, _ in explore(once)}     # {1, 2}: the lost update exists
"""

from __future__ import annotations

from .backing import FencedStore, SlowDatabase
from .scheduler import (
    Chooser, Ctx, Fault, RandomChooser, ReplayChooser, Sim, SimCrash, SimError, SimHang,
    SimLivelock, Task, current_task, explore,
)
from .topology import NodeDown, Topology

__all__ = ["Sim", "Task", "Ctx", "Fault", "Chooser", "RandomChooser", "ReplayChooser",
           "explore", "current_task", "SimCrash", "SimError", "SimHang", "SimLivelock",
           "SlowDatabase", "FencedStore", "Topology", "NodeDown"]
