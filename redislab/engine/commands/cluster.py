"""CLUSTER and its subcommands, ASKING, READONLY and READWRITE (cluster.c clusterCommand).

Without ``cluster-enabled yes`` every one of them answers Redis's "cluster support disabled"
error, after the arity check, exactly as a standalone redis-server does.
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, ErrorReply, MapReply, Status, Verbatim
from .. import errors
from ..args import parse_int, to_int
from ..cluster import DISABLED, SLOTS, ClusterNode, ClusterState, key_hash_slot, slot_ranges

if TYPE_CHECKING:
    from ..session import Session

INVALID_SLOT = "ERR Invalid or out of range slot"


def _state(c: "Session") -> ClusterState:
    st = c.engine.extensions.get("cluster")
    if st is None:
        raise ErrorReply(DISABLED)
    return st


def _slot(arg: bytes) -> int:
    """getSlotOrReply."""
    n = parse_int(arg)
    if n is None or n < 0 or n >= SLOTS:
        raise ErrorReply(INVALID_SLOT)
    return n


def _node(st: ClusterState, arg: bytes, message: str = "ERR Unknown node %s") -> ClusterNode:
    node = st.lookup(arg)
    if node is None:
        raise ErrorReply(message % arg.decode("utf-8", "replace"))
    return node


def _syntax(sub: bytes) -> ErrorReply:
    """addReplySubcommandSyntaxError."""
    return ErrorReply("ERR unknown subcommand or wrong number of arguments for '%s'. Try "
                      "CLUSTER HELP." % sub.decode("utf-8", "replace")[:128])


def _changed(st: ClusterState) -> None:
    # The other nodes learn of the change from the next PINGs.
    st.update_state()


# ---------------------------------------------------------------------------------------------
# Connection flags

def asking_command(c: "Session", argv: list[bytes]) -> Any:
    _state(c)
    c.extra["asking"] = True
    return OK


def readonly_command(c: "Session", argv: list[bytes]) -> Any:
    _state(c)
    c.extra["readonly"] = True
    return OK


def readwrite_command(c: "Session", argv: list[bytes]) -> Any:
    _state(c)
    c.extra.pop("readonly", None)
    return OK


# ---------------------------------------------------------------------------------------------
# Reading the cluster

def cluster_keyslot_command(c: "Session", argv: list[bytes]) -> Any:
    _state(c)
    c.work += len(argv[2])
    return key_hash_slot(argv[2])


def cluster_countkeysinslot_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    slot = to_int(argv[2])
    if slot < 0 or slot >= SLOTS:
        raise ErrorReply("ERR Invalid slot")
    c.work += len(c.engine.dbs[0].data)
    return st.count_keys_in_slot(slot)


def cluster_getkeysinslot_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    slot = to_int(argv[2])
    count = to_int(argv[3])
    if slot < 0 or slot >= SLOTS or count < 0:
        raise ErrorReply("ERR Invalid slot or number of keys")
    c.work += len(c.engine.dbs[0].data)
    return st.keys_in_slot(slot)[:count]


def cluster_myid_command(c: "Session", argv: list[bytes]) -> Any:
    return _state(c).myself.id.encode()


def cluster_info_command(c: "Session", argv: list[bytes]) -> Any:
    return Verbatim(_state(c).info_text().encode(), "txt")


def cluster_nodes_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    c.work += len(st.nodes)
    return Verbatim(st.nodes_text().encode(), "txt")


def _node_reply(st: ClusterState, node: ClusterNode) -> list[Any]:
    """addNodeToNodeReply: endpoint, port, id and a map of the other endpoints."""
    extra: list[tuple[bytes, bytes]] = []
    kind = st.engine.config["cluster-preferred-endpoint-type"]
    if kind != "ip":
        extra.append((b"ip", node.ip.encode()))
    if kind != "hostname" and node.hostname:
        extra.append((b"hostname", node.hostname.encode()))
    return [st.endpoint(node).encode(), node.port, node.id.encode(), MapReply(extra)]


def cluster_slots_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    out: list[Any] = []
    start = 0
    owner = st.slots[0]
    for j in range(1, SLOTS + 1):
        here = st.slots[j] if j < SLOTS else None
        if j == SLOTS or here is not owner:
            if owner is not None:
                entry: list[Any] = [start, j - 1, _node_reply(st, owner)]
                for r in owner.replicas:
                    if st.replica_available(r):
                        entry.append(_node_reply(st, r))
                out.append(entry)
            owner, start = here, j
    c.work += SLOTS
    return out


def _shard_node(st: ClusterState, node: ClusterNode) -> MapReply:
    """addNodeDetailsToShardReply."""
    pairs: list[tuple[bytes, Any]] = [(b"id", node.id.encode())]
    if node.port:
        pairs.append((b"port", node.port))
    pairs.append((b"ip", node.ip.encode()))
    pairs.append((b"endpoint", st.endpoint(node).encode()))
    if node.hostname:
        pairs.append((b"hostname", node.hostname.encode()))
    offset = st.my_offset() if node.myself else node.repl_offset
    pairs.append((b"role", b"master" if node.master else b"replica"))
    pairs.append((b"replication-offset", offset))
    if node.fail:
        health = b"fail"
    elif not node.master and offset == 0:
        health = b"loading"
    else:
        health = b"online"
    pairs.append((b"health", health))
    return MapReply(pairs)


def cluster_shards_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    out = []
    for node in st.nodes.values():
        if not node.master:
            continue
        bounds: list[int] = []
        for a, b in slot_ranges(node.slots):
            bounds += [a, b]
        members = [node] + list(node.replicas)
        out.append(MapReply([(b"slots", bounds),
                             (b"nodes", [_shard_node(st, n) for n in members])]))
    c.work += len(st.nodes)
    return out


def cluster_replicas_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    node = _node(st, argv[2])
    if not node.master:
        raise ErrorReply("ERR The specified node is not a master")
    return [st.node_line(r).encode() for r in node.replicas]


def cluster_slaves_command(c: "Session", argv: list[bytes]) -> Any:
    return cluster_replicas_command(c, argv)


def cluster_count_failure_reports_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    node = _node(st, argv[2])
    now = c.engine.clock.time_ms()
    validity = c.engine.config["cluster-node-timeout"] * 2
    return sum(1 for when in node.fail_reports.values() if now - when <= validity)


def cluster_links_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    out = []
    for node in st.nodes.values():
        if node.myself or not node.link:
            continue
        for direction in ("to", "from"):
            out.append(MapReply([
                (b"direction", direction.encode()),
                (b"node", node.id.encode()),
                (b"create-time", node.created),
                (b"events", b"r" if direction == "to" else b"r"),
                (b"send-buffer-allocated", 0),
                (b"send-buffer-used", 0),
            ]))
    return out


def cluster_help_command(c: "Session", argv: list[bytes]) -> Any:
    _state(c)
    return [Status(line) for line in HELP]


# ---------------------------------------------------------------------------------------------
# Changing slots

def _check_assignments(st: ClusterState, chosen: set[int], delete: bool, a: int, b: int) -> None:
    """checkSlotAssignmentsOrReply."""
    for slot in range(a, b + 1):
        if delete and st.slots[slot] is None:
            raise ErrorReply(f"ERR Slot {slot} is already unassigned")
        if not delete and st.slots[slot] is not None:
            raise ErrorReply(f"ERR Slot {slot} is already busy")
        if slot in chosen:
            raise ErrorReply(f"ERR Slot {slot} specified multiple times")
        chosen.add(slot)


def _update_slots(st: ClusterState, chosen: set[int], delete: bool) -> None:
    for slot in sorted(chosen):
        st.importing.pop(slot, None)
        if delete:
            st.del_slot(slot)
        else:
            st.add_slot(st.myself, slot)
    _changed(st)


def _slots_command(c: "Session", argv: list[bytes], delete: bool) -> Any:
    st = _state(c)
    for arg in argv[2:]:
        _slot(arg)
    chosen: set[int] = set()
    for arg in argv[2:]:
        s = _slot(arg)
        _check_assignments(st, chosen, delete, s, s)
    _update_slots(st, chosen, delete)
    c.work += len(chosen)
    return OK


def _ranges_command(c: "Session", argv: list[bytes], delete: bool) -> Any:
    st = _state(c)
    if len(argv) % 2 == 1:
        raise errors.wrong_arity(" ".join(a.decode("latin-1") for a in argv[:2]).lower()
                                 .replace(" ", "|"))
    chosen: set[int] = set()
    for i in range(2, len(argv), 2):
        a = _slot(argv[i])
        b = _slot(argv[i + 1])
        if a > b:
            raise ErrorReply(f"ERR start slot number {a} is greater than end slot number {b}")
        _check_assignments(st, chosen, delete, a, b)
    _update_slots(st, chosen, delete)
    c.work += len(chosen)
    return OK


def cluster_addslots_command(c: "Session", argv: list[bytes]) -> Any:
    return _slots_command(c, argv, False)


def cluster_delslots_command(c: "Session", argv: list[bytes]) -> Any:
    return _slots_command(c, argv, True)


def cluster_addslotsrange_command(c: "Session", argv: list[bytes]) -> Any:
    return _ranges_command(c, argv, False)


def cluster_delslotsrange_command(c: "Session", argv: list[bytes]) -> Any:
    return _ranges_command(c, argv, True)


def cluster_flushslots_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    if c.engine.dbs[0].data:
        raise ErrorReply("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
    for slot in list(st.myself.slots):
        st.del_slot(slot)
    _changed(st)
    return OK


def cluster_setslot_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    me = st.myself
    if not me.master:
        raise ErrorReply("ERR Please use SETSLOT only with masters.")
    slot = _slot(argv[2])
    action = argv[3].upper()
    argc = len(argv)
    if action == b"MIGRATING" and argc == 5:
        if st.slots[slot] is not me:
            raise ErrorReply(f"ERR I'm not the owner of hash slot {slot}")
        node = _node(st, argv[4], "ERR I don't know about node %s")
        if not node.master:
            raise ErrorReply("ERR Target node is not a master")
        st.migrating[slot] = node
    elif action == b"IMPORTING" and argc == 5:
        if st.slots[slot] is me:
            raise ErrorReply(f"ERR I'm already the owner of hash slot {slot}")
        node = _node(st, argv[4], "ERR I don't know about node %s")
        if not node.master:
            raise ErrorReply("ERR Target node is not a master")
        st.importing[slot] = node
    elif action == b"STABLE" and argc == 4:
        st.migrating.pop(slot, None)
        st.importing.pop(slot, None)
    elif action == b"NODE" and argc == 5:
        node = _node(st, argv[4])
        if not node.master:
            raise ErrorReply("ERR Target node is not a master")
        keys = st.count_keys_in_slot(slot)
        if st.slots[slot] is me and node is not me and keys:
            raise ErrorReply(f"ERR Can't assign hashslot {slot} to a different node while I "
                             "still hold keys for this hash slot.")
        if keys == 0 and slot in st.migrating:
            del st.migrating[slot]
        was_mine = st.slots[slot] is me
        st.del_slot(slot)
        st.add_slot(node, slot)
        if was_mine and node is not me and not me.slots and \
                c.engine.config["cluster-allow-replica-migration"]:
            st.set_master_of(node)
        if node is me and slot in st.importing:
            # A slot migrated by hand: a new epoch lets the new owner's claim win everywhere.
            if st.bump_epoch_without_consensus():
                st.note(f"configEpoch updated after importing slot {slot}")
            del st.importing[slot]
            # Let the other nodes know as soon as possible (clusterBroadcastPong).
            st.broadcast("pong")
        _changed(st)
        return OK
    else:
        raise ErrorReply("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try "
                         "CLUSTER HELP")
    st.update_state()
    return OK


# ---------------------------------------------------------------------------------------------
# Nodes and epochs

def cluster_meet_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    if len(argv) not in (4, 5):
        raise _syntax(argv[1])
    port = parse_int(argv[3])
    if port is None:
        raise ErrorReply("ERR Invalid TCP base port specified: "
                         + argv[3].decode("utf-8", "replace"))
    if len(argv) == 5:
        cport = parse_int(argv[4])
        if cport is None:
            raise ErrorReply("ERR Invalid TCP bus port specified: "
                             + argv[4].decode("utf-8", "replace"))
    else:
        cport = port + 10000
    host = argv[2].decode("utf-8", "replace")
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        ip = ""
    if not ip or not 0 < port <= 65535 or not 0 < cport <= 65535:
        raise ErrorReply(f"ERR Invalid node address specified: {host}:"
                         + argv[3].decode("utf-8", "replace"))
    st.meet(ip, port, cport)
    return OK


def cluster_forget_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    node = _node(st, argv[2])
    if node.myself:
        raise ErrorReply("ERR I tried hard but I can't forget myself...")
    if not st.myself.master and st.myself.replica_of is node:
        raise ErrorReply("ERR Can't forget my master!")
    st.forget(node)
    st.update_state()
    return OK


def cluster_replicate_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    node = _node(st, argv[2])
    me = st.myself
    if node is me:
        raise ErrorReply("ERR Can't replicate myself")
    if not node.master:
        raise ErrorReply("ERR I can only replicate a master, not a replica.")
    if me.master and (me.slots or c.engine.dbs[0].data):
        raise ErrorReply("ERR To set a master the node must be empty and without assigned "
                         "slots.")
    st.set_master_of(node)
    _changed(st)
    return OK


def cluster_failover_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    force = takeover = False
    if len(argv) == 3:
        opt = argv[2].upper()
        if opt == b"FORCE":
            force = True
        elif opt == b"TAKEOVER":
            takeover = force = True
        else:
            raise ErrorReply(errors.SYNTAX)
    elif len(argv) > 3:
        raise _syntax(argv[1])
    me = st.myself
    if me.master:
        raise ErrorReply("ERR You should send CLUSTER FAILOVER to a replica")
    master = me.replica_of
    if master is None:
        raise ErrorReply("ERR I'm a replica but my master is unknown to me")
    if not force and (master.fail or not master.link):
        raise ErrorReply("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
    st.failover_auth_time = 0
    if takeover:
        st.manual_failover = "takeover"
        st.bump_epoch_without_consensus()
        st._failover()
    else:
        # The default form's pause-and-catch-up with the master is not modelled: the replica
        # starts the election at once, as FORCE does.
        st.manual_failover = "force" if force else "default"
    return OK


def cluster_reset_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    hard = False
    if len(argv) == 3:
        opt = argv[2].upper()
        if opt == b"HARD":
            hard = True
        elif opt != b"SOFT":
            raise ErrorReply(errors.SYNTAX)
    elif len(argv) > 3:
        raise _syntax(argv[1])
    if st.myself.master and c.db.data:
        raise ErrorReply("ERR CLUSTER RESET can't be called with master nodes containing keys")
    if not st.myself.master:
        c.engine.flushall()
    st.reset(hard)
    return OK


def cluster_set_config_epoch_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    epoch = to_int(argv[2])
    if epoch < 0:
        raise ErrorReply(f"ERR Invalid config epoch specified: {epoch}")
    if len(st.nodes) > 1:
        raise ErrorReply("ERR The user can assign a config epoch only when the node does not "
                         "know any other node.")
    if st.myself.config_epoch != 0:
        raise ErrorReply("ERR Node config epoch is already non-zero")
    st.myself.config_epoch = epoch
    if st.current_epoch < epoch:
        st.current_epoch = epoch
    return OK


def cluster_saveconfig_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    cfg = c.engine.config
    path = os.path.join(cfg["dir"], cfg["cluster-config-file"])
    text = st.nodes_text() + (f"vars currentEpoch {st.current_epoch} "
                              f"lastVoteEpoch {st.last_vote_epoch}\n")
    try:
        tmp = path + ".tmp-redislab"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        raise ErrorReply(f"ERR error saving the cluster node config: {e.strerror or e}") \
            from None
    return OK


def cluster_bumpepoch_command(c: "Session", argv: list[bytes]) -> Any:
    st = _state(c)
    bumped = st.bump_epoch_without_consensus()
    return Status(f"{'BUMPED' if bumped else 'STILL'} {st.myself.config_epoch}")


HELP = (
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current "
    "node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes "
    "of a link",
    "HELP",
    "    Prints this help.",
)


# ---------------------------------------------------------------------------------------------
# MIGRATE: kept with the cluster commands because its targets are the cluster's other nodes.

def migrate_command(c: "Session", argv: list[bytes]) -> Any:
    """MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw]
    [KEYS key ...] (cluster.c migrateCommand).

    The target is reached through the ``migrate_peer`` extension a host provides (the served
    cluster and the simulated topology find their engines by address); the transfer is
    synchronous, as Redis's is, and network delay is not modelled. Without a peer the
    command fails as Redis does when it cannot reach the target.
    """
    from .persistence import dump_command

    copy = replace = False
    username: bytes | None = None
    password: bytes | None = None
    first, num = 3, 1
    j = 6
    while j < len(argv):
        opt = argv[j].lower()
        more = len(argv) - 1 - j
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                raise ErrorReply(errors.SYNTAX)
            j += 1
            password = argv[j]
        elif opt == b"auth2":
            if more < 2:
                raise ErrorReply(errors.SYNTAX)
            username, password = argv[j + 1], argv[j + 2]
            j += 2
        elif opt == b"keys":
            if argv[3]:
                raise ErrorReply("ERR When using MIGRATE KEYS option, the key argument must "
                                 "be set to the empty string")
            first, num = j + 1, len(argv) - j - 1
            break
        else:
            raise ErrorReply(errors.SYNTAX)
        j += 1
    to_int(argv[5])
    dbid = to_int(argv[4])
    keys = [k for k in argv[first:first + num] if c.db.get(k) is not None]
    c.work += num
    if not keys:
        return Status("NOKEY")
    find = c.engine.extensions.get("migrate_peer")
    port = parse_int(argv[2])
    target = find(argv[1].decode("utf-8", "replace"), port) \
        if find is not None and port is not None else None
    if target is None:
        raise ErrorReply("IOERR error or timeout writing to target instance")
    cluster = c.engine.config["cluster-enabled"]
    now = c.engine.now_ms()
    payloads = []
    for key in keys:
        when = c.db.expires.get(key)
        ttl = 0 if when is None else max(when - now, 1)
        payloads.append((key, ttl, dump_command(c, [b"DUMP", key])))
    peer = target.session(name="migrate")
    try:
        first_error: str | None = None
        if password is not None:
            auth = [b"AUTH", password] if username is None else [b"AUTH", username, password]
            reply = peer.execute_argv(auth)
            if isinstance(reply, ErrorReply):
                first_error = reply.message
        if first_error is None:
            reply = peer.execute_argv([b"SELECT", b"%d" % dbid])
            if isinstance(reply, ErrorReply):
                first_error = reply.message
        deleted: list[bytes] = []
        if first_error is None:
            for key, ttl, payload in payloads:
                cmd = [b"RESTORE-ASKING" if cluster else b"RESTORE", key, b"%d" % ttl, payload]
                if replace:
                    cmd.append(b"REPLACE")
                reply = peer.execute_argv(cmd)
                if isinstance(reply, ErrorReply):
                    first_error = first_error or reply.message
                elif not copy and c.db.delete(key):
                    c.db.changed(key, "del", "g")
                    deleted.append(key)
        if deleted:
            c.extra["propagate"] = [[b"DEL", *deleted]]
    finally:
        target.close_session(peer)
    if first_error is not None:
        raise ErrorReply("ERR Target instance replied with error: " + first_error)
    return OK
