"""What may come at the cursor: a pure function of the text typed so far and the command table.

``suggest(text)`` recognises the command (and subcommand), matches the finished words against
the command's argument tree (``spec.arguments``, Redis's own grammar) and returns:

* ``hint``: the syntax still to type, as redis-cli 7.2's hints show it (``SET k v EX `` ->
  ``seconds [NX|XX] [GET]``), or ``""`` once the words stop fitting the grammar;
* ``expected``: the kinds of word that may come next (a token such as ``NX``, a key, a value
  named ``seconds``), which the completer turns into candidates;
* ``roles``: what each word turned out to be (command, token, key, number ...), for the lexer.

Matching follows redis-cli's rules: a word still being typed is not matched; optional
arguments that sit next to each other may come in any order; a repeated argument matches as
many times as the words allow; an integer or double that does not parse ends the match.
Nothing here imports prompt-toolkit, so it is tested with plain strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ...engine.commands import TABLE
from ...engine.commands.spec import CommandSpec, CommandTable
from .words import Scan, scan

__all__ = ["Arg", "Expect", "Suggestion", "grammar", "syntax", "suggest", "VALUE_ROLES"]

# Word roles the lexer colours.
VALUE_ROLES = {"key": "key", "integer": "number", "double": "number", "unix-time": "number",
               "pattern": "pattern", "string": "string"}

_INT = re.compile(r"\s*[+-]?\d")
_FLOAT = re.compile(r"\s*[+-]?(\d|\.\d|inf|nan)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Arg:
    """One node of a command's argument tree."""

    name: str
    kind: str                 # key string integer double pattern unix-time pure-token oneof block
    token: str | None = None
    optional: bool = False
    multiple: bool = False
    multiple_token: bool = False
    children: tuple["Arg", ...] = ()


def _arg(d: dict[str, Any]) -> Arg:
    return Arg(
        name=d["name"], kind=d["type"], token=d.get("token"),
        optional=bool(d.get("optional")), multiple=bool(d.get("multiple")),
        multiple_token=bool(d.get("multiple_token")),
        children=tuple(_arg(c) for c in d.get("arguments", ())),
    )


@lru_cache(maxsize=None)
def grammar(spec: CommandSpec) -> tuple[Arg, ...]:
    """The argument tree of a command, built once per command."""
    return tuple(_arg(d) for d in spec.arguments)


# ------------------------------------------------------------------------------------------
# Matching state

class _State:
    """How far the words got into one argument node."""

    __slots__ = ("hits", "token_ok", "value_ok", "complete", "rep_done", "reps", "kids")

    def __init__(self, arg: Arg) -> None:
        self.kids = [_State(c) for c in arg.children]
        self.reset()

    def reset(self) -> None:
        self.hits = 0          # words consumed (0: not started)
        self.token_ok = False  # the leading token was typed
        self.value_ok = False  # the value itself was typed
        self.complete = False  # nothing of this argument is left to type
        self.rep_done = False  # a repeated argument finished its last repetition
        self.reps = 0          # repetitions matched so far (kept across resets)
        for k in self.kids:
            k.reset()


class _Matcher:
    """Matches words against argument nodes, recording each word's role."""

    def __init__(self, words: list[str], base: int) -> None:
        self.words = words
        self.base = base
        self.roles: dict[int, str] = {}

    def seq(self, i: int, args: tuple[Arg, ...], states: list[_State]) -> int:
        """Match ``args`` in order from word ``i``; returns words consumed (0: failure)."""
        pos, k, n = i, 0, len(self.words)
        while pos < n and k < len(args):
            if args[k].optional:
                j = k
                while j < len(args) and args[j].optional:
                    j += 1
                used = self.any_order(pos, args[k:j], states[k:j])
                k = j
            else:
                used = self.one(pos, args[k], states[k])
                k += 1
                if used == 0:
                    return 0
            pos += used
        return pos - i

    def any_order(self, i: int, args: tuple[Arg, ...], states: list[_State]) -> int:
        """Match a run of optional arguments, which may come in any order."""
        pos, n, last = i, len(self.words), None
        while pos < n:
            used = 0
            for arg, st in zip(args, states):
                if st.hits:
                    continue
                used = self.one(pos, arg, st)
                if used:
                    # Starting another optional closes the previous one (no half hints).
                    if last is not None:
                        last.complete = True
                    last = st
                    break
            if not used:
                break
            pos += used
        return pos - i

    def one(self, i: int, arg: Arg, st: _State) -> int:
        """Match ``arg``, repeatedly if it is a repeated argument."""
        used = self.once(i, arg, st)
        if not arg.multiple:
            return used
        total = used
        n = len(self.words)
        reps = 1 if st.complete else 0
        while st.complete and i + total < n:
            st.reset()
            if arg.token is not None and not arg.multiple_token:
                # The token comes once, before the first repetition only.
                more = self.body(i + total, arg, st)
                if st.hits:
                    st.token_ok = True
            else:
                more = self.once(i + total, arg, st)
            total += more
            if st.complete:
                reps += 1
        st.reps = reps
        st.rep_done = st.complete
        st.complete = False  # another repetition may always follow
        return total

    def once(self, i: int, arg: Arg, st: _State) -> int:
        if arg.token is not None:
            if i >= len(self.words) or self.words[i].casefold() != arg.token.casefold():
                return 0
            st.token_ok = True
            st.hits = 1
            self.roles[self.base + i] = "token"
            if arg.kind == "pure-token":
                st.complete = True
                return 1
            if i + 1 >= len(self.words):
                return 1
            i += 1
        if not self.body(i, arg, st):
            return 0
        return st.hits

    def body(self, i: int, arg: Arg, st: _State) -> int:
        """Match what follows the token (or the whole argument when it has none)."""
        kind = arg.kind
        if kind == "block":
            st.hits += self.seq(i, arg.children, st.kids)
            st.complete = all(k.complete for k in st.kids)
        elif kind == "oneof":
            for child, kst in zip(arg.children, st.kids):
                if self.one(i, child, kst):
                    st.hits += kst.hits
                    st.complete = kst.complete
                    break
        elif i >= len(self.words):
            return st.hits
        elif kind in ("integer", "unix-time", "double"):
            pattern = _FLOAT if kind == "double" else _INT
            if pattern.match(self.words[i]):
                st.hits += 1
                st.value_ok = st.complete = True
                self.roles[self.base + i] = "number"
            else:
                st.hits = 0
                st.value_ok = False
        else:
            st.hits += 1
            st.value_ok = st.complete = True
            self.roles[self.base + i] = VALUE_ROLES.get(kind, "string")
        return st.hits


# ------------------------------------------------------------------------------------------
# The remaining-syntax hint

def _hint_seq(args: tuple[Arg, ...], states: list[_State], sep: str) -> str:
    parts: list[str] = []
    k = 0
    while k < len(args):
        if not args[k].optional:
            parts.append(_hint_one(args[k], states[k]))
            k += 1
            continue
        j = k
        while j < len(args) and args[j].optional:
            j += 1
        # An optional argument the user has started comes first: it is what they are doing.
        started = None
        for g in range(k, j):
            if states[g].hits and not states[g].complete:
                parts.append(_hint_one(args[g], states[g]))
                started = g
        # Once the required argument after the run has begun, the run is over.
        if j == len(args) or not states[j].hits:
            for g in range(k, j):
                if g != started:
                    parts.append(_hint_one(args[g], states[g]))
        k = j
    return sep.join(p for p in parts if p)


def _show(text: str) -> str:
    return text if text else '""'


def _hint_one(arg: Arg, st: _State) -> str:
    if st.complete:
        return ""
    out = []
    brackets = arg.optional and not st.hits
    if arg.token is not None and not st.token_ok:
        out.append(_show(arg.token) + ("" if arg.kind == "pure-token" else " "))
    if arg.kind == "oneof":
        if not st.hits:
            out.append(_hint_seq_all(arg.children, st.kids, "|"))
        else:
            out.extend(_hint_one(c, k) for c, k in zip(arg.children, st.kids) if k.hits)
    elif arg.kind == "block":
        out.append(_hint_seq(arg.children, st.kids, " "))
    elif arg.kind != "pure-token" and not st.value_ok:
        out.append(arg.name)
    text = "".join(out)
    if arg.multiple:
        text = (text + " " if text else "") + _repeat(arg)
    if brackets:
        text = f"[{text}]"
    return text


def _hint_seq_all(args: tuple[Arg, ...], states: list[_State], sep: str) -> str:
    return _hint_seq(args, states, sep)


def _repeat(arg: Arg) -> str:
    """The ``[token value ...]`` tail that says an argument may repeat."""
    fresh = _State(arg)
    body = ""
    if arg.multiple_token and arg.token is not None:
        body = _show(arg.token) + ("" if arg.kind == "pure-token" else " ")
    if arg.kind == "oneof":
        body += _hint_seq(arg.children, fresh.kids, "|")
    elif arg.kind == "block":
        body += _hint_seq(arg.children, fresh.kids, " ")
    elif arg.kind != "pure-token":
        body += arg.name
    return f"[{body} ...]"


def syntax(spec: CommandSpec) -> str:
    """The full argument syntax of a command: ``key value [NX|XX] [GET] ...``."""
    args = grammar(spec)
    return _hint_seq(args, [_State(a) for a in args], " ")


# ------------------------------------------------------------------------------------------
# What may come next

@dataclass(frozen=True, slots=True)
class Expect:
    """One kind of word that may come at the cursor."""

    kind: str          # command, subcommand, token, arg, help-topic
    text: str          # the token, command or argument name
    type: str = ""     # for kind "arg": key, string, integer, double, pattern, unix-time


def _firsts(arg: Arg) -> set[Expect]:
    if arg.token is not None:
        return {Expect("token", arg.token)}
    return _body_firsts(arg)


def _body_firsts(arg: Arg) -> set[Expect]:
    if arg.kind == "oneof":
        out: set[Expect] = set()
        for c in arg.children:
            out |= _firsts(c)
        return out
    if arg.kind == "block":
        exp, _ = _seq_next(arg.children, [_State(c) for c in arg.children])
        return exp
    return {Expect("arg", arg.name, arg.kind)}


def _continue(arg: Arg, st: _State) -> tuple[set[Expect], bool]:
    """What may follow inside an argument already started, and whether it may end here."""
    if st.complete or (arg.multiple and st.rep_done):
        if not arg.multiple:
            return set(), True
        if arg.token is not None and not arg.multiple_token:
            return _body_firsts(arg), True
        return _firsts(arg), True
    if arg.kind == "oneof":
        for c, k in zip(arg.children, st.kids):
            if k.hits:
                return _continue(c, k)
        return _body_firsts(arg), False
    if arg.kind == "block":
        if not any(k.hits for k in st.kids):
            return _body_firsts(arg), False
        return _seq_next(arg.children, st.kids)
    return {Expect("arg", arg.name, arg.kind)}, False


def _seq_next(args: tuple[Arg, ...], states: list[_State]) -> tuple[set[Expect], bool]:
    started = [k for k in range(len(args)) if states[k].hits]
    k = started[-1] if started else 0
    if started and args[k].optional:
        while k > 0 and args[k - 1].optional:
            k -= 1
    out: set[Expect] = set()
    while k < len(args):
        if args[k].optional:
            j = k
            while j < len(args) and args[j].optional:
                j += 1
            for g in range(k, j):
                if states[g].hits:
                    exp, can_end = _continue(args[g], states[g])
                    if not can_end:
                        return exp, False
                    out |= exp
                else:
                    out |= _firsts(args[g])
            k = j
            continue
        if states[k].hits:
            exp, can_end = _continue(args[k], states[k])
        else:
            exp, can_end = _firsts(args[k]), False
        out |= exp
        if not can_end:
            return out, False
        k += 1
    return out, True


# ------------------------------------------------------------------------------------------
# The suggestion

@dataclass(frozen=True, slots=True)
class Suggestion:
    """Everything the completer, hint, lexer and toolbar need to know about the input."""

    scan: Scan
    spec: CommandSpec | None = None       # the command (or subcommand) recognised
    command_words: int = 0                # words naming it (2 for "CONFIG GET")
    offset: int = 0                       # words before the command (an "@client" prefix)
    hint: str = ""
    expected: frozenset[Expect] = frozenset()
    roles: dict[int, str] = field(default_factory=dict)
    matched: bool = True                  # the finished words fit the grammar
    complete: bool = False                # the words typed so far form a whole command
    help: bool = False                    # a client-side HELP line

    @property
    def current(self) -> str:
        w = self.scan.current
        return w.value if w is not None else ""


def _is_help(word: str) -> bool:
    return word.lower() in ("help", "?")


def suggest(text: str, table: CommandTable = TABLE) -> Suggestion:
    """Analyse the text before the cursor (see the module docstring)."""
    sc = scan(text)
    words = [w.value for w in sc.words]
    done = len(sc.done)
    offset = 0
    roles: dict[int, str] = {}
    if words and words[0].startswith("@") and len(words[0]) > 1:
        # "@name CMD ..." runs one command as another client.
        roles[0] = "client"
        if done == 0:
            return Suggestion(sc, roles=roles, matched=True)
        offset = 1
    if done <= offset:
        return Suggestion(sc, offset=offset, roles=roles,
                          expected=frozenset({Expect("command", "")}))
    first = words[offset]
    if _is_help(first):
        roles[offset] = "command"
        if done == offset + 1:
            exp = frozenset({Expect("help-topic", "")})
            return Suggestion(sc, offset=offset, roles=roles, expected=exp, help=True,
                              hint="[command|@group]", complete=True)
        return Suggestion(sc, offset=offset, roles=roles, help=True, complete=True)
    spec = table.get(first) if " " not in first and "|" not in first else None
    if spec is None:
        roles[offset] = "unknown"
        return Suggestion(sc, offset=offset, roles=roles, matched=False)
    roles[offset] = "command"
    cmdlen = 1
    if spec.subcommands:
        if done == offset + 1:
            subs = frozenset(Expect("subcommand", s) for s in spec.subcommands)
            hint = "|".join(sorted(spec.subcommands))
            return Suggestion(sc, spec=spec, command_words=1, offset=offset, hint=hint,
                              expected=subs, roles=roles)
        sub = spec.subcommands.get(words[offset + 1].upper())
        if sub is None:
            roles[offset + 1] = "unknown"
            return Suggestion(sc, spec=spec, command_words=1, offset=offset, roles=roles,
                              matched=False)
        roles[offset + 1] = "command"
        spec, cmdlen = sub, 2
    args = grammar(spec)
    states = [_State(a) for a in args]
    start = offset + cmdlen
    matcher = _Matcher(words[start:done], start)
    used = matcher.seq(0, args, states)
    roles.update(matcher.roles)
    typed = done - start
    if used != typed:
        return Suggestion(sc, spec=spec, command_words=cmdlen, offset=offset, roles=roles,
                          matched=False)
    expected, can_end = _seq_next(args, states)
    hint = _hint_seq(args, states, " ")
    return Suggestion(sc, spec=spec, command_words=cmdlen, offset=offset, hint=hint,
                      expected=frozenset(expected), roles=roles, matched=True,
                      complete=can_end)


def repetitions(spec: CommandSpec, args: list[str]) -> int | None:
    """How many times the repeated argument of a command was given (``ZADD k 1 a 2 b`` -> 2).

    ``args`` are the words after the command name. None when the words do not fit the
    grammar or the command has no repeated argument.
    """
    grammar_ = grammar(spec)
    states = [_State(a) for a in grammar_]
    matcher = _Matcher(args, 0)
    if matcher.seq(0, grammar_, states) != len(args):
        return None
    found = [st.reps for a, st in zip(grammar_, states) if a.multiple and st.hits]
    return found[-1] if found else None


def classify(text: str, table: CommandTable = TABLE) -> tuple[Scan, dict[int, str]]:
    """The role of every word of a line, as if it were finished (for colouring)."""
    full = suggest(text + " " if text and text[-1] not in " \t\n" else text, table)
    return scan(text), full.roles


__all__ += ["classify", "repetitions"]
