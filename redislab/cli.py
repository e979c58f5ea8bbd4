"""The ``redislab`` command: the REPL by default, ``exec`` for one command.

This module only reads the command line and hands over to ``redislab.ui``; it holds no logic
of its own. Heavy imports happen inside the functions that need them: plain ``redislab`` in
a terminal goes straight to the REPL without even loading typer, so the prompt comes up fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from . import __version__

if TYPE_CHECKING:
    import typer

    from .ui.startup import Options

__all__ = ["main", "app"]

ANNOTATE_MODES = ("off", "brief", "full")


def _options(raw: Optional[bool] = None, resp3: bool = False, db: int = 0,
             config: Optional[Path] = None, maxmemory: Optional[str] = None,
             maxmemory_policy: Optional[str] = None, appendonly: Optional[str] = None,
             directory: Optional[Path] = None, settings: Optional[list[str]] = None,
             clock: str = "real") -> "Options":
    """Command-line values as the Options the front ends take."""
    from .ui.startup import Options, StartupError

    values: dict[str, str] = {}
    for item in settings or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise StartupError(f"--set expects NAME=VALUE, got {item!r}")
        values[name.strip().lower()] = value.strip()
    if maxmemory is not None:
        values["maxmemory"] = maxmemory
    if maxmemory_policy is not None:
        values["maxmemory-policy"] = maxmemory_policy
    if appendonly is not None:
        values["appendonly"] = appendonly
    if directory is not None:
        values["dir"] = str(directory)
    if clock not in ("real", "manual"):
        raise StartupError(f"--clock must be 'real' or 'manual', not {clock!r}")
    return Options(raw=raw, resp3=resp3, db=db, config_file=config, settings=values,
                   manual_clock=clock == "manual")


def _repl_or_pipe(options: "Options", annotate: str) -> int:
    """No command given: the REPL in a terminal, line-by-line execution for piped input.

    In a terminal nothing of the engine is imported here: the REPL loads it while its
    prompt is already on screen.
    """
    if not sys.stdin.isatty():
        from .ui.batch import run_piped, stdin_lines

        return run_piped(stdin_lines(), options, sys.stdout.buffer)
    from .ui.repl.app import run_repl

    return run_repl(options, annotate=annotate)


def _build_app() -> "typer.Typer":
    """The typer application (built on first use)."""
    import typer

    # The signatures below name typer in their annotations; they resolve in this module.
    globals()["typer"] = typer
    from .ui.startup import StartupError

    app = typer.Typer(
        name="redislab",
        add_completion=False,
        invoke_without_command=True,
        no_args_is_help=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        help="Learn Redis on a complete Redis 7 engine that runs inside Python and shows "
             "what every command costs. Without a command, opens a redis-cli style REPL; "
             "with input piped in, runs it line by line as redis-cli does.",
    )

    def version_callback(value: bool) -> None:
        if value:
            typer.echo(f"redislab {__version__} (Redis 7.0 engine)")
            raise typer.Exit()

    def fail(e: Exception) -> "typer.Exit":
        typer.echo(f"redislab: {e}", err=True)
        return typer.Exit(1)

    # Options shared by the REPL and exec, declared once.
    raw_opt = typer.Option(None, "--raw/--no-raw",
                           help="Print replies as redis-cli --raw does (the default when "
                                "output is not a terminal), or force the interactive style.")
    resp3_opt = typer.Option(False, "--resp3", "-3", help="Speak RESP3 (maps, sets, doubles).")
    db_opt = typer.Option(0, "-n", "--db", min=0, help="Database number to select.")
    config_opt = typer.Option(None, "--config", "-c", exists=True, dir_okay=False,
                              help="A redis.conf file to apply at startup.")
    maxmemory_opt = typer.Option(None, "--maxmemory", help="Memory limit, e.g. 100mb.")
    policy_opt = typer.Option(None, "--maxmemory-policy",
                              help="Eviction policy, e.g. allkeys-lru.")
    appendonly_opt = typer.Option(None, "--appendonly",
                                  help="yes or no: keep an append-only file.")
    dir_opt = typer.Option(None, "--dir", file_okay=False,
                           help="Working directory for RDB and AOF files.")
    set_opt = typer.Option([], "--set", metavar="NAME=VALUE",
                           help="Any configuration parameter, as in redis.conf (repeatable).")
    clock_opt = typer.Option("real", "--clock",
                             help="real, or manual (time moves only with :advance).")
    url_opt = typer.Option(None, "--url", "-u", metavar="URL",
                           help="Run commands on a real Redis or Valkey server "
                                "(redis://host:port/db, rediss:// for TLS, redis+cluster:// "
                                "for a cluster) instead of the embedded engine.")
    cluster_opt = typer.Option(False, "--cluster",
                               help="With --url: the server is a Redis Cluster node.")

    @app.callback()
    def root(
        ctx: typer.Context,
        version: bool = typer.Option(False, "--version", "-v", callback=version_callback,
                                     is_eager=True, help="Show the version and exit."),
        raw: Optional[bool] = raw_opt,
        resp3: bool = resp3_opt,
        db: int = db_opt,
        config: Optional[Path] = config_opt,
        maxmemory: Optional[str] = maxmemory_opt,
        maxmemory_policy: Optional[str] = policy_opt,
        appendonly: Optional[str] = appendonly_opt,
        directory: Optional[Path] = dir_opt,
        settings: list[str] = set_opt,
        clock: str = clock_opt,
        url: Optional[str] = url_opt,
        cluster: bool = cluster_opt,
        annotate: str = typer.Option("brief", "--annotate",
                                     help="Under each reply: off, brief or full."),
    ) -> None:
        """Open the REPL (or run piped input) on a fresh embedded engine."""
        try:
            options = _options(raw, resp3, db, config, maxmemory, maxmemory_policy,
                               appendonly, directory, settings, clock)
            options.url, options.cluster = url, cluster
            ctx.obj = options
            if ctx.invoked_subcommand is not None:
                return
            if annotate not in ANNOTATE_MODES:
                raise StartupError(f"--annotate must be off, brief or full, not {annotate!r}")
            code = _repl_or_pipe(options, annotate)
        except StartupError as e:
            raise fail(e) from None
        raise typer.Exit(code)

    @app.command(
        "exec",
        context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
    )
    def exec_(
        ctx: typer.Context,
        command: list[str] = typer.Argument(..., metavar="COMMAND [ARG]...",
                                            help="The command and its arguments."),
        raw: Optional[bool] = raw_opt,
        resp3: bool = resp3_opt,
        db: int = db_opt,
        config: Optional[Path] = config_opt,
        maxmemory: Optional[str] = maxmemory_opt,
        maxmemory_policy: Optional[str] = policy_opt,
        appendonly: Optional[str] = appendonly_opt,
        directory: Optional[Path] = dir_opt,
        settings: list[str] = set_opt,
        clock: str = clock_opt,
        url: Optional[str] = url_opt,
        cluster: bool = cluster_opt,
    ) -> None:
        """Run one command on a fresh engine and print the reply as redis-cli does."""
        from .ui.batch import exec_command

        try:
            base: Options = ctx.obj
            mine = _options(raw, resp3, db, config, maxmemory, maxmemory_policy, appendonly,
                            directory, settings, clock)
            # Options given after "exec" win over those given before it.
            options = type(base)(
                raw=mine.raw if mine.raw is not None else base.raw,
                resp3=mine.resp3 or base.resp3,
                db=mine.db or base.db,
                config_file=mine.config_file or base.config_file,
                settings={**base.settings, **mine.settings},
                manual_clock=mine.manual_clock or base.manual_clock,
                url=url or base.url,
                cluster=cluster or base.cluster,
            )
            code = exec_command(command, options, getattr(sys.stdout, "buffer", sys.stdout))
        except StartupError as e:
            raise fail(e) from None
        raise typer.Exit(code)

    _add_quiz_commands(app)
    _add_serve_command(app, fail)
    return app


def __getattr__(name: str) -> Any:
    # ``redislab.cli.app`` is built on first access, so plain ``redislab`` never loads typer.
    if name == "app":
        built = _build_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)


def main() -> None:
    """Console-script entry point."""
    try:
        if len(sys.argv) == 1 and sys.stdin.isatty():
            # The common case: straight to the REPL with default options.
            from .ui.startup import StartupError

            try:
                sys.exit(_repl_or_pipe(_options(), "brief"))
            except StartupError as e:
                print(f"redislab: {e}", file=sys.stderr)
                sys.exit(1)
        _build_app()(prog_name="redislab")
    except KeyboardInterrupt:
        sys.exit(130)


def _add_quiz_commands(app: "typer.Typer") -> None:
    """``redislab quiz`` and ``redislab progress`` (the screens live in ui/quiz_screen.py)."""
    import typer

    progress_file_opt = typer.Option(None, "--progress-file", dir_okay=False,
                                     help="Quiz progress file (default: quiz.json in the "
                                          "user's data directory).")
    bank_opt = typer.Option(None, "--bank", file_okay=False, hidden=True,
                            help="A folder of quiz files to use instead of the built-in bank.")

    @app.command("quiz")
    def quiz(
        minutes: Optional[float] = typer.Argument(
            None, metavar="[MINUTES]", help="Length of the mock interview (with --interview; "
                                            "default 20)."),
        interview: bool = typer.Option(False, "--interview",
                                       help="A timed mock interview mixing kinds and topics, "
                                            "ending with a report."),
        topic: Optional[str] = typer.Option(None, "--topic", "-t",
                                            help="Only items of this topic or tag."),
        count: int = typer.Option(10, "--count", "-n", min=1,
                                  help="How many questions (due ones first, then new)."),
        kind: Optional[str] = typer.Option(None, "--kind", "-k",
                                           help="choice, short, predict, hands-on, complexity "
                                                "or explain."),
        seed: Optional[int] = typer.Option(None, "--seed", hidden=True),
        list_topics: bool = typer.Option(False, "--list", help="List topics and tags."),
        progress_file: Optional[Path] = progress_file_opt,
        bank: Optional[Path] = bank_opt,
        url: Optional[str] = typer.Option(
            None, "--url", "-u", metavar="URL",
            help="Run predict and hands-on answers on a real Redis server "
                 "(redis://host:port/db; each answer empties that database). Questions "
                 "needing the embedded engine are left out."),
    ) -> None:
        """Interview drills: due and new questions, graded by the engine, spaced out."""
        from .ui.quiz_screen import run_quiz

        if minutes is not None and not interview:
            typer.echo("redislab: MINUTES goes with --interview", err=True)
            raise typer.Exit(2)
        target = None
        if url is not None:
            from .learn import quiz_grade
            from .learn.remote import ServerError, ServerTarget

            try:
                target = ServerTarget(url)
            except ServerError as e:
                typer.echo(f"redislab: {e}", err=True)
                raise typer.Exit(1) from None
            quiz_grade.use_server(target)
        try:
            code = run_quiz(topic=topic, kind=kind, count=count, interview=interview,
                            minutes=minutes, seed=seed, bank_dir=bank,
                            progress_file=progress_file, list_topics=list_topics)
        finally:
            if target is not None:
                target.close()
        raise typer.Exit(code)

    @app.command("progress")
    def progress(
        export: Optional[Path] = typer.Option(None, "--export", dir_okay=False,
                                              help="Write a copy of the progress here."),
        import_file: Optional[Path] = typer.Option(None, "--import", exists=True,
                                                   dir_okay=False,
                                                   help="Merge progress from this file."),
        replace: bool = typer.Option(False, "--replace",
                                     help="With --import: replace instead of merging."),
        reset: bool = typer.Option(False, "--reset",
                                   help="Forget progress: all of it, or --item / --topic."),
        items: list[str] = typer.Option([], "--item", help="With --reset: this item "
                                                            "(repeatable)."),
        topic: Optional[str] = typer.Option(None, "--topic", "-t",
                                            help="With --reset: every item of this topic."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Reset without asking."),
        progress_file: Optional[Path] = progress_file_opt,
        bank: Optional[Path] = bank_opt,
    ) -> None:
        """Quiz progress: what is learned, due and weak; export, import or reset it."""
        from .ui.quiz_screen import run_progress

        code = run_progress(progress_file=progress_file, bank_dir=bank, export=export,
                            import_file=import_file, replace=replace, reset=reset,
                            items=items, topic=topic,
                            confirm=lambda question: yes or typer.confirm(question))
        raise typer.Exit(code)


def _add_serve_command(app: "typer.Typer", fail: Any) -> None:
    """``redislab serve``: the engine over RESP on a TCP port, options named as redis-server's."""
    import typer

    @app.command("serve")
    def serve(
        port: int = typer.Option(6379, "--port", min=0, max=65535,
                                 help="TCP port (0 picks a free one)."),
        bind: str = typer.Option("127.0.0.1", "--bind", help="Address to listen on."),
        requirepass: Optional[str] = typer.Option(None, "--requirepass",
                                                  help="Password clients must AUTH with."),
        protected_mode: Optional[str] = typer.Option(None, "--protected-mode",
                                                     help="yes or no (default yes)."),
        config: Optional[Path] = typer.Option(None, "--config", "-c", exists=True,
                                              dir_okay=False,
                                              help="A redis.conf file to apply at startup."),
        maxmemory: Optional[str] = typer.Option(None, "--maxmemory",
                                                help="Memory limit, e.g. 100mb."),
        maxmemory_policy: Optional[str] = typer.Option(None, "--maxmemory-policy",
                                                       help="Eviction policy."),
        appendonly: Optional[str] = typer.Option(None, "--appendonly", help="yes or no."),
        directory: Optional[Path] = typer.Option(None, "--dir", file_okay=False,
                                                 help="Working directory for RDB/AOF files."),
        settings: list[str] = typer.Option([], "--set", metavar="NAME=VALUE",
                                           help="Any configuration parameter (repeatable)."),
        watch: bool = typer.Option(False, "--watch",
                                   help="Print every command clients send, with the REPL's "
                                        "annotation (cost with the real N, memory, events)."),
        cluster: int = typer.Option(0, "--cluster", min=0, max=1000, metavar="N",
                                    help="Serve a Redis Cluster of N primaries on N "
                                         "consecutive ports from --port (each in its own "
                                         "subdirectory of --dir)."),
    ) -> None:
        """Serve the engine over RESP2/RESP3: redis-cli, redis-py or any client can connect."""
        from .server import run
        from .ui.startup import StartupError, build_engine

        if cluster:
            if port == 0 or port + cluster - 1 > 65535:
                raise fail(StartupError(f"--cluster {cluster} needs {cluster} consecutive "
                                        "ports from --port (not 0)"))
            if watch:
                raise fail(StartupError("--watch serves a single engine; leave it out with "
                                        "--cluster"))
        try:
            extra = list(settings)
            if requirepass is not None:
                extra.append(f"requirepass={requirepass}")
            if protected_mode is not None:
                extra.append(f"protected-mode={protected_mode}")
            if cluster:
                from .server.cluster import run_cluster

                engines = []
                for i in range(cluster):
                    node_dir = None
                    if directory is not None:
                        node_dir = directory / str(port + i)
                        node_dir.mkdir(parents=True, exist_ok=True)
                    options = _options(None, False, 0, config, maxmemory, maxmemory_policy,
                                       appendonly, node_dir,
                                       extra + ["cluster-enabled=yes", f"port={port + i}"],
                                       "real")
                    engines.append(build_engine(options))
            else:
                options = _options(None, False, 0, config, maxmemory, maxmemory_policy,
                                   appendonly, directory, extra, "real")
                engine = build_engine(options)
        except StartupError as e:
            raise fail(e) from None

        if cluster:
            def cluster_ready(server: Any) -> None:
                typer.echo(f"redislab serving a Redis 7.0 cluster of {cluster} primaries on "
                           f"{server.host}:{server.port}-{server.port + cluster - 1} "
                           "(Ctrl-C or SHUTDOWN to stop)")

            try:
                run_cluster(engines, host=bind, port=port, on_ready=cluster_ready)
            except OSError as e:
                typer.echo(f"redislab: cannot listen on {bind}:{port}: {e.strerror or e}",
                           err=True)
                raise typer.Exit(1) from None
            return

        def ready(server: Any) -> None:
            typer.echo(f"redislab serving Redis 7.0 on {server.host}:{server.port} "
                       "(Ctrl-C or SHUTDOWN to stop)")
            if watch:
                from .ui.watch import Watcher

                server.on_command = Watcher(engine, sys.stdout)

        try:
            run(engine, host=bind, port=port, on_ready=ready)
        except OSError as e:
            typer.echo(f"redislab: cannot listen on {bind}:{port}: {e.strerror or e}", err=True)
            raise typer.Exit(1) from None


# ---------------------------------------------------------------------------------------------
# check-rdb and check-aof: the builder above, plus two commands.

_build_app_base = _build_app


def _build_app() -> "typer.Typer":  # type: ignore[no-redef]  # noqa: F811
    """The application with the file checkers added."""
    app = _build_app_base()
    _add_check_commands(app)
    return app


def _add_check_commands(app: "typer.Typer") -> None:
    import typer

    @app.command("check-rdb")
    def check_rdb_(
        file: Path = typer.Argument(..., help="The RDB file to check."),
    ) -> None:
        """Check an RDB file as redis-check-rdb does."""
        import time

        from .engine.persistence.check import check_rdb

        d = check_rdb(str(file), now_ms=int(time.time() * 1000))
        typer.echo(d.text(), nl=False)
        raise typer.Exit(d.exit_code)

    @app.command("check-aof")
    def check_aof_(
        target: Path = typer.Argument(..., metavar="FILE|DIR",
                                      help="An AOF file, a manifest, or the directory "
                                           "holding one."),
        fix: bool = typer.Option(False, "--fix",
                                 help="Cut the last file back to its last complete command."),
        yes: bool = typer.Option(False, "--yes", "-y", help="With --fix: do not ask first."),
    ) -> None:
        """Check an append-only file (multi-part or single) as redis-check-aof does."""
        from .engine.persistence.check import check_aof

        d = check_aof(str(target))
        if fix and d.fixable is not None:
            _, size, keep = d.fixable
            typer.echo(d.text(), nl=False)
            if not yes and not typer.confirm(
                    f"This will shrink the AOF from {size} bytes to {keep} bytes. Continue?"):
                typer.echo("Aborted: nothing was changed.")
                raise typer.Exit(1)
            d = check_aof(str(target), fix=True)
        typer.echo(d.text(), nl=False)
        raise typer.Exit(d.exit_code)


# ---------------------------------------------------------------------------------------------
# learn and dev check: the builder above, plus the lesson commands.

_build_app_before_learn = _build_app


def _build_app() -> "typer.Typer":  # type: ignore[no-redef]  # noqa: F811
    """The application with ``learn`` and ``dev check`` added."""
    app = _build_app_before_learn()
    _add_learn_commands(app)
    return app


def _add_learn_commands(app: "typer.Typer") -> None:
    import typer

    lessons_opt = typer.Option(None, "--lessons", file_okay=False,
                               help="A lessons folder to use instead of the built-in one "
                                    "(or set REDISLAB_LESSONS).")

    @app.command("learn")
    def learn(
        lesson: Optional[str] = typer.Argument(None, metavar="[ID]",
                                               help="The lesson to start or resume (its id, "
                                                    "number or an id prefix)."),
        step: Optional[int] = typer.Option(None, "--step", min=1,
                                           help="Start at this step (1 is the first)."),
        lessons: Optional[Path] = lessons_opt,
        progress_file: Optional[Path] = typer.Option(
            None, "--progress-file", dir_okay=False,
            help="Lesson progress file (default: progress.json in the data directory)."),
        export: Optional[Path] = typer.Option(None, "--export", dir_okay=False,
                                              help="Write a copy of your lesson progress here."),
        import_: Optional[Path] = typer.Option(None, "--import", exists=True, dir_okay=False,
                                               help="Merge lesson progress from this file."),
        replace: bool = typer.Option(False, "--replace",
                                     help="With --import: replace instead of merging."),
        reset: bool = typer.Option(False, "--reset",
                                   help="Forget progress: of lesson ID, or of all lessons."),
        url: Optional[str] = typer.Option(
            None, "--url", "-u", metavar="URL",
            help="Run the lesson on a real Redis server (redis://host:port/db). Each step "
                 "empties that database and resets changed parameters: use a scratch "
                 "server. Steps needing the embedded engine are skipped."),
    ) -> None:
        """Guided lessons: list them with your progress, or run one inside the REPL."""
        from .learn.loader import LessonError
        from .learn.progress import Progress, ProgressError
        from .ui.lesson_screen import lesson_list, print_fragments, run_lesson
        from .ui.startup import StartupError

        progress = Progress(progress_file)
        if progress.warning:
            typer.echo(f"redislab: {progress.warning}", err=True)
        if export is not None:
            progress.export(export)
            typer.echo(f"lesson progress written to {export}")
            raise typer.Exit(0)
        if import_ is not None:
            try:
                n = progress.import_(import_, replace=replace)
            except ProgressError as e:
                typer.echo(f"redislab: {e}", err=True)
                raise typer.Exit(1) from None
            typer.echo(f"imported progress of {n} lesson{'s' if n != 1 else ''}")
            raise typer.Exit(0)
        if reset:
            progress.reset(lesson)
            typer.echo(f"progress of {lesson} forgotten" if lesson
                       else "all lesson progress forgotten")
            raise typer.Exit(0)
        if lesson is None:
            print_fragments(lesson_list(lessons, progress))
            raise typer.Exit(0)
        try:
            if url is not None:
                from .ui.lesson_remote import run_lesson_on_server

                piped = None if sys.stdin.isatty() else \
                    [ln.rstrip("\r\n") for ln in sys.stdin]
                code = run_lesson_on_server(lesson, url, base=lessons, progress=progress,
                                            step=step, lines=piped,
                                            write=None if piped is None else print_fragments)
            elif sys.stdin.isatty():
                code = run_lesson(lesson, base=lessons, progress=progress, step=step)
            else:
                lines = [ln.rstrip("\r\n") for ln in sys.stdin]
                code = run_lesson(lesson, base=lessons, progress=progress, step=step,
                                  lines=lines, write=print_fragments)
        except (LookupError, LessonError, StartupError) as e:
            typer.echo(f"redislab: {e}", err=True)
            raise typer.Exit(1) from None
        raise typer.Exit(code)

    dev = typer.Typer(name="dev", help="Tools for lesson authors.", no_args_is_help=True)

    @dev.command("check")
    def dev_check(lessons: Optional[Path] = lessons_opt) -> None:
        """Validate every lesson: schema, commands, start state fails, solutions pass."""
        from .learn.validate import validate
        from .ui.lesson_screen import print_fragments, validation_fragments

        report = validate(lessons, progress=lambda lid: typer.echo(f"checking {lid} ...",
                                                                    err=True))
        print_fragments(validation_fragments(report))
        raise typer.Exit(0 if report.ok else 1)

    app.add_typer(dev)
