"""INFO: the server's report on itself, section by section, with Redis 7.0's field names.

Each section is built by a function returning ``(field, value)`` pairs in the order Redis
prints them. Values with no meaning in an in-process engine report what an idle standalone
Redis reports. Other parts of the engine refine a section without editing this module by
putting a callable in ``engine.extensions["info.<section>"]``: it returns a dict whose entries
replace fields of the same name (in place) or are appended after them.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .engine import Engine

# Sections in the order Redis prints them, and which of them a plain INFO shows.
SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
            "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace")
DEFAULT_SECTIONS = frozenset(SECTIONS) - {"commandstats", "latencystats"}
_TITLES = {"cpu": "CPU"}

# What an idle redis-server 7.0 reports for memory it needs before any data (x86_64,
# jemalloc); stands in until the memory model provides real figures.
USED_MEMORY_STARTUP = 876_376
_IDLE_OVERHEAD = 40_216
_RSS_IDLE = 6_938_624
_LUA_VM_EVAL = 32_768
_LUA_VM_FUNCTIONS = 33_792
_SCRIPTS_OVERHEAD = 200
_OVERHEAD_ABOVE_STARTUP = 200
_ZERO_ID = "0" * 40

Fields = list[tuple[str, Any]]


def bytes_to_human(n: int) -> str:
    """Redis's human-readable amounts: ``895.11K``, ``1.00G``, ``200B``."""
    if n < 1024:
        return f"{n}B"
    for unit, power in (("K", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5)):
        if n < 1024 ** (power + 1):
            return "%.2f%s" % (n / 1024**power, unit)
    return f"{n}B"


def _extension(engine: "Engine", name: str) -> Any:
    return engine.extensions.get(name)


def used_memory(engine: "Engine") -> int:
    mem = _extension(engine, "used_memory")
    return int(mem()) if mem is not None else USED_MEMORY_STARTUP + _IDLE_OVERHEAD


def last_save_time(engine: "Engine") -> int:
    """Unix time of the last successful save (LASTSAVE); the start time until one happens."""
    fn = _extension(engine, "lastsave")
    return int(fn()) if fn is not None else engine.started_ms // 1000


def replication_id(engine: "Engine") -> str:
    rid = engine.extensions.get("master_replid")
    if rid is None:
        rid = os.urandom(20).hex()
        engine.extensions["master_replid"] = rid
    return rid


# ------------------------------------------------------------------------------------------
# Sections


def server_section(engine: "Engine") -> Fields:
    from .engine import VERSION

    uptime = engine.uptime_seconds()
    hz = engine.config["hz"]
    return [
        ("redis_version", VERSION),
        ("redis_git_sha1", "00000000"),
        ("redis_git_dirty", 0),
        ("redis_build_id", "0"),
        ("redis_mode", "sentinel" if engine.extensions.get("sentinel") is not None
         else "cluster" if engine.config["cluster-enabled"] else "standalone"),
        ("os", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("arch_bits", 64 if sys.maxsize > 2**32 else 32),
        ("monotonic_clock", "POSIX clock_gettime"),
        ("multiplexing_api", "epoll"),
        ("atomicvar_api", "c11-builtin"),
        ("gcc_version", "0.0.0"),
        ("process_id", os.getpid()),
        ("process_supervised", "no"),
        ("run_id", engine.run_id),
        ("tcp_port", engine.config["port"]),
        ("server_time_usec", engine.clock.time_us()),
        ("uptime_in_seconds", uptime),
        ("uptime_in_days", uptime // 86400),
        ("hz", hz),
        ("configured_hz", hz),
        ("lru_clock", engine.lru_clock),
        ("executable", engine.extensions.get("executable", sys.executable)),
        ("config_file", engine.extensions.get("config_file", "")),
        ("io_threads_active", 0),
    ]


def clients_section(engine: "Engine") -> Fields:
    sessions = list(engine.sessions.values())
    in_timeout = sum(1 for s in sessions if s.blocked is not None and s.blocked.deadline_ms)
    return [
        # Replicas are connections too, but Redis leaves them out of this count.
        ("connected_clients", sum(1 for s in sessions if s.kind != "replica")),
        ("cluster_connections", 0),
        ("maxclients", engine.config["maxclients"]),
        ("client_recent_max_input_buffer", 0),
        # A server fills this in (the engine alone has no output buffers).
        ("client_recent_max_output_buffer",
         engine.extensions.get("clients.recent_max_output_buffer", lambda: 0)()),
        ("blocked_clients", engine.blocked_count),
        ("tracking_clients", 0),
        ("clients_in_timeout_table", in_timeout),
    ]


def memory_section(engine: "Engine") -> Fields:
    used = used_memory(engine)
    peak = max(used, engine.extensions.get("used_memory_peak", 0))
    engine.extensions["used_memory_peak"] = peak
    startup = USED_MEMORY_STARTUP
    overhead = min(startup + _OVERHEAD_ABOVE_STARTUP, used)
    dataset = used - overhead
    net = used - startup
    rss = max(_RSS_IDLE, used + (_RSS_IDLE - USED_MEMORY_STARTUP))
    maxmemory = engine.config["maxmemory"]
    allocated = used + 774_256
    active = allocated + allocated // 12
    resident = active + 2_670_592
    total_system = _total_system_memory()
    vm_total = _LUA_VM_EVAL + _LUA_VM_FUNCTIONS
    return [
        ("used_memory", used),
        ("used_memory_human", bytes_to_human(used)),
        ("used_memory_rss", rss),
        ("used_memory_rss_human", bytes_to_human(rss)),
        ("used_memory_peak", peak),
        ("used_memory_peak_human", bytes_to_human(peak)),
        ("used_memory_peak_perc", "%.2f%%" % (used * 100 / peak if peak else 0)),
        ("used_memory_overhead", overhead),
        ("used_memory_startup", startup),
        ("used_memory_dataset", dataset),
        ("used_memory_dataset_perc", "%.2f%%" % (dataset * 100 / net if net > 0 else 0)),
        ("allocator_allocated", allocated),
        ("allocator_active", active),
        ("allocator_resident", resident),
        ("total_system_memory", total_system),
        ("total_system_memory_human", bytes_to_human(total_system)),
        ("used_memory_lua", _LUA_VM_EVAL),
        ("used_memory_vm_eval", _LUA_VM_EVAL),
        ("used_memory_lua_human", bytes_to_human(_LUA_VM_EVAL)),
        ("used_memory_scripts_eval", 0),
        ("number_of_cached_scripts", 0),
        ("number_of_functions", 0),
        ("number_of_libraries", 0),
        ("used_memory_vm_functions", _LUA_VM_FUNCTIONS),
        ("used_memory_vm_total", vm_total),
        ("used_memory_vm_total_human", bytes_to_human(vm_total)),
        ("used_memory_functions", _SCRIPTS_OVERHEAD),
        ("used_memory_scripts", _SCRIPTS_OVERHEAD),
        ("used_memory_scripts_human", bytes_to_human(_SCRIPTS_OVERHEAD)),
        ("maxmemory", maxmemory),
        ("maxmemory_human", bytes_to_human(maxmemory)),
        ("maxmemory_policy", engine.config["maxmemory-policy"]),
        ("allocator_frag_ratio", "%.2f" % (active / allocated)),
        ("allocator_frag_bytes", active - allocated),
        ("allocator_rss_ratio", "%.2f" % (resident / active)),
        ("allocator_rss_bytes", resident - active),
        ("rss_overhead_ratio", "%.2f" % (rss / resident)),
        ("rss_overhead_bytes", rss - resident),
        ("mem_fragmentation_ratio", "%.2f" % (rss / used if used else 0)),
        ("mem_fragmentation_bytes", rss - used),
        ("mem_not_counted_for_evict", 0),
        ("mem_replication_backlog", 0),
        ("mem_total_replication_buffers", 0),
        ("mem_clients_slaves", 0),
        ("mem_clients_normal", 0),
        ("mem_cluster_links", 0),
        ("mem_aof_buffer", 0),
        ("mem_allocator", "jemalloc-5.3.0"),
        ("active_defrag_running", 0),
        ("lazyfree_pending_objects", 0),
        ("lazyfreed_objects", 0),
    ]


def _total_system_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def persistence_section(engine: "Engine") -> Fields:
    return [
        ("loading", 1 if engine.loading else 0),
        ("async_loading", 0),
        ("current_cow_peak", 0),
        ("current_cow_size", 0),
        ("current_cow_size_age", 0),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", 0),
        ("current_save_keys_total", 0),
        ("rdb_changes_since_last_save", engine.dirty),
        ("rdb_bgsave_in_progress", 0),
        ("rdb_last_save_time", last_save_time(engine)),
        ("rdb_last_bgsave_status", "ok"),
        ("rdb_last_bgsave_time_sec", -1),
        ("rdb_current_bgsave_time_sec", -1),
        ("rdb_saves", 0),
        ("rdb_last_cow_size", 0),
        ("rdb_last_load_keys_expired", 0),
        ("rdb_last_load_keys_loaded", 0),
        ("aof_enabled", 1 if engine.config["appendonly"] else 0),
        ("aof_rewrite_in_progress", 0),
        ("aof_rewrite_scheduled", 0),
        ("aof_last_rewrite_time_sec", -1),
        ("aof_current_rewrite_time_sec", -1),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", 0),
        ("aof_rewrites_consecutive_failures", 0),
        ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", 0),
        ("module_fork_in_progress", 0),
        ("module_fork_last_cow_size", 0),
    ]


def stats_section(engine: "Engine") -> Fields:
    st = engine.stats
    hub = engine.extensions.get("pubsub")
    channels = len(hub.channels) if hub is not None else 0
    patterns = len(hub.patterns) if hub is not None else 0
    shard = len(hub.shard_channels) if hub is not None else 0
    return [
        ("total_connections_received", st.total_connections_received),
        ("total_commands_processed", max(st.total_commands_processed, sum(engine.cmd_calls))),
        ("instantaneous_ops_per_sec", 0),
        ("total_net_input_bytes", st.total_net_input_bytes),
        ("total_net_output_bytes", st.total_net_output_bytes),
        ("total_net_repl_input_bytes", 0),
        ("total_net_repl_output_bytes", 0),
        ("instantaneous_input_kbps", "0.00"),
        ("instantaneous_output_kbps", "0.00"),
        ("instantaneous_input_repl_kbps", "0.00"),
        ("instantaneous_output_repl_kbps", "0.00"),
        ("rejected_connections", st.rejected_connections),
        ("sync_full", 0),
        ("sync_partial_ok", 0),
        ("sync_partial_err", 0),
        ("expired_keys", st.expired_keys),
        ("expired_stale_perc", "%.2f" % (st.expired_stale_perc * 100)),
        ("expired_time_cap_reached_count", st.expired_time_cap_reached_count),
        ("expire_cycle_cpu_milliseconds", 0),
        ("evicted_keys", st.evicted_keys),
        ("evicted_clients", st.evicted_clients),
        ("total_eviction_exceeded_time", 0),
        ("current_eviction_exceeded_time", 0),
        ("keyspace_hits", st.keyspace_hits),
        ("keyspace_misses", st.keyspace_misses),
        ("pubsub_channels", channels),
        ("pubsub_patterns", patterns),
        ("pubsubshard_channels", shard),
        ("latest_fork_usec", 0),
        ("total_forks", 0),
        ("migrate_cached_sockets", 0),
        ("slave_expires_tracked_keys", 0),
        ("active_defrag_hits", 0),
        ("active_defrag_misses", 0),
        ("active_defrag_key_hits", 0),
        ("active_defrag_key_misses", 0),
        ("total_active_defrag_time", 0),
        ("current_active_defrag_time", 0),
        ("tracking_total_keys", 0),
        ("tracking_total_items", 0),
        ("tracking_total_prefixes", 0),
        ("unexpected_error_replies", st.unexpected_error_replies),
        ("total_error_replies", st.total_error_replies),
        ("dump_payload_sanitizations", 0),
        ("total_reads_processed", st.total_reads_processed),
        ("total_writes_processed", st.total_writes_processed),
        ("io_threaded_reads_processed", 0),
        ("io_threaded_writes_processed", 0),
        ("reply_buffer_shrinks", 0),
        ("reply_buffer_expands", 0),
    ]


def replication_section(engine: "Engine") -> Fields:
    if engine.replication is not None:
        return engine.replication.info()
    return [
        ("role", "slave" if engine.is_replica else "master"),
        ("connected_slaves", 0),
        ("master_failover_state", "no-failover"),
        ("master_replid", replication_id(engine)),
        ("master_replid2", _ZERO_ID),
        ("master_repl_offset", 0),
        ("second_repl_offset", -1),
        ("repl_backlog_active", 0),
        ("repl_backlog_size", engine.config["repl-backlog-size"]),
        ("repl_backlog_first_byte_offset", 0),
        ("repl_backlog_histlen", 0),
    ]


def cpu_section(engine: "Engine") -> Fields:
    t = os.times()
    return [
        ("used_cpu_sys", "%.6f" % t.system),
        ("used_cpu_user", "%.6f" % t.user),
        ("used_cpu_sys_children", "%.6f" % t.children_system),
        ("used_cpu_user_children", "%.6f" % t.children_user),
        ("used_cpu_sys_main_thread", "%.6f" % t.system),
        ("used_cpu_user_main_thread", "%.6f" % t.user),
    ]


def modules_section(engine: "Engine") -> Fields:
    return []


def _commands_with_stats(engine: "Engine") -> list[Any]:
    """Commands (parent before its subcommands) that were called, rejected or failed."""
    calls, rejected, failed = engine.cmd_calls, engine.cmd_rejected, engine.cmd_failed
    out = []
    for spec in engine.table.commands.values():
        for s in (spec, *spec.subcommands.values()):
            i = s.id
            if calls[i] or rejected[i] or failed[i]:
                out.append(s)
    return out


def commandstats_section(engine: "Engine") -> Fields:
    out: Fields = []
    for s in _commands_with_stats(engine):
        i = s.id
        calls, usec = engine.cmd_calls[i], engine.cmd_usec[i]
        out.append((f"cmdstat_{s.full_name}",
                    "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d"
                    % (calls, usec, usec / calls if calls else 0.0,
                       engine.cmd_rejected[i], engine.cmd_failed[i])))
    return out


def errorstats_section(engine: "Engine") -> Fields:
    # Redis keeps error codes in a radix tree, so they come out in byte order.
    errors = engine.stats.errors
    return [(f"errorstat_{code}", f"count={errors[code]}") for code in sorted(errors)]


def latencystats_section(engine: "Engine") -> Fields:
    """Per-command latency percentiles.

    redislab keeps each command's total time, not a histogram of every call, so all three
    percentiles report the mean duration.
    """
    if not engine.config["latency-tracking"]:
        return []
    out: Fields = []
    for s in _commands_with_stats(engine):
        calls = engine.cmd_calls[s.id]
        if not calls:
            continue
        mean = engine.cmd_usec[s.id] / calls
        out.append((f"latency_percentiles_usec_{s.full_name}",
                    "p50=%.3f,p99=%.3f,p99.9=%.3f" % (mean, mean, mean)))
    return out


def cluster_section(engine: "Engine") -> Fields:
    return [("cluster_enabled", 1 if engine.config["cluster-enabled"] else 0)]


def keyspace_section(engine: "Engine") -> Fields:
    out: Fields = []
    for db in engine.dbs:
        keys, expires = len(db.data), len(db.expires)
        if keys or expires:
            out.append((f"db{db.id}", f"keys={keys},expires={expires},avg_ttl={db.avg_ttl}"))
    return out


BUILDERS: dict[str, Callable[["Engine"], Fields]] = {
    "server": server_section, "clients": clients_section, "memory": memory_section,
    "persistence": persistence_section, "stats": stats_section,
    "replication": replication_section, "cpu": cpu_section, "modules": modules_section,
    "commandstats": commandstats_section, "errorstats": errorstats_section,
    "latencystats": latencystats_section, "cluster": cluster_section,
    "keyspace": keyspace_section,
}


# ------------------------------------------------------------------------------------------
# Assembling the report


def select_sections(args: list[bytes]) -> list[str]:
    """The sections INFO's arguments ask for, in Redis's order (unknown names add nothing)."""
    if not args:
        wanted = set(DEFAULT_SECTIONS)
    else:
        wanted = set()
        for raw in args:
            name = raw.decode("latin-1").lower()
            if name in ("all", "everything"):
                wanted.update(SECTIONS)
            elif name == "default":
                wanted.update(DEFAULT_SECTIONS)
            else:
                wanted.add(name)
    return [s for s in SECTIONS if s in wanted]


def section(engine: "Engine", name: str) -> Fields:
    """One section's fields, with any refinements other parts of the engine registered."""
    fields = BUILDERS[name](engine)
    refine = engine.extensions.get(f"info.{name}")
    if refine is not None:
        extra = dict(refine())
        if extra:
            fields = [(k, extra.pop(k)) if k in extra else (k, v) for k, v in fields]
            fields.extend(extra.items())
    return fields


def render(engine: "Engine", names: list[str]) -> str:
    """The INFO text: ``# Title`` then ``field:value`` lines, sections split by a blank line."""
    parts = []
    for name in names:
        title = _TITLES.get(name, name.capitalize())
        lines = [f"# {title}\r\n"]
        lines.extend(f"{k}:{v}\r\n" for k, v in section(engine, name))
        parts.append("".join(lines))
    return "\r\n".join(parts)


# What a server in sentinel mode reports (its own section instead of the data ones).
SENTINEL_SECTIONS = ("server", "clients", "stats", "cpu", "sentinel")


def _sentinel_section(engine: "Engine") -> Fields:
    return engine.extensions["sentinel"].info_fields()


BUILDERS["sentinel"] = _sentinel_section


def info_text(engine: "Engine", args: list[bytes]) -> str:
    if engine.extensions.get("sentinel") is not None:
        asked = {a.decode("latin-1").lower() for a in args}
        if not asked or asked & {"all", "everything", "default"}:
            asked = set(SENTINEL_SECTIONS)
        return render(engine, [n for n in SENTINEL_SECTIONS if n in asked])
    return render(engine, select_sections(args))


def info_dict(engine: "Engine", *names: str) -> dict[str, dict[str, Any]]:
    """Sections as dictionaries, for front ends (the REPL, lessons' checks)."""
    chosen = select_sections([n.encode() for n in names])
    return {name: dict(section(engine, name)) for name in chosen}
