"""A REPL shell on a fresh engine with a frozen clock, printing into a list."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from redislab.ui.batch import make_backend
from redislab.ui.repl.shell import Shell
from redislab.ui.startup import Options
from redislab.ui.theme import Fragments, plain


class Transcript:
    """What the shell printed, as plain text and as styled fragments."""

    def __init__(self) -> None:
        self.fragments: Fragments = []

    def __call__(self, fragments: Fragments) -> None:
        self.fragments.extend(fragments)

    def take(self) -> str:
        text = plain(self.fragments)
        self.fragments.clear()
        return text


@pytest.fixture
def transcript() -> Transcript:
    return Transcript()


@pytest.fixture
def shell(transcript: Transcript, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shell]:
    monkeypatch.setenv("REDISLAB_HISTFILE", "")
    backend = make_backend(Options(manual_clock=True))

    def no_sleep(seconds: float) -> None:
        raise AssertionError("tests never wait for real time")

    yield Shell(backend, transcript, sleep=no_sleep)


@pytest.fixture
def say(shell: Shell, transcript: Transcript) -> Callable[[str], str]:
    """``say("GET k")`` handles one line and returns what was printed."""

    def _say(line: str) -> str:
        transcript.take()
        shell.handle(line)
        return transcript.take()

    return _say
