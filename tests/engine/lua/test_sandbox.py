"""Hostile scripts: every escape, runaway and resource attack ends in an error, and the engine
keeps serving. Runaway scripts are stopped with SCRIPT KILL from a second thread, the way a
second client would; the threads synchronise on the scripting's busy event, never on sleeps.
"""

from __future__ import annotations

import threading
from typing import Any, Iterator

import pytest

from redislab.engine import Engine, ManualClock, Session
from redislab.engine.lua import scripting
from redislab.engine.lua.runtime import BUSY_EVAL, BUSY_FUNCTION, Scripting
from redislab.protocol.reply import ErrorReply

KILLED = "ERR Script killed by user with SCRIPT KILL..."


@pytest.fixture
def eng() -> Engine:
    e = Engine(ManualClock())
    # A small heap keeps the memory attacks quick.
    e.extensions["lua"] = Scripting(e, max_memory=48 * 1024 * 1024)
    return e


@pytest.fixture
def s(eng: Engine) -> Session:
    return eng.session()


def _error(reply: Any) -> str:
    assert isinstance(reply, ErrorReply), f"expected an error, got {reply!r}"
    return reply.message


def _healthy(session: Session) -> None:
    assert session.execute("PING") == "PONG"
    assert session.execute("EVAL", "return {pcall(error, 'x')}", "0") == [None, b"x"]
    assert session.execute("EVAL", "local t = {} t.x = 1 return t.x + 1", "0") == 2
    assert session.execute("EVAL", "return cjson.encode({1, 2})", "0") == b"[1,2]"


class Runaway:
    """Runs a command on its own session and thread; the test thread kills it."""

    def __init__(self, eng: Engine, *command: Any) -> None:
        self.eng = eng
        self.lua = scripting(eng)
        self.session = eng.session()
        self.reply: Any = None
        self.thread = threading.Thread(target=self._run, args=command, daemon=True)

    def _run(self, *command: Any) -> None:
        self.reply = self.session.execute(*command)

    def __enter__(self) -> "Runaway":
        self.thread.start()
        assert self.lua.busy.wait(30), "the script never became busy"
        return self

    def __exit__(self, *exc: Any) -> None:
        self.thread.join(30)
        assert not self.thread.is_alive(), "the script could not be stopped"


@pytest.fixture
def runaway(eng: Engine, s: Session) -> Iterator[Any]:
    s.execute("CONFIG", "SET", "busy-reply-threshold", "10")

    def start(*command: Any) -> Runaway:
        return Runaway(eng, *command)

    yield start


LOOPS = [
    "while true do end",
    "local i = 0 repeat i = i + 1 until false",
    "for i = 1, math.huge do end",
    "while true do pcall(function() end) end",
    "local function f() while true do end end while true do pcall(f) end",
    "while true do local ok, e = pcall(redis.call, 'ping') end",
    "while true do pcall(error, 'swallowed') end",
    # Redis 7.0.15 hangs for good on this one (a looping message handler): bug B2.
    "xpcall(function() error('x') end, function() while true do end end)",
    "while true do xpcall(function() while true do end end, function(e) return e end) end",
    "coroutine.wrap(function() while true do end end)()",
    "local co = coroutine.create(function() while true do pcall(error) end end) "
    "coroutine.resume(co) return 'went on'",
    "local co = coroutine.wrap(function() while true do coroutine.yield() end end) "
    "while true do co() end",
    "local t = setmetatable({}, {__index = function(t, k) while true do end end}) return t.x",
    "local t = setmetatable({}, {__add = function() while true do end end}) return t + 1",
    "local t = setmetatable({}, {__tostring = function() while true do end end}) "
    "return tostring(t)",
    "error(setmetatable({}, {__index = function() while true do end end}))",
    "return (string.gsub(string.rep('a', 3000), 'a', function() while true do end end))",
    "local t = {} for i = 1, 100 do t[i] = i end "
    "table.sort(t, function(a, b) while true do end end)",
    "local f = loadstring('while true do end') f()",
    # Big sorts compare in Lua so that an adversarial (quadratic) input stays killable.
    "local t = {} for i = 1, 2e6 do t[i] = (i * 7919) % 1000003 end table.sort(t) "
    "while true do end",
    "local f = load(math.random) return f",
    "local f = load(function() return nil end) while true do end",
    "local function f(n) return f(n + 1) + 1 end while true do pcall(f, 1) end",
    "return cjson.decode(string.rep('[', 900) .. string.rep(']', 900)) "
    "and (function() while true do end end)()",
    # Catastrophic patterns: the C matcher cannot be interrupted (Redis hangs: bug B4).
    "return (string.gsub(string.rep('a', 1e5), string.rep('.-', 1e4) .. 'b', ''))",
    "return string.find(string.rep('a', 1e5), string.rep('a?', 1e5) .. 'b')",
    "return string.find(string.rep('(', 1e6), '%b()')",
    "return string.match(string.rep('a', 1e5), '.-.-.-.-.-.-b')",
    "for m in string.gmatch(string.rep('a', 1e5), '.-.-.-b') do end",
    # A quadratic plain search is done by the host in linear time, then the script loops.
    "return string.find(string.rep('a', 1e6), string.rep('a', 5e5) .. 'b', 1, true) == nil "
    "and (function() while true do end end)()",
]


@pytest.mark.parametrize("script", LOOPS)
def test_script_kill_stops_every_kind_of_loop(eng: Engine, s: Session, runaway: Any,
                                              script: str) -> None:
    other = eng.session()
    with runaway("EVAL", script, "0") as r:
        # Other clients are told BUSY while the script is past the threshold.
        assert _error(other.execute("GET", "x")) == BUSY_EVAL
        assert _error(other.execute("EVAL", "return 1", "0")) == BUSY_EVAL
        assert _error(other.execute("FUNCTION", "KILL")) == BUSY_EVAL
        assert _error(other.execute("FUNCTION", "STATS")) == BUSY_EVAL
        assert other.execute("SCRIPT", "KILL") == "OK"
    assert _error(r.reply).startswith(KILLED)
    assert not r.lua.busy.is_set()
    _healthy(s)
    assert _error(s.execute("SCRIPT", "KILL")).startswith("NOTBUSY")


def test_function_kill(eng: Engine, s: Session, runaway: Any) -> None:
    s.execute("FUNCTION", "LOAD", "#!lua name=spin\n"
              "redis.register_function('spin', function() while true do end end)")
    other = eng.session()
    with runaway("FCALL", "spin", "0") as r:
        assert _error(other.execute("GET", "x")) == BUSY_FUNCTION
        assert _error(other.execute("SCRIPT", "KILL")) == BUSY_FUNCTION
        stats = other.execute("FUNCTION", "STATS")
        running = dict(stats)[b"running_script"]
        assert dict(running)[b"name"] == b"spin"
        assert dict(running)[b"command"] == [b"FCALL", b"spin", b"0"]
        assert other.execute("FUNCTION", "KILL") == "OK"
    assert _error(r.reply) == KILLED + " script: spin, on @user_function:2."
    _healthy(s)


def test_a_script_that_wrote_cannot_be_killed(eng: Engine, s: Session, runaway: Any) -> None:
    other = eng.session()
    script = "redis.call('set', 'w', '1') local n = 0 while n < 3e7 do n = n + 1 end return n"
    with runaway("EVAL", script, "0") as r:
        assert _error(other.execute("SCRIPT", "KILL")).startswith("UNKILLABLE Sorry the script")
    assert r.reply == 30000000
    assert s.execute("GET", "w") == b"1"


def test_commands_that_may_run_while_busy(eng: Engine, s: Session, runaway: Any) -> None:
    other = eng.session()
    with runaway("EVAL", "while true do end", "0"):
        assert other.execute("MULTI") == "OK"
        assert other.execute("DISCARD") == "OK"
        assert other.execute("SCRIPT", "KILL") == "OK"


def test_no_busy_state_below_the_threshold(eng: Engine, s: Session) -> None:
    s.execute("CONFIG", "SET", "lua-time-limit", "60000")
    assert s.execute("EVAL", "local n = 0 for i = 1, 3e6 do n = n + i end return n", "0") \
        == 4500001500000
    assert not scripting(eng).busy.is_set()


def test_function_load_timeout(eng: Engine, s: Session) -> None:
    scripting(eng).load_timeout = 0.05
    r = s.execute("FUNCTION", "LOAD", "#!lua name=slow\nwhile true do end")
    assert _error(r) == "ERR Error registering functions: ERR FUNCTION LOAD timeout"
    r = s.execute("FUNCTION", "LOAD", "#!lua name=slow\nlocal function f() while true do "
                  "local x = {} end end f()")
    assert _error(r) == "ERR Error registering functions: ERR FUNCTION LOAD timeout"
    assert s.execute("FUNCTION", "LIST") == []
    _healthy(s)


# ---------------------------------------------------------------------------------------------
# Memory

MEMORY_BOMBS = [
    "return #string.rep('x', 1e9)",
    "local s = 'x' while true do s = s .. s end",
    "local t = {} for i = 1, 1e9 do t[i] = i end",
    "local t = {} while true do t = {t, {}, {}} end",
    "local t = {} for i = 1, 1e6 do t[i] = string.rep('y', 1000) .. i end",
    "local t = {} for i = 1, 1e6 do t[i] = string.rep('y', 100) end return #table.concat(t)",
    "return cjson.encode(string.rep('x', 3e7))",
    "local t = {} for i = 1, 3e6 do t[i] = {i} end return cmsgpack.pack(t)",
    "local t = {} for i = 1, 1e7 do t[i] = i end return t",
    "collectgarbage('stop') local t = {} for i = 1, 1e9 do t[i] = {} end",
]


@pytest.mark.parametrize("script", MEMORY_BOMBS)
def test_memory_bombs_hit_the_cap(s: Session, script: str) -> None:
    r = s.execute("EVAL", script, "0")
    assert "not enough memory" in _error(r)
    _healthy(s)


def test_memory_errors_can_be_caught_but_allocation_fails(s: Session) -> None:
    r = s.execute("EVAL", "local ok, e = pcall(string.rep, 'x', 1e9) return {tostring(ok), e}",
                  "0")
    assert r == [b"false", b"not enough memory"]
    _healthy(s)


def test_huge_arguments_do_not_reach_the_heap(s: Session) -> None:
    big = b"z" * (40 * 1024 * 1024)
    r = s.execute("EVAL", "return #ARGV[1]", "0", big)
    assert "not enough memory" in _error(r)
    _healthy(s)


# ---------------------------------------------------------------------------------------------
# Escapes

ABSENT = ["python", "os", "io", "debug", "package", "require", "module", "dofile", "loadfile",
          "print", "getfenv", "setfenv", "newproxy", "jit", "bit32", "utf8"]


@pytest.mark.parametrize("name", ABSENT)
def test_dangerous_globals_are_absent(s: Session, name: str) -> None:
    r = s.execute("EVAL", f"return {name}", "0")
    assert f"nonexistent global variable '{name}'" in _error(r)
    assert s.execute("EVAL", f"return rawget(_G, '{name}')", "0") is None


def test_nothing_reachable_is_a_host_object(s: Session) -> None:
    # Walk everything a script can reach from its globals: every value is a plain Lua value;
    # the only userdata is cjson.null.
    script = """
    local seen, kinds, queue = {}, {}, {_G, getmetatable(_G), getmetatable('')}
    while #queue > 0 do
      local v = table.remove(queue)
      if not seen[v] then
        seen[v] = true
        for k, x in pairs(v) do
          local t = type(x)
          kinds[t] = (kinds[t] or 0) + 1
          if t == 'userdata' and x ~= cjson.null then return 'host object at ' .. tostring(k) end
          if t == 'table' then
            queue[#queue + 1] = x
            local mt = getmetatable(x)
            if type(mt) == 'table' then queue[#queue + 1] = mt end
          end
        end
      end
    end
    return {kinds['function'] > 100 and 'functions' or 'few', kinds.userdata}
    """
    assert s.execute("EVAL", script, "0") == [b"functions", 1]


ERROR_VALUES = [
    "pcall(redis.call, {})", "pcall(redis.call, 'nosuch')", "pcall(struct.pack, 'i', {})",
    "pcall(struct.unpack, 'i', 'x')", "pcall(bit.band, {})", "pcall(cjson.encode, tostring)",
    "pcall(cjson.decode, '[')", "pcall(cmsgpack.unpack, '\\193')", "pcall(math.random, {})",
    "pcall(redis.sha1hex)", "pcall(redis.setresp, 9)", "pcall(redis.acl_check_cmd)",
    "pcall(string.rep)", "pcall(loadstring, {})", "pcall(setmetatable, 1)",
    "pcall(string.find, 'x', '%')", "pcall(redis.log, 1)", "pcall(table.insert, redis, 1)",
]


@pytest.mark.parametrize("call", ERROR_VALUES)
def test_caught_errors_are_strings(s: Session, call: str) -> None:
    script = f"local ok, e = {call} return {{tostring(ok), type(e)}}"
    assert s.execute("EVAL", script, "0") == [b"false", b"string"]


def test_coroutine_and_xpcall_error_values_are_lua_values(s: Session) -> None:
    r = s.execute("EVAL", "local ok, e = coroutine.resume(coroutine.create(function() "
                  "redis.call('nosuch') end)) return {tostring(ok), type(e), e.err}", "0")
    assert r == [b"false", b"table", b"ERR Unknown Redis command called from script"]
    r = s.execute("EVAL", "return {xpcall(function() struct.pack('i', {}) end, "
                  "function(e) return type(e) end)}", "0")
    assert r == [None, b"string"]


def test_our_functions_cannot_be_dumped_or_reentered(s: Session) -> None:
    for f in ("redis.call", "pcall", "string.find", "cjson.encode", "bit.band", "pairs"):
        r = s.execute("EVAL", f"return string.dump({f})", "0")
        assert "unable to dump given function" in _error(r)
        r = s.execute("EVAL", f"return coroutine.create({f})", "0")
        assert "Lua function expected" in _error(r)


def test_bytecode_never_loads(s: Session) -> None:
    for script in (
        "return loadstring(string.dump(function() return 1 end))",
        "local d = string.dump(function() return 1 end) local i = 0 "
        "return load(function() i = i + 1 return d:sub(i, i) end)",
        "return loadstring('\\27Lua' .. string.rep('x', 100))",
    ):
        assert s.execute("EVAL", script, "0") is None
    r = s.execute("EVAL", "local f, e = loadstring(string.dump(function() end)) return e", "0")
    assert b"unexpected symbol near 'char(27)'" in r
    assert "unexpected symbol" in _error(s.execute("EVAL", "\x1bLuaQ\x00\x01", "0"))


def test_internal_chunk_names_are_not_usable(s: Session, runaway: Any, eng: Engine) -> None:
    # Our own code is never interrupted half-way; a script must not pass for it.
    other = eng.session()
    with runaway("EVAL", "local f = loadstring('while true do end', '=[sandbox]') f()", "0") as r:
        assert other.execute("SCRIPT", "KILL") == "OK"
    assert _error(r.reply).startswith(KILLED)


def test_deep_recursion(s: Session) -> None:
    assert "stack overflow" in _error(s.execute(
        "EVAL", "local function f() return 1 + f() end return f()", "0"))
    assert "stack overflow" in _error(s.execute(
        "EVAL", "local t = setmetatable({}, {}) getmetatable(t).__index = function(t, k) "
                "return t[k] end return t.x", "0"))
    assert "stack overflow" in _error(s.execute(
        "EVAL", "local function f() return string.gsub('a', 'a', f) end return f()", "0"))
    assert "too many results to unpack" in _error(s.execute(
        "EVAL", "return unpack({}, 1, 1e7)", "0"))
    _healthy(s)


def test_self_referencing_result(s: Session) -> None:
    r = s.execute("EVAL", "local a = {} a[1] = a return a", "0")
    depth = 0
    while isinstance(r, list):
        assert len(r) == 1
        r = r[0]
        depth += 1
    assert depth > 100
    assert _error(r) == "ERR reached lua stack limit"


# ---------------------------------------------------------------------------------------------
# Redis 7.0.15's sandbox bugs (reference §7): we do not share them

def test_b1_error_table_without_err_field(s: Session) -> None:
    # Redis 7.0.15 crashes on this.
    r = s.execute("EVAL", "error({foo='bar'})", "0")
    assert _error(r).startswith("ERR ")
    _healthy(s)


def test_b3_no_finalizers_from_scripts(s: Session) -> None:
    # Redis hangs in SCRIPT FLUSH on a looping __gc; scripts here cannot create userdata.
    r = s.execute("EVAL", "local u = newproxy(true) return 1", "0")
    assert "nonexistent global variable 'newproxy'" in _error(r)
    s.execute("EVAL", "setmetatable({}, {__gc = function() while true do end end}) return 1", "0")
    assert s.execute("SCRIPT", "FLUSH") == "OK"
    _healthy(s)


def test_b5_no_environment_changes(s: Session) -> None:
    assert "setfenv" in _error(s.execute("EVAL", "setfenv(0, {}) return 1", "0"))
    _healthy(s)


def test_b6_string_metatable_is_read_only(s: Session) -> None:
    r = s.execute("EVAL", "getmetatable('').__index = {upper = function() return 'pwned' end}",
                  "0")
    assert "Attempt to modify a readonly table" in _error(r)
    r = s.execute("EVAL", "local mt = getmetatable('') mt.__index.upper = nil", "0")
    assert "Attempt to modify a readonly table" in _error(r)
    assert s.execute("EVAL", "return ('x'):upper()", "0") == b"X"


def test_b7_cjson_settings_do_not_leak_into_later_scripts(s: Session) -> None:
    s.execute("EVAL", "cjson.decode_max_depth(2) cjson.encode_number_precision(3) "
              "cjson.encode_sparse_array(true) return 1", "0")
    assert s.execute("EVAL", "return #cjson.decode('[[[1]]]')", "0") == 1
    assert s.execute("EVAL", "return cjson.encode(1/3)", "0") == b"0.33333333333333"
    assert "sparse" in _error(s.execute("EVAL", "return cjson.encode({[1]=1, [20]=2})", "0"))


def test_gc_settings_do_not_leak(s: Session, eng: Engine) -> None:
    s.execute("EVAL", "collectgarbage('stop') collectgarbage('setpause', 1000) return 1", "0")
    lua = scripting(eng)
    before = lua.memory_used()
    for _ in range(20):
        s.execute("EVAL", "local t = {} for i = 1, 1e5 do t[i] = {i} end return 1", "0")
    assert lua.memory_used() < before + 32 * 1024 * 1024


def test_scripts_share_no_state(s: Session) -> None:
    assert "readonly" in _error(s.execute("EVAL", "string.secret = 1", "0"))
    assert "readonly" in _error(s.execute("EVAL", "rawset(string, 'secret', 1)", "0"))
    assert "readonly" in _error(s.execute("EVAL", "setmetatable(cjson, {})", "0"))
    assert "readonly" in _error(s.execute("EVAL", "table.insert(bit, 1)", "0"))
    assert s.execute("EVAL", "return rawget(string, 'secret')", "0") is None
    assert s.execute("EVAL", "redis.setresp(3) return 1", "0") == 1
    assert s.execute("EVAL", "return redis.call('get', 'nokey')", "0") is None
    assert s.execute("EVAL", "return {redis.call('get', 'nokey')}", "0") == [None]


def test_killed_state_does_not_survive_the_run(eng: Engine, s: Session, runaway: Any) -> None:
    other = eng.session()
    with runaway("EVAL", "while true do pcall(error) end", "0"):
        other.execute("SCRIPT", "KILL")
    # A later script with a pcall loop on one line runs normally.
    assert s.execute("EVAL", "local n = 0 for i = 1, 1e5 do pcall(error) n = n + 1 end "
                     "return n", "0") == 100000


def test_interrupt_on_the_engine_thread_kills_the_script(eng: Engine, s: Session) -> None:
    # A front end's Ctrl-C (SIGINT on the thread running the engine) stops a runaway script.
    import os
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread")
    s.execute("CONFIG", "SET", "busy-reply-threshold", "10")
    lua = scripting(eng)
    # A process started in the background inherits SIGINT as ignored: no Ctrl-C can reach
    # it, so there is nothing to test (and the script would run until the safety net).
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not delivered to this process (started in the background)")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    delivered = threading.Event()

    def interrupt() -> None:
        if lua.busy.wait(30):
            os.kill(os.getpid(), signal.SIGINT)
            delivered.set()
            # Safety net: should the signal not stop it, end the script anyway.
            if not done.wait(10):
                eng.session().execute("SCRIPT", "KILL")

    done = threading.Event()
    helper = threading.Thread(target=interrupt, daemon=True)
    helper.start()
    try:
        r = s.execute("EVAL", "while true do end", "0")
    finally:
        done.set()
        signal.signal(signal.SIGINT, previous)
    helper.join(30)
    assert delivered.is_set()
    assert _error(r).startswith(KILLED)
    _healthy(s)


def test_big_replies_are_refused_before_they_reach_the_heap(s: Session) -> None:
    s.execute("SET", "big", b"x" * (30 * 1024 * 1024))
    r = s.execute("EVAL", "return #redis.call('get', 'big')", "0")
    assert "not enough memory" in _error(r)
    r = s.execute("EVAL", "local ok, e = pcall(redis.call, 'get', 'big') return e", "0")
    assert r == b"ERR not enough memory"
    s.execute("DEL", "big")
    for i in range(300):
        s.execute("RPUSH", "list", b"y" * 100_000)
    r = s.execute("EVAL", "return #redis.call('lrange', 'list', 0, -1)", "0")
    assert "not enough memory" in _error(r)
    _healthy(s)
