"""Tab completion: the suggester says what kind of word may come, this module lists candidates.

As in pgcli, each expected kind has its own matcher: command names (with our summary beside
them), subcommands, the tokens valid at the cursor, live key names where a key goes (read
from the keyspace without touching it), configuration parameters, help topics, client names
after ``@`` and the meta-commands after ``:``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from ...engine.commands import TABLE
from ..docs import help_topics
from ..render import quote_bulk
from .meta import META, find_meta
from .suggest import Expect, Suggestion, suggest
from .words import scan

if TYPE_CHECKING:
    from .shell import Shell

__all__ = ["ReplCompleter", "candidates"]

KEY_LIMIT = 100
_SAFE = frozenset(range(0x21, 0x7F)) - {ord('"'), ord("'"), ord("\\")}


def _quote_key(key: bytes) -> str:
    """A key as it must be typed: bare when it can be, else in double quotes."""
    if key and all(b in _SAFE for b in key):
        return key.decode("ascii")
    return quote_bulk(key)


def _same_case(word: str, typed: str) -> str:
    """Keep the case the user started typing in (``se`` -> ``set``)."""
    return word.lower() if typed and typed[0].islower() else word


def _summary(name: str) -> str:
    spec = TABLE.get(name)
    if spec is None:
        return ""
    text = spec.summary or spec.group
    return text if len(text) <= 60 else text[:57] + "..."


Candidate = tuple[str, str, str]  # (text to insert, what to display, meta description)


def _matcher_command(shell: "Shell | None", e: Expect, prefix: str,
                     s: Suggestion) -> Iterable[Candidate]:
    up = prefix.upper()
    for name in sorted(TABLE.commands):
        if name.startswith(up):
            yield _same_case(name, prefix), name, _summary(name)
    if not s.offset:
        for extra in ("HELP",):
            if extra.startswith(up):
                yield _same_case(extra, prefix), extra, "help on a command or @group"


def _matcher_subcommand(shell: "Shell | None", e: Expect, prefix: str,
                        s: Suggestion) -> Iterable[Candidate]:
    if e.text.upper().startswith(prefix.upper()) and s.spec is not None:
        full = f"{s.spec.name} {e.text}"
        yield _same_case(e.text, prefix), e.text, _summary(full)


def _matcher_token(shell: "Shell | None", e: Expect, prefix: str,
                   s: Suggestion) -> Iterable[Candidate]:
    if e.text.upper().startswith(prefix.upper()):
        yield _same_case(e.text, prefix), e.text, ""


def _matcher_arg(shell: "Shell | None", e: Expect, prefix: str,
                 s: Suggestion) -> Iterable[Candidate]:
    if e.type == "key" and shell is not None:
        keys = shell.backend.key_names(shell.client, prefix.encode("utf-8", "surrogateescape"),
                                       KEY_LIMIT)
        for key in keys:
            info = shell.backend.key_info(shell.client, key)
            yield _quote_key(key), _quote_key(key), info.type if info else "key"
        return
    spec = s.spec
    if spec is not None and spec.name in ("CONFIG GET", "CONFIG SET") \
            and e.text == "parameter" and shell is not None:
        for name in shell.backend.config_names():
            if name.startswith(prefix.lower()):
                yield name, name, "configuration parameter"


def _matcher_help(shell: "Shell | None", e: Expect, prefix: str,
                  s: Suggestion) -> Iterable[Candidate]:
    low = prefix.lower()
    for topic in help_topics():
        if topic.lower().startswith(low):
            text = topic if topic.startswith("@") else _same_case(topic, prefix)
            yield text, topic, _summary(topic) if not topic.startswith("@") else "group"


MATCHERS: dict[str, Callable[["Shell | None", Expect, str, Suggestion], Iterable[Candidate]]] = {
    "command": _matcher_command,
    "subcommand": _matcher_subcommand,
    "token": _matcher_token,
    "arg": _matcher_arg,
    "help-topic": _matcher_help,
}

# Tokens first, then keys and values, then commands: what is most likely wanted at the top.
_ORDER = {"token": 0, "subcommand": 0, "arg": 1, "help-topic": 2, "command": 3}


def _meta_candidates(shell: "Shell | None", text: str) -> list[tuple[int, Candidate]]:
    sc = scan(text)
    words = sc.words
    if len(sc.done) == 0:
        typed = words[0].value if words else ":"
        name = typed.lstrip(":").lower()
        return [(-len(typed), (f":{m.name}", f":{m.name}", m.summary))
                for m in sorted(META.values(), key=lambda m: m.name)
                if m.name.startswith(name)]
    cmd = find_meta(sc.done[0].value)
    if cmd is None or cmd.complete is None or shell is None:
        return []
    index = len(sc.done) - 1
    cur = sc.current
    prefix = cur.value if cur else ""
    start = -len(cur.value) if cur else 0
    return [(start, (c, c, "")) for c in cmd.complete(shell, index, prefix)]


def candidates(text: str, shell: "Shell | None" = None) -> list[tuple[int, Candidate]]:
    """Completions for the text before the cursor: (start offset, candidate) pairs.

    The start offset is negative: how many characters before the cursor get replaced.
    """
    if text.lstrip().startswith(":"):
        return _meta_candidates(shell, text.lstrip())
    s = suggest(text)
    cur = s.scan.current
    prefix = cur.value if cur is not None else ""
    start = (cur.start - len(text)) if cur is not None else 0
    if cur is not None and cur.value.startswith("@") and cur is s.scan.words[0]:
        if shell is None:
            return []
        return [(start, (f"@{n}", f"@{n}", "client")) for n in shell.backend.client_names()
                if n.startswith(prefix[1:])]
    if cur is not None and cur.value.startswith(":") and cur is s.scan.words[0]:
        return _meta_candidates(shell, text.lstrip())
    out: list[tuple[int, int, Candidate]] = []
    seen: set[str] = set()
    for e in s.expected:
        for cand in MATCHERS.get(e.kind, lambda *a: ())(shell, e, prefix, s):
            if cand[0] in seen:
                continue
            seen.add(cand[0])
            out.append((_ORDER.get(e.kind, 9), start, cand))
    out.sort(key=lambda t: (t[0], t[2][1]))
    return [(start, cand) for _, start, cand in out]


class ReplCompleter(Completer):
    """prompt-toolkit completer over :func:`candidates`."""

    def __init__(self, shell: "Shell") -> None:
        self.shell = shell

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        if not complete_event.completion_requested and (not text or text[-1].isspace()):
            # While typing, offer candidates once a word is started; Tab offers them anywhere.
            return
        try:
            found = candidates(text, self.shell)
        except Exception:  # no completions rather than a broken prompt
            return
        for start, (insert, display, meta) in found:
            yield Completion(insert, start_position=start, display=display, display_meta=meta)
