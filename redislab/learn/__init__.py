"""Lessons: the format, the checks, the graded simulations, the runner and progress.

Layout:

* ``model``: Lesson, Step, Mistake, Verdict (the schema of lessons/README.md).
* ``loader``: finds the lessons folder and reads ``NNN-slug.toml`` files; errors name the
  file, line and field.
* ``checks``: the check kinds (reply, key, keyspace, used, simulation), each once.
* ``scenarios``: graded simulations (locking, rate limiting, stampedes ...) on ``sim``.
* ``solutions`` and ``worker``: the learner's Python, Lua or command lines, Python run in a
  child process so nothing it does can hurt the REPL.
* ``runner``: :class:`LessonRun`, a lesson without a terminal (submit, check, hint ...).
* ``progress``: the learner's progress file (export, import, reset).
* ``validate``: ``redislab dev check``.
* ``features``: which engine features a step needs and whether they exist yet.

Nothing here imports a terminal library: the REPL's lesson screen (``ui/lesson_screen.py``)
shows what these modules compute.
"""

from __future__ import annotations
