-- The cjson library scripts see (lua-cjson 2.1.0 as bundled with Redis), written in Lua.
--
-- Same output formatting (%.14g numbers, '/' escaped, empty table as an object), the same
-- sparse-array and depth rules and the same error texts. Written in Lua rather than called
-- through Python so a long encode or decode stays under the script time limit.
local H = ...
local raise, argerror, real = H.raise, H.argerror, H.real
local NULL = H.null
local type, tostring, tonumber, next, select, rawget, rawset, pairs =
  type, tostring, tonumber, next, select, rawget, rawset, pairs
local floor = math.floor
local byte, sub, char, find, format, gsub, lower = string.byte, string.sub, string.char,
  string.find, string.format, string.gsub, string.lower
local concat = table.concat

local INT_MAX = 2147483647
local HUGE = math.huge

local ESCAPES = {}
for c = 0, 31 do ESCAPES[char(c)] = format('\\u%04x', c) end
ESCAPES['\b'] = '\\b' ESCAPES['\t'] = '\\t' ESCAPES['\n'] = '\\n'
ESCAPES['\f'] = '\\f' ESCAPES['\r'] = '\\r'
ESCAPES['"'] = '\\"' ESCAPES['\\'] = '\\\\' ESCAPES['/'] = '\\/'
ESCAPES['\127'] = '\\u007f'

local function quote(s)
  return '"' .. gsub(s, '[%c"\\/]', ESCAPES) .. '"'
end

-- ---------------------------------------------------------------------------------------------
-- Options, as the C module's configuration functions parse them.

local function integer_arg(v, narg, level)
  local n = tonumber(v)
  if type(v) ~= 'number' and (type(v) ~= 'string' or n == nil) then
    argerror(narg, 'number expected, got ' .. type(v), level)
  end
  -- luaL_checkinteger truncates toward zero, then the option is an int.
  if n >= 0 then n = floor(n) else n = -floor(-n) end
  return n
end

local function integer_option(cfg, key, v, lo, hi, level)
  if v ~= nil then
    cfg.changed = true
    local n = integer_arg(v, 1, level + 1)
    if n < lo or n > hi then
      argerror(1, 'expected integer between ' .. lo .. ' and ' .. hi, level)
    end
    cfg[key] = n
  end
  return cfg[key]
end

local BOOL_OPTIONS = {'off', 'on'}

local function enum_option(cfg, key, v, narg, options, level)
  options = options or BOOL_OPTIONS
  if v ~= nil then
    cfg.changed = true
    if type(v) == 'boolean' then
      cfg[key] = v and 1 or 0
    else
      if type(v) ~= 'string' and type(v) ~= 'number' then
        argerror(narg, 'string expected, got ' .. type(v), level)
      end
      local s = tostring(v)
      local found
      for i = 1, #options do
        if options[i] == s then found = i - 1 break end
      end
      if found == nil then argerror(narg, "invalid option '" .. s .. "'", level) end
      cfg[key] = found
    end
  end
  local setting = cfg[key]
  if setting == 0 or setting == 1 then return setting == 1 end
  return options[setting + 1]
end

local function check_args(n, max, level)
  if n > max then argerror(max + 1, 'found too many arguments', level) end
end

-- ---------------------------------------------------------------------------------------------
-- Encoding

local function encode_number(cfg, num, out, lindex_type)
  if num ~= num or num == HUGE or num == -HUGE then
    local mode = cfg.encode_invalid_numbers
    if mode == 0 then
      raise('Cannot serialise ' .. lindex_type .. ': must not be NaN or Inf')
    elseif mode == 2 then
      out[#out + 1] = 'null'
      return
    elseif num ~= num then
      out[#out + 1] = 'nan'
      return
    end
  end
  out[#out + 1] = format(cfg.number_format, num)
end

local encode_value

local function array_length(cfg, t)
  local max, items = 0, 0
  for k in next, t do
    if type(k) == 'number' and k ~= 0 and floor(k) == k and k >= 1 then
      if k > max then max = k end
      items = items + 1
    else
      return -1
    end
  end
  local ratio = cfg.encode_sparse_ratio
  if ratio > 0 and max > items * ratio and max > cfg.encode_sparse_safe then
    if cfg.encode_sparse_convert == 0 then
      raise('Cannot serialise table: excessively sparse array')
    end
    return -1
  end
  return max
end

local function encode_table(cfg, t, depth, out)
  t = real(t)
  depth = depth + 1
  if depth > cfg.encode_max_depth then
    raise('Cannot serialise, excessive nesting (' .. depth .. ')')
  end
  local len = array_length(cfg, t)
  if len > 0 then
    out[#out + 1] = '['
    for i = 1, len do
      if i > 1 then out[#out + 1] = ',' end
      encode_value(cfg, rawget(t, i), depth, out)
    end
    out[#out + 1] = ']'
  else
    out[#out + 1] = '{'
    local first = true
    for k, v in next, t do
      if not first then out[#out + 1] = ',' end
      first = false
      local kt = type(k)
      if kt == 'number' then
        out[#out + 1] = '"'
        encode_number(cfg, k, out, 'number')
        out[#out + 1] = '":'
      elseif kt == 'string' then
        out[#out + 1] = quote(k)
        out[#out + 1] = ':'
      else
        raise('Cannot serialise ' .. kt .. ': table key must be a number or string')
      end
      encode_value(cfg, v, depth, out)
    end
    out[#out + 1] = '}'
  end
end

encode_value = function(cfg, v, depth, out)
  local t = type(v)
  if t == 'string' then
    out[#out + 1] = quote(v)
  elseif t == 'number' then
    encode_number(cfg, v, out, 'number')
  elseif t == 'boolean' then
    out[#out + 1] = v and 'true' or 'false'
  elseif t == 'table' then
    encode_table(cfg, v, depth, out)
  elseif v == nil or v == NULL then
    out[#out + 1] = 'null'
  else
    raise('Cannot serialise ' .. t .. ': type not supported')
  end
end

-- ---------------------------------------------------------------------------------------------
-- Decoding: a tokenizer and recursive parser with lua-cjson's token names and messages.

local T_OBJ_BEGIN, T_OBJ_END, T_ARR_BEGIN, T_ARR_END = 'T_OBJ_BEGIN', 'T_OBJ_END',
  'T_ARR_BEGIN', 'T_ARR_END'
local T_STRING, T_NUMBER, T_BOOLEAN, T_NULL = 'T_STRING', 'T_NUMBER', 'T_BOOLEAN', 'T_NULL'
local T_COLON, T_COMMA, T_END, T_ERROR = 'T_COLON', 'T_COMMA', 'T_END', 'T_ERROR'

local SINGLE = {[123] = T_OBJ_BEGIN, [125] = T_OBJ_END, [91] = T_ARR_BEGIN, [93] = T_ARR_END,
                [44] = T_COMMA, [58] = T_COLON}
local UNESCAPE = {[34] = '"', [92] = '\\', [47] = '/', [98] = '\b', [116] = '\t',
                  [110] = '\n', [102] = '\f', [114] = '\r'}

local function hex4(s, i)
  local h = sub(s, i, i + 3)
  if #h ~= 4 or find(h, '[^%x]') then return -1 end
  return tonumber(h, 16)
end

local function utf8(cp)
  if cp <= 0x7F then return char(cp) end
  if cp <= 0x7FF then
    return char(floor(cp / 64) + 0xC0, cp % 64 + 0x80)
  end
  if cp <= 0xFFFF then
    return char(floor(cp / 4096) + 0xE0, floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
  end
  return char(floor(cp / 262144) + 0xF0, floor(cp / 4096) % 64 + 0x80,
              floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
end

-- Length of the longest prefix of s (from i) that C's strtod accepts, or 0.
local function strtod_len(s, i)
  local j = i
  local c = byte(s, j)
  if c == 43 or c == 45 then j = j + 1 end
  local low = lower(sub(s, j, j + 8))
  if sub(low, 1, 3) == 'inf' then
    if sub(low, 1, 8) == 'infinity' then return j + 8 - i end
    return j + 3 - i
  end
  if sub(low, 1, 3) == 'nan' then
    local k = j + 3
    if byte(s, k) == 40 then
      local _, close = find(s, '^[%w_]*%)', k + 1)
      if close then return close + 1 - i end
    end
    return k - i
  end
  if (byte(s, j) == 48) and (byte(s, j + 1) == 120 or byte(s, j + 1) == 88) then
    local k = j + 2
    local _, e1 = find(s, '^%x*', k)
    local digits = e1 - k + 1
    local m = e1 + 1
    if byte(s, m) == 46 then
      local _, e2 = find(s, '^%x*', m + 1)
      digits = digits + (e2 - m)
      if digits > 0 then m = e2 + 1 end
    end
    if digits == 0 then return j + 1 - i end -- just the "0"
    local p = byte(s, m)
    if p == 112 or p == 80 then
      local _, e3 = find(s, '^[+-]?%d+', m + 1)
      if e3 then m = e3 + 1 end
    end
    return m - i
  end
  local _, e1 = find(s, '^%d*', j)
  local digits = e1 - j + 1
  local m = e1 + 1
  if byte(s, m) == 46 then
    local _, e2 = find(s, '^%d*', m + 1)
    digits = digits + (e2 - m)
    m = e2 + 1
  end
  if digits == 0 then return 0 end
  local p = byte(s, m)
  if p == 101 or p == 69 then
    local _, e3 = find(s, '^[+-]?%d+', m + 1)
    if e3 then m = e3 + 1 end
  end
  return m - i
end

local function is_invalid_number(s, i)
  local c = byte(s, i)
  if c == 43 then return true end
  if c == 45 then i = i + 1 c = byte(s, i) end
  if c == 48 then
    local c2 = byte(s, i + 1) or 0
    if c2 == 120 or c2 == 88 or (c2 >= 48 and c2 <= 57) then return true end
    return false
  elseif (c or 0) <= 57 then
    return false
  end
  local w = lower(sub(s, i, i + 2))
  return w == 'inf' or w == 'nan'
end

-- The decoder state is a table {s=, n=, pos=, cfg=, depth=}; ``n`` is where the C code would
-- see the terminating NUL (the first NUL byte, or the end).
local function next_token(st)
  local s, pos = st.s, st.pos
  local ws = find(s, '[^ \t\n\r]', pos)
  if ws == nil then ws = st.n + 1 end
  pos = ws
  st.pos = pos
  if pos > st.n then return T_END, nil, pos end
  local c = byte(s, pos)
  local single = SINGLE[c]
  if single then
    st.pos = pos + 1
    return single, nil, pos
  end
  if c == 34 then
    local out = {}
    local i = pos + 1
    while true do
      local j = find(s, '["\\%z]', i)
      if j == nil or j > st.n then
        st.pos = st.n + 1
        return T_ERROR, 'unexpected end of string', st.n + 1
      end
      if j > i then out[#out + 1] = sub(s, i, j - 1) end
      local d = byte(s, j)
      if d == 34 then
        st.pos = j + 1
        return T_STRING, concat(out), pos
      end
      if d == 0 then
        st.pos = j
        return T_ERROR, 'unexpected end of string', j
      end
      local e = byte(s, j + 1) or 0
      if j + 1 > st.n then e = 0 end
      if e == 117 then
        local cp = hex4(s, j + 2)
        local esc_len = 6
        local bad = cp < 0
        if not bad and cp >= 0xD800 and cp <= 0xDFFF then
          if cp >= 0xDC00 then
            bad = true
          elseif byte(s, j + 6) ~= 92 or byte(s, j + 7) ~= 117 then
            bad = true
          else
            local low = hex4(s, j + 8)
            if low < 0 or low < 0xDC00 or low > 0xDFFF then
              bad = true
            else
              cp = (cp - 0xD800) * 1024 + (low - 0xDC00) + 0x10000
              esc_len = 12
            end
          end
        end
        if bad then
          st.pos = j
          return T_ERROR, 'invalid unicode escape code', j
        end
        out[#out + 1] = utf8(cp)
        i = j + esc_len
      else
        local u = UNESCAPE[e]
        if not u then
          st.pos = j
          return T_ERROR, 'invalid escape code', j
        end
        out[#out + 1] = u
        i = j + 2
      end
    end
  end
  local cfg = st.cfg
  if c == 45 or (c >= 48 and c <= 57) then
    if cfg.decode_invalid_numbers == 0 and is_invalid_number(s, pos) then
      return T_ERROR, 'invalid number', pos
    end
  elseif sub(s, pos, pos + 3) == 'true' then
    st.pos = pos + 4
    return T_BOOLEAN, true, pos
  elseif sub(s, pos, pos + 4) == 'false' then
    st.pos = pos + 5
    return T_BOOLEAN, false, pos
  elseif sub(s, pos, pos + 3) == 'null' then
    st.pos = pos + 4
    return T_NULL, nil, pos
  elseif not (cfg.decode_invalid_numbers ~= 0 and (c == 43 or c == 105 or c == 73 or c == 110
                                                   or c == 78)
              and is_invalid_number(s, pos)) then
    return T_ERROR, 'invalid token', pos
  end
  local len = strtod_len(s, pos)
  if len == 0 then
    return T_ERROR, 'invalid number', pos
  end
  st.pos = pos + len
  return T_NUMBER, tonumber(sub(s, pos, pos + len - 1)), pos
end

local function parse_error(expected, tok, val, idx)
  local found = tok
  if tok == T_ERROR then found = val end
  raise('Expected ' .. expected .. ' but found ' .. found .. ' at character ' .. idx)
end

local parse_value

local function descend(st)
  st.depth = st.depth + 1
  if st.depth > st.cfg.decode_max_depth then
    raise('Found too many nested data structures (' .. st.depth .. ') at character '
          .. (st.pos - 1))
  end
end

local function parse_object(st)
  descend(st)
  local t = {}
  local tok, val, idx = next_token(st)
  if tok == T_OBJ_END then
    st.depth = st.depth - 1
    return t
  end
  while true do
    if tok ~= T_STRING then parse_error('object key string', tok, val, idx) end
    local key = val
    tok, val, idx = next_token(st)
    if tok ~= T_COLON then parse_error('colon', tok, val, idx) end
    tok, val, idx = next_token(st)
    rawset(t, key, parse_value(st, tok, val, idx))
    tok, val, idx = next_token(st)
    if tok == T_OBJ_END then
      st.depth = st.depth - 1
      return t
    end
    if tok ~= T_COMMA then parse_error('comma or object end', tok, val, idx) end
    tok, val, idx = next_token(st)
  end
end

local function parse_array(st)
  descend(st)
  local t = {}
  local tok, val, idx = next_token(st)
  if tok == T_ARR_END then
    st.depth = st.depth - 1
    return t
  end
  local i = 1
  while true do
    rawset(t, i, parse_value(st, tok, val, idx))
    i = i + 1
    tok, val, idx = next_token(st)
    if tok == T_ARR_END then
      st.depth = st.depth - 1
      return t
    end
    if tok ~= T_COMMA then parse_error('comma or array end', tok, val, idx) end
    tok, val, idx = next_token(st)
  end
end

parse_value = function(st, tok, val, idx)
  if tok == T_STRING or tok == T_NUMBER or tok == T_BOOLEAN then return val end
  if tok == T_OBJ_BEGIN then return parse_object(st) end
  if tok == T_ARR_BEGIN then return parse_array(st) end
  if tok == T_NULL then return NULL end
  parse_error('value', tok, val, idx)
end

-- ---------------------------------------------------------------------------------------------
-- Module instances: cjson itself and whatever cjson.new() returns.

local DEFAULTS = {
  encode_sparse_convert = 0, encode_sparse_ratio = 2, encode_sparse_safe = 10,
  encode_max_depth = 1000, decode_max_depth = 1000, encode_invalid_numbers = 0,
  decode_invalid_numbers = 1, encode_keep_buffer = 1, encode_number_precision = 14,
  number_format = '%.14g',
}

local function reset(cfg)
  for k, v in pairs(DEFAULTS) do cfg[k] = v end
  cfg.changed = false
end

local new_instance

new_instance = function()
  local cfg = {}
  reset(cfg)
  local m = {}
  m.encode = function(...)
    if select('#', ...) ~= 1 then argerror(1, 'expected 1 argument') end
    local out = {}
    encode_value(cfg, (...), 0, out)
    return concat(out)
  end
  m.decode = function(...)
    local n = select('#', ...)
    if n ~= 1 then argerror(1, 'expected 1 argument') end
    local s = ...
    if type(s) == 'number' then s = tostring(s) end
    if type(s) ~= 'string' then argerror(1, 'string expected, got ' .. type(s)) end
    if #s >= 2 and (byte(s, 1) == 0 or byte(s, 2) == 0) then
      raise('JSON parser does not support UTF-16 or UTF-32')
    end
    local z = find(s, '\0', 1, true)
    local st = {s = s, n = z and z - 1 or #s, pos = 1, cfg = cfg, depth = 0}
    local tok, val, idx = next_token(st)
    local v = parse_value(st, tok, val, idx)
    tok, val, idx = next_token(st)
    if tok ~= T_END then parse_error('the end', tok, val, idx) end
    return v
  end
  m.encode_sparse_array = function(...)
    check_args(select('#', ...), 3, 2)
    local a, b, c = ...
    local r1 = enum_option(cfg, 'encode_sparse_convert', a, 1, nil, 2)
    local r2 = integer_option(cfg, 'encode_sparse_ratio', b, 0, INT_MAX, 2)
    local r3 = integer_option(cfg, 'encode_sparse_safe', c, 0, INT_MAX, 2)
    return r1, r2, r3
  end
  m.encode_max_depth = function(...)
    check_args(select('#', ...), 1, 2)
    local r = integer_option(cfg, 'encode_max_depth', (...), 1, INT_MAX, 2)
    return r
  end
  m.decode_max_depth = function(...)
    check_args(select('#', ...), 1, 2)
    local r = integer_option(cfg, 'decode_max_depth', (...), 1, INT_MAX, 2)
    return r
  end
  m.encode_number_precision = function(...)
    check_args(select('#', ...), 1, 2)
    local p = integer_option(cfg, 'encode_number_precision', (...), 1, 14, 2)
    if cfg.changed then cfg.number_format = '%.' .. p .. 'g' end
    return p
  end
  m.encode_keep_buffer = function(...)
    check_args(select('#', ...), 1, 2)
    local r = enum_option(cfg, 'encode_keep_buffer', (...), 1, nil, 2)
    return r
  end
  m.encode_invalid_numbers = function(...)
    check_args(select('#', ...), 1, 2)
    local r = enum_option(cfg, 'encode_invalid_numbers', (...), 1, {'off', 'on', 'null'}, 2)
    return r
  end
  m.decode_invalid_numbers = function(...)
    check_args(select('#', ...), 1, 2)
    local r = enum_option(cfg, 'decode_invalid_numbers', (...), 1, nil, 2)
    return r
  end
  m.new = function() return (new_instance()) end
  m.null = NULL
  m._NAME = 'cjson'
  m._VERSION = '2.1.0'
  return m, function()
    if cfg.changed then reset(cfg) end
  end
end

return new_instance
