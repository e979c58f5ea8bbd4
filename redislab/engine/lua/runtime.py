"""The engine's Lua runtime: one sandboxed Lua 5.1 state, the script cache and script runs.

One :class:`Scripting` per engine (``engine.extensions["lua"]``), created on first use. It owns
the ``lupa.lua51`` runtime with the sandbox of sandbox.lua, the EVAL script cache, the function
libraries, the script client (Redis's "lua client": the session a script's ``redis.call`` runs
as) and the state of the running script: its time budget, the BUSY state other clients see once
it passes ``busy-reply-threshold``, and SCRIPT KILL / FUNCTION KILL.

Python objects never enter the Lua state: the sandbox receives a few Python callables once, keeps
them in local variables no script can reach, and every callable returns only bytes, numbers,
booleans, None or Lua tables, and never raises.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from lupa import lua51

from ...protocol.reply import OK, ErrorReply
from .. import errors
from ..args import parse_int
from . import convert, hostlibs
from .bytecode import without_tail_calls
from .functions import FunctionRegistry

if TYPE_CHECKING:
    from ..engine import Engine
    from ..session import Session

log = logging.getLogger("redislab.lua")
log.addHandler(logging.NullHandler())

REDIS_VERSION = b"7.0.15"
REDIS_VERSION_NUM = 0x07000F

DEFAULT_MAX_MEMORY = 256 * 1024 * 1024
# VM instructions between two checks of the time budget. Redis checks every 100000; checking
# more often keeps the time limit precise and costs about one microsecond per check.
HOOK_COUNT = 10000
# Worst-case steps we let the C pattern matcher take before using the interruptible one.
PATTERN_BUDGET = 20_000_000
PLAIN_BUDGET = 50_000_000
# Nesting depth of a script's result before "reached lua stack limit".
MAX_RESULT_DEPTH = 500
# More arguments than this travel to Lua as one table instead of a vararg list.
MAX_VARARGS = 200
LOAD_TIMEOUT = 0.5
# While busy, let other threads in this often (seconds), for this long.
YIELD_INTERVAL = 0.01
YIELD_PAUSE = 0.001

BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = ("BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE.")
NOTBUSY = "NOTBUSY No scripts in execution right now."
UNKILLABLE = ("UNKILLABLE Sorry the script already executed write commands against the dataset. "
              "You can either wait the script termination or kill the server in a hard way "
              "using the SHUTDOWN NOSAVE command.")
UNKILLABLE_MASTER = ("UNKILLABLE The busy script was sent by a master instance in the context "
                     "of replication and cannot be killed.")

SCRIPT_FLAGS = ("no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys")

_ARGS_ERR = b"ERR Lua redis lib command arguments must be strings or integers"
_NO_ARGS = b"ERR Please specify at least one argument for this redis lib call"
_UNKNOWN = b"ERR Unknown Redis command called from script"
_ARITY = b"ERR Wrong number of args calling Redis command from script"
_NOSCRIPT = b"ERR This Redis command is not allowed from script"
_RO_WRITE = b"ERR Write commands are not allowed from read-only scripts."
_OUTSIDE = b"ERR redis.call/pcall can only be called inside a script invocation"
_NO_MEMORY = b"ERR not enough memory"
_LOGLEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3}

_monotonic = time.monotonic
_SMALL_INTS = {str(i).encode(): i for i in range(10)}
# What redis.call must check for a command beyond its arity.
_CONTAINER, _NOSCRIPT_FLAG, _MISSING, _WRITES = 1, 2, 4, 8


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("access denied")


def _source(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


@dataclass(slots=True, eq=False)
class Script:
    """An EVAL script in the cache."""

    sha: str
    body: bytes
    flags: frozenset[str] | None  # None: no shebang ("compat mode")
    fn: Any


class Run:
    """The script (or library load) running right now."""

    __slots__ = ("name", "is_eval", "caller", "argv", "read_only", "allow_oom", "oom_at_start",
                 "load", "start", "write_dirty", "repl", "timed_out", "kill", "propagate")

    def __init__(self, name: str, is_eval: bool, caller: "Session | None", argv: list[bytes],
                 read_only: bool = False, allow_oom: bool = False, oom_at_start: bool = False,
                 load: bool = False, start: float = 0.0) -> None:
        self.name = name
        self.is_eval = is_eval
        self.caller = caller
        self.argv = argv
        self.read_only = read_only
        self.allow_oom = allow_oom
        self.oom_at_start = oom_at_start
        self.load = load
        self.start = start
        self.write_dirty = False
        self.repl = 3
        self.timed_out = False
        self.kill = False
        self.propagate: list[tuple[int, list[bytes]]] = []


class Scripting:
    """Lua scripting for one engine: EVAL scripts, function libraries, the running script."""

    def __init__(self, engine: "Engine", max_memory: int = DEFAULT_MAX_MEMORY) -> None:
        from ..session import Session

        self.engine = engine
        self.max_memory = max_memory
        self.table = engine.table
        self.scripts: dict[str, Script] = {}
        self.bodies: dict[bytes, Script] = {}
        self.registry = FunctionRegistry()
        self.rand = hostlibs.Rand48()
        self.run: Run | None = None
        self.load_timeout = LOAD_TIMEOUT
        # Set while a script is past busy-reply-threshold (for front ends and tests).
        self.busy = threading.Event()
        self._last_yield = 0.0
        self._saved_gate: Any = None
        ss = Session(engine, 0, name="lua")
        ss.kind = "lua"
        ss.in_script = True
        ss.no_block = True
        ss.refresh_gate()
        self.ss = ss
        self._lookup = self.table.lookup
        self._config = engine.config.values
        self._call_cache: dict[bytes, tuple[Any, int]] = {}
        self._start_runtime()
        engine.before_command.append(self._before_command)

    # ----------------------------------------------------------------------------------------
    # The Lua state

    def _start_runtime(self) -> None:
        rt = lua51.LuaRuntime(encoding=None, source_encoding=None, register_eval=False,
                              register_builtins=False, unpack_returned_tuples=True,
                              attribute_filter=_deny_attributes, max_memory=self.max_memory)
        self.rt = rt
        self._table_from = rt.table_from
        py = rt.table_from({
            b"call": self._call,
            b"tick": self._tick,
            b"log": self._log,
            b"setresp": self._setresp,
            b"set_repl": self._set_repl,
            b"acl_check": self._acl_check,
            b"sha1hex": self._sha1hex,
            b"random": hostlibs.protect(self.rand.random),
            b"randomseed": hostlibs.protect(self.rand.randomseed),
            b"bit": hostlibs.bit_op,
            b"struct_pack": hostlibs.protect(hostlibs.struct_pack),
            b"struct_unpack": hostlibs.protect(hostlibs.struct_unpack),
            b"struct_size": hostlibs.protect(hostlibs.struct_size),
            b"pack_float": _never_raises(hostlibs.pack_float, b"\xc0"),
            b"unpack_float": _never_raises(hostlibs.unpack_float, 0),
            b"find": _plain_find,
            b"patch": _patch,
        })
        sources = rt.table_from({
            b"patterns": _source("patterns.lua"),
            b"cjson": _source("cjson.lua"),
            b"cmsgpack": _source("cmsgpack.lua"),
            b"serialize": _source("serialize.lua"),
        })
        settings = rt.table_from({
            b"hook_count": HOOK_COUNT,
            b"pattern_budget": PATTERN_BUDGET,
            b"plain_budget": PLAIN_BUDGET,
            b"max_depth": MAX_RESULT_DEPTH,
            b"gc_threshold": min(8 * 1024 * 1024, self.max_memory // 4),
            b"version": REDIS_VERSION,
            b"version_num": REDIS_VERSION_NUM,
        })
        drivers = rt.execute(_source("sandbox.lua"), py, sources, settings, name="=[sandbox]")
        self.D = drivers
        self._compile = drivers[b"compile"]
        self._run_eval = drivers[b"run_eval"]
        self._run_eval_table = drivers[b"run_eval_table"]
        self._run_function = drivers[b"run_function"]
        self._run_function_table = drivers[b"run_function_table"]
        self._load_library = drivers[b"load_library"]
        self._reset = drivers[b"reset"]
        self._collect = drivers[b"collect"]

    def memory_used(self) -> int:
        """Bytes the Lua heap holds (used_memory_lua)."""
        return int(self.rt.get_memory_used(total=True))

    def info(self) -> dict[str, int]:
        """Scripting figures for INFO memory."""
        lua = self.memory_used()
        scripts = sum(len(s.body) for s in self.scripts.values())
        functions = sum(len(lib.code) for lib in self.registry.libraries.values())
        return {
            "used_memory_lua": lua,
            "used_memory_vm_eval": lua,
            "used_memory_scripts_eval": scripts,
            "number_of_cached_scripts": len(self.scripts),
            "number_of_functions": self.registry.function_count(),
            "number_of_libraries": len(self.registry.libraries),
            "used_memory_vm_functions": 0,
            "used_memory_vm_total": lua,
            "used_memory_functions": functions,
            "used_memory_scripts": scripts + functions,
        }

    # ----------------------------------------------------------------------------------------
    # Callbacks the sandbox makes (they never raise)

    def _call(self, *args: Any) -> tuple:
        try:
            run = self.run
            if run is None or run.load:
                return 4, _OUTSIDE
            if not args:
                return 3, _NO_ARGS
            for a in args:
                if type(a) is not bytes:
                    argv = []
                    for a in args:
                        t = type(a)
                        if t is bytes:
                            argv.append(a)
                        elif t is int or t is float:
                            argv.append(convert.format_arg(a))
                        else:
                            return 3, _ARGS_ERR
                    break
            else:
                argv = list(args)
            entry = self._call_cache.get(argv[0])
            if entry is None:
                entry = self._resolve(argv)
                if type(entry) is bytes:
                    return 2, entry
            spec, checks = entry
            if checks:
                if checks & _CONTAINER:
                    entry = self._resolve(argv)
                    if type(entry) is bytes:
                        return 2, entry
                    spec, checks = entry
                if checks & _NOSCRIPT_FLAG:
                    return 2, _NOSCRIPT
                if checks & _MISSING:
                    return 2, (b"ERR '%s' is not available in redislab"
                               % spec.full_name.encode())
            a = spec.arity
            if (len(argv) != a) if a > 0 else (len(argv) < -a):
                return 2, _ARITY
            if checks & _WRITES:
                refusal = self._check_write(run, spec)
                if refusal is not None:
                    return 2, refusal
            eng = self.engine
            acl_check = eng.extensions.get("acl_script")
            if acl_check is not None and run.caller is not None:
                refusal = acl_check(run.caller, spec, argv)
                if refusal is not None:
                    return 2, refusal
            cluster = eng.extensions.get("cluster")
            if cluster is not None:
                refusal = cluster.script_refusal(run.caller, spec, argv)
                if refusal is not None:
                    return 2, refusal
            ss = self.ss
            dirty = eng.dirty
            reply = ss.run(spec, argv)
            if eng.dirty != dirty:
                self._note_write(run, argv)
            t = type(reply)
            if t is int:
                return 0, reply
            if t is bytes:
                if len(reply) > 65536 and not self._fits(len(reply)):
                    return 4, _NO_MEMORY
                return 0, reply
            if isinstance(reply, list) and len(reply) > 256:
                free = self.max_memory - self.rt.get_memory_used()
                if convert.estimated_size(reply, free) * 2 + (1 << 20) > free:
                    return 4, _NO_MEMORY
            return convert.reply_to_lua(reply, ss.resp == 3, self._table_from)
        except BaseException as exc:  # nothing may escape into Lua
            log.exception("redis.call failed")
            return 2, ("ERR internal error: %s" % type(exc).__name__).encode()

    def _resolve(self, argv: list[bytes]) -> Any:
        """The command spec for argv and the checks it needs, or the error text."""
        spec = self._lookup(argv[0])
        if spec is None:
            return _UNKNOWN
        container = 0
        if spec.subcommands:
            if len(argv) < 2:
                return _ARITY
            spec = spec.subcommands.get(argv[1].upper().decode("latin-1"))
            if spec is None:
                return _UNKNOWN
            container = _CONTAINER
        checks = container
        if "noscript" in spec.flags:
            checks |= _NOSCRIPT_FLAG
        if spec.handler is None:
            checks |= _MISSING
        if spec.write or "may-replicate" in spec.flags:
            checks |= _WRITES
        if not container and len(self._call_cache) < 4096:
            self._call_cache[argv[0]] = (spec, checks)
        return spec, checks

    def _fits(self, size: int) -> bool:
        # Values handed to Lua from a callback are copied into the heap outside any protection;
        # a failing allocation there must not happen, so refuse what cannot fit.
        return self.rt.get_memory_used() + 2 * size + (1 << 20) < self.max_memory

    def _check_write(self, run: Run, spec: Any) -> bytes | None:
        if run.read_only:
            return _RO_WRITE
        if not spec.write:
            return None
        eng = self.engine
        if not run.write_dirty:
            caller = run.caller
            if eng.is_replica and eng.config["replica-read-only"] and \
                    (caller is None or caller.kind != "master"):
                return b"READONLY You can't write against a read only replica."
            if not run.allow_oom and eng.config["maxmemory"] and run.oom_at_start and \
                    spec.denyoom:
                return errors.OOM.encode()
        run.write_dirty = True
        return None

    def _note_write(self, run: Run, argv: list[bytes]) -> None:
        ss = self.ss
        rewritten = ss.extra.pop("propagate", None)
        if not run.repl or not self.engine.propagate_hooks:
            return
        db = ss.db.id
        for cmd in (rewritten if rewritten is not None else [argv]):
            run.propagate.append((db, cmd))

    def _tick(self) -> int:
        try:
            run = self.run
            if run is None:
                return 0
            now = _monotonic()
            elapsed = now - run.start
            if run.load:
                return 2 if self.load_timeout > 0 and elapsed > self.load_timeout else 0
            if run.kill:
                return 1
            threshold = self.engine.config["busy-reply-threshold"]
            if threshold <= 0:
                return 0
            if not run.timed_out:
                if elapsed * 1000 < threshold:
                    return 0
                self._enter_busy(run)
            self._let_others_in(now)
            return 1 if run.kill else 0
        except KeyboardInterrupt:
            # Ctrl-C in a front end running the engine on its main thread: SCRIPT KILL.
            return 1 if self.request_kill() else 0
        except BaseException:
            log.exception("script time check failed")
            return 0

    def _log(self, level: int, message: bytes) -> None:
        try:
            verbosity = _LOGLEVELS.get(self.engine.config["loglevel"], 2)
            if level < verbosity:
                return
            text = message.decode("utf-8", "replace")
            log.log((logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING)[level], text)
        except BaseException:
            pass

    def _setresp(self, resp: int) -> None:
        try:
            self.ss.resp = 3 if resp == 3 else 2
        except BaseException:
            pass

    def _set_repl(self, flags: int) -> None:
        try:
            run = self.run
            if run is not None:
                run.repl = int(flags) & 3
        except BaseException:
            pass

    def _acl_check(self, *args: Any) -> tuple:
        try:
            if not args:
                return 4, _NO_ARGS
            argv = []
            for a in args:
                t = type(a)
                if t is bytes:
                    argv.append(a)
                elif t is int or t is float:
                    argv.append(convert.format_arg(a))
                else:
                    return 4, _ARGS_ERR
            spec = self._lookup(argv[0])
            if spec is not None and spec.subcommands and len(argv) > 1:
                spec = spec.subcommands.get(argv[1].upper().decode("latin-1"))
            if spec is None:
                return 4, b"ERR Invalid command passed to redis.acl_check_cmd()"
            check = self.engine.extensions.get("acl_check")
            run = self.run
            user = run.caller.user if run is not None and run.caller is not None else "default"
            allowed = True if check is None else bool(check(user, spec, argv))
            return 0, allowed
        except BaseException:
            log.exception("redis.acl_check_cmd failed")
            return 4, b"ERR internal error"

    @staticmethod
    def _sha1hex(data: bytes) -> bytes:
        try:
            return hashlib.sha1(data).hexdigest().encode()
        except BaseException:
            return b""

    # ----------------------------------------------------------------------------------------
    # BUSY: other clients while a script runs too long

    def _enter_busy(self, run: Run) -> None:
        run.timed_out = True
        log.warning("Slow script detected: still in execution after %d milliseconds. "
                    "You can try killing the script using the %s command. Script name is: %s.",
                    int((_monotonic() - run.start) * 1000),
                    "SCRIPT KILL" if run.is_eval else "FUNCTION KILL", run.name)
        eng = self.engine
        self._saved_gate = eng.extensions.get("gate")
        eng.extensions["gate"] = True
        eng.refresh_gate()
        self._last_yield = 0.0
        self.busy.set()

    def _leave_busy(self) -> None:
        eng = self.engine
        if self._saved_gate is None:
            eng.extensions.pop("gate", None)
        else:
            eng.extensions["gate"] = self._saved_gate
        self._saved_gate = None
        eng.refresh_gate()
        self.busy.clear()

    def _let_others_in(self, now: float) -> None:
        """Release the engine lock for a moment so other threads can be told BUSY (or kill us).

        Redis serves other clients from inside the script's hook once it is past the
        threshold; here the script's thread holds the engine lock, so it hands it over briefly.
        """
        if now - self._last_yield < YIELD_INTERVAL:
            return
        lock = self.engine.lock
        release = getattr(lock, "_release_save", None)
        if release is None:
            return
        try:
            state = release()
        except RuntimeError:  # not held by this thread: nobody can be waiting for us
            self._last_yield = now
            return
        try:
            time.sleep(YIELD_PAUSE)
        finally:
            lock._acquire_restore(state)  # type: ignore[attr-defined]
        self._last_yield = _monotonic()

    def _before_command(self, session: "Session", spec: Any, argv: list[bytes]) -> Any:
        run = self.run
        if run is not None and run.timed_out and session is not self.ss \
                and "allow-busy" not in spec.flags:
            return ErrorReply(BUSY_EVAL if run.is_eval else BUSY_FUNCTION)
        return None

    def kill(self, is_eval: bool) -> Any:
        """SCRIPT KILL (``is_eval``) or FUNCTION KILL."""
        run = self.run
        if run is None or run.load:
            raise ErrorReply(NOTBUSY)
        if run.caller is not None and run.caller.kind == "master":
            raise ErrorReply(UNKILLABLE_MASTER)
        if run.write_dirty:
            raise ErrorReply(UNKILLABLE)
        if is_eval and not run.is_eval:
            raise ErrorReply(BUSY_FUNCTION)
        if not is_eval and run.is_eval:
            raise ErrorReply(BUSY_EVAL)
        run.kill = True
        return OK

    def request_kill(self) -> bool:
        """Ask the running script to stop (for a front end's Ctrl-C); True if one was running."""
        run = self.run
        if run is None or run.load or run.write_dirty:
            return False
        run.kill = True
        return True

    # ----------------------------------------------------------------------------------------
    # EVAL scripts

    def get_script(self, body: bytes) -> Script:
        """The cached script for ``body``, compiling it on first sight (luaCreateFunction)."""
        script = self.bodies.get(body)
        if script is not None:
            return script
        sha = hashlib.sha1(body).hexdigest()
        script = self.scripts.get(sha)
        if script is None:
            flags, skip = parse_shebang(body)
            fn = self._compile_source(body[skip:], b"@user_script", False,
                                      "ERR Error compiling script (new function): ")
            script = Script(sha, body, flags, fn)
            self.scripts[sha] = script
        self.bodies[body] = script
        return script

    def _compile_source(self, code: bytes, chunkname: bytes, for_functions: bool,
                        prefix: str) -> Any:
        try:
            result = self._compile(code, chunkname, for_functions)
        except lua51.LuaError as exc:
            self._reset()
            raise ErrorReply(prefix + ("not enough memory" if isinstance(exc, MemoryError)
                                       else str(exc))) from None
        fn = result[0] if type(result) is tuple else result
        if fn is None or type(fn) is int:
            msg = result[1] if type(result) is tuple and len(result) > 1 else None
            if not isinstance(msg, bytes):
                msg = b"not enough memory"
            raise ErrorReply(prefix + convert.c_text(msg).decode("utf-8", "surrogateescape"))
        return fn

    def script_exists(self, sha: bytes) -> bool:
        return sha.decode("latin-1").lower() in self.scripts

    def flush_scripts(self) -> None:
        self.scripts.clear()
        self.bodies.clear()
        try:
            self._collect()
        except lua51.LuaError:
            self._reset()

    def eval(self, c: "Session", argv: list[bytes], by_sha: bool, ro: bool) -> Any:
        numkeys = _SMALL_INTS.get(argv[2])
        if numkeys is None:
            numkeys = parse_int(argv[2])
            if numkeys is None:
                raise ErrorReply(errors.NOT_INTEGER)
        if numkeys > len(argv) - 3:
            raise ErrorReply("ERR Number of keys can't be greater than number of args")
        if numkeys < 0:
            raise ErrorReply("ERR Number of keys can't be negative")
        if by_sha:
            script = self.scripts.get(argv[1].decode("latin-1").lower())
            if script is None:
                raise ErrorReply(errors.NOSCRIPT)
        else:
            script = self.bodies.get(argv[1])
            if script is None:
                script = self.get_script(argv[1])
        flags = script.flags
        if flags is not None:
            self._check_flags(c, flags, ro)
        return self._execute(c, script.sha, True, script.fn, numkeys, argv, flags, ro)

    def fcall(self, c: "Session", argv: list[bytes], ro: bool) -> Any:
        f = self.registry.functions.get(argv[1].lower())
        if f is None:
            raise ErrorReply("ERR Function not found")
        numkeys = parse_int(argv[2])
        if numkeys is None:
            raise ErrorReply("ERR Bad number of keys provided")
        if numkeys > len(argv) - 3:
            raise ErrorReply("ERR Number of keys can't be greater than number of args")
        if numkeys < 0:
            raise ErrorReply("ERR Number of keys can't be negative")
        flags = frozenset(f.flags)
        self._check_flags(c, flags, ro)
        return self._execute(c, f.name, False, f.fn, numkeys, argv, flags, ro)

    def _out_of_memory(self) -> bool:
        eng = self.engine
        limit = eng.config["maxmemory"]
        if not limit:
            return False
        used = eng.extensions.get("used_memory")
        return used is not None and used() > limit

    def _check_flags(self, c: "Session", flags: frozenset[str] | None, ro: bool) -> None:
        """scriptPrepareForRun's checks of the declared flags."""
        eng = self.engine
        if flags is None:
            return
        if "no-cluster" in flags and eng.config["cluster-enabled"]:
            raise ErrorReply("ERR Can not run script on cluster, 'no-cluster' flag is set.")
        if "no-writes" not in flags:
            if eng.is_replica and eng.config["replica-read-only"] and c.kind != "master":
                raise ErrorReply("READONLY Can not run script with write flag on readonly replica")
            if ro:
                raise ErrorReply("ERR Can not execute a script with write flag using *_ro command.")
        if "allow-oom" not in flags and "no-writes" not in flags and self._out_of_memory():
            raise ErrorReply("OOM allow-oom flag is not set on the script, can not run it when "
                             "used memory > 'maxmemory'")

    def _execute(self, c: "Session", name: str, is_eval: bool, fn: Any, numkeys: int,
                 argv: list[bytes], flags: frozenset[str] | None, ro: bool) -> Any:
        eng = self.engine
        ss = self.ss
        if flags is None:
            read_only, allow_oom = ro, False
        else:
            read_only = ro or "no-writes" in flags
            allow_oom = "allow-oom" in flags
        run = Run(name, is_eval, c, argv, read_only, allow_oom,
                  self._config["maxmemory"] != 0 and self._out_of_memory(), False, _monotonic())
        ss.db = c.db
        ss.resp = 2
        ss.user = c.user
        ss.record = c.record
        frozen = eng.frozen_ms
        if frozen is None:
            eng.frozen_ms = eng.clock.time_ms()
        self.run = run
        try:
            args = argv[3:]
            if len(args) > MAX_VARARGS or sum(map(len, args)) > 1 << 20:
                res = self._run_big(is_eval, fn, numkeys, args)
            elif is_eval:
                res = self._run_eval(fn, numkeys, *args)
            else:
                res = self._run_function(fn, numkeys, *args)
        except lua51.LuaError as exc:
            self._safe_reset()
            res = (3, b"not enough memory" if isinstance(exc, MemoryError)
                   else str(exc).encode("utf-8", "surrogateescape"), None, None)
        finally:
            self.run = None
            eng.frozen_ms = frozen
            ss.record = None
            if run.timed_out:
                self._leave_busy()
        if run.propagate:
            self._propagate(c, run)
        kind = res[0]
        if kind == 0:
            value = res[1]
            if type(value) is bytes:
                return value
            return convert.scalar_result(value, ss.resp == 3)
        return self._result(res, name, ss.resp == 3)

    def _run_big(self, is_eval: bool, fn: Any, numkeys: int, args: list[bytes]) -> Any:
        if not self._room_for(args):
            raise lua51.LuaMemoryError("not enough memory")
        table = self._table_from(args)
        if is_eval:
            return self._run_eval_table(fn, numkeys, table)
        return self._run_function_table(fn, numkeys, table)

    def _room_for(self, args: list[bytes]) -> bool:
        # Arguments are copied into the Lua state before any protection is in place; an
        # allocation failing there would abort the process, so refuse what cannot fit.
        size = 0
        for a in args:
            size += len(a) + 32
        if size < 1 << 20:
            return True
        return self.rt.get_memory_used() + 2 * size + (1 << 20) < self.max_memory

    def _safe_reset(self) -> None:
        try:
            self._reset()
        except lua51.LuaError:
            log.exception("could not reset the Lua runtime")

    @staticmethod
    def _result(res: Any, name: str, resp3: bool) -> Any:
        kind = res[0]
        if kind == 0:
            return convert.scalar_result(res[1], resp3)
        if kind == 1:
            return convert.decode_result(res[1], resp3)
        if kind == 2:
            return convert.script_error(res[1], res[2], res[3], name)
        return convert.run_failure(res[1], name)

    def _propagate(self, c: "Session", run: Run) -> None:
        """Effects replication: the script's writes, wrapped in MULTI/EXEC when more than one."""
        cmds: list[list[bytes]] = []
        db = c.db.id
        for cmd_db, cmd in run.propagate:
            if cmd_db != db:
                cmds.append([b"SELECT", b"%d" % cmd_db])
                db = cmd_db
            cmds.append(cmd)
        if db != c.db.id:
            cmds.append([b"SELECT", b"%d" % c.db.id])
        if len(run.propagate) > 1 and not c.in_exec:
            cmds = [[b"MULTI"]] + cmds + [[b"EXEC"]]
        c.extra["propagate"] = cmds

    # ----------------------------------------------------------------------------------------
    # Function libraries

    def create_library(self, name: str, code: bytes, body: bytes) -> list[tuple]:
        """Compile and run a library body; returns (name, fn, flags, description) per function."""
        fn = self._compile_source(body, b"@user_function", True, "ERR Error compiling function: ")
        run = Run(name, False, None, [], load=True, start=_monotonic())
        self.run = run
        try:
            result = self._load_library(fn)
        except lua51.LuaError as exc:
            self._safe_reset()
            result = (False, b"not enough memory" if isinstance(exc, MemoryError)
                      else str(exc).encode())
        finally:
            self.run = None
        ok, payload = result[0], result[1]
        if ok is not True:
            text = "(null)" if payload is None else \
                convert.c_text(payload).decode("utf-8", "surrogateescape")
            raise ErrorReply("ERR Error registering functions: " + text)
        out = []
        for i in range(1, len(payload) + 1):
            entry = payload[i]
            fname = entry[1].decode("utf-8", "surrogateescape")
            flags_table = entry[3]
            flags = [flags_table[j].decode() for j in range(1, len(flags_table) + 1)]
            desc = entry[4]
            out.append((fname, entry[2], flags, desc))
        return out


def _never_raises(fn: Any, fallback: Any) -> Any:
    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except BaseException:
            return fallback

    return wrapper


def _patch(dump: bytes) -> Any:
    try:
        return without_tail_calls(dump)
    except BaseException:
        return None


def _plain_find(s: bytes, p: bytes, offset: int) -> Any:
    try:
        at = s.find(p, int(offset))
        return None if at < 0 else at
    except BaseException:
        return None


# ---------------------------------------------------------------------------------------------
# The EVAL shebang

def parse_shebang(body: bytes) -> tuple[frozenset[str] | None, int]:
    """evalExtractShebangFlags: (flags or None for no shebang, length of the shebang line)."""
    from ...protocol.resp import split_args

    if not body.startswith(b"#!"):
        return None, 0
    z = body.find(b"\0")
    visible = body if z < 0 else body[:z]
    end = visible.find(b"\n")
    if end < 0:
        raise ErrorReply("ERR Invalid script shebang")
    parts = split_args(body[:end])
    if not parts:
        raise ErrorReply("ERR Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise ErrorReply("ERR Unexpected engine in script shebang: " + _text(parts[0]))
    flags: set[str] = set()
    for part in parts[1:]:
        if part.startswith(b"flags="):
            listed = part[6:]
            if not listed:
                continue
            for flag in listed.split(b","):
                name = _text(flag)
                if name not in SCRIPT_FLAGS:
                    raise ErrorReply("ERR Unexpected flag in script shebang: " + name)
                flags.add(name)
        else:
            raise ErrorReply("ERR Unknown lua shebang option: " + _text(part))
    return frozenset(flags), end


def _text(data: bytes) -> str:
    return convert.c_text(data).decode("utf-8", "surrogateescape")


def scripting(engine: "Engine") -> Scripting:
    """The engine's Lua scripting, created on first use."""
    s = engine.extensions.get("lua")
    if s is None:
        with engine.lock:
            s = engine.extensions.get("lua")
            if s is None:
                s = Scripting(engine)
                engine.extensions["lua"] = s
    return s  # type: ignore[no-any-return]


__all__ = ["Scripting", "Script", "Run", "scripting", "parse_shebang", "BUSY_EVAL",
           "BUSY_FUNCTION"]
