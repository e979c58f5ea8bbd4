"""MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE and HELP (object.c memoryCommand).

The figures come from the engine's memory model (memory/model.py). USAGE follows
objectComputeSize: it looks the key up without expiring or touching it, walks the first
``SAMPLES`` elements (5 by default, all with 0) and extrapolates to the whole value.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, Double, ErrorReply, MapReply, Status, Verbatim
from .. import errors
from ..args import LLONG_MAX, to_int
from ..info import section
from ..memory.sizes import is_string

if TYPE_CHECKING:
    from ..session import Session

SYNTAX = ErrorReply(errors.SYNTAX)
DEFAULT_SAMPLES = 5
_MB = 1024 * 1024


def _model(c: "Session") -> Any:
    return c.engine.extensions["memory"]


def _float32(x: float) -> float:
    """Redis keeps these ratios in C floats: replies show single-precision values."""
    return struct.unpack("f", struct.pack("f", x))[0]


def memory_usage_command(c: "Session", argv: list[bytes]) -> Any:
    samples = DEFAULT_SAMPLES
    i = 3
    while i < len(argv):
        if argv[i].lower() == b"samples" and i + 1 < len(argv):
            samples = to_int(argv[i + 1])
            if samples < 0:
                raise SYNTAX
            if samples == 0:
                samples = LLONG_MAX
            i += 2
        else:
            raise SYNTAX
    result = _model(c).usage(c.db, argv[2], samples)
    c.work += min(samples, _elements(c.db.data.get(argv[2])))
    return result


def _elements(value: Any) -> int:
    """Elements a walk of the value may visit (strings have none to sample)."""
    if value is None or is_string(value):
        return 1
    try:
        return len(value)
    except TypeError:
        return 1


def memory_stats_command(c: "Session", argv: list[bytes]) -> Any:
    o = _model(c).overhead()
    mem = dict(section(c.engine, "memory"))
    allocated = int(mem["allocator_allocated"])
    active = int(mem["allocator_active"])
    resident = int(mem["allocator_resident"])
    rss = int(mem["used_memory_rss"])
    used = o["used"]
    out: list[tuple[bytes, Any]] = [
        (b"peak.allocated", o["peak"]),
        (b"total.allocated", used),
        (b"startup.allocated", o["startup"]),
        (b"replication.backlog", 0),
        (b"clients.slaves", 0),
        (b"clients.normal", o["clients_normal"]),
        (b"cluster.links", 0),
        (b"aof.buffer", 0),
        (b"lua.caches", o["lua_caches"]),
        (b"functions.caches", o["functions_caches"]),
    ]
    for dbid, main, exp in o["dbs"]:
        out.append((b"db.%d" % dbid, MapReply([
            (b"overhead.hashtable.main", main),
            (b"overhead.hashtable.expires", exp),
            (b"overhead.hashtable.slot-to-keys", 0),
        ])))
    out += [
        (b"overhead.total", o["overhead"]),
        (b"keys.count", o["keys"]),
        (b"keys.bytes-per-key", o["bytes_per_key"]),
        (b"dataset.bytes", o["dataset"]),
        (b"dataset.percentage", Double(_float32(o["dataset_perc"]))),
        (b"peak.percentage", Double(_float32(o["peak_perc"]))),
        (b"allocator.allocated", allocated),
        (b"allocator.active", active),
        (b"allocator.resident", resident),
        (b"allocator-fragmentation.ratio", Double(_float32(active / allocated))),
        (b"allocator-fragmentation.bytes", active - allocated),
        (b"allocator-rss.ratio", Double(_float32(resident / active))),
        (b"allocator-rss.bytes", resident - active),
        (b"rss-overhead.ratio", Double(_float32(rss / resident))),
        (b"rss-overhead.bytes", rss - resident),
        (b"fragmentation", Double(_float32(rss / used if used else 0.0))),
        (b"fragmentation.bytes", rss - used),
    ]
    return MapReply(out)


def memory_doctor_command(c: "Session", argv: list[bytes]) -> Any:
    return Verbatim(doctor_report(c).encode(), "txt")


def doctor_report(c: "Session") -> str:
    """getMemoryDoctorReport's checks, with our own advice."""
    eng = c.engine
    o = _model(c).overhead()
    used = o["used"]
    if used < 5 * _MB:
        return ("This server holds almost no data (under 5 MB in use), so there is nothing "
                "meaningful to diagnose yet. Load a realistic dataset and ask again.\n")
    mem = dict(section(eng, "memory"))
    allocated = int(mem["allocator_allocated"])
    active = int(mem["allocator_active"])
    resident = int(mem["allocator_resident"])
    rss = int(mem["used_memory_rss"])
    findings: list[str] = []
    if o["peak"] / used > 1.5:
        findings.append(
            "* Peak memory: at some point this server used %s, more than 150%% of the %s it "
            "uses now. If that peak was a one-off, fragmentation figures may look worse than "
            "they are; if it comes back, plan capacity for it." % (_human(o["peak"]),
                                                                    _human(used)))
    if rss / used > 1.4 and rss - used > 10 * _MB:
        findings.append(
            "* High fragmentation: the process holds %.2f times the memory the data needs "
            "(%s more). Allocation patterns that free many small values are the usual cause; "
            "active defragmentation or a restart gives it back." % (rss / used,
                                                                     _human(rss - used)))
    if active / allocated > 1.1 and active - allocated > 10 * _MB:
        findings.append("* The allocator's pages are partly empty (external fragmentation): "
                        "%s in use by the allocator beyond the data." % _human(active
                                                                                 - allocated))
    if resident / active > 1.1 and resident - active > 10 * _MB:
        findings.append("* The allocator keeps %s of freed pages resident; MEMORY PURGE asks "
                        "it to return them." % _human(resident - active))
    if rss / resident > 1.1 and rss - resident > 10 * _MB:
        findings.append("* The process uses %s outside the allocator (Lua, libraries, "
                        "buffers)." % _human(rss - resident))
    clients = _model(c).clients()
    if clients and o["clients_normal"] / clients > 200 * 1024:
        findings.append("* Client buffers average more than 200 KB per connection: look for "
                        "clients reading slowly or sending huge pipelines "
                        "(client-output-buffer-limit, CLIENT LIST's omem and qbuf).")
    lua = eng.extensions.get("lua")
    scripts = len(getattr(lua, "scripts", ())) if lua is not None else 0
    if scripts > 1000:
        findings.append("* %d scripts are cached: scripts built by string concatenation "
                        "instead of using KEYS and ARGV fill the cache; SCRIPT FLUSH empties "
                        "it." % scripts)
    if not findings:
        return ("No memory problem found: peak, fragmentation, client buffers and the script "
                "cache all look healthy for what this server can observe about itself.\n")
    return "Memory report:\n\n" + "\n\n".join(findings) + "\n"


def _human(n: int) -> str:
    from ..info import bytes_to_human

    return bytes_to_human(n)


def memory_malloc_stats_command(c: "Session", argv: list[bytes]) -> Any:
    used = _model(c).used_memory()
    text = ("redislab allocator model: jemalloc-5.3.0 size classes (x86_64).\n"
            "Small classes: 8, 16, 32, 48 ... 128 by 16, then four per doubling up to "
            "14336; large classes continue four per doubling.\n"
            "allocated (modelled used_memory): %d\n"
            "The engine runs on Python's allocator, so there are no arena or bin "
            "statistics to report.\n" % used)
    return Verbatim(text.encode(), "txt")


def memory_purge_command(c: "Session", argv: list[bytes]) -> Any:
    return OK


_HELP = [
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Look for memory problems and explain what to do about them.",
    "MALLOC-STATS",
    "    Describe the memory allocator's state.",
    "PURGE",
    "    Ask the allocator to give unused pages back to the operating system.",
    "STATS",
    "    Break down the server's memory use: overheads, dataset, per-database tables.",
    "USAGE <key> [SAMPLES <count>]",
    "    Estimate the bytes <key> and its value take, sampling up to <count> nested",
    "    elements (5 by default, 0 for all of them).",
    "HELP",
    "    Print this help.",
]


def memory_help_command(c: "Session", argv: list[bytes]) -> Any:
    return [Status(line) for line in _HELP]
