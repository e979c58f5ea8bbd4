-- The script sandbox, built once in a fresh Lua 5.1 state (see runtime.py).
--
-- Scripts never see this state's real globals. They run with a read-only proxy as their
-- environment whose contents are exactly what Redis 7.0 offers; library tables are read-only
-- proxies too, because stock Lua 5.1 has no read-only tables. Functions that would let a script
-- write through a proxy, load bytecode, escape the time limit or reach a host object are
-- replaced by wrappers. This chunk returns the few driver functions the host calls; everything
-- else stays in local variables no script can reach.
local PY, SOURCES, SETTINGS = ...

local SANDBOX_SRC = '=[sandbox]'
local LUA_VERSION = _VERSION
local LIBRARY_SRC = '=[library]'
local INTERNAL = {[SANDBOX_SRC] = true, [LIBRARY_SRC] = true}
local RO_ERR = 'Attempt to modify a readonly table'

-- Everything needed later, taken before the real globals are emptied.
local type, tostring, tonumber, select, error, next, rawget, rawset, rawequal =
  type, tostring, tonumber, select, error, next, rawget, rawset, rawequal
local raw_pcall, raw_xpcall, raw_ipairs = pcall, xpcall, ipairs
local raw_setmetatable, raw_getmetatable = setmetatable, getmetatable
local unpack, assert, gcinfo, raw_collectgarbage = unpack, assert, gcinfo, collectgarbage
local raw_loadstring, setfenv, newproxy = loadstring, setfenv, newproxy
local sethook, getinfo = debug.sethook, debug.getinfo
local dgetmetatable = debug.getmetatable
local floor = math.floor
local byte, sub, find, gsub, lower = string.byte, string.sub, string.find, string.gsub,
  string.lower
local raw_find, raw_match, raw_gmatch, raw_gsub, raw_dump = string.find, string.match,
  string.gmatch, string.gsub, string.dump
local concat, tinsert, raw_foreach, raw_sort = table.concat, table.insert, table.foreach,
  table.sort
local co_create, co_resume = coroutine.create, coroutine.resume

local py_call, py_tick, py_log, py_setresp = PY.call, PY.tick, PY.log, PY.setresp
local py_set_repl, py_acl, py_sha1 = PY.set_repl, PY.acl_check, PY.sha1hex
local py_random, py_randomseed, py_bit = PY.random, PY.randomseed, PY.bit
local py_struct_pack, py_struct_unpack, py_struct_size = PY.struct_pack, PY.struct_unpack,
  PY.struct_size
local py_pack_float, py_unpack_float = PY.pack_float, PY.unpack_float
local py_find, py_patch = PY.find, PY.patch
PY = nil

local HOOK_COUNT = SETTINGS.hook_count
local PATTERN_BUDGET = SETTINGS.pattern_budget
local PLAIN_BUDGET = SETTINGS.plain_budget

-- ---------------------------------------------------------------------------------------------
-- Error helpers: our Lua-written API functions must report errors as C functions would.

-- luaL_where(L, 1) for an API function implemented here: the position of the first frame
-- above it that is not ours, or '' when that frame is a C function.
local function where()
  local level = 2
  while true do
    local ar = getinfo(level, 'Sl')
    if ar == nil then return '' end
    if ar.what == 'C' then return '' end
    -- Scripts are compiled without tail calls, so a "(tail call)" frame is one of ours.
    if not INTERNAL[ar.source] and ar.what ~= 'tail' then
      if ar.currentline > 0 then return ar.short_src .. ':' .. ar.currentline .. ': ' end
      return ''
    end
    level = level + 1
  end
end

-- luaL_error.
local function raise(msg)
  error(where() .. msg, 0)
end

-- luaL_argerror. ``level`` is the API function's level seen from the caller of argerror
-- (1 = that caller is the API function).
local function argerror(narg, extramsg, level)
  local ar = getinfo((level or 1) + 1, 'n')
  local name = ar and ar.name or '?'
  if ar and ar.namewhat == 'method' then
    narg = narg - 1
    if narg == 0 then
      error(where() .. "calling '" .. name .. "' on bad self (" .. extramsg .. ')', 0)
    end
  end
  error(where() .. 'bad argument #' .. narg .. " to '" .. name .. "' (" .. extramsg .. ')', 0)
end

local function typename(n, i, v)
  if i > n then return 'no value' end
  return type(v)
end

-- C functions we call through pcall see pcall as their caller, so their luaL_error messages
-- come back without a position; give them the one they would have had.
local NOMEM = 'not enough memory'
local function c_errors(ok, ...)
  if ok then return ... end
  local e = ...
  if type(e) == 'string' and e ~= NOMEM then e = where() .. e end
  error(e, 0)
end

-- Errors of script code called back from such a C function travel inside a marker so that
-- c_errors leaves them alone.
local USER_ERROR = {}
local function user_result(ok, ...)
  if ok then return ... end
  error({[USER_ERROR] = true, value = (...)}, 0)
end

local function callback_errors(ok, ...)
  if ok then return ... end
  local e = ...
  if type(e) == 'table' and rawget(e, USER_ERROR) then error(rawget(e, 'value'), 0) end
  return c_errors(false, e)
end

local function pack_n(...)
  return {n = select('#', ...), ...}
end

-- A library function computed by the host: it answers 0 and the results, 1 and a luaL_error
-- message, or 2, an argument number and a luaL_argerror message.
local function host_function(py)
  return function(...)
    local r = pack_n(py(...))
    local k = r[1]
    if k == 0 then return unpack(r, 2, r.n) end
    if k == 1 then raise(r[2]) end
    argerror(r[2], r[3])
  end
end

local function is_internal(f)
  local ar = getinfo(f, 'S')
  return ar.what == 'C' or INTERNAL[ar.source] == true
end

-- ---------------------------------------------------------------------------------------------
-- Read-only proxies

local READONLY = raw_setmetatable({}, {__mode = 'k'})  -- proxy -> real table
local META_OF = raw_setmetatable({}, {__mode = 'k'})   -- proxy -> what getmetatable shows

local function ro_newindex()
  error(RO_ERR, 2)
end

local function readonly(real)
  local proxy = {}
  READONLY[proxy] = real
  META_OF[proxy] = false
  raw_setmetatable(proxy, {__index = real, __newindex = ro_newindex, __metatable = false})
  return proxy
end

local function no_global(...)
  if select('#', ...) ~= 2 then
    raise('Wrong number of arguments to luaProtectedTableError')
  end
  local _, k = ...
  if type(k) ~= 'string' and type(k) ~= 'number' then
    raise('Second argument to luaProtectedTableError must be a string or number')
  end
  error(where() .. "Script attempted to access nonexistent global variable '" .. tostring(k)
        .. "'", 0)
end

-- What getmetatable() shows for the globals: a read-only table whose __index raises.
local GLOBALS_META = readonly({__index = no_global})

-- A globals proxy: reads go to ``real`` (whose own metatable raises for missing names).
local function globals_proxy(real)
  raw_setmetatable(real, {__index = no_global})
  local meta = {__index = real, __newindex = ro_newindex, __metatable = false}
  local proxy = raw_setmetatable({}, meta)
  READONLY[proxy] = real
  META_OF[proxy] = GLOBALS_META
  return proxy, meta
end

-- ---------------------------------------------------------------------------------------------
-- Time limit and kills. A count hook asks the host every HOOK_COUNT instructions whether the
-- script must stop; once killed, a line hook raises again on every new line so a pcall loop
-- cannot swallow the kill. Our own code is never interrupted half-way.

local killed = false
local kill_error = nil
local hook

local function kill_now()
  sethook(hook, 'l', 0)
  local ar = getinfo(3, 'S')
  if ar and ar.source == SANDBOX_SRC then return end
  error({err = kill_error}, 0)
end

hook = function(event)
  if killed then
    kill_now()
    return
  end
  if event == 'line' then
    -- A coroutine left in line mode by an earlier kill.
    sethook(hook, '', HOOK_COUNT)
    return
  end
  local r = py_tick()
  if r ~= 0 then
    killed = true
    if r == 1 then
      kill_error = 'ERR Script killed by user with SCRIPT KILL...'
    else
      kill_error = 'ERR FUNCTION LOAD timeout'
    end
    kill_now()
  end
end

local function arm(co)
  if killed then
    if co then sethook(co, hook, 'l', 0) else sethook(hook, 'l', 0) end
  else
    if co then sethook(co, hook, '', HOOK_COUNT) else sethook(hook, '', HOOK_COUNT) end
  end
end

-- ---------------------------------------------------------------------------------------------
-- Per-run state

local current_env        -- the globals proxy of the running script (for loadstring)
local cur_fn, cur_keys, cur_args  -- the FCALL being run
local gc_dirty = false
local CJSON_RESET

-- ---------------------------------------------------------------------------------------------
-- Libraries written in Lua (killable: compiled under LIBRARY_SRC)

local NULL = newproxy(false)

local H = {raise = raise, argerror = argerror, null = NULL, max_depth = SETTINGS.max_depth}
-- Libraries that walk tables see a read-only library table's contents, as Redis's C code does.
H.real = function(t) return READONLY[t] or t end
H.pack_float = function(n) return py_pack_float(n) end
H.unpack_float = function(s) return py_unpack_float(s) end

local function load_library(src, ...)
  local f = assert(raw_loadstring(src, LIBRARY_SRC))
  return f(...)
end

local PAT = load_library(SOURCES.patterns, H)
local new_cjson = load_library(SOURCES.cjson, H)
local MSGPACK = load_library(SOURCES.cmsgpack, H)
local serialize = load_library(SOURCES.serialize, H)
SOURCES = nil

-- ---------------------------------------------------------------------------------------------
-- Base functions

local function pcall_result(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == 'table' then
    local s = e.err
    if type(s) == 'string' or type(s) == 'number' then return false, s end
  end
  return false, e
end

-- Redis's pcall: an error table {err=...} comes back as its message.
local function pcall_(...)
  if select('#', ...) == 0 then
    -- Redis's pcall calls its result placeholder when given nothing to call.
    return false, 'attempt to call a boolean value'
  end
  return pcall_result(raw_pcall(...))
end

-- xpcall whose handler runs after unwinding, so that a looping handler stays killable.
local function xpcall_(...)
  local n = select('#', ...)
  local f, handler = ...
  if n < 2 then argerror(2, 'value expected') end
  local r = pack_n(raw_pcall(f))
  if r[1] then return unpack(r, 1, r.n) end
  local ok, v = raw_pcall(handler, r[2])
  if ok then return false, v end
  return false, 'error in error handling'
end

local function next_(...)
  local n = select('#', ...)
  local t, k = ...
  if type(t) ~= 'table' then argerror(1, 'table expected, got ' .. typename(n, 1, t)) end
  local real = READONLY[t]
  if real then return next(real, k) end
  return next(t, k)
end

local function pairs_(...)
  local n = select('#', ...)
  local t = ...
  if type(t) ~= 'table' then argerror(1, 'table expected, got ' .. typename(n, 1, t)) end
  return next_, t, nil
end

local function rawget_(...)
  local n = select('#', ...)
  local t, k = ...
  if type(t) ~= 'table' then argerror(1, 'table expected, got ' .. typename(n, 1, t)) end
  if n < 2 then argerror(2, 'value expected') end
  local real = READONLY[t]
  if real then return rawget(real, k) end
  return rawget(t, k)
end

local function rawset_(...)
  local n = select('#', ...)
  local t, k, v = ...
  if type(t) ~= 'table' then argerror(1, 'table expected, got ' .. typename(n, 1, t)) end
  if n < 2 then argerror(2, 'value expected') end
  if n < 3 then argerror(3, 'value expected') end
  if READONLY[t] then error(RO_ERR, 0) end
  rawset(t, k, v)
  return t
end

local function setmetatable_(...)
  local n = select('#', ...)
  local t, mt = ...
  if type(t) ~= 'table' then argerror(1, 'table expected, got ' .. typename(n, 1, t)) end
  if mt ~= nil and type(mt) ~= 'table' then argerror(2, 'nil or table expected') end
  if READONLY[t] then error(RO_ERR, 0) end
  local old = raw_getmetatable(t)
  if old ~= nil and rawget(dgetmetatable(t), '__metatable') ~= nil then
    raise('cannot change a protected metatable')
  end
  return raw_setmetatable(t, mt)
end

local function getmetatable_(...)
  if select('#', ...) == 0 then argerror(1, 'value expected') end
  local t = ...
  local shown = META_OF[t]
  if shown ~= nil then
    if shown == false then return nil end
    return shown
  end
  return raw_getmetatable(t)
end

local function tostring_(...)
  if select('#', ...) == 0 then argerror(1, 'value expected') end
  local v = ...
  if v == NULL then return 'userdata: (nil)' end
  return tostring(v)
end

local GC_OPTIONS = {stop = true, restart = true, collect = true, count = true, step = true,
                    setpause = true, setstepmul = true}
local GC_STATE_OPTIONS = {stop = true, setpause = true, setstepmul = true}
local function collectgarbage_(...)
  local n = select('#', ...)
  local opt, arg = ...
  if opt == nil then
    opt = 'collect'
  elseif type(opt) == 'number' then
    opt = tostring(opt)
  elseif type(opt) ~= 'string' then
    argerror(1, 'string expected, got ' .. type(opt))
  end
  if not GC_OPTIONS[opt] then argerror(1, "invalid option '" .. opt .. "'") end
  if arg ~= nil and (type(arg) ~= 'number' and (type(arg) ~= 'string' or not tonumber(arg))) then
    argerror(2, 'number expected, got ' .. type(arg))
  end
  if GC_STATE_OPTIONS[opt] then gc_dirty = true end
  return raw_collectgarbage(opt, arg and tonumber(arg) or 0)
end

-- Source loading: text only (Redis's parser refuses binary chunks), and the chunk gets the
-- running script's globals.
local function load_text(s, chunkname)
  if INTERNAL[chunkname] then chunkname = chunkname .. ' ' end
  if byte(s, 1) == 27 then
    local _, msg = raw_loadstring('\1', chunkname)
    return nil, (gsub(msg, 'char%(1%)', 'char(27)'))
  end
  local f, msg = raw_loadstring(s, chunkname)
  if not f then return nil, msg end
  -- Compiled without tail calls (see bytecode.py) so errors can name the script's line.
  local patched = py_patch(raw_dump(f))
  if patched then
    local g = raw_loadstring(patched, chunkname)
    if g then f = g end
  end
  setfenv(f, current_env)
  return f
end

local function loadstring_(...)
  local n = select('#', ...)
  local s, chunkname = ...
  if type(s) == 'number' then s = tostring(s) end
  if type(s) ~= 'string' then argerror(1, 'string expected, got ' .. typename(n, 1, s)) end
  if chunkname == nil then
    chunkname = s
  elseif type(chunkname) == 'number' then
    chunkname = tostring(chunkname)
  elseif type(chunkname) ~= 'string' then
    argerror(2, 'string expected, got ' .. type(chunkname))
  end
  return load_text(s, chunkname)
end

local function drain_reader(reader)
  local parts = {}
  while true do
    -- A C reader (load(math.random)) never returns to script code where a kill could land.
    if killed then error({err = kill_error}, 0) end
    local piece = reader()
    if piece == nil or piece == '' then break end
    if type(piece) == 'number' then piece = tostring(piece) end
    if type(piece) ~= 'string' then raise('reader function must return a string') end
    parts[#parts + 1] = piece
  end
  return concat(parts)
end

local function load_(...)
  local n = select('#', ...)
  local reader, chunkname = ...
  if type(reader) ~= 'function' then
    argerror(1, 'function expected, got ' .. typename(n, 1, reader))
  end
  if chunkname == nil then
    chunkname = '=(load)'
  elseif type(chunkname) == 'number' then
    chunkname = tostring(chunkname)
  elseif type(chunkname) ~= 'string' then
    argerror(2, 'string expected, got ' .. type(chunkname))
  end
  local ok, s = raw_pcall(drain_reader, reader)
  if not ok then return nil, s end
  return load_text(s, chunkname)
end

-- ---------------------------------------------------------------------------------------------
-- coroutine: every new coroutine gets the hook (debug hooks are per coroutine in Lua 5.1).

local function lua_function_arg(n, f)
  if type(f) ~= 'function' or is_internal(f) then
    argerror(1, 'Lua function expected', 2)
  end
end

local function co_create_(...)
  local n = select('#', ...)
  local f = ...
  lua_function_arg(n, f)
  local co = co_create(f)
  arm(co)
  return co
end

local function wrap_result(ok, ...)
  if ok then return ... end
  local e = ...
  if type(e) == 'string' or type(e) == 'number' then e = where() .. e end
  error(e, 0)
end

local function co_wrap_(...)
  local n = select('#', ...)
  local f = ...
  lua_function_arg(n, f)
  local co = co_create(f)
  arm(co)
  return function(...)
    return wrap_result(co_resume(co, ...))
  end
end

-- ---------------------------------------------------------------------------------------------
-- string: pattern functions run in C when their worst case is bounded, else in Lua.

local function str_arg(n, i, v)
  local t = type(v)
  if t == 'string' then return v end
  if t == 'number' then return tostring(v) end
  argerror(i, 'string expected, got ' .. typename(n, i, v), 2)
end

local function int_arg(n, i, v, default)
  if v == nil and default ~= nil then return default end
  local x = tonumber(v)
  if x == nil or (type(v) ~= 'number' and type(v) ~= 'string') then
    argerror(i, 'number expected, got ' .. typename(n, i, v), 2)
  end
  if x >= 0 then return floor(x) end
  return -floor(-x)
end

local STRING
do
local SPECIALS = '[%^%$%*%+%?%.%(%[%%%-]'

local function before_nul(p)
  local z = find(p, '\0', 1, true)
  if z then return sub(p, 1, z - 1) end
  return p
end

local function start_offset(init, len)
  if init < 0 then
    init = init + len + 1
    if init < 0 then init = 0 end
  end
  init = init - 1
  if init < 0 then init = 0 elseif init > len then init = len end
  return init
end

local function find_(...)
  local n = select('#', ...)
  local s, p, init, plain = ...
  s = str_arg(n, 1, s)
  p = str_arg(n, 2, p)
  local ls = #s
  local off = start_offset(int_arg(n, 3, init, 1), ls)
  if plain or not find(before_nul(p), SPECIALS) then
    if (ls - off) * #p <= PLAIN_BUDGET then
      return raw_find(s, p, off + 1, true)
    end
    local at = py_find(s, p, off)
    if at == nil then return nil end
    return at + 1, at + #p
  end
  if PAT.cost(p, ls - off, true) <= PATTERN_BUDGET then
    return c_errors(raw_pcall(raw_find, s, p, off + 1))
  end
  return PAT.find(s, p, off, true)
end

local function match_(...)
  local n = select('#', ...)
  local s, p, init = ...
  s = str_arg(n, 1, s)
  p = str_arg(n, 2, p)
  local ls = #s
  local off = start_offset(int_arg(n, 3, init, 1), ls)
  if PAT.cost(p, ls - off, true) <= PATTERN_BUDGET then
    return c_errors(raw_pcall(raw_match, s, p, off + 1))
  end
  return PAT.find(s, p, off, false)
end

local function gmatch_(...)
  local n = select('#', ...)
  local s, p = ...
  s = str_arg(n, 1, s)
  p = str_arg(n, 2, p)
  if PAT.cost(p, #s, false) <= PATTERN_BUDGET then
    return raw_gmatch(s, p)
  end
  return PAT.gmatch(s, p)
end

local function index_of(t, k)
  return t[k]
end

local REPL_TYPES = {number = true, string = true, ['function'] = true, table = true}

local function gsub_(...)
  local n = select('#', ...)
  local s, p, repl, max_s = ...
  s = str_arg(n, 1, s)
  p = str_arg(n, 2, p)
  local tr = type(repl)
  max_s = int_arg(n, 4, max_s, #s + 1)
  if not REPL_TYPES[tr] then argerror(3, 'string/function/table expected') end
  if PAT.cost(p, #s, true) <= PATTERN_BUDGET then
    local r = repl
    if tr == 'function' then
      r = function(...) return user_result(raw_pcall(repl, ...)) end
    elseif tr == 'table' then
      r = function(k) return user_result(raw_pcall(index_of, repl, k)) end
    end
    return callback_errors(raw_pcall(raw_gsub, s, p, r, max_s))
  end
  return PAT.gsub(s, p, repl, tr, max_s)
end

local function dump_(...)
  local n = select('#', ...)
  local f = ...
  if type(f) ~= 'function' then
    argerror(1, 'function expected, got ' .. typename(n, 1, f))
  end
  if is_internal(f) then raise('unable to dump given function') end
  return raw_dump(f)
end

STRING = {}
for k, v in next, string do STRING[k] = v end
STRING.find, STRING.match, STRING.gmatch, STRING.gfind = find_, match_, gmatch_, gmatch_
STRING.gsub, STRING.dump = gsub_, dump_
end

-- ---------------------------------------------------------------------------------------------
-- table, math, coroutine

local TABLE = {}
for k, v in next, table do TABLE[k] = v end

TABLE.insert = function(...)
  local n = select('#', ...)
  local t = ...
  if type(t) ~= 'table' then argerror(1, 'table expected, got ' .. typename(n, 1, t)) end
  if n == 2 then
    if READONLY[t] then error(RO_ERR, 0) end
    return tinsert(t, (select(2, ...)))
  elseif n == 3 then
    local pos, v = select(2, ...)
    pos = int_arg(n, 2, pos)
    if READONLY[t] then error(RO_ERR, 0) end
    return tinsert(t, pos, v)
  end
  raise("wrong number of arguments to 'insert'")
end

TABLE.foreach = function(...)
  local n = select('#', ...)
  local t, f = ...
  if type(t) ~= 'table' then argerror(1, 'table expected, got ' .. typename(n, 1, t)) end
  if type(f) ~= 'function' then argerror(2, 'function expected, got ' .. typename(n, 2, f)) end
  return raw_foreach(READONLY[t] or t, f)
end

-- Large arrays are sorted with a Lua comparator so that the sort stays killable.
local SORT_IN_C = 2000
local OUR_LESS = PAT.less

local function sort_errors(ok, ...)
  if ok then return ... end
  local e = ...
  if type(e) == 'table' and rawget(e, USER_ERROR) then error(rawget(e, 'value'), 0) end
  if type(e) == 'string' then
    local stripped, n = gsub(e, '^%[library%]:%d+: ', '')
    if n > 0 then
      e = stripped  -- a comparison the C sort would have reported without a position
    elseif e ~= NOMEM and not find(e, '^attempt to compare') then
      e = where() .. e
    end
  end
  error(e, 0)
end

TABLE.sort = function(...)
  local n = select('#', ...)
  local t, comp = ...
  if type(t) ~= 'table' then argerror(1, 'table expected, got ' .. typename(n, 1, t)) end
  if comp ~= nil and type(comp) ~= 'function' then
    argerror(2, 'function expected, got ' .. type(comp))
  end
  if comp ~= nil then
    local user = comp
    comp = function(a, b) return user_result(raw_pcall(user, a, b)) end
  elseif #t > SORT_IN_C then
    comp = OUR_LESS
  end
  return sort_errors(raw_pcall(raw_sort, t, comp))
end

local MATH = {}
for k, v in next, math do MATH[k] = v end

MATH.random = host_function(py_random)
MATH.randomseed = host_function(py_randomseed)

local COROUTINE = {}
for k, v in next, coroutine do COROUTINE[k] = v end
COROUTINE.create, COROUTINE.wrap = co_create_, co_wrap_

-- ---------------------------------------------------------------------------------------------
-- bit (LuaBitOp) and struct: arguments checked here, arithmetic done by the host.

local BIT, STRUCT
do
local function bit_arg(n, i, v)
  if type(v) == 'number' then return v end
  local x = type(v) == 'string' and tonumber(v)
  if not x then argerror(i, 'number expected, got ' .. typename(n, i, v), 2) end
  return x
end

local function bit_unary(op)
  return function(...)
    local n = select('#', ...)
    return py_bit(op, bit_arg(n, 1, (...)))
  end
end

local function bit_binary(op)
  return function(...)
    local n = select('#', ...)
    local a, b = ...
    return py_bit(op, bit_arg(n, 1, a), bit_arg(n, 2, b))
  end
end

local function bit_variadic(op)
  return function(...)
    local n = select('#', ...)
    local args = {...}
    args[1] = bit_arg(n, 1, args[1])
    for i = n, 2, -1 do args[i] = bit_arg(n, i, args[i]) end
    return py_bit(op, unpack(args, 1, n > 0 and n or 1))
  end
end

BIT = {
  tobit = bit_unary('tobit'), bnot = bit_unary('bnot'), bswap = bit_unary('bswap'),
  band = bit_variadic('band'), bor = bit_variadic('bor'), bxor = bit_variadic('bxor'),
  lshift = bit_binary('lshift'), rshift = bit_binary('rshift'), arshift = bit_binary('arshift'),
  rol = bit_binary('rol'), ror = bit_binary('ror'),
}
BIT.tohex = function(...)
  local n = select('#', ...)
  local x, w = ...
  x = bit_arg(n, 1, x)
  if n >= 2 then return py_bit('tohex', x, bit_arg(n, 2, w)) end
  return py_bit('tohex', x)
end

STRUCT = {pack = host_function(py_struct_pack), unpack = host_function(py_struct_unpack),
                size = host_function(py_struct_size)}
end

-- ---------------------------------------------------------------------------------------------
-- redis.*

local pending, pending_names  -- functions registered by the library being loaded

local function fail(msg)
  error({err = 'ERR ' .. msg}, 0)
end

local REDIS_EVAL, REDIS_FUNC, REDIS_LOAD
do
local function rcall(...)
  local k, v = py_call(...)
  if k == 0 then return v end
  if k == 1 then return {ok = v} end
  if k == 2 then error({err = v, ignore_error_stats_update = true}, 0) end
  error({err = v}, 0)
end

local function rpcall(...)
  local k, v = py_call(...)
  if k == 0 then return v end
  if k == 1 then return {ok = v} end
  if k == 2 then return {err = v, ignore_error_stats_update = true} end
  if k == 3 then return {err = v} end
  error({err = v}, 0)
end

local function is_str(v)
  local t = type(v)
  return t == 'string' or t == 'number'
end

local function c_int(x)
  -- (int) of a lua_Number, as the C helpers cast their arguments.
  if x ~= x then return 0 end
  if x >= 0 then return floor(x) end
  return -floor(-x)
end

local function log_(...)
  local argc = select('#', ...)
  if argc < 2 then fail('redis.log() requires two arguments or more.') end
  local level = ...
  if not tonumber(level) or not is_str(level) then
    fail('First argument must be a number (log level).')
  end
  level = c_int(tonumber(level))
  if level < 0 or level > 3 then fail('Invalid debug level.') end
  local parts = {}
  for j = 2, argc do
    local v = select(j, ...)
    if is_str(v) then parts[#parts + 1] = tostring(v) end
  end
  py_log(level, concat(parts, ' '))
end

local function setresp_(...)
  if select('#', ...) ~= 1 then fail('redis.setresp() requires one argument.') end
  local resp = c_int(tonumber((...)) or 0)
  if resp ~= 2 and resp ~= 3 then fail('RESP version must be 2 or 3.') end
  py_setresp(resp)
end

local function set_repl_(...)
  if select('#', ...) ~= 1 then fail('redis.set_repl() requires two arguments.') end
  local flags = c_int(tonumber((...)) or 0)
  if flags < 0 or flags > 3 then
    fail('Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.')
  end
  py_set_repl(flags)
end

local function sha1hex_(...)
  if select('#', ...) ~= 1 then fail('wrong number of arguments') end
  local s = ...
  if not is_str(s) then s = '' end
  return py_sha1(tostring(s))
end

-- luaPushErrorBuff: "-CODE message" or "message" -> "CODE message".
local function error_text(s)
  local z = find(s, '\0', 1, true)
  if z then s = sub(s, 1, z - 1) end
  if byte(s, 1) ~= 45 then s = '-' .. s end
  local sp = find(s, ' ', 1, true)
  local code, msg
  if sp == nil then
    code, msg = 'ERR', sub(s, 2)
  else
    code, msg = sub(s, 2, sp - 1), sub(s, sp + 1)
  end
  msg = gsub(gsub(msg, '^[\r\n]+', ''), '[\r\n]+$', '')
  return code .. ' ' .. msg
end

local function error_reply_(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {err = error_text(s)}
end

local function status_reply_(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {ok = s}
end

local function acl_check_cmd_(...)
  local k, v = py_acl(...)
  if k == 0 then return v end
  error({err = v}, 0)
end

local REDIS_COMMON = {
  call = rcall, pcall = rpcall, log = log_, setresp = setresp_, sha1hex = sha1hex_,
  error_reply = error_reply_, status_reply = status_reply_, set_repl = set_repl_,
  acl_check_cmd = acl_check_cmd_,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
  REDIS_VERSION = SETTINGS.version, REDIS_VERSION_NUM = SETTINGS.version_num,
}

REDIS_EVAL, REDIS_FUNC = {}, {}
for k, v in next, REDIS_COMMON do REDIS_EVAL[k] = v REDIS_FUNC[k] = v end
REDIS_EVAL.breakpoint = function() return false end
REDIS_EVAL.debug = function() end
REDIS_EVAL.replicate_commands = function() return true end

-- The API a library sees while FUNCTION LOAD runs its body.
local FLAG_NAMES = {['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true,
                    ['no-cluster'] = true, ['allow-cross-slot-keys'] = true}

local function register_function_(...)
  if pending == nil then
    fail('redis.register_function can only be called on FUNCTION LOAD command')
  end
  local argc = select('#', ...)
  if argc < 1 or argc > 2 then fail('wrong number of arguments to redis.register_function') end
  local name, cb, flags, desc
  flags = {}
  if argc == 1 then
    local t = ...
    if type(t) ~= 'table' then
      fail('calling redis.register_function with a single argument is only applicable to '
           .. 'Lua table (representing named arguments).')
    end
    for k, v in next, (READONLY[t] or t) do
      if not is_str(k) then
        fail('named argument key given to redis.register_function is not a string')
      end
      local key = lower(tostring(k))
      if key == 'function_name' then
        if not is_str(v) then
          fail('function_name argument given to redis.register_function must be a string')
        end
        name = tostring(v)
      elseif key == 'description' then
        if not is_str(v) then
          fail('description argument given to redis.register_function must be a string')
        end
        desc = tostring(v)
      elseif key == 'callback' then
        if type(v) ~= 'function' then
          fail('callback argument given to redis.register_function must be a function')
        end
        cb = v
      elseif key == 'flags' then
        if type(v) ~= 'table' then
          fail('flags argument to redis.register_function must be a table representing '
               .. 'function flags')
        end
        local j = 1
        while true do
          local f = v[j]
          if f == nil then break end
          if not is_str(f) or not FLAG_NAMES[lower(tostring(f))] then
            fail('unknown flag given')
          end
          flags[lower(tostring(f))] = true
          j = j + 1
        end
      else
        fail('unknown argument given to redis.register_function')
      end
    end
    if name == nil then fail('redis.register_function must get a function name argument') end
    if cb == nil then fail('redis.register_function must get a callback argument') end
  else
    name, cb = ...
    if not is_str(name) then fail('first argument to redis.register_function must be a string') end
    name = tostring(name)
    if type(cb) ~= 'function' then
      fail('second argument to redis.register_function must be a function')
    end
  end
  if not find(name, '^[%w_]+$') then
    fail('Library names can only contain letters, numbers, or underscores(_) and must be at '
         .. 'least one character long')
  end
  if pending_names[name] then fail('Function already exists in the library') end
  pending_names[name] = true
  local flag_list = {}
  for _, f in raw_ipairs({'no-writes', 'allow-oom', 'allow-stale', 'no-cluster',
                          'allow-cross-slot-keys'}) do
    if flags[f] then flag_list[#flag_list + 1] = f end
  end
  pending[#pending + 1] = {name, cb, flag_list, desc}
end

REDIS_LOAD = {
  register_function = register_function_, log = log_,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = SETTINGS.version, REDIS_VERSION_NUM = SETTINGS.version_num,
}
end

-- ---------------------------------------------------------------------------------------------
-- The error handler (Redis's __redis__err__handler): the error becomes {err=...} with the
-- source and line of the frame that raised it, seen through our own frames.

local function error_frame()
  local level, first = 3, nil
  while true do
    local ar = getinfo(level, 'Sl')
    if ar == nil then return first end
    if ar.what == 'C' or (not INTERNAL[ar.source] and ar.what ~= 'tail') then
      if first == nil then
        if ar.what ~= 'C' then return ar end
        first = ar
      else
        return ar
      end
    end
    level = level + 1
  end
end

-- Redis's handler writes source and line into the error table; for one of its read-only
-- tables that write fails inside the handler, and the failure is what gets reported.
local READONLY_IN_HANDLER = {err = 'ERR err_handler_def:10: ' .. RO_ERR,
                             source = '@err_handler_def', line = 10}

local function error_handler(e)
  local ar = error_frame()
  if type(e) ~= 'table' then
    e = {err = 'ERR ' .. tostring_(e)}
  elseif READONLY[e] then
    return READONLY_IN_HANDLER
  end
  if ar then
    e.source = ar.source
    e.line = ar.currentline
  end
  return e
end

-- ---------------------------------------------------------------------------------------------
-- Globals

local CJSON, cjson_reset = new_cjson()
CJSON_RESET = cjson_reset

local function libs_into(g, redis_table)
  g.assert = assert
  g.collectgarbage = collectgarbage_
  g.error = error
  g.gcinfo = gcinfo
  g.getmetatable = getmetatable_
  g.ipairs = raw_ipairs
  g.load = load_
  g.loadstring = loadstring_
  g.next = next_
  g.pairs = pairs_
  g.pcall = pcall_
  g.rawequal = rawequal
  g.rawget = rawget_
  g.rawset = rawset_
  g.select = select
  g.setmetatable = setmetatable_
  g.tonumber = tonumber
  g.tostring = tostring_
  g.type = type
  g.unpack = unpack
  g.xpcall = xpcall_
  g._VERSION = LUA_VERSION
  g.string = readonly(STRING)
  g.table = readonly(TABLE)
  g.math = readonly(MATH)
  g.coroutine = readonly(COROUTINE)
  g.bit = readonly(BIT)
  g.struct = readonly(STRUCT)
  g.cjson = readonly(CJSON)
  g.cmsgpack = readonly(MSGPACK)
  g.redis = readonly(redis_table)
end

local SG_EVAL = {}
libs_into(SG_EVAL, REDIS_EVAL)
SG_EVAL.__redis__err__handler = error_handler
local P_EVAL = globals_proxy(SG_EVAL)
SG_EVAL._G = P_EVAL

local SG_FUNC = {}
libs_into(SG_FUNC, REDIS_FUNC)
-- Libraries share the same library tables as EVAL scripts: they are read-only anyway.
for _, name in raw_ipairs({'string', 'table', 'math', 'coroutine', 'bit', 'struct', 'cjson',
                           'cmsgpack'}) do
  SG_FUNC[name] = SG_EVAL[name]
end
local P_FUNC, P_FUNC_META = globals_proxy(SG_FUNC)
SG_FUNC._G = P_FUNC

local SG_LOAD = {redis = readonly(REDIS_LOAD)}
raw_setmetatable(REDIS_LOAD, {__index = no_global})
raw_setmetatable(SG_LOAD, {__index = no_global})

-- The string metatable: method calls use the sandbox's string functions, and what
-- getmetatable('') shows is read-only.
do
  local smeta = dgetmetatable('')
  smeta.__index = STRING
  smeta.__metatable = readonly({__index = SG_EVAL.string})
end

-- ---------------------------------------------------------------------------------------------
-- Drivers (called by the host)

local GC_THRESHOLD = SETTINGS.gc_threshold

local function finish_run()
  -- Lua 5.1 does not collect garbage when an allocation fails, and the host's own calls into
  -- the state are not protected: leave every run with the garbage of a big script collected.
  if raw_collectgarbage('count') * 1024 > GC_THRESHOLD then raw_collectgarbage('collect') end
  if killed then
    killed = false
    kill_error = nil
    sethook(hook, '', HOOK_COUNT)
  end
  cur_fn, cur_keys, cur_args = nil, nil, nil
  CJSON_RESET()
  if gc_dirty then
    gc_dirty = false
    raw_collectgarbage('restart')
    raw_collectgarbage('setpause', 200)
    raw_collectgarbage('setstepmul', 200)
  end
end

-- (A script that went on after being killed still ends with the kill error: see the
-- run drivers.)

local function error_fields(e)
  return e.err, e.source, e.line
end

local function outcome(ok, res)
  if ok then
    local t = type(res)
    if t == 'table' then
      local sok, text = raw_pcall(serialize, res)
      if sok then return 1, text end
      ok, res = false, error_handler(text)
    elseif t == 'string' or t == 'number' or t == 'boolean' then
      return 0, res
    else
      return 0, nil
    end
  end
  if type(res) == 'table' then
    -- Read as Redis reads them (lua_getfield): metamethods apply, and may fail.
    local rok, err, source, line = raw_pcall(error_fields, res)
    if not rok then
      if killed then return 2, kill_error end
      return 3, 'error in error handling'
    end
    if type(err) == 'number' then err = tostring(err) end
    if type(err) ~= 'string' then err = nil end
    if type(source) == 'number' then source = tostring(source) end
    if type(source) ~= 'string' then source = nil end
    if type(line) == 'string' then line = tonumber(line) end
    if type(line) ~= 'number' then line = nil end
    return 2, err, source, line
  end
  if type(res) == 'string' then return 3, res end
  return 3, nil
end

local function split_args(nkeys, ...)
  local n = select('#', ...)
  if nkeys == 0 then return {}, {...} end
  if nkeys == n then return {...}, {} end
  local all = {...}
  local keys, args = {}, {}
  for i = 1, nkeys do keys[i] = all[i] end
  for i = nkeys + 1, n do args[i - nkeys] = all[i] end
  return keys, args
end

local function split_table(nkeys, all)
  local keys, args = {}, {}
  local n = #all
  for i = 1, nkeys do keys[i] = all[i] end
  for i = nkeys + 1, n do args[i - nkeys] = all[i] end
  return keys, args
end

local D = {}

-- Every driver runs under pcall, so that whatever fails in it (running out of memory above
-- all) comes back as a value and the state is tidied up before the host sees the answer.
local function guarded(fn)
  return function(...)
    local ok, a, b, c, d = raw_pcall(fn, ...)
    if ok then return a, b, c, d end
    P_FUNC_META.__index = SG_FUNC
    pending, pending_names = nil, nil
    raw_pcall(finish_run)
    if type(a) ~= 'string' then a = 'internal error' end
    return 3, a
  end
end

-- Compiles an EVAL body (shebang already blanked out) or a library body: the function, or
-- nil and the compiler's message.
D.compile = guarded(function(body, chunkname, for_functions)
  current_env = for_functions and P_FUNC or P_EVAL
  local f, msg = load_text(body, chunkname)
  finish_run()
  if not f then return nil, msg end
  return f
end)

-- The run drivers are not wrapped in pcall (they are the hot path): a failure outside the
-- script's own protected call can only be an allocation failing, which reaches the host as
-- a memory error, and the host then calls D.reset.
local function run_eval(keys, argv, fn)
  SG_EVAL.KEYS, SG_EVAL.ARGV = keys, argv
  current_env = P_EVAL
  local ok, res = raw_xpcall(fn, error_handler)
  if killed and ok then ok, res = false, {err = kill_error} end
  SG_EVAL.KEYS, SG_EVAL.ARGV = nil, nil
  local t = type(res)
  if ok and (t == 'string' or t == 'number' or t == 'boolean') then
    finish_run()
    return 0, res
  end
  local a, b, c, d = outcome(ok, res)
  finish_run()
  return a, b, c, d
end

D.run_eval = function(fn, nkeys, ...)
  if nkeys == 0 then return run_eval({}, {...}, fn) end
  if nkeys == select('#', ...) then return run_eval({...}, {}, fn) end
  local keys, argv = split_args(nkeys, ...)
  return run_eval(keys, argv, fn)
end

D.run_eval_table = function(fn, nkeys, all)
  local keys, argv = split_table(nkeys, all)
  return run_eval(keys, argv, fn)
end

local function call_current()
  local r = cur_fn(cur_keys, cur_args)
  return r
end

local function run_function(fn, keys, args)
  cur_fn, cur_keys, cur_args = fn, keys, args
  current_env = P_FUNC
  local ok, res = raw_xpcall(call_current, error_handler)
  if killed and ok then ok, res = false, {err = kill_error} end
  cur_fn, cur_keys, cur_args = nil, nil, nil
  local t = type(res)
  if ok and (t == 'string' or t == 'number' or t == 'boolean') then
    finish_run()
    return 0, res
  end
  local a, b, c, d = outcome(ok, res)
  finish_run()
  return a, b, c, d
end

D.run_function = function(fn, nkeys, ...)
  local keys, args = split_args(nkeys, ...)
  return run_function(fn, keys, args)
end

D.run_function_table = function(fn, nkeys, all)
  local keys, args = split_table(nkeys, all)
  return run_function(fn, keys, args)
end

-- Runs a library body with the load-time API. Returns true and the registered functions
-- ({name, callback, flags, description} each), or false and the error text.
D.load_library = guarded(function(fn)
  pending, pending_names = {}, {}
  P_FUNC_META.__index = SG_LOAD
  current_env = P_FUNC
  local ok, e = raw_pcall(fn)
  P_FUNC_META.__index = SG_FUNC
  local registered = pending
  pending, pending_names = nil, nil
  finish_run()
  if ok then return true, registered end
  if type(e) == 'table' and not READONLY[e] then
    local err = e.err
    if type(err) == 'number' then err = tostring(err) end
    if type(err) == 'string' then return false, err end
    return false, nil
  end
  if type(e) == 'string' or type(e) == 'number' then return false, 'ERR ' .. tostring(e) end
  return false, nil
end)

-- Puts the runtime back in shape after anything went wrong on the host side.
D.reset = guarded(function()
  P_FUNC_META.__index = SG_FUNC
  pending, pending_names = nil, nil
  finish_run()
end)

D.collect = guarded(function()
  raw_collectgarbage('collect')
end)

-- ---------------------------------------------------------------------------------------------
-- Empty the real globals: nothing a script could ever reach through them should remain.

do
  local loaded = package and package.loaded
  if loaded then
    for k in next, loaded do loaded[k] = nil end
  end
  local G = _G
  for k in next, G do G[k] = nil end
end

sethook(hook, '', HOOK_COUNT)
return D
