"""``redislab learn ID --url URL``: the lesson screen with the learner's commands on a server.

The shell is the lesson screen's own, with the REPL's real-server backend in place of the
embedded one. Each step's setup and the checks go through the lesson run's server target
(learn/remote.py); steps that need the embedded engine say so and are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..learn.progress import Progress
from ..learn.remote import ServerError, ServerTarget, server_lesson_run
from .lesson_screen import LessonShell, _prompt_loop, find_lesson
from .remote import RemoteBackend, RemoteError
from .startup import StartupError
from .theme import Fragments

__all__ = ["ServerLessonShell", "run_lesson_on_server"]


class ServerLessonShell(LessonShell):
    """The lesson shell sending the learner's commands to the server of ``url``."""

    def __init__(self, run: Any, write: Callable[[Fragments], None], url: str,
                 **kwargs: Any) -> None:
        super().__init__(run, write, **kwargs)
        self.backend = RemoteBackend(url, db=run.target.db)  # type: ignore[assignment]

    def _rebind(self) -> None:
        # The server stays the same from step to step; the step's setup already ran there.
        self.history.clear()
        self.client = "default"


def run_lesson_on_server(ref: str, url: str, *, base: str | Path | None = None,
                         progress: Progress | None = None, step: int | None = None,
                         lines: list[str] | None = None,
                         write: Callable[[Fragments], None] | None = None) -> int:
    """Run a lesson on a real server (prompt, or ``lines`` without one); an exit status."""
    lesson = find_lesson(ref, base)
    try:
        target = ServerTarget(url)
    except ServerError as e:
        raise StartupError(str(e)) from None
    progress = progress or Progress()
    try:
        run = server_lesson_run(lesson, target, progress=progress,
                                start=None if step is None else step - 1)
        if write is None:
            from prompt_toolkit import print_formatted_text

            from .repl.app import to_pt
            from .theme import prompt_style

            style = prompt_style()

            def write(fragments: Fragments) -> None:  # type: ignore[misc]
                print_formatted_text(to_pt(fragments), style=style, end="",
                                     include_default_pygments_style=False)

        try:
            shell = ServerLessonShell(run, write, url, interactive=lines is None)
        except RemoteError as e:
            raise StartupError(str(e)) from None
        shell.info(f"on {url}: each step empties database {target.db} there and puts back "
                   "any parameter a step changed; steps that need the embedded engine are "
                   "skipped")
        shell.show_step()
        if lines is not None:
            for line in lines:
                if not shell.handle(line):
                    break
            return 0
        return _prompt_loop(shell)
    finally:
        target.close()
