"""The line under each reply: what the command cost, what it changed, what to watch out for.

Two kinds of plug-ins feed it, each a plain function registered with a decorator:

* **sources** (``@source``) turn the facts of one call (the engine's CallRecord plus the
  key states the REPL saw before and after) into a :class:`Note`: a short phrase for the
  compact line and detail lines for ``:annotate full`` and ``:explain``. Cost, memory,
  events, inner commands and key changes are sources; persistence, eviction or replication
  views add theirs the same way.
* **pitfall rules** (``@pitfall``) look at the call and the ones before it and return a
  :class:`Pitfall` when the learner just did something that hurts at scale (KEYS over a big
  keyspace, a giant DEL, a cache key without a TTL, single commands a pipeline would batch).

Nothing here prints; :func:`annotate` returns styled fragments and the REPL writes them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..engine import CallRecord
from ..engine.commands.spec import CommandSpec
from ..engine.events import (
    ClientBlocked, ClientUnblocked, EncodingChanged, Event, KeyDeleted, KeyEvicted, KeyExpired,
    Published,
)
from ..engine.introspect import KeyInfo
from ..protocol import QUEUED, ErrorReply
from .backend import Outcome
from .render import quote_bulk
from .repl.suggest import repetitions
from .theme import Fragments

__all__ = ["Note", "Pitfall", "source", "pitfall", "SOURCES", "PITFALLS", "annotate", "explain",
           "MODES", "describe_event", "event_formatter", "Thresholds"]

MODES = ("off", "brief", "full")


@dataclass
class Note:
    """What one source has to say about a call."""

    source: str
    brief: str = ""                                  # a phrase for the compact line
    lines: list[str] = field(default_factory=list)   # detail for full mode and :explain
    style: str = "annotation"


@dataclass
class Pitfall:
    """A pitfall the call just walked into."""

    rule: str
    brief: str
    detail: str = ""


@dataclass
class Thresholds:
    """Sizes from which the pitfall rules speak up."""

    keyspace_scan: int = 1_000     # keys visited by a whole-keyspace command
    big_reply: int = 10_000        # elements returned at once
    big_delete: int = 10_000       # elements freed synchronously by DEL
    batch_run: int = 3             # single-key commands in a row that one call could do


THRESHOLDS = Thresholds()

Source = Callable[[Outcome], "Note | None"]
Rule = Callable[[Outcome, Sequence[Outcome]], "Pitfall | None"]

SOURCES: list[tuple[int, str, Source]] = []
PITFALLS: list[tuple[str, Rule]] = []


def source(name: str, order: int = 50) -> Callable[[Source], Source]:
    """Register an annotation source; lower ``order`` comes first on the line."""

    def register(fn: Source) -> Source:
        SOURCES[:] = [s for s in SOURCES if s[1] != name]
        SOURCES.append((order, name, fn))
        SOURCES.sort(key=lambda s: s[0])
        return fn

    return register


def pitfall(name: str) -> Callable[[Rule], Rule]:
    """Register a pitfall rule."""

    def register(fn: Rule) -> Rule:
        PITFALLS[:] = [p for p in PITFALLS if p[0] != name]
        PITFALLS.append((name, fn))
        return fn

    return register


# ------------------------------------------------------------------------------------------
# Small helpers

def _n(value: int) -> str:
    return f"{value:,}"


def _key(key: bytes) -> str:
    return quote_bulk(key)


def _bytes(amount: int) -> str:
    sign = "+" if amount > 0 else "-" if amount < 0 else "±"
    a = abs(amount)
    if a < 1024:
        return f"{sign}{a} B"
    if a < 1024 * 1024:
        return f"{sign}{a / 1024:.1f} KB"
    return f"{sign}{a / (1024 * 1024):.1f} MB"


def _name(spec: CommandSpec | None, argv: list[bytes]) -> str:
    if spec is not None:
        return spec.name
    return argv[0].decode("utf-8", "replace").upper() if argv else "?"


def big_o(spec: CommandSpec) -> str:
    """The short complexity of a command (the table's cost, else Redis's documented text)."""
    return spec.cost.big_o or spec.complexity or "?"


_LETTER = {"N": "n", "M": "m", "K": "k"}


def measures(outcome: Outcome) -> dict[str, int]:
    """The live values of N, M and K for the call, where they can be known."""
    rec = outcome.record
    if rec is None or rec.spec is None:
        return {}
    spec = rec.spec
    out: dict[str, int] = {}
    if rec.n is not None:
        out["N"] = rec.n
    if rec.m is not None:
        out["M"] = rec.m
    words = {"N": spec.cost.n, "M": spec.cost.m, "K": spec.cost.k}
    for letter, meaning in words.items():
        if letter in out or not meaning:
            continue
        value = _measure_from_words(meaning, outcome)
        if value is not None:
            out[letter] = value
    return out


def _measure_from_words(meaning: str, outcome: Outcome) -> int | None:
    """Fill in N or M from what the REPL saw, for the common meanings the table uses."""
    m = meaning.lower()
    if m == "keys given":
        return len(outcome.before)
    if m.endswith(" given") and outcome.record is not None and outcome.record.spec is not None:
        spec = outcome.record.spec
        skip = len(spec.name.split())
        words = [a.decode("utf-8", "surrogateescape") for a in outcome.argv[skip:]]
        return repetitions(spec, words)
    if "removed" in m or "deleted" in m or "freed" in m:
        gone = [info.size for key, info in outcome.before.items()
                if info is not None and outcome.after.get(key) is None
                and info.type != "string"]
        return sum(gone) if outcome.before else None
    return None


def _letters(text: str) -> list[str]:
    inside = text[text.find("("):] if "(" in text else ""
    return [c for c in "NMK" if re.search(rf"\b{c}\b", inside)]


# ------------------------------------------------------------------------------------------
# Event wording

# A formatter takes the event class it was registered for (hence Any here).
EventFormatter = Callable[[Any], "str | None"]
_EVENT_FORMATS: dict[str, EventFormatter] = {}


def event_formatter(kind: str) -> Callable[[EventFormatter], EventFormatter]:
    """Register how events of one kind read in annotations (None hides them)."""

    def register(fn: EventFormatter) -> EventFormatter:
        _EVENT_FORMATS[kind] = fn
        return fn

    return register


def describe_event(event: Event) -> str | None:
    fn = _EVENT_FORMATS.get(event.kind)
    if fn is not None:
        return fn(event)
    return event.describe()


@event_formatter("expired")
def _expired(e: KeyExpired) -> str:
    why = {"lazy": "found past its TTL when touched",
           "active": "removed by the active expiry cycle"}.get(e.how, e.how)
    return f"expired {_key(e.key)} ({why})"


@event_formatter("deleted")
def _deleted(e: KeyDeleted) -> None:
    return None  # the command's own reply already says it


@event_formatter("evicted")
def _evicted(e: KeyEvicted) -> str:
    extra = f", {e.reason}" if e.reason else ""
    extra += f", freed {_bytes(e.freed)[1:]}" if e.freed else ""
    return f"evicted {_key(e.key)} ({e.policy}{extra})"


@event_formatter("encoding")
def _encoding(e: EncodingChanged) -> str:
    why = f": {e.reason}" if e.reason else ""
    return f"{_key(e.key)} {e.old} -> {e.new}{why}"


@event_formatter("blocked")
def _blocked(e: ClientBlocked) -> None:
    return None  # the REPL reports blocking itself


@event_formatter("unblocked")
def _unblocked(e: ClientUnblocked) -> str:
    return f"client {e.client_id} unblocked ({e.reason})"


@event_formatter("published")
def _published(e: Published) -> str:
    n = e.receivers
    return f"message on {_key(e.channel)} reached {n} subscriber{'s' if n != 1 else ''}"


# ------------------------------------------------------------------------------------------
# Sources

@source("cost", order=10)
def cost_source(outcome: Outcome) -> Note | None:
    rec = outcome.record
    if rec is None or rec.spec is None:
        return None
    spec = rec.spec
    o = big_o(spec)
    values = measures(outcome)
    shown = [f"{c}={_n(values[c])}" for c in _letters(o) if c in values]
    parts = [o]
    if shown:
        parts.append(" ".join(shown))
    if rec.work:
        parts.append(f"{_n(rec.work)} step{'s' if rec.work != 1 else ''}")
    lines = [f"complexity: {o}" + (f"  (documented: {spec.complexity})"
                                   if spec.complexity and spec.complexity != o else "")]
    for letter, attr in _LETTER.items():
        meaning = getattr(spec.cost, attr)
        if meaning and letter in _letters(o):
            value = values.get(letter)
            lines.append(f"  {letter} = {meaning}" + (f": {_n(value)}" if value is not None
                                                       else " (not measured)"))
    if rec.work:
        lines.append(f"work: {_n(rec.work)} element{'s' if rec.work != 1 else ''} visited "
                     "or moved")
    lines.append(f"time: {_n(rec.duration_us)} µs in this Python engine (a real server is "
                 "much faster; compare costs, not times)")
    return Note("cost", " · ".join(parts), lines, "annotation.cost")


@source("memory", order=20)
def memory_source(outcome: Outcome) -> Note | None:
    rec = outcome.record
    if rec is None or rec.memory_delta is None:
        return None
    delta = rec.memory_delta
    lines = [f"memory: {_n(rec.memory_before or 0)} -> {_n(rec.memory_after or 0)} bytes "
             f"({_bytes(delta)})"]
    return Note("memory", _bytes(delta) if delta else "", lines)


def _all_events(rec: CallRecord) -> list[Event]:
    """Events of the call, then those of the commands it ran (EXEC, scripts)."""
    out = list(rec.events)
    seen = {id(e) for e in out}
    for inner in rec.inner:
        for e in _all_events(inner):
            if id(e) not in seen:
                seen.add(id(e))
                out.append(e)
    return out


@source("events", order=30)
def events_source(outcome: Outcome) -> Note | None:
    rec = outcome.record
    if rec is None or not rec.events:
        return None
    texts = [t for t in (describe_event(e) for e in _all_events(rec)) if t]
    if not texts:
        return None
    brief = "; ".join(texts[:3]) + (f"; +{len(texts) - 3} more" if len(texts) > 3 else "")
    return Note("events", brief, texts, "annotation.event")


@source("inner", order=40)
def inner_source(outcome: Outcome) -> Note | None:
    rec = outcome.record
    if rec is None or not rec.inner:
        return None
    names = [_name(r.spec, r.argv) for r in rec.inner]
    counts = Counter(names)
    seen: list[str] = []
    for n in names:
        if n not in seen:
            seen.append(n)
    listed = ", ".join(f"{n} ×{counts[n]}" if counts[n] > 1 else n for n in seen)
    verb = _name(rec.spec, rec.argv)
    lines = []
    for r in rec.inner:
        o = big_o(r.spec) if r.spec is not None else "?"
        args = " ".join(a.decode("utf-8", "replace") for a in r.argv)
        extra = f" · N={_n(r.n)}" if r.n is not None and "N" in _letters(o) else ""
        err = " -> error" if isinstance(r.reply, ErrorReply) else ""
        lines.append(f"  {args}   {o}{extra}{err}")
    return Note("inner", f"{verb} ran {listed}", [f"{verb} ran:"] + lines)


def _info(info: KeyInfo | None) -> str:
    if info is None:
        return "absent"
    ttl = "no TTL" if info.ttl_ms is None else f"TTL {info.ttl_ms / 1000:g}s"
    unit = ("byte" if info.type == "string" else "element") + ("s" if info.size != 1 else "")
    return f"{info.type} ({info.encoding}), {_n(info.size)} {unit}, {ttl}"


@source("keys", order=50)
def keys_source(outcome: Outcome) -> Note | None:
    """Key changes the engine's events do not already report (encoding, created, TTL)."""
    if outcome.record is None or not outcome.before:
        return None
    reported = {getattr(e, "key", None) for e in outcome.record.events
                if e.kind == "encoding"}
    brief, lines = [], []
    for key, before in outcome.before.items():
        after = outcome.after.get(key)
        if before is None and after is None:
            continue
        lines.append(f"{_key(key)}: {_info(before)} -> {_info(after)}")
        if (before is not None and after is not None and before.encoding != after.encoding
                and before.type == after.type and key not in reported):
            brief.append(f"{_key(key)} {before.encoding} -> {after.encoding}")
    if not lines:
        return None
    return Note("keys", "; ".join(brief), lines, "annotation.event")


@source("blocked", order=60)
def blocked_source(outcome: Outcome) -> Note | None:
    if not outcome.blocked:
        return None
    keys = ", ".join(_key(k) for k in outcome.before) or "its keys"
    return Note("blocked", f"client {outcome.client} is blocked, waiting on {keys}",
                [f"client {outcome.client} waits until another client writes to {keys} "
                 "or its timeout passes"], "annotation.event")


# ------------------------------------------------------------------------------------------
# Pitfall rules

@pitfall("keyspace-scan")
def keyspace_scan(outcome: Outcome, history: Sequence[Outcome]) -> Pitfall | None:
    rec = outcome.record
    if rec is None or rec.spec is None or rec.spec.cost.n_from != "db" or rec.n is None:
        return None
    if rec.n < THRESHOLDS.keyspace_scan:
        return None
    name = rec.spec.name
    return Pitfall("keyspace-scan",
                   f"{name} scanned {_n(rec.n)} keys: this blocks every client; use SCAN",
                   f"{name} visits every key of the database in one go, and Redis runs one "
                   "command at a time, so every other client waits until it finishes. SCAN "
                   "walks the keyspace a few keys per call with a cursor.")


_SCAN_FOR = {"hash": "HSCAN", "set": "SSCAN", "zset": "ZSCAN", "list": "LRANGE in pages"}


@pitfall("big-reply")
def big_reply(outcome: Outcome, history: Sequence[Outcome]) -> Pitfall | None:
    rec = outcome.record
    if rec is None or rec.spec is None or rec.spec.cost.n_from == "db":
        return None
    reply = rec.reply
    if not isinstance(reply, list) or len(reply) < THRESHOLDS.big_reply:
        return None
    kinds = {info.type for info in outcome.before.values() if info is not None}
    better = ", ".join(sorted({_SCAN_FOR[k] for k in kinds if k in _SCAN_FOR})) or "a cursor"
    return Pitfall("big-reply",
                   f"one reply of {_n(len(reply))} elements: iterate with {better} instead",
                   "Building and sending a huge reply keeps the server busy and fills the "
                   "client's output buffer; fetch big collections in pages.")


@pitfall("big-delete")
def big_delete(outcome: Outcome, history: Sequence[Outcome]) -> Pitfall | None:
    rec = outcome.record
    if rec is None or rec.spec is None or rec.spec.name != "DEL":
        return None
    huge = [(k, i) for k, i in outcome.before.items()
            if i is not None and i.type != "string" and i.size >= THRESHOLDS.big_delete
            and outcome.after.get(k) is None]
    if not huge:
        return None
    key, info = max(huge, key=lambda ki: ki[1].size)
    return Pitfall("big-delete",
                   f"DEL freed a {_n(info.size)}-element {info.type} {_key(key)} while every "
                   "client waited: UNLINK frees it in the background",
                   "DEL releases every element before replying. UNLINK removes the key at "
                   "once and frees the memory in a background thread (lazyfree).")


_CACHE_NAME = re.compile(rb"(^|[:._-])(cache|cached|session|sess|tmp|temp)([:._-]|$)",
                         re.IGNORECASE)


@pitfall("cache-without-ttl")
def cache_without_ttl(outcome: Outcome, history: Sequence[Outcome]) -> Pitfall | None:
    rec = outcome.record
    if rec is None or rec.spec is None or not rec.spec.write:
        return None
    for key, info in outcome.after.items():
        if info is not None and info.ttl_ms is None and _CACHE_NAME.search(key) \
                and outcome.before.get(key) is None:
            return Pitfall("cache-without-ttl",
                           f"{_key(key)} looks like a cache entry but has no TTL: "
                           "set one (SET ... EX, or EXPIRE)",
                           "A cache entry without an expire time stays forever: stale data "
                           "is served and memory only grows until maxmemory evicts or "
                           "refuses writes.")
    return None


@pitfall("ttl-cleared")
def ttl_cleared(outcome: Outcome, history: Sequence[Outcome]) -> Pitfall | None:
    rec = outcome.record
    if rec is None or rec.spec is None or rec.spec.name in ("PERSIST",):
        return None
    for key, before in outcome.before.items():
        after = outcome.after.get(key)
        if before is not None and before.ttl_ms is not None and after is not None \
                and after.ttl_ms is None:
            hint = " (add KEEPTTL to keep it)" if rec.spec.name == "SET" else ""
            return Pitfall("ttl-cleared",
                           f"{rec.spec.name} removed the TTL of {_key(key)}{hint}",
                           "Overwriting a key's value with SET (and commands like it) "
                           "discards its expire time; the key now lives forever.")
    return None


_BATCH = {"GET": "MGET", "SET": "MSET", "HGET": "HMGET", "SISMEMBER": "SMISMEMBER",
          "EXISTS": "EXISTS with several keys", "DEL": "DEL with several keys",
          "UNLINK": "UNLINK with several keys", "HSET": "HSET with several fields",
          "SADD": "SADD with several members", "RPUSH": "RPUSH with several values",
          "LPUSH": "LPUSH with several values", "ZADD": "ZADD with several members"}


@pitfall("batch")
def batch(outcome: Outcome, history: Sequence[Outcome]) -> Pitfall | None:
    rec = outcome.record
    if rec is None or rec.spec is None or isinstance(rec.reply, ErrorReply):
        return None
    name = rec.spec.name
    run = 0
    for past in reversed(history):
        prec = past.record
        if prec is None or prec.spec is None or prec.spec.name != name \
                or past.client != outcome.client:
            break
        run += 1
    run += 1  # this call
    if run != THRESHOLDS.batch_run:
        return None
    better = _BATCH.get(name, "a pipeline (or MULTI/EXEC)")
    return Pitfall("batch",
                   f"{run} {name} calls in a row: {better} does them in one round trip",
                   "Every command is a network round trip. Commands that take several "
                   "keys, or a pipeline, send many operations at once.")


# ------------------------------------------------------------------------------------------
# Putting the line together

def notes(outcome: Outcome) -> list[Note]:
    out = []
    for _, _, fn in SOURCES:
        try:
            note = fn(outcome)
        except Exception:  # a faulty source must never hide the reply
            note = None
        if note is not None:
            out.append(note)
    return out


def pitfalls(outcome: Outcome, history: Sequence[Outcome]) -> list[Pitfall]:
    out = []
    for _, fn in PITFALLS:
        try:
            w = fn(outcome, history)
        except Exception:
            w = None
        if w is not None:
            out.append(w)
    return out


def annotate(outcome: Outcome, history: Sequence[Outcome], mode: str = "brief") -> Fragments:
    """Fragments to print under a reply (empty for ``off`` or when there is nothing to say).

    ``history`` holds the calls before this one, oldest first.
    """
    if mode == "off":
        return []
    if outcome.record is None and not outcome.blocked:
        if outcome.reply == QUEUED:
            session_queue = outcome.queued
            return [("annotation", f"  ↳ queued ({session_queue} waiting): runs when EXEC "
                                   "is called\n")]
        return []
    found = notes(outcome)
    warns = pitfalls(outcome, history)
    frags: Fragments = []
    if mode == "brief":
        phrases = [(n.style, n.brief) for n in found if n.brief]
        if phrases:
            frags.append(("annotation", "  ↳ "))
            for i, (style, text) in enumerate(phrases):
                if i:
                    frags.append(("annotation", " · "))
                frags.append((style, text))
            frags.append(("", "\n"))
        for w in warns:
            frags.append(("annotation.warning", f"  ! {w.brief}\n"))
        return frags
    return _full(outcome, found, warns)


def _full(outcome: Outcome, found: list[Note], warns: list[Pitfall]) -> Fragments:
    frags: Fragments = []
    for n in found:
        for line in n.lines:
            frags.append((n.style if n.source == "events" else "annotation.detail",
                          f"  {line}\n"))
    for w in warns:
        frags.append(("annotation.warning", f"  ! {w.brief}\n"))
        if w.detail:
            frags.append(("annotation.detail", f"    {w.detail}\n"))
    return frags


def explain(outcome: Outcome, history: Sequence[Outcome]) -> Fragments:
    """Everything known about a call: the command's card, every note and every warning."""
    rec = outcome.record
    frags: Fragments = []
    args = " ".join(a.decode("utf-8", "replace") for a in outcome.argv)
    frags.append(("annotation.title", f"{args}\n"))
    if rec is None:
        if outcome.blocked:
            frags.extend(_full(outcome, notes(outcome), []))
        else:
            frags.append(("annotation.detail",
                          "  the command did not run (it was rejected or queued), so there is "
                          "no cost to show\n"))
        return frags
    if rec.spec is not None and rec.spec.summary:
        frags.append(("annotation.detail", f"  {rec.spec.summary}\n"))
    frags.extend(_full(outcome, notes(outcome), pitfalls(outcome, history)))
    return frags
