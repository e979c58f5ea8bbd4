"""Running commands without a prompt: ``redislab exec`` and input piped into ``redislab``.

Both print exactly what redis-cli prints in the same situation: one command given on the
command line, or command lines read from a pipe one by one. As with redis-cli, replies are
printed in the ``--raw`` style when standard output is not a terminal, unless ``--no-raw``
asks for the interactive style. Meta-commands such as ``:advance 30s`` also work in piped
input, which makes scripted sessions repeatable.
"""

from __future__ import annotations

import sys
from typing import BinaryIO, Callable, Iterable

from ..protocol import split_args
from .backend import Backend, EmbeddedBackend
from .render import render
from .repl.shell import Shell
from .startup import Options, build_engine
from .theme import Fragments, plain

__all__ = ["use_raw", "make_backend", "exec_command", "run_piped"]


def use_raw(options: Options, stream: object) -> bool:
    """redis-cli's rule: raw output unless stdout is a terminal (or --raw/--no-raw says)."""
    if options.raw is not None:
        return options.raw
    isatty = getattr(stream, "isatty", None)
    try:
        return not (isatty is not None and isatty())
    except ValueError:  # a closed stream
        return True


def make_backend(options: Options) -> Backend:
    if options.url is not None:
        return remote_backend(options)
    engine = build_engine(options)
    return EmbeddedBackend(engine, resp=3 if options.resp3 else 2, db=options.db,
                           factory=lambda clock: build_engine(options, clock))


def remote_backend(options: Options) -> Backend:
    """A backend on the real server of ``--url``; refusals are reported as startup errors."""
    from .remote import RemoteBackend, RemoteError
    from .startup import StartupError

    if options.settings or options.config_file is not None or options.manual_clock:
        raise StartupError("--url runs commands on a real server: configuration options, "
                           "--config and --clock manual need the embedded engine")
    assert options.url is not None
    try:
        return RemoteBackend(options.url, resp=3 if options.resp3 else 2, db=options.db,
                             cluster=options.cluster)
    except RemoteError as e:
        raise StartupError(str(e)) from None


def _writer(out: BinaryIO) -> Callable[[Fragments], None]:
    def write(fragments: Fragments) -> None:
        out.write(plain(fragments).encode("utf-8", "surrogateescape"))
        out.flush()

    return write


def exec_command(args: list[str], options: Options, out: BinaryIO) -> int:
    """Run one command on a fresh engine and print its reply; returns the exit status."""
    backend = make_backend(options)
    argv = [a.encode("utf-8", "surrogateescape") for a in args]
    outcome = backend.execute(argv)
    out.write(render(outcome.reply, resp=outcome.resp,
                     raw=use_raw(options, out)).encode("utf-8", "surrogateescape"))
    out.flush()
    # redis-cli 7.0 exits with 0 even when the reply is an error.
    return 0


def run_piped(lines: Iterable[bytes], options: Options, out: BinaryIO) -> int:
    """Run command lines read from a pipe, printing each reply as redis-cli does."""
    backend = make_backend(options)
    shell = Shell(backend, _writer(out), raw=use_raw(options, out), annotate="off",
                  interactive=False)
    for raw_line in lines:
        line = raw_line.decode("utf-8", "surrogateescape").rstrip("\r\n")
        if not shell.handle(line):
            break
    return 0


def stdin_lines() -> Iterable[bytes]:
    return iter(sys.stdin.buffer.readline, b"")


__all__ += ["stdin_lines", "split_args"]
