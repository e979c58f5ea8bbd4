"""Scripting commands compared with real Redis: EVAL and EVALSHA, SCRIPT, FUNCTION, FCALL."""

from __future__ import annotations

import re
from typing import Any

import pytest

from redislab.engine import Engine, ManualClock
from redislab.protocol.reply import ErrorReply

from ...support.real_redis import normalize, wire

SHA = re.compile(r"[0-9a-f]{40}")


def _same(differ: Any, *args: Any) -> Any:
    """Both replies, with the script digests inside error texts masked."""
    ours, theirs = differ.both(*args)

    def mask(r: Any) -> Any:
        if isinstance(r, tuple) and r and r[0] == "error":
            return ("error", SHA.sub("<sha>", r[1]))
        return r

    assert mask(ours) == mask(theirs), f"{args!r}: redislab {ours!r} != redis {theirs!r}"
    return ours


# ---------------------------------------------------------------------------------------------
# EVAL

EVAL_CASES = [
    "return 1", "return 'x'", "return {1,2,3}", "return true", "return false", "return nil",
    "return 3.99", "return -3.9", "return -0.5", "return 1/0", "return -1/0", "return 0/0",
    "return 1e20", "return 2^63", "return 2^53+1", "return {1,{2,nil,3},{a=1},'x',nil,'never'}",
    "return {ok='OK\\r\\n+X'}", "return {err='a\\r\\nb'}", "return {err='nocode'}",
    "return {ok=5}", "return {double=3.14}", "return {double='3.14'}", "return {double=1/0}",
    "return {big_number='12345'}", "return {verbatim_string={format='txt', string='hi'}}",
    "return {map={a=1}}", "return {set={a=true}}", "return {1,{ok='x'},{err='ERR y'}}",
    "return {true, false, 1}", "return _G", "return function() end", "return {err=''}",
    "return {err='a\\r\\n'}", "return {ok='a\\0b'}", "return {err='x\\0y'}",
    "error('boom')", "error('boom', 0)", "error(42)", "error()", "error(nil)",
    "error({err='MYERR custom'})", "return redis.call('nosuchcmd')", "return redis.call('get')",
    "return nosuchglobal", "x = 1", "rawset(_G,'x',1)", "local t = nil return t.x",
    "return {} + 1", "return 'a' .. {}", "local function f() return 1+f() end return f()",
    "return unpack({}, 1, 1e6)", "return redis.pcall('incr','k')",
    "return pcall(redis.call,'nosuchcmd')", "return {pcall(redis.call,'nosuchcmd')}",
    "return {pcall()}", "return {pcall(error)}", "return redis.sha1hex('')",
    "return redis.sha1hex(123)", "return redis.sha1hex()", "return redis.error_reply('MY_ERR x')",
    "return redis.error_reply('-MY_ERR x')", "return redis.error_reply('nospace')",
    "return redis.error_reply('')", "return redis.error_reply(1)",
    "return redis.status_reply('FINE')", "return redis.status_reply()", "redis.log()",
    "redis.log('x', 'y')", "redis.log(9, 'y')", "redis.log(redis.LOG_DEBUG, 'x', 1, {}) return 1",
    "redis.set_repl()", "redis.set_repl(99)", "redis.set_repl(redis.REPL_ALL) return 1",
    "return redis.acl_check_cmd('nosuch')", "return redis.acl_check_cmd('get', 'x')",
    "redis.setresp()", "redis.setresp(4)", "return redis.replicate_commands()",
    "return redis.breakpoint()", "return redis.debug('x')",
    "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}", "return math.random(1,2,3)",
    "return math.random(0)",
    "math.randomseed(1) return {tostring(math.random()), math.random(1,10), math.random(5)}",
    "local t={} for k in pairs(_G) do t[#t+1]=k end table.sort(t) return t",
    "local t={} for k in pairs(redis) do t[#t+1]=k end table.sort(t) return t",
    "local t={} for k in pairs(string) do t[#t+1]=k end table.sort(t) return t",
    "local t={} for k in pairs(cjson) do t[#t+1]=k end table.sort(t) return t",
    "return loadstring(string.dump(function() return 1 end))",
    "local f, e = loadstring(string.dump(function() return 1 end)) return e",
    "return loadstring('return 1+1')()", "return loadstring('return x')()",
    "return {loadstring('x = ')}", "return load(function() return nil end)",
    "local f = coroutine.wrap(function() error('boom') end) f()",
    "return {coroutine.resume(coroutine.create(function() error({err='x'}) end))}",
    "return {xpcall(function() error({err='ERR q'}) end, function(e) return e.err end)}",
    "return {pcall(string.find, 's', '%')}", "return ('x'):rep()",
    "local s='x' return s:find({})", "return string.gsub('abc', '%', 'x')",
    "return string.find('abc', '[a')", "return string.match('a', '(a')",
    "return string.gsub('abc', 'b', '%2')", "return string.gsub('abc', 'b', {b={}})",
    "return {string.gsub('hello world', '(o)', '[%1]')}", "return #KEYS",
    "ARGV = {}", "string.rep = nil", "redis.call = nil", "cjson.encode = nil",
    "setmetatable(_G, {})", "getmetatable(_G).__index = {}", "_G = {}",
    "table.insert(redis, 1)", "return table.remove(string)", "table.sort(_G) return 1",
    "getmetatable('').__index = {upper=function() return 'pwned' end} return ('x'):upper()",
    "return ('abc'):upper()", "return tostring(cjson.null)", "return print", "return os",
    "return io", "return debug", "return require", "return package", "return dofile",
    "return getfenv", "return setfenv", "return newproxy", "return module", "return loadfile",
    "return python",
]


@pytest.mark.parametrize("script", EVAL_CASES)
def test_eval_replies_and_errors(differ: Any, script: str) -> None:
    differ.check("SET", "k", "v")
    _same(differ, "EVAL", script, "0")


@pytest.mark.parametrize("script", EVAL_CASES[:40])
def test_eval_replies_resp3(differ3: Any, script: str) -> None:
    _same(differ3, "EVAL", script, "0")


RESP3_CALL_CASES = [
    "redis.setresp(3) redis.call('hset', 'h', 'f', '1') return redis.call('hgetall', 'h')",
    "redis.setresp(3) redis.call('hset', 'h', 'f', '1') return redis.call('hgetall', 'h').map.f",
    "redis.setresp(3) return redis.call('get', 'nokey')",
    "redis.setresp(3) return {redis.call('get', 'nokey')}",
    "return {redis.call('get', 'nokey')}",
    "redis.setresp(3) redis.call('set', 'a', '1') return redis.call('mget', 'a', 'nokey', 'a')",
    "redis.setresp(3) return true", "redis.setresp(3) return false",
    "redis.setresp(3) return {true, false}", "redis.setresp(3) return redis.call('ping')",
    "redis.setresp(3) return redis.call('ping').ok",
    "redis.setresp(3) redis.call('sadd', 's', 'x') return redis.call('smembers', 's')",
    "redis.setresp(3) redis.call('zadd', 'z', 1.5, 'm') return redis.call('zscore', 'z', 'm')",
    "redis.setresp(3) redis.call('zadd', 'z', 1.5, 'm') "
    "return tostring(redis.call('zscore', 'z', 'm').double)",
    "redis.call('zadd', 'z', 1.5, 'm') return redis.call('zscore', 'z', 'm')",
    "redis.setresp(3) redis.call('zadd', 'z', 1.5, 'm') "
    "return redis.call('zrange', 'z', 0, -1, 'withscores')",
    "redis.setresp(3) return {map={a=1, b={1,2}}}", "redis.setresp(3) return {set={a=true}}",
    "redis.setresp(3) return {big_number='123456789012345678901234567890'}",
    "return {verbatim_string={format='markdown', string='hello'}}",
    "return redis.call('type', 'h').ok", "return redis.call('lpop', 'nolist', 1)",
    "return {redis.call('lpop', 'nolist', 1)}",
    "redis.setresp(3) return redis.call('lpop', 'nolist', 1)",
    "redis.call('select', 3) redis.call('set', 'a', 'in3') return redis.call('get', 'a')",
    "return redis.call('incrbyfloat', 'f', 1.5)",
    "redis.call('set', 'n', 0.1) return redis.call('get', 'n')",
    "redis.call('set', 'n', 1e100) return redis.call('get', 'n')",
    "redis.call('set', 'n', 9007199254740993) return redis.call('get', 'n')",
    "return redis.call('set', 'n', true)", "return redis.call('set', 'n', nil)",
    "return redis.call('set', 'n', {})", "return redis.call('set', 'n', 'v', nil)",
    "return redis.call('ping', 'x', 'y')", "return redis.call('config', 'bogus')",
    "return redis.call('blpop', 'x', 0)", "return redis.call('multi')",
    "return redis.call('eval', 'return 1', 0)", "return redis.call('script', 'exists', 'x')",
    "return redis.call('function', 'list')", "return redis.call('hello')",
    "return redis.call('echo', 'hi')", "return redis.call('publish', 'ch', 'msg')",
    "local t = redis.pcall('nosuch') local r = {} for k in pairs(t) do r[#r+1]=k end "
    "table.sort(r) return r",
    "local t = redis.pcall() local r = {} for k in pairs(t) do r[#r+1]=k end return r",
]


@pytest.mark.parametrize("script", RESP3_CALL_CASES)
@pytest.mark.parametrize("resp", [2, 3])
def test_call_conversions(differ: Any, differ3: Any, script: str, resp: int) -> None:
    d = differ3 if resp == 3 else differ
    _same(d, "EVAL", script, "0")
    _same(d, "GET", "a")


def test_select_inside_script_keeps_the_caller_db(differ: Any) -> None:
    differ.check_all("""
        SELECT 2
        EVAL "redis.call('select', 5) return redis.call('set', 'x', '1')" 0
        EXISTS x
        SELECT 5
        EXISTS x
        SELECT 0
    """)


def test_keys_and_argv(differ: Any) -> None:
    differ.check_all("""
        EVAL "return {KEYS, ARGV}" 2 k1 k2 a1 a2 a3
        EVAL "return {#KEYS, #ARGV}" 0
        EVAL "KEYS[1] = 'changed' return KEYS" 1 k
        EVAL "table.insert(ARGV, 'more') return ARGV" 0 a
        EVAL "return 1" -1
        EVAL "return 1" 3 a b
        EVAL "return 1" x
        EVAL "return 1" 99999999999999999999
    """)
    many = [str(i) for i in range(500)]
    differ.check("EVAL", "return {#KEYS, #ARGV, KEYS[1], ARGV[#ARGV]}", "300", *many)


def test_evalsha_and_script_cache(differ: Any) -> None:
    differ.check_all("""
        SCRIPT FLUSH
        SCRIPT LOAD "return 'cached'"
        EVALSHA abc 0
        EVALSHA abc x
        EVALSHA 0123456789012345678901234567890123456789 x
        EVALSHA 0123456789012345678901234567890123456789 0
        SCRIPT FLUSH BOGUS
        SCRIPT FLUSH ASYNC
        SCRIPT KILL
        SCRIPT BOGUS
        SCRIPT LOAD "return +"
        SCRIPT DEBUG bogus
        SCRIPT DEBUG NO
        SCRIPT
        SCRIPT EXISTS
    """)
    sha = differ.check("SCRIPT", "LOAD", "return redis.call('ping')")
    differ.check("EVALSHA", sha, "0")
    differ.check("EVALSHA", sha.upper(), "0")
    differ.check("SCRIPT", "EXISTS", sha.upper(), "nosuch", sha)
    differ.check("EVALSHA_RO", sha, "0")
    differ.check("EVAL", "return 'cached'", "0")
    differ.check("SCRIPT", "FLUSH")
    differ.check("SCRIPT", "EXISTS", sha)
    differ.check("EVALSHA", sha, "0")


def test_compile_errors(differ: Any) -> None:
    differ.check_all("""
        EVAL "return +" 0
        EVAL "x = = 1" 0
        EVAL "local x = 'unfinished" 0
        EVAL "\\x1bLuaQ" 0
    """)


SHEBANG_CASES = [
    "#!lua\nreturn 1", "#!lua flags=no-writes\nreturn redis.call('set', 'a', '1')",
    "#!lua flags=no-writes,allow-oom\nreturn 1", "#!lua flags=\nreturn 1",
    "#!lua flags=bogus\nreturn 1", "#!lua flags=NO-WRITES\nreturn 1", "#!lua name=x\nreturn 1",
    "#!python\nreturn 1", "#! lua\nreturn 1", "#!lua", "#!lua flags=a,,b\nreturn 1",
    "#!lua \"unbalanced\nreturn 1", "#!lua\nerror('on line 2')", "#!lua\nreturn +",
    "#!lua\nreturn redis.call('set', 'a', '1')",
]


@pytest.mark.parametrize("script", SHEBANG_CASES)
def test_shebang(differ: Any, script: str) -> None:
    _same(differ, "EVAL", script, "0")
    _same(differ, "EVAL_RO", script, "0")


def test_read_only_scripts(differ: Any) -> None:
    for script in ("return redis.call('set', 'a', '1')", "return redis.call('get', 'a')",
                   "return redis.call('publish', 'c', 'm')", "return redis.call('pfcount', 'h')",
                   "return redis.call('expire', 'a', 10)",
                   "return redis.pcall('set', 'a', '1')"):
        _same(differ, "EVAL_RO", script, "0")


def test_errors_carry_the_line(differ: Any) -> None:
    script = "local a = 1\nlocal b = 2\nredis.call('incr', 'str')\nreturn a"
    differ.check("SET", "str", "text")
    _same(differ, "EVAL", script, "0")
    _same(differ, "EVAL", "local function f()\n  error('deep')\nend\nf()", "0")
    _same(differ, "EVAL", "return redis.call('get', 'str', 'extra')", "0")
    _same(differ, "EVAL", "redis.call('set', 'str', 'x')\nreturn redis.call('lpush', 'str', 1)",
          "0")


def test_eval_in_multi(differ: Any) -> None:
    differ.check_all("""
        MULTI
        EVAL "return redis.call('set', 'm', '1')" 0
        EVAL "error('inside')" 0
        EVAL "return redis.call('get', 'm')" 0
        EXEC
    """)


# ---------------------------------------------------------------------------------------------
# FUNCTION / FCALL

LIB = ("#!lua name=mylib\n"
       "redis.register_function('myfunc', function(keys, args) return {keys, args} end)")


def test_function_load_and_fcall(differ: Any) -> None:
    differ.check("FUNCTION", "FLUSH")
    differ.check("FUNCTION", "LOAD", LIB)
    differ.check("FUNCTION", "LOAD", LIB)
    differ.check("FUNCTION", "LOAD", "REPLACE", LIB)
    differ.check_all("""
        FCALL myfunc 2 k1 k2 a1
        FCALL MYFUNC 0
        FCALL myfunc x
        FCALL myfunc 3 a b
        FCALL myfunc -1
        FCALL nosuch 0
        FCALL_RO myfunc 0
        FUNCTION LIST
        FUNCTION LIST WITHCODE
        FUNCTION LIST LIBRARYNAME my*
        FUNCTION LIST LIBRARYNAME MY*
        FUNCTION LIST LIBRARYNAME nomatch
        FUNCTION LIST LIBRARYNAME
        FUNCTION LIST BOGUS
        FUNCTION LIST WITHCODE WITHCODE
        FUNCTION STATS
        FUNCTION DELETE MYLIB
        FUNCTION DELETE mylib
        FUNCTION DELETE mylib
        FCALL myfunc 0
        FUNCTION KILL
        FUNCTION FLUSH BOGUS
        FUNCTION FLUSH SYNC
        FUNCTION FLUSH a b
        FUNCTION BOGUS
        FUNCTION LOAD
        FUNCTION LOAD REPLACE
        FUNCTION LOAD BOGUS x
    """)


LOAD_CASES = [
    "return 1", "#!lua name=x", "#!lua\nreturn 1", "#!lua name=a name=b\nreturn 1",
    "#!lua foo=bar\nreturn 1", "#!js name=x\nreturn 1",
    "#!LUA name=uplib\nredis.register_function('upfunc', function() return 1 end)",
    "#!lua NAME=uplib\nredis.register_function('upfunc', function() return 1 end)",
    "#!lua name=bad-name\nreturn 1", "#!lua name=\nreturn 1",
    "#!lua name=x\nreturn +", "#!lua name=x\nlocal a = 1",
    "#!lua name=x\nreturn string.rep('a', 2)", "#!lua name=x\nredis.call('ping')",
    "#!lua name=x\ny = 1", "#!lua name=x\nredis.register_function('bad-name', function() end)",
    "#!lua name=x\nredis.register_function(1, function() end)",
    "#!lua name=x\nredis.register_function('f', 1)",
    "#!lua name=x\nredis.register_function()",
    "#!lua name=x\nredis.register_function('a', 'b', 'c')",
    "#!lua name=x\nredis.register_function('a')",
    "#!lua name=x\nredis.register_function{function_name='f'}",
    "#!lua name=x\nredis.register_function{callback=function() end}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, bogus=1}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
    "flags='no-writes'}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
    "flags={'bogus'}}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, "
    "description={}}",
    "#!lua name=x\nredis.register_function{function_name={}, callback=function() end}",
    "#!lua name=x\nredis.register_function{function_name='f', callback=1}",
    "#!lua name=x\nredis.register_function('f', function() end)\n"
    "redis.register_function('f', function() end)",
    "#!lua name=x\nredis.log(redis.LOG_NOTICE, 'loading') "
    "redis.register_function('fx', function() return redis.REDIS_VERSION end)",
    "#!lua name=x\nerror('load failed')", "#!lua name=x\nerror({err='MY load failed'})",
]


@pytest.mark.parametrize("code", LOAD_CASES)
def test_function_load_errors(differ: Any, code: str) -> None:
    differ.check("FUNCTION", "FLUSH")
    differ.check("FUNCTION", "LOAD", code)
    differ.check("FUNCTION", "LIST")


def test_function_flags_and_table_form(differ: Any) -> None:
    differ.check("FUNCTION", "FLUSH")
    code = ("#!lua name=flagged\n"
            "redis.register_function{function_name='ro', callback=function(k) "
            "return redis.call('get', k[1]) end, flags={'no-writes'}, description='reads'}\n"
            "redis.register_function{function_name='rw', callback=function(k) "
            "return redis.call('set', k[1], 'v') end, flags={'ALLOW-OOM'}}\n"
            "redis.register_function('plain', function(k) return redis.call('set', k[1], 'p') end)")
    differ.check("FUNCTION", "LOAD", code)
    differ.check_all("""
        FCALL ro 1 a
        FCALL_RO ro 1 a
        FCALL rw 1 a
        FCALL_RO rw 1 a
        FCALL_RO plain 1 a
        FCALL plain 1 a
        GET a
    """)
    ours, theirs = differ.both("FUNCTION", "LIST", "WITHCODE")
    assert _sorted_functions(ours) == _sorted_functions(theirs)


def _sorted_functions(listing: Any) -> Any:
    # Redis lists a library's functions in its hash table's order.
    kind, libs = listing
    out = []
    for lib in libs:
        _, fields = lib
        fields = list(fields)
        i = fields.index(b"functions")
        kind_f, funcs = fields[i + 1]
        fields[i + 1] = (kind_f, sorted(funcs, key=repr))
        out.append(fields)
    return kind, out


def test_function_runtime_environment(differ: Any) -> None:
    differ.check("FUNCTION", "FLUSH")
    code = ("#!lua name=envlib\n"
            "local captured = redis\n"
            "local function helper() return redis.call('ping') end\n"
            "redis.register_function('uses_helper', function() return helper() end)\n"
            "redis.register_function('uses_captured', function() return captured.call('ping') end)\n"
            "redis.register_function('keys_global', function() return KEYS end)\n"
            "redis.register_function('register_late', function() "
            "return redis.register_function('x', function() end) end)\n"
            "redis.register_function('boom', function() error('boom') end)\n"
            "redis.register_function('globals', function() local t = {} "
            "for k in pairs(_G) do t[#t+1] = k end table.sort(t) return t end)\n"
            "redis.register_function('redis_keys', function() local t = {} "
            "for k in pairs(redis) do t[#t+1] = k end table.sort(t) return t end)\n"
            "redis.register_function('write_global', function() x = 1 end)\n")
    differ.check("FUNCTION", "LOAD", code)
    for name in ("uses_helper", "uses_captured", "keys_global", "register_late", "boom",
                 "globals", "redis_keys", "write_global"):
        _same(differ, "FCALL", name, "0")


def test_function_name_collisions(differ: Any) -> None:
    differ.check("FUNCTION", "FLUSH")
    differ.check_all("""
        FUNCTION LOAD "#!lua name=lib1\\nredis.register_function('shared', function() return 1 end)"
        FUNCTION LOAD "#!lua name=lib2\\nredis.register_function('SHARED', function() return 2 end)"
        FUNCTION LOAD "#!lua name=LIB1\\nredis.register_function('other', function() return 3 end)"
        FCALL other 0
        FUNCTION LOAD REPLACE "#!lua name=lib1\\nredis.register_function('other', function() return 4 end)"
        FUNCTION LOAD REPLACE "#!lua name=lib1\\nredis.register_function('renamed', function() return 5 end)"
        FCALL renamed 0
        FCALL shared 0
        FUNCTION LOAD REPLACE "#!lua name=lib1\\nreturn +"
        FCALL renamed 0
        FUNCTION STATS
    """)


def test_function_dump_and_restore(differ: Any) -> None:
    differ.check("FUNCTION", "FLUSH")
    differ.check("FUNCTION", "LOAD", LIB)
    payload = differ.check("FUNCTION", "DUMP")
    differ.check_all("""
        FUNCTION RESTORE bogus
        FUNCTION RESTORE abc bogus
        FUNCTION RESTORE a b c
    """)
    differ.check("FUNCTION", "RESTORE", payload)
    differ.check("FUNCTION", "RESTORE", payload, "APPEND")
    differ.check("FUNCTION", "RESTORE", payload, "REPLACE")
    differ.check("FUNCTION", "RESTORE", payload, "FLUSH")
    differ.check("FUNCTION", "FLUSH")
    differ.check("FUNCTION", "RESTORE", payload)
    differ.check("FCALL", "myfunc", "0")
    differ.check("FUNCTION", "LIST")
    corrupted = payload[:-1] + bytes([payload[-1] ^ 1])
    differ.check("FUNCTION", "RESTORE", corrupted)
    differ.check("FUNCTION", "FLUSH")
    differ.check("FUNCTION", "DUMP")


def test_restore_a_payload_made_by_real_redis(redis_server: Any) -> None:
    real = redis_server.client()
    try:
        real.execute("FUNCTION", "FLUSH")
        padding = "\n".join(f"-- line {i} of padding so that the code compresses"
                            for i in range(20))
        code = ("#!lua name=reallib\n" + padding +
                "\nredis.register_function('realfunc', function() return 'from real' end)")
        real.execute("FUNCTION", "LOAD", code)
        payload = real.execute("FUNCTION", "DUMP")
        real.execute("FUNCTION", "FLUSH")
    finally:
        real.close()
    assert payload[0] == 0xF5 and payload[1] == 0xC3  # LZF-compressed library code
    s = Engine(ManualClock()).session()
    assert s.execute("FUNCTION", "RESTORE", payload) == "OK"
    assert s.execute("FCALL", "realfunc", "0") == b"from real"
    # Our DUMP of the same library is byte for byte what Redis wrote.
    assert s.execute("FUNCTION", "DUMP") == payload


def test_our_dump_matches_redis_byte_for_byte(differ: Any) -> None:
    differ.check("FUNCTION", "FLUSH")
    body = "\n".join(f"local v{i} = {i} * {i}" for i in range(30))
    differ.check("FUNCTION", "LOAD", "#!lua name=big\n" + body +
                 "\nredis.register_function('bigf', function() return v29 end)")
    differ.check("FUNCTION", "DUMP")
    differ.check("FCALL", "bigf", "0")
    differ.check("CONFIG", "SET", "rdbcompression", "no")
    differ.check("FUNCTION", "DUMP")
    differ.check("CONFIG", "SET", "rdbcompression", "yes")


def test_function_stats_and_kill_when_idle(differ: Any) -> None:
    differ.check_all("""
        FUNCTION FLUSH
        FUNCTION STATS
        FUNCTION KILL
        SCRIPT KILL
    """)


def test_fcall_errors_name_the_function(differ: Any) -> None:
    differ.check("FUNCTION", "FLUSH")
    differ.check("FUNCTION", "LOAD",
                 "#!lua name=errs\nredis.register_function('f17', function()\n"
                 "  error('boom')\nend)\n"
                 "redis.register_function('wrongtype', function(k)\n"
                 "  redis.call('set', k[1], 'x')\n  return redis.call('lpush', k[1], 'y')\nend)")
    differ.check("FCALL", "f17", "0")
    differ.check("FCALL", "wrongtype", "1", "k")


def test_help_replies_have_redis_shape() -> None:
    s = Engine(ManualClock()).session()
    for container in ("SCRIPT", "FUNCTION"):
        reply = s.execute(container, "HELP")
        assert isinstance(reply, list) and all(isinstance(line, str) for line in reply)
        assert reply[0].startswith(container + " <subcommand>")


def test_wire_shapes_of_function_list_resp3(differ3: Any) -> None:
    differ3.check("FUNCTION", "FLUSH")
    differ3.check("FUNCTION", "LOAD",
                  "#!lua name=r3\nredis.register_function{function_name='f', "
                  "callback=function() return 1 end, flags={'no-writes', 'allow-stale'}}")
    differ3.check("FUNCTION", "LIST")
    differ3.check("FUNCTION", "STATS")
    differ3.check("FUNCTION", "FLUSH")


def test_error_reply_values_are_errors() -> None:
    s = Engine(ManualClock()).session()
    r = s.execute("EVAL", "return redis.error_reply('MY oops')", "0")
    assert isinstance(r, ErrorReply) and r.message == "MY oops"
    assert normalize(wire(r)) == ("error", "MY oops")


# ---------------------------------------------------------------------------------------------
# Classic scripts behave as on Redis

RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
           "return redis.call('del', KEYS[1]) else return 0 end")
RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
         "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end")
FIXED_WINDOW = ("local n = redis.call('incr', KEYS[1]) "
                "if n == 1 then redis.call('expire', KEYS[1], ARGV[1]) end "
                "if n > tonumber(ARGV[2]) then return 0 end return 1")
SLIDING_WINDOW = ("local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), "
                  "tonumber(ARGV[3]) "
                  "redis.call('zremrangebyscore', KEYS[1], 0, now - window) "
                  "if redis.call('zcard', KEYS[1]) >= limit then return 0 end "
                  "redis.call('zadd', KEYS[1], now, ARGV[4]) "
                  "redis.call('pexpire', KEYS[1], window) return 1")
CAS = ("local v = redis.call('get', KEYS[1]) "
       "if v == ARGV[1] or (v == false and ARGV[1] == '') then "
       "redis.call('set', KEYS[1], ARGV[2]) return 1 end return 0")


def test_lock_release_and_renewal(differ: Any) -> None:
    differ.check("SET", "lock", "token-1", "PX", "30000")
    differ.check("EVAL", RENEW, "1", "lock", "token-2", "60000")
    differ.check("EVAL", RENEW, "1", "lock", "token-1", "60000")
    ours, theirs = differ.both("PTTL", "lock")
    assert 59000 < ours <= 60000 and 59000 < theirs <= 60000
    differ.check("EVAL", RELEASE, "1", "lock", "token-2")
    differ.check("GET", "lock")
    differ.check("EVAL", RELEASE, "1", "lock", "token-1")
    differ.check("EXISTS", "lock")
    differ.check("EVAL", RELEASE, "1", "lock", "token-1")
    sha = differ.check("SCRIPT", "LOAD", RELEASE)
    differ.check("SET", "lock", "t")
    differ.check("EVALSHA", sha, "1", "lock", "t")


def test_rate_limiters(differ: Any) -> None:
    for _ in range(5):
        differ.check("EVAL", FIXED_WINDOW, "1", "rl:fixed", "60", "3")
    differ.check("GET", "rl:fixed")
    ours, theirs = differ.both("TTL", "rl:fixed")
    assert 58 <= ours <= 60 and 58 <= theirs <= 60
    for i, now in enumerate([1000, 1100, 1200, 1300, 2050, 2150, 2300]):
        differ.check("EVAL", SLIDING_WINDOW, "1", "rl:slide", str(now), "1000", "3", f"req{i}")
    differ.check("ZRANGE", "rl:slide", "0", "-1", "WITHSCORES")


def test_compare_and_swap(differ: Any) -> None:
    differ.check_all(f"""
        EVAL "{CAS}" 1 cas "" first
        EVAL "{CAS}" 1 cas "" again
        EVAL "{CAS}" 1 cas first second
        EVAL "{CAS}" 1 cas first third
        GET cas
    """)


# ---------------------------------------------------------------------------------------------
# Libraries and base functions

LIBRARY_CASES = [
    'return cjson.encode({})',
    'return cjson.encode({1,2,3})',
    'return cjson.encode({1,a=2})',
    'return cjson.encode(0.1)',
    'return cjson.encode(1/3)',
    'return cjson.encode(123456789012345)',
    'return cjson.encode(2^53)',
    'return cjson.encode(\'a/b"\\n\\0\')',
    'return cjson.encode(string.char(127,128,255,31,0,1,2,8,9,10,11,12,13,14,30))',
    'return cjson.encode({[1]=1,[3]=3})',
    'return cjson.encode({[1]=1,[20]=2})',
    'return cjson.encode({[true]=1})',
    'return cjson.encode({[1.5]=1})',
    'return cjson.encode(0/0)',
    'return cjson.encode(function() end)',
    "return cjson.decode('[1,2,3')",
    "return cjson.decode('')",
    "return cjson.decode('1e400')",
    "return cjson.encode(cjson.decode('[]'))",
    "return cjson.encode(cjson.decode('{}'))",
    'return cjson.encode({a={b={c={1,2,{d=true,e=false}}}}})',
    'return cjson.encode({-0.0, 1e300, -1e-300, 100, -5, 3.25})',
    'local t = cjson.decode(\'{"a":[1,2,{"b":null}],"c":"x\\\\u00e9\\\\n","d":1.5e3,"e":-0,"f":true}\') return {t.a[1], t.a[3].b == cjson.null, t.c, t.d, tostring(t.e), t.f}',
    'return cjson.decode(\'"\\\\ud83d\\\\ude00"\')',
    'return cjson.decode(\'"\\\\ud83d"\')',
    'return cjson.decode(\'"\\\\ude00"\')',
    'return cjson.decode(\'"\\\\u12"\')',
    'return cjson.decode(\'"abc\')',
    "return cjson.decode('[1,]')",
    'return cjson.decode(\'{"a" 1}\')',
    "return cjson.decode('{1:2}')",
    'return cjson.decode(\'{"a":1,}\')',
    "return cjson.decode('nul')",
    "return cjson.decode('tru')",
    "return cjson.decode('[1] x')",
    "return cjson.decode('.5')",
    "return cjson.decode('-')",
    "return cjson.decode('--1')",
    "return cjson.decode('01')",
    "return cjson.decode('0x1A')",
    "return cjson.decode('+5')",
    "return tostring(cjson.decode('inf'))",
    "return tostring(cjson.decode('-Infinity'))",
    "return tostring(cjson.decode('nan'))",
    "return cjson.decode('1.')",
    "return cjson.decode('1e')",
    "return cjson.decode('1e+')",
    "return cjson.decode('[' .. string.rep('[', 1000) .. string.rep(']', 1000) .. ']')",
    "return type(cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)))",
    'local t = {} local c = t for i=1,1000 do c[1] = {} c = c[1] end return cjson.encode(t)',
    'local t = {} local c = t for i=1,999 do c[1] = {} c = c[1] end return #cjson.encode(t)',
    "return cjson.decode('\\0\\0')",
    "return cjson.decode('[1]\\0garbage')[1]",
    "return cjson.decode('  [1 , 2]  ')[2]",
    'return cjson.decode(\'"\\\\/\\\\b\\\\f\\\\t\\\\r\\\\n\\\\"\\\\\\\\"\')',
    'return cjson.decode(\'"a\\\\qb"\')',
    "return cjson.decode('[1,2', 1)",
    'return cjson.encode()',
    'return cjson.decode(123)',
    'return cjson.decode({})',
    'local j = cjson.new() j.encode_max_depth(2) return {pcall(j.encode, {{{1}}})}',
    'return cjson.encode({a=cjson.null})',
    'return cjson.encode(cjson.null)',
    'return cmsgpack.pack({1,2,3})',
    'return cmsgpack.pack({a=1,b={1,2}})',
    'return cmsgpack.pack(1, -1, -32, -33, 127, 128, 255, 256, 65535, 65536, 2^32-1, 2^32, -128, -129, -32768, -32769, -2^31, -2^31-1, 2^62, -2^62, 2^63, -2^63)',
    'return cmsgpack.pack(0.5, 1.1, 1/0, -1/0, 0/0, 1e300, -0.0)',
    "return cmsgpack.pack(true, false, nil, 'x', string.rep('y', 40), string.rep('z', 300), string.rep('w', 70000))",
    'return cmsgpack.pack({})',
    'return cmsgpack.pack(function() end, cjson.null)',
    'local t = {} local c = t for i=1,20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)',
    'return cmsgpack.pack()',
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2}, {x='y'}))}",
    "return cmsgpack.unpack('')",
    "return cmsgpack.unpack('\\145')",
    "return cmsgpack.unpack('\\193')",
    "return cmsgpack.unpack('\\196\\1a')",
    'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}',
    'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}',
    'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}',
    'return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}',
    'return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)}',
    'return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)}',
    'return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 99)}',
    'return {tostring(cmsgpack.unpack(cmsgpack.pack(0.5))), tostring(cmsgpack.unpack(cmsgpack.pack(1.1)))}',
    "return {cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')}",
    "return {cmsgpack.unpack('\\211\\255\\255\\255\\255\\255\\255\\255\\255')}",
    "return {cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\0')}",
    "return {cmsgpack.unpack('\\202\\63\\192\\0\\0')}",
    "return {cmsgpack.unpack('\\130\\161a\\1\\161b\\2')}",
    "local t = cmsgpack.unpack('\\130\\161a\\1\\161b\\2') return {t.a, t.b}",
    "return cmsgpack.unpack('\\129\\192\\1')",
    'return cmsgpack.unpack(5)',
    'return cmsgpack.unpack()',
    'return bit.band(7, 3, 6)',
    'return bit.bor(1, 2, 4)',
    'return bit.bxor(5, 3)',
    'return {bit.tobit(2^32+5), bit.tobit(-1), bit.tobit(2^31), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit(2^53)}',
    'return {bit.bnot(0), bit.lshift(1, 31), bit.lshift(1, 32), bit.rshift(-1, 1), bit.arshift(-256, 4), bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678)}',
    'return {bit.tohex(255), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(1, 20), bit.tohex(1, -2^31)}',
    'return bit.band()',
    "return bit.band('x')",
    "return bit.band('12', ' 3 ')",
    'return bit.tohex(1, nil)',
    'return bit.lshift(1)',
    "return {struct.pack('>I2', 258), struct.pack('<i', -2), struct.pack('b', 200), struct.pack('B', -1)}",
    "return {struct.unpack('>I2', 'ab')}",
    "return struct.pack('i3', 1)",
    "return struct.size('!4bi')",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.size('q')",
    "return struct.pack('q', 1)",
    "return {struct.unpack('c0', 'abc')}",
    "return {struct.unpack('bc0', '\\3abc')}",
    "return struct.pack('>d', 1.5)",
    "return struct.pack('<f', 1e40)",
    "return {struct.unpack('s', 'abc')}",
    "return {struct.unpack('s', 'ab\\0c')}",
    "return struct.pack('i33', 1)",
    "return struct.pack('i99999999999', 1)",
    "return {struct.unpack('>i', 'abcd', 0)}",
    "return {struct.unpack('>i', 'abcd', 2)}",
    "return {struct.unpack('>i', 'abcd', -1)}",
    "return struct.pack('c2', 'a')",
    "return struct.pack('!3i', 1)",
    "return struct.pack('>l', 1.7)",
    "return struct.pack('>l', -1.7)",
    "return struct.pack('>I', 2^40)",
    "return struct.pack('>i', 'x')",
    "return struct.pack('>i', '12')",
    'return struct.pack()',
    "return struct.pack('<H', 1e20)",
    "return struct.pack('<h', 0/0)",
    "return {struct.unpack('>L', struct.pack('>L', 2^62+2^61))}",
    "return struct.pack('!4 b i', 1, 2)",
    "return struct.pack('>i16', -1)",
    "return {struct.unpack('<i16', string.rep('\\255', 16))}",
    "return {struct.unpack('>f', struct.pack('>f', 0.1))}",
    "return {struct.unpack('xxb', 'abc')}",
    "return struct.pack('sx', 'hi')",
    "return {struct.unpack('T', string.rep('a', 8))}",
    "local s = 'abc' return s:find()",
    "local s = 'abc' return s:gsub('b')",
    'local f = string.find return f()',
    'return pairs()',
    'return pairs(nil)',
    'return next()',
    'return rawget(_G)',
    'return rawset({}, 1)',
    'return setmetatable(1, {})',
    'return setmetatable({}, 1)',
    "local t = setmetatable({}, {__metatable = 'locked'}) return setmetatable(t, {})",
    "local t = setmetatable({}, {__metatable = 'locked'}) return getmetatable(t)",
    'return getmetatable()',
    'return tostring()',
    'return table.insert()',
    'return table.insert({}, 1, 2, 3)',
    "return table.insert({}, 'x', 1)",
    "local t = {} table.insert(t, 1, 'a') table.insert(t, 'b') return t",
    "return table.foreach(string, function(k) if k == 'rep' then return 'found' end end)",
    'return table.foreach({}, 1)',
    'return coroutine.create(1)',
    'return coroutine.wrap(print)',
    'return string.dump(1)',
    'return loadstring()',
    'return load(1)',
    'return {load(function() return {} end)}',
    "local i = 0 local f = load(function() i = i + 1 if i == 1 then return 'return 42' end end) return f()",
    "return collectgarbage('bogus')",
    "return collectgarbage('count', 'x')",
    "return type(collectgarbage('step'))",
    'return xpcall()',
    'return {xpcall(error)}',
    "return {xpcall(function() error('x') end, 1)}",
    "return {xpcall(function() error('x') end, function(e) error('y') end)}",
    "return math.random('x')",
    'return math.random(1.9)',
    'return math.randomseed()',
    "math.randomseed('7') return math.random(100)",
    'return bit.tobit()',
    "return bit.tohex('ff')",
    "return ('x'):bogus()",
    "return string.format('%d', 'x')",
    "return string.rep('ab', 3, ',')",
    "return string.sub('hello', 2, -2)",
    "return string.byte('ABC', 1, 3)",
    "return {string.byte('ABC', 1, 3)}",
    'return string.char(72, 105)',
    "return string.reverse('abc')",
    "return string.len('\\0\\0')",
    "return select(-1, 'a', 'b')",
    'return select(0)',
    "return {select(2, 'a', 'b', 'c')}",
    "return tonumber('z', 36)",
    "return tonumber('10', 99)",
    'return unpack({1, 2, 3}, 2)',
    "return assert(false, 'assert msg')",
    'return assert(nil)',
    "return assert(1 == 1, 'x')",
    'return gcinfo() > 0',
    'return #cjson.encode(_G) > 0',
    'return cjson.encode(redis)',
    'return cjson.encode({redis})',
    'return cmsgpack.pack(_G) ~= nil',
    'return type(_VERSION)',
    'return math.max()',
    "return math.floor('x')",
    'return os.time()',
    'return {map=string} ~= nil',
    'local t = {} for k in pairs(cmsgpack.unpack(cmsgpack.pack(bit))) do t[#t+1] = k end table.sort(t) return t',
    'return cjson.encode({a=cjson.null, b={}})',
    "local t = {3, 'a', 1} table.sort(t)",
    "local t = {} for i=1,3000 do t[i] = (i % 7 == 0) and 'x' or i end table.sort(t)",
    'local t = {1, 0/0, 2, 0/0, 3} table.sort(t) return 1',
    "table.sort({3,2,1}, 'x')",
    'local t = {5,3,1,4} table.sort(t) return t',
    'local t = {5,3,1,4} table.sort(t, function(a, b) return a > b end) return t',
    'local t = {} for i = 1, 5000 do t[i] = (i * 7919) % 5003 end table.sort(t) return {t[1], t[2500], t[5000]}',
    'local t = {} for i = 1, 5000 do t[i] = tostring((i * 7919) % 5003) end table.sort(t) return {t[1], t[2500], t[5000]}',
    "local t = {3,1,2} table.sort(t, function(a, b) error('cmp failed') end)",
    'local t = {3,1,2} table.sort(t, function(a, b) return true end) return t',
    'local t = {} for i=1,100 do t[i] = i end table.sort(t, function(a, b) return true end) return t',
    'table.sort()',
    'table.sort(string)',
    'local t = {{}, {}} table.sort(t)',
    'error(_G)',
    'error(redis)',
    "error(setmetatable({}, {__index=function() return 'x' end}))",
    'error({err=5})',
    "error({err='x', source='s', line=7})",
    'return {pcall(error, redis)}',
    "return __redis__err__handler('x')",
    "local t = __redis__err__handler({err='y'}) return {t.err, t.source, t.line}",
    "error({err='nl\\n'})",
    "error('with newline\\n')",
    "error({err='a\\r\\nb'})",
]

# These change cjson settings, which Redis 7.0.15 keeps for later scripts (bug B7): the real
# server gets its defaults back after each one.
CJSON_SETTING_CASES = [
    'return {cjson.encode_sparse_array(true, 3, 5)}',
    'cjson.encode_sparse_array(true) return cjson.encode({[1]=1,[20]=2})',
    'cjson.encode_invalid_numbers(true) return cjson.encode({1/0, -1/0, 0/0})',
    "cjson.encode_invalid_numbers('null') return cjson.encode({1/0})",
    "return cjson.encode_invalid_numbers('x')",
    'return cjson.encode_max_depth(0)',
    'return cjson.encode_max_depth(1, 2)',
    'cjson.encode_number_precision(3) return cjson.encode(3.14159)',
    'return cjson.encode_number_precision(15)',
    'return cjson.encode_keep_buffer(false)',
    "cjson.decode_invalid_numbers(false) return cjson.decode('nan')",
    "cjson.decode_invalid_numbers(false) return cjson.decode('01')",
    "cjson.decode_invalid_numbers(false) return cjson.decode('1')",
]

CJSON_DEFAULTS = ("cjson.encode_sparse_array(false, 2, 10) cjson.encode_max_depth(1000) "
                  "cjson.decode_max_depth(1000) cjson.encode_invalid_numbers(false) "
                  "cjson.decode_invalid_numbers(true) cjson.encode_keep_buffer(true) "
                  "cjson.encode_number_precision(14) return 1")


@pytest.mark.parametrize("script", LIBRARY_CASES)
def test_libraries(differ: Any, script: str) -> None:
    _same(differ, "EVAL", script, "0")


@pytest.mark.parametrize("script", CJSON_SETTING_CASES)
def test_cjson_settings(differ: Any, script: str) -> None:
    try:
        _same(differ, "EVAL", script, "0")
    finally:
        differ.real.execute("EVAL", CJSON_DEFAULTS, "0")
