"""Scripting commands (eval.c, functions.c): EVAL and friends, SCRIPT, FUNCTION, FCALL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...protocol.reply import OK, ErrorReply, MapReply, SetReply, Status
from .. import errors
from ..glob import stringmatch
from ..lua import functions as fn_lib
from ..lua.runtime import BUSY_EVAL, scripting

if TYPE_CHECKING:
    from ..session import Session

_NOSCRIPT = ErrorReply(errors.NOSCRIPT)


# ---------------------------------------------------------------------------------------------
# EVAL / EVALSHA

def _monitor(c: "Session", argv: list[bytes]) -> None:
    # Script commands skip MONITOR's usual feed; Redis shows them before the commands they run.
    if c.engine.monitors:
        from ..session import feed_monitors

        feed_monitors(c, argv)


def eval_command(c: "Session", argv: list[bytes]) -> Any:
    if c.engine.monitors:
        _monitor(c, argv)
    lua = c.engine.extensions.get("lua")
    if lua is None:
        lua = scripting(c.engine)
    return lua.eval(c, argv, False, False)


def eval_ro_command(c: "Session", argv: list[bytes]) -> Any:
    _monitor(c, argv)
    return scripting(c.engine).eval(c, argv, False, True)


def evalsha_command(c: "Session", argv: list[bytes]) -> Any:
    _monitor(c, argv)
    if len(argv[1]) != 40:
        raise _NOSCRIPT
    return scripting(c.engine).eval(c, argv, True, False)


def evalsha_ro_command(c: "Session", argv: list[bytes]) -> Any:
    _monitor(c, argv)
    if len(argv[1]) != 40:
        raise _NOSCRIPT
    return scripting(c.engine).eval(c, argv, True, True)


# ---------------------------------------------------------------------------------------------
# SCRIPT

def script_load_command(c: "Session", argv: list[bytes]) -> Any:
    return scripting(c.engine).get_script(argv[2]).sha.encode()


def script_exists_command(c: "Session", argv: list[bytes]) -> Any:
    lua = scripting(c.engine)
    return [1 if lua.script_exists(sha) else 0 for sha in argv[2:]]


def script_flush_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) == 3 and argv[2].upper() in (b"SYNC", b"ASYNC"):
        pass
    elif len(argv) != 2:
        raise ErrorReply("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    scripting(c.engine).flush_scripts()
    return OK


def script_kill_command(c: "Session", argv: list[bytes]) -> Any:
    return scripting(c.engine).kill(True)


def script_debug_command(c: "Session", argv: list[bytes]) -> Any:
    mode = argv[2].upper()
    if mode == b"NO":
        return OK
    if mode in (b"YES", b"SYNC"):
        raise ErrorReply("ERR the Lua debugger (SCRIPT DEBUG) is not available in redislab")
    raise ErrorReply("ERR Use SCRIPT DEBUG YES/SYNC/NO")


def script_help_command(c: "Session", argv: list[bytes]) -> Any:
    return [Status(line) for line in (
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Choose whether later scripts run under the Lua debugger.",
        "EXISTS <sha1> [<sha1> ...]",
        "    For each digest, 1 if that script is in the script cache, else 0.",
        "FLUSH [ASYNC|SYNC]",
        "    Empty the script cache. Without a mode, lazyfree-lazy-user-flush decides:",
        "    * ASYNC: free the cache in the background.",
        "    * SYNC: free the cache before replying.",
        "KILL",
        "    Stop the script that is running, if it has not written anything yet.",
        "LOAD <script>",
        "    Compile a script into the cache without running it; replies its SHA1 digest.",
        "HELP",
        "    Show this text.",
    )]


# ---------------------------------------------------------------------------------------------
# FCALL

def fcall_command(c: "Session", argv: list[bytes]) -> Any:
    _monitor(c, argv)
    return scripting(c.engine).fcall(c, argv, False)


def fcall_ro_command(c: "Session", argv: list[bytes]) -> Any:
    _monitor(c, argv)
    return scripting(c.engine).fcall(c, argv, True)


# ---------------------------------------------------------------------------------------------
# FUNCTION

def function_load_command(c: "Session", argv: list[bytes]) -> Any:
    replace = False
    i = 2
    while i < len(argv) - 1:
        opt = argv[i]
        i += 1
        if opt.upper() == b"REPLACE":
            replace = True
            continue
        raise ErrorReply("ERR Unknown option given: " + _text(opt))
    if i >= len(argv):
        raise ErrorReply("ERR Function code is missing")
    lua = scripting(c.engine)
    name = fn_lib.create(lua, lua.registry, argv[i], replace)
    c.engine.dirty += 1
    return name.encode("latin-1")


def function_delete_command(c: "Session", argv: list[bytes]) -> Any:
    lua = scripting(c.engine)
    lib = lua.registry.libraries.get(argv[2].decode("latin-1"))
    if lib is None:
        raise ErrorReply("ERR Library not found")
    lua.registry.unlink(lib)
    c.engine.dirty += 1
    return OK


def function_flush_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise _subcommand_syntax(argv)
    if len(argv) == 3 and argv[2].upper() not in (b"SYNC", b"ASYNC"):
        raise ErrorReply("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    scripting(c.engine).registry.clear()
    c.engine.dirty += 1
    return OK


def function_list_command(c: "Session", argv: list[bytes]) -> Any:
    with_code = False
    pattern: bytes | None = None
    i = 2
    while i < len(argv):
        arg = argv[i]
        up = arg.upper()
        if not with_code and up == b"WITHCODE":
            with_code = True
        elif pattern is None and up == b"LIBRARYNAME":
            if i >= len(argv) - 1:
                raise ErrorReply("ERR library name argument was not given")
            i += 1
            pattern = argv[i]
        else:
            raise ErrorReply("ERR Unknown argument " + _text(arg))
        i += 1
    out = []
    for lib in scripting(c.engine).registry.libraries.values():
        name = lib.name.encode("latin-1")
        if pattern is not None and not stringmatch(pattern, name, nocase=True):
            continue
        funcs = []
        for f in lib.functions.values():
            funcs.append(MapReply([
                (b"name", f.name.encode("utf-8", "surrogateescape")),
                (b"description", f.description),
                (b"flags", SetReply([Status(flag) for flag in f.flags])),
            ]))
        entry = [(b"library_name", name), (b"engine", b"LUA"), (b"functions", funcs)]
        if with_code:
            entry.append((b"library_code", lib.code))
        out.append(MapReply(entry))
    return out


def function_dump_command(c: "Session", argv: list[bytes]) -> Any:
    lua = scripting(c.engine)
    return fn_lib.dump(lua.registry, c.engine.config["rdbcompression"])


def function_restore_command(c: "Session", argv: list[bytes]) -> Any:
    if len(argv) > 4:
        raise _subcommand_syntax(argv)
    policy = "APPEND"
    if len(argv) == 4:
        given = argv[3].upper()
        if given in (b"APPEND", b"REPLACE", b"FLUSH"):
            policy = given.decode()
        else:
            raise ErrorReply("ERR Wrong restore policy given, value should be either FLUSH, "
                             "APPEND or REPLACE.")
    lua = scripting(c.engine)
    fn_lib.restore(lua, lua.registry, argv[2], policy)
    c.engine.dirty += 1
    return OK


def function_stats_command(c: "Session", argv: list[bytes]) -> Any:
    lua = scripting(c.engine)
    run = lua.run
    if run is not None and not run.load and run.is_eval:
        raise ErrorReply(BUSY_EVAL)
    running: Any = None
    if run is not None and not run.load:
        import time

        running = MapReply([
            (b"name", run.name.encode("utf-8", "surrogateescape")),
            (b"command", list(run.argv)),
            (b"duration_ms", int((time.monotonic() - run.start) * 1000)),
        ])
    registry = lua.registry
    return MapReply([
        (b"running_script", running),
        (b"engines", MapReply([
            (b"LUA", MapReply([
                (b"libraries_count", len(registry.libraries)),
                (b"functions_count", registry.function_count()),
            ])),
        ])),
    ])


def function_kill_command(c: "Session", argv: list[bytes]) -> Any:
    return scripting(c.engine).kill(False)


def function_help_command(c: "Session", argv: list[bytes]) -> Any:
    return [Status(line) for line in (
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Load a library; its first line names the engine and the library.",
        "DELETE <LIBRARY NAME>",
        "    Remove a library and its functions.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Describe the loaded libraries (name, engine, functions and, with WITHCODE, the",
        "    code), optionally only those whose name matches the pattern.",
        "STATS",
        "    The function running right now (name, command, duration in ms) or nil, and",
        "    how many libraries and functions each engine holds.",
        "KILL",
        "    Stop the running function, if it has not written anything yet.",
        "FLUSH [ASYNC|SYNC]",
        "    Remove every library. Without a mode, lazyfree-lazy-user-flush decides:",
        "    * ASYNC: free them in the background.",
        "    * SYNC: free them before replying.",
        "DUMP",
        "    A payload holding every library, for FUNCTION RESTORE.",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Load the libraries of a DUMP payload (APPEND by default):",
        "    * FLUSH: remove every existing library first.",
        "    * APPEND: add them; fail if a library already exists.",
        "    * REPLACE: add them, replacing existing libraries of the same name (it can still",
        "      fail when a function name is taken by another library).",
        "HELP",
        "    Show this text.",
    )]


def _subcommand_syntax(argv: list[bytes]) -> ErrorReply:
    return ErrorReply("ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
                      % (_text(argv[1]), _text(argv[0]).upper()))


def _text(data: bytes) -> str:
    z = data.find(b"\0")
    if z >= 0:
        data = data[:z]
    return data.decode("utf-8", "surrogateescape")
