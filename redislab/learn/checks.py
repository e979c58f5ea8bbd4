"""The check kinds a lesson step can use, each implemented once.

A check is a TOML table with a ``kind`` and its parameters. Every kind turns the learner's
engine (and, for some, the learner's replies or exercise file) into a :class:`Verdict`
that says what the goal is, what the state is now, and whether they match:

* ``reply``: the reply of the learner's last command, or of a probe command, equals an
  expected value (with ordering rules: exact, any order, or field/value pairs in any order).
* ``key``: one key's state: exists or absent, type, value, TTL range, encoding, length,
  members, fields, scores, memory bound.
* ``keyspace``: a predicate over the whole keyspace, written as an expression.
* ``used``: the learner ran (or never ran) a command in this step.
* ``simulation``: the learner's commands, Lua script or Python function run by simulated
  clients under hidden seeds (see ``scenarios.py``); every invariant must hold in every run.

Adding a kind is one function and one line in :data:`KINDS`.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .model import Verdict

if TYPE_CHECKING:
    from ..engine import Engine, Session

__all__ = ["KINDS", "CheckKind", "CheckEnv", "run_check", "normalize", "show"]


@dataclass
class CheckEnv:
    """What a check may look at."""

    engine: "Engine"
    history: list[tuple[list[bytes], Any]] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    solution: Any = None               # a solutions.Solution for simulation checks
    seeds: tuple[int, ...] = (1,)
    isolate: bool = True               # run learner Python in a separate process
    db: int = 0
    topology: Any = None               # a topology.TopologyRun when the step runs on one

    def probe(self) -> "Session":
        s = self.engine.session(name="redislab-check")
        if self.db:
            s.select(self.db)
        s.no_touch = True
        return s

    def call(self, *args: Any) -> Any:
        session = self.probe()
        try:
            return session.execute(*args)
        finally:
            self.engine.close_session(session)


@dataclass(frozen=True)
class CheckKind:
    fn: Callable[[dict[str, Any], CheckEnv], Verdict]
    params: frozenset[str]
    required: frozenset[str] = frozenset()
    validate: Callable[[dict[str, Any]], str | None] | None = None


# ------------------------------------------------------------------------------------------
# Replies as comparable values, and as text

def normalize(reply: Any) -> Any:
    """A reply as plain Python: text for bulk and simple strings, lists for arrays and maps."""
    from ..protocol.reply import Double, ErrorReply, MapReply, SetReply

    if isinstance(reply, (bytes, bytearray)):
        return bytes(reply).decode("utf-8", "replace")
    if isinstance(reply, ErrorReply):
        return "(error) " + reply.message
    if isinstance(reply, bool):
        return int(reply)
    if isinstance(reply, Double):
        return float(reply)
    if isinstance(reply, MapReply):
        out: list[Any] = []
        for k, v in reply:
            out += [normalize(k), normalize(v)]
        return out
    if isinstance(reply, (list, tuple, SetReply, set)):
        return [normalize(x) for x in reply]
    if isinstance(reply, (int, float)) or reply is None:
        return reply
    return str(reply)


def show(value: Any) -> str:
    """A normalised value the way redis-cli would print it, on one line."""
    if value is None:
        return "(nil)"
    if isinstance(value, bool):
        return f"(integer) {int(value)}"
    if isinstance(value, int):
        return f"(integer) {value}"
    if isinstance(value, float):
        return f"(double) {value:g}"
    if isinstance(value, list):
        if not value:
            return "(empty array)"
        return "[" + ", ".join(show(v) if isinstance(v, list) else
                               ("(nil)" if v is None else str(v)) for v in value) + "]"
    return f'"{value}"'


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool):
        expected = int(expected)
    if isinstance(expected, float) or isinstance(actual, float):
        try:
            return math.isclose(float(expected), float(actual), rel_tol=1e-9, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(_same(e, a)
                                                    for e, a in zip(expected, actual))
    if isinstance(expected, str) and isinstance(actual, int) and not isinstance(actual, bool):
        return False
    return expected == actual


def _key(v: Any) -> str:
    return repr(v)


def _canonical(v: Any) -> Any:
    """Nested lists in a fixed order (for "any order" comparisons at every level)."""
    if isinstance(v, list):
        return sorted((_canonical(x) for x in v), key=repr)
    if isinstance(v, bool):
        return int(v)
    return v


def _ordered_equal(expected: Any, actual: Any, order: str) -> bool:
    if order == "exact" or not isinstance(expected, list) or not isinstance(actual, list):
        return _same(expected, actual)
    if order == "any":
        return _canonical(expected) == _canonical(actual)
    if order == "pairs":
        def pairs(v: list[Any]) -> list[str]:
            return sorted(_key(v[i:i + 2]) for i in range(0, len(v), 2))
        return len(expected) == len(actual) and pairs(expected) == pairs(actual)
    raise ValueError(order)


# ------------------------------------------------------------------------------------------
# reply

def _split(line: str, values: dict[str, str]) -> list[bytes]:
    from ..protocol import split_args

    from .model import fill

    args = split_args(fill(line, values))
    if not args:
        raise ValueError(f"not a command line: {line!r}")
    return args


def check_reply(p: dict[str, Any], env: CheckEnv) -> Verdict:
    order = p.get("order", "exact")
    if "equals" in p:
        expected = p["equals"]
        goal_text = show(expected)
    elif p.get("nil"):
        expected = None
        goal_text = "(nil)"
    else:
        probe_line = p["equals_command"]
        expected = normalize(env.call(*_split(probe_line, env.values)))
        goal_text = f"{show(expected)} (what {probe_line} answers)"
    wanted_cmd = p.get("command_is", "").upper()
    describe = p.get("describe", "")
    if "command" in p:
        actual = normalize(env.call(*_split(p["command"], env.values)))
        source = f"{p['command']} answers"
    else:
        last = None
        for argv, reply in reversed(env.history):
            name = argv[0].decode("utf-8", "replace").upper() if argv else ""
            if not wanted_cmd or name == wanted_cmd or \
                    " ".join(a.decode("utf-8", "replace").upper() for a in argv[:2]) == wanted_cmd:
                last = (argv, reply)
                break
        if last is None:
            need = f"a {wanted_cmd} command" if wanted_cmd else "a command"
            return Verdict(False, f"run {need} first", goal=[describe or f"reply {goal_text}"],
                           current=[f"no {wanted_cmd or 'command'} run yet in this step"])
        actual = normalize(last[1])
        source = "your " + " ".join(a.decode("utf-8", "replace") for a in last[0][:3]) + \
            (" ..." if len(last[0]) > 3 else "") + " answered"
    ok = _ordered_equal(expected, actual, order)
    order_note = {"exact": "", "any": " (in any order)", "pairs": " (pairs in any order)"}[order]
    return Verdict(ok, "the reply matches" if ok else "the reply is not the one expected",
                   goal=[describe or f"reply {goal_text}{order_note}"],
                   current=[f"{source} {show(actual)}"])


def _validate_reply(p: dict[str, Any]) -> str | None:
    if sum(k in p for k in ("equals", "equals_command", "nil")) != 1:
        return "a reply check needs exactly one of equals, equals_command or nil"
    if p.get("order", "exact") not in ("exact", "any", "pairs"):
        return "order is exact, any or pairs"
    return None


# ------------------------------------------------------------------------------------------
# key

def _ttl_text(ms: int | None) -> str:
    if ms is None:
        return "no TTL"
    return f"TTL {ms / 1000:g}s"


def key_state(env: CheckEnv, key: bytes) -> dict[str, Any] | None:
    """Type, value, TTL, encoding and contents of ``key`` (None if absent), without touching."""
    from ..engine import introspect

    db = env.engine.dbs[env.db]
    info = introspect.key_info(db, key)
    if info is None:
        return None
    value = db.data[key]
    state: dict[str, Any] = {"type": info.type, "encoding": info.encoding,
                             "ttl_ms": info.ttl_ms, "len": info.size}
    t = info.type
    if t == "string":
        state["value"] = normalize(env.call(b"GET", key))
        state["len"] = len(state["value"].encode("utf-8", "replace"))
    elif t == "hash":
        state["fields"] = {normalize(k): normalize(v) for k, v in value.items()}
    elif t == "set":
        state["members"] = sorted(normalize(m) for m in value)
    elif t == "list":
        state["members"] = [normalize(m) for m in value]
    elif t == "zset":
        state["scores"] = {normalize(m): s for m, s in value.scores.items()}
        state["members"] = [normalize(m) for _, m in value.order] if hasattr(value, "order") \
            else sorted(state["scores"], key=lambda m: state["scores"][m])
    return state


def memory_usage(env: CheckEnv, key: bytes) -> int | None:
    """MEMORY USAGE of ``key``, or None while the engine has no memory model."""
    from ..protocol.reply import ErrorReply

    reply = env.call(b"MEMORY", b"USAGE", key, b"SAMPLES", b"0")
    if isinstance(reply, ErrorReply) or not isinstance(reply, int):
        return None
    return reply


def _describe_state(key: str, st: dict[str, Any] | None) -> str:
    if st is None:
        return f"{key}: absent"
    parts = [st["type"]]
    if st["type"] == "string":
        v = st["value"]
        parts.append(show(v if len(v) <= 60 else v[:57] + "..."))
    elif "fields" in st:
        items = list(st["fields"].items())[:6]
        parts.append("{" + ", ".join(f"{k}: {v}" for k, v in items) +
                     (", ..." if len(st["fields"]) > 6 else "") + "}")
    elif "scores" in st:
        items = sorted(st["scores"].items(), key=lambda kv: (-kv[1], kv[0]))[:6]
        parts.append("{" + ", ".join(f"{m}: {s:g}" for m, s in items) +
                     (", ..." if len(st["scores"]) > 6 else "") + "}")
    elif "members" in st:
        parts.append(show(st["members"][:8]) + (" ..." if len(st["members"]) > 8 else ""))
    parts.append(f"{st['len']} {'bytes' if st['type'] == 'string' else 'elements'}")
    parts.append(_ttl_text(st["ttl_ms"]))
    parts.append(f"encoding {st['encoding']}")
    return f"{key}: " + ", ".join(parts)


def check_key(p: dict[str, Any], env: CheckEnv) -> Verdict:
    from .model import fill

    name = fill(p["key"], env.values)
    key = name.encode("utf-8", "surrogateescape")
    st = key_state(env, key)
    goal: list[str] = []
    problems: list[str] = []
    details: list[str] = []
    want_exists = p.get("exists", True)
    if not want_exists:
        goal.append(f"{name}: absent")
        if st is not None:
            problems.append(f"{name} still exists")
        return Verdict(not problems, problems[0] if problems else f"{name} is gone",
                       goal=goal, current=[_describe_state(name, st)])
    want = [f"{name}: exists"]
    if st is None:
        problems.append(f"{name} does not exist")
    if "type" in p:
        want.append(f"type {p['type']}")
        if st is not None and st["type"] != p["type"]:
            problems.append(f"{name} is a {st['type']}, not a {p['type']}")
    if "value" in p:
        expected = fill(str(p["value"]), env.values)
        want.append(f"value {show(expected)}")
        if st is not None and st.get("value") != expected:
            problems.append(f"{name} holds {show(st.get('value'))}")
    if "value_matches" in p:
        want.append(f"value matching /{p['value_matches']}/")
        if st is not None and not re.fullmatch(p["value_matches"], str(st.get("value", ""))):
            problems.append(f"{name}'s value {show(st.get('value'))} is not of the expected form")
    if "ttl" in p:
        lo, hi = p["ttl"]
        want.append(f"TTL between {lo:g}s and {hi:g}s")
        if st is not None:
            ms = st["ttl_ms"]
            if ms is None:
                problems.append(f"{name} has no TTL")
            elif not (lo * 1000 <= ms <= hi * 1000):
                problems.append(f"{name}'s TTL is {ms / 1000:g}s")
    if p.get("no_ttl"):
        want.append("no TTL")
        if st is not None and st["ttl_ms"] is not None:
            problems.append(f"{name} has a TTL ({st['ttl_ms'] / 1000:g}s)")
    if "encoding" in p:
        want.append(f"encoding {p['encoding']}")
        if st is not None and st["encoding"] != p["encoding"]:
            problems.append(f"{name} is encoded as {st['encoding']}")
    if "len" in p:
        n = int(fill(str(p["len"]), env.values))
        want.append(f"{n} {'bytes' if p.get('type') == 'string' else 'elements'}")
        if st is not None and st["len"] != n:
            problems.append(f"{name} has {st['len']}")
    if "min_len" in p:
        want.append(f"at least {p['min_len']} elements")
        if st is not None and st["len"] < p["min_len"]:
            problems.append(f"{name} has only {st['len']}")
    if "members" in p:
        members = [fill(str(m), env.values) for m in p["members"]]
        ordered = st is not None and st["type"] in ("list", "zset")
        want.append(f"members {show(members)}" + ("" if ordered else " (any order)"))
        if st is not None:
            have = st.get("members", [])
            if not (have == members if ordered else sorted(have) == sorted(members)):
                problems.append(f"{name}'s members are {show(have[:10])}")
    if "contains" in p:
        members = [fill(str(m), env.values) for m in p["contains"]]
        want.append(f"contains {show(members)}")
        if st is not None:
            have = set(st.get("members", [])) | set(st.get("fields", {}))
            missing = [m for m in members if m not in have]
            if missing:
                problems.append(f"{name} lacks {show(missing)}")
    if "fields" in p:
        fields = {k: fill(str(v), env.values) for k, v in p["fields"].items()}
        want.append("fields " + ", ".join(f"{k}={v}" for k, v in fields.items()))
        if st is not None:
            have = st.get("fields", {})
            wrong = [k for k, v in fields.items() if have.get(k) != v]
            if wrong:
                problems.append(f"{name}'s field {wrong[0]} is {show(have.get(wrong[0]))}")
    if "scores" in p:
        scores = {k: float(v) for k, v in p["scores"].items()}
        want.append("scores " + ", ".join(f"{k}={v:g}" for k, v in scores.items()))
        if st is not None:
            have = st.get("scores", {})
            wrong = [k for k, v in scores.items() if have.get(k) != v]
            if wrong:
                problems.append(f"{wrong[0]}'s score is {have.get(wrong[0])}")
    if "max_memory" in p:
        want.append(f"at most {p['max_memory']:,} bytes of memory")
        if st is not None:
            used = memory_usage(env, key)
            if used is None:
                details.append("memory bound not checked: MEMORY USAGE is not available in "
                               "this engine yet")
            elif used > p["max_memory"]:
                problems.append(f"{name} uses {used:,} bytes")
    goal.append(", ".join(want))
    ok = not problems
    return Verdict(ok, f"{name} is as it should be" if ok else problems[0], goal=goal,
                   current=[_describe_state(name, st)], details=details)


# ------------------------------------------------------------------------------------------
# keyspace predicate

_SAFE_BUILTINS = {"len": len, "all": all, "any": any, "sum": sum, "min": min, "max": max,
                  "sorted": sorted, "set": set, "list": list, "int": int, "float": float,
                  "str": str, "abs": abs, "range": range, "round": round, "dict": dict,
                  "tuple": tuple, "True": True, "False": False, "None": None}


def _namespace(env: CheckEnv) -> dict[str, Any]:
    from ..engine import introspect

    db = env.engine.dbs[env.db]

    def k(name: str) -> bytes:
        return name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name

    def keys(pattern: str = "*") -> list[str]:
        out = []
        for key in list(db.data):
            s = key.decode("utf-8", "replace")
            if fnmatch.fnmatchcase(s, pattern) and introspect.is_live(db, key):
                out.append(s)
        return sorted(out)

    def state(name: str) -> dict[str, Any] | None:
        return key_state(env, k(name))

    def ttl(name: str) -> float | None:
        st = state(name)
        return None if st is None or st["ttl_ms"] is None else st["ttl_ms"] / 1000

    def call(*args: Any) -> Any:
        return normalize(env.call(*args))

    def replies(line: str = "") -> list[Any]:
        """The replies the learner got, in order, to commands starting with ``line``."""
        want = line.split()
        out = []
        for argv, reply in env.history:
            words = [a.decode("utf-8", "replace") for a in argv[:len(want)]]
            if len(words) == len(want) and all(
                    w == x if i else w.upper() == x.upper()
                    for i, (w, x) in enumerate(zip(words, want))):
                out.append(normalize(reply))
        return out

    ns = {
        "keys": keys, "state": state, "ttl": ttl, "call": call, "replies": replies,
        "exists": lambda name: state(name) is not None,
        "type": lambda name: (state(name) or {}).get("type"),
        "get": lambda name: (state(name) or {}).get("value"),
        "encoding": lambda name: (state(name) or {}).get("encoding"),
        "card": lambda name: (state(name) or {}).get("len", 0),
        "memory": lambda name: memory_usage(env, k(name)),
        "var": env.values,
    }
    if env.topology is not None:
        from .topology import expression_names

        ns.update(expression_names(env.topology, normalize))
    ns.update({name: int(v) if v.lstrip("-").isdigit() else v for name, v in env.values.items()
               if name not in ns})
    return ns


def check_keyspace(p: dict[str, Any], env: CheckEnv) -> Verdict:
    from .model import fill

    expr = p["expr"]
    describe = fill(p["describe"], env.values)
    ns = _namespace(env)
    try:
        ok = bool(eval(expr, {"__builtins__": _SAFE_BUILTINS, **ns}))  # lesson text, not input
        error = None
    except Exception as e:
        ok, error = False, f"{type(e).__name__}: {e}"
    current: list[str] = []
    if "show" in p:
        try:
            current.append(str(eval(p["show"], {"__builtins__": _SAFE_BUILTINS, **ns})))
        except Exception as e:
            current.append(f"(could not show: {e})")
    else:
        names = ns["keys"]("*")
        current.append(f"{len(names)} keys" + (": " + ", ".join(names[:12]) +
                                               (" ..." if len(names) > 12 else "")
                                               if names else ""))
    return Verdict(ok, "the keyspace is as it should be" if ok else
                   (p.get("fail") or "not yet: " + describe),
                   goal=[describe], current=current, details=[error] if error else [])


def _validate_keyspace(p: dict[str, Any]) -> str | None:
    try:
        compile(p["expr"], "<check>", "eval")
        if "show" in p:
            compile(p["show"], "<check>", "eval")
    except SyntaxError as e:
        return f"the expression does not parse: {e.msg}"
    return None


# ------------------------------------------------------------------------------------------
# used

def check_used(p: dict[str, Any], env: CheckEnv) -> Verdict:
    name = p["command"].upper()
    times = sum(1 for argv, _ in env.history
                if argv and argv[0].decode("utf-8", "replace").upper() == name)
    if p.get("never"):
        ok = times == 0
        return Verdict(ok, f"no {name}" if ok else f"{name} was used",
                       goal=[f"do it without {name}"], current=[f"{name} used {times} times"])
    need = p.get("min", 1)
    ok = times >= need
    return Verdict(ok, f"{name} used" if ok else f"use {name}",
                   goal=[f"run {name}" + (f" at least {need} times" if need > 1 else "")],
                   current=[f"{name} run {times} time{'s' if times != 1 else ''} in this step"])


# ------------------------------------------------------------------------------------------
# simulation

def check_simulation(p: dict[str, Any], env: CheckEnv) -> Verdict:
    from .scenarios import run_simulation

    return run_simulation(p, env)


def _validate_simulation(p: dict[str, Any]) -> str | None:
    from .scenarios import SCENARIOS

    if p["scenario"] not in SCENARIOS:
        return f"unknown scenario {p['scenario']!r} (known: {', '.join(sorted(SCENARIOS))})"
    languages = SCENARIOS[p["scenario"]].languages
    if p.get("language") not in languages:
        return f"scenario {p['scenario']!r} takes {' or '.join(languages)}"
    return None


KINDS: dict[str, CheckKind] = {
    "reply": CheckKind(check_reply, frozenset({"command", "command_is", "equals",
                                               "equals_command", "nil", "order", "describe",
                                               "node"}),
                       validate=_validate_reply),
    "key": CheckKind(check_key, frozenset({"key", "exists", "type", "value", "value_matches",
                                           "ttl", "no_ttl", "encoding", "len", "min_len",
                                           "members", "contains", "fields", "scores",
                                           "max_memory", "node"}), frozenset({"key"})),
    "keyspace": CheckKind(check_keyspace, frozenset({"expr", "describe", "show", "fail",
                                                     "node"}),
                          frozenset({"expr", "describe"}), _validate_keyspace),
    "used": CheckKind(check_used, frozenset({"command", "min", "never"}),
                      frozenset({"command"})),
    "simulation": CheckKind(check_simulation,
                            frozenset({"scenario", "language", "params", "seeds", "describe"}),
                            frozenset({"scenario", "language"}), _validate_simulation),
}


def run_check(check: dict[str, Any], env: CheckEnv) -> Verdict:
    """Run one check table; a check that breaks reports itself instead of raising."""
    kind = KINDS[check["kind"]]
    try:
        if env.topology is not None or "node" in check:
            from .topology import env_for_check

            env, problem = env_for_check(check, env)
            if problem is not None:
                return problem
        return kind.fn(check, env)
    except Exception as e:  # a lesson bug must not take the REPL down
        return Verdict(False, f"the check itself failed: {type(e).__name__}: {e}",
                       details=["this is a problem in the lesson, not in your answer"])
