-- The cmsgpack library scripts see (lua-cmsgpack 0.4.0 as bundled with Redis), written in Lua.
--
-- Tables whose keys are exactly 1..n pack as arrays, anything else as maps; numbers pack as the
-- smallest integer encoding when they are whole, else as a float when that is exact, else as a
-- double; nesting deeper than 16 packs as nil. Float and double bytes come from the host
-- (H.pack_float, H.unpack_float) because Lua 5.1 has no way to reach a number's bits.
local H = ...
local raise, argerror, real = H.raise, H.argerror, H.real
local pack_float, unpack_float = H.pack_float, H.unpack_float
local type, next, select, tonumber, tostring, unpack, error = type, next, select, tonumber,
  tostring, unpack, error
local floor = math.floor
local byte, char, sub = string.byte, string.char, string.sub
local concat = table.concat

local MAX_NESTING = 16
local MAXCSTACK = 8000
local TWO32 = 4294967296
local TWO63 = 9223372036854775808

local function be(n, width)
  local out = {}
  for i = width, 1, -1 do
    out[i] = char(n % 256)
    n = floor(n / 256)
  end
  return concat(out)
end

local function encode_int(n, out)
  if n >= 0 then
    if n <= 127 then out[#out + 1] = char(n)
    elseif n <= 0xff then out[#out + 1] = '\204' .. char(n)
    elseif n <= 0xffff then out[#out + 1] = '\205' .. be(n, 2)
    elseif n <= 0xffffffff then out[#out + 1] = '\206' .. be(n, 4)
    else out[#out + 1] = '\207' .. be(n, 8)
    end
  else
    if n >= -32 then out[#out + 1] = char(n + 256)
    elseif n >= -128 then out[#out + 1] = '\208' .. char(n + 256)
    elseif n >= -32768 then out[#out + 1] = '\209' .. be(n + 65536, 2)
    elseif n >= -2147483648 then out[#out + 1] = '\210' .. be(n + TWO32, 4)
    else
      local hi = floor(n / TWO32)
      local lo = n - hi * TWO32
      out[#out + 1] = '\211' .. be(hi + TWO32, 4) .. be(lo, 4)
    end
  end
end

local function encode_bytes(s, out)
  local len = #s
  if len < 32 then out[#out + 1] = char(0xa0 + len)
  elseif len <= 0xff then out[#out + 1] = '\217' .. char(len)
  elseif len <= 0xffff then out[#out + 1] = '\218' .. be(len, 2)
  else out[#out + 1] = '\219' .. be(len, 4)
  end
  out[#out + 1] = s
end

local function encode_array_header(n, out)
  if n <= 15 then out[#out + 1] = char(0x90 + n)
  elseif n <= 65535 then out[#out + 1] = '\220' .. be(n, 2)
  else out[#out + 1] = '\221' .. be(n, 4)
  end
end

local function encode_map_header(n, out)
  if n <= 15 then out[#out + 1] = char(0x80 + n)
  elseif n <= 65535 then out[#out + 1] = '\222' .. be(n, 2)
  else out[#out + 1] = '\223' .. be(n, 4)
  end
end

local function is_array(t)
  local count, max = 0, 0
  for k in next, t do
    if type(k) ~= 'number' or k <= 0 or k ~= floor(k) or k > 2147483647 then
      return false
    end
    if k > max then max = k end
    count = count + 1
  end
  return max == count
end

local encode_value

local function encode_table(t, level, out)
  t = real(t)
  if is_array(t) then
    local len = #t
    encode_array_header(len, out)
    for j = 1, len do encode_value(t[j], level + 1, out) end
  else
    local len = 0
    for _ in next, t do len = len + 1 end
    encode_map_header(len, out)
    for k, v in next, t do
      encode_value(k, level + 1, out)
      encode_value(v, level + 1, out)
    end
  end
end

encode_value = function(v, level, out)
  local t = type(v)
  if t == 'table' and level == MAX_NESTING then t = 'nil' end
  if t == 'string' then
    encode_bytes(v, out)
  elseif t == 'boolean' then
    out[#out + 1] = v and '\195' or '\194'
  elseif t == 'number' then
    if v == v and v >= -TWO63 and v < TWO63 and floor(v) == v then
      encode_int(v, out)
    else
      out[#out + 1] = pack_float(v)
    end
  elseif t == 'table' then
    encode_table(v, level, out)
  else
    out[#out + 1] = '\192'
  end
end

local M = {}

function M.pack(...)
  local n = select('#', ...)
  if n == 0 then argerror(0, 'MessagePack pack needs input.') end
  local out = {}
  for i = 1, n do
    encode_value((select(i, ...)), 0, out)
  end
  return concat(out)
end

-- ---------------------------------------------------------------------------------------------
-- Decoding. ``st`` = {s=, pos=, left=, err=, used=}; ``used`` mirrors the C stack slots the
-- C decoder would hold so that its "stack overflow (...)" limits are the same.

local EOF, BADFMT = 1, 2

local function checkstack(st, n, msg)
  if st.used + n > MAXCSTACK then raise('stack overflow (' .. msg .. ')') end
end

local function need(st, n)
  if st.left < n then st.err = EOF return false end
  return true
end

local function uint(s, i, width)
  local n = 0
  for k = i, i + width - 1 do n = n * 256 + byte(s, k) end
  return n
end

local function int64(s, i)
  local hi = uint(s, i, 4)
  if hi >= 2147483648 then hi = hi - TWO32 end
  return hi * TWO32 + uint(s, i + 4, 4)
end

local decode_value

local function decode_array(st, len)
  local t = {}
  st.used = st.used + 1
  checkstack(st, 1, 'in function mp_decode_to_lua_array')
  local index = 1
  while len > 0 do
    len = len - 1
    st.used = st.used + 1
    local v = decode_value(st)
    st.used = st.used - 1
    if st.err then st.used = st.used - 1 return t end
    t[index] = v
    index = index + 1
  end
  st.used = st.used - 1
  return t
end

local function decode_map(st, len)
  local t = {}
  st.used = st.used + 1
  while len > 0 do
    len = len - 1
    local k = decode_value(st)
    if st.err then st.used = st.used - 1 return t end
    st.used = st.used + 1
    local v = decode_value(st)
    st.used = st.used - 1
    if st.err then st.used = st.used - 1 return t end
    if k == nil then error('table index is nil', 0) end
    if k ~= k then error('table index is NaN', 0) end
    t[k] = v
  end
  st.used = st.used - 1
  return t
end

local function consume(st, n)
  st.pos = st.pos + n
  st.left = st.left - n
end

decode_value = function(st)
  if not need(st, 1) then return nil end
  checkstack(st, 1, 'too many return values at once; use unpack_one or unpack_limit instead.')
  local s, p = st.s, st.pos
  local c = byte(s, p)
  local v
  if c == 0xcc then
    if not need(st, 2) then return nil end
    v = byte(s, p + 1) consume(st, 2)
  elseif c == 0xd0 then
    if not need(st, 2) then return nil end
    v = byte(s, p + 1)
    if v >= 128 then v = v - 256 end
    consume(st, 2)
  elseif c == 0xcd then
    if not need(st, 3) then return nil end
    v = uint(s, p + 1, 2) consume(st, 3)
  elseif c == 0xd1 then
    if not need(st, 3) then return nil end
    v = uint(s, p + 1, 2)
    if v >= 32768 then v = v - 65536 end
    consume(st, 3)
  elseif c == 0xce then
    if not need(st, 5) then return nil end
    v = uint(s, p + 1, 4) consume(st, 5)
  elseif c == 0xd2 then
    if not need(st, 5) then return nil end
    v = uint(s, p + 1, 4)
    if v >= 2147483648 then v = v - TWO32 end
    consume(st, 5)
  elseif c == 0xcf then
    -- Redis pushes a uint64 through lua_pushinteger: it arrives as a signed number.
    if not need(st, 9) then return nil end
    v = int64(s, p + 1) consume(st, 9)
  elseif c == 0xd3 then
    if not need(st, 9) then return nil end
    v = int64(s, p + 1) consume(st, 9)
  elseif c == 0xc0 then
    consume(st, 1)
  elseif c == 0xc3 then
    v = true consume(st, 1)
  elseif c == 0xc2 then
    v = false consume(st, 1)
  elseif c == 0xca then
    if not need(st, 5) then return nil end
    v = unpack_float(sub(s, p + 1, p + 4)) consume(st, 5)
  elseif c == 0xcb then
    if not need(st, 9) then return nil end
    v = unpack_float(sub(s, p + 1, p + 8)) consume(st, 9)
  elseif c == 0xd9 or c == 0xda or c == 0xdb then
    local width = (c == 0xd9 and 1) or (c == 0xda and 2) or 4
    if not need(st, 1 + width) then return nil end
    local l = uint(s, p + 1, width)
    if not need(st, 1 + width + l) then return nil end
    v = sub(s, p + 1 + width, p + width + l)
    consume(st, 1 + width + l)
  elseif c == 0xdc or c == 0xdd then
    local width = c == 0xdc and 2 or 4
    if not need(st, 1 + width) then return nil end
    local l = uint(s, p + 1, width)
    consume(st, 1 + width)
    v = decode_array(st, l)
  elseif c == 0xde or c == 0xdf then
    local width = c == 0xde and 2 or 4
    if not need(st, 1 + width) then return nil end
    local l = uint(s, p + 1, width)
    consume(st, 1 + width)
    v = decode_map(st, l)
  elseif c < 0x80 then
    v = c consume(st, 1)
  elseif c >= 0xe0 then
    v = c - 256 consume(st, 1)
  elseif c >= 0xa0 and c < 0xc0 then
    local l = c - 0xa0
    if not need(st, 1 + l) then return nil end
    v = sub(s, p + 1, p + l)
    consume(st, 1 + l)
  elseif c >= 0x90 and c < 0xa0 then
    consume(st, 1)
    v = decode_array(st, c - 0x90)
  elseif c >= 0x80 and c < 0x90 then
    consume(st, 1)
    v = decode_map(st, c - 0x80)
  else
    st.err = BADFMT
  end
  return v
end

local function unpack_full(s, limit, offset)
  local len = #s
  if offset < 0 or limit < 0 then
    raise('Invalid request to unpack with offset of ' .. offset .. ' and limit of ' .. len .. '.')
  elseif offset > len then
    raise('Start offset ' .. offset .. ' greater than input length ' .. len .. '.')
  end
  local decode_all = limit == 0 and offset == 0
  if decode_all then limit = 2147483647 end
  local st = {s = s, pos = offset + 1, left = len - offset, used = 1}
  local out, cnt = {}, 0
  while st.left > 0 and cnt < limit do
    local v = decode_value(st)
    if st.err == EOF then raise('Missing bytes in input.')
    elseif st.err == BADFMT then raise('Bad data format in input.') end
    cnt = cnt + 1
    out[cnt] = v
    st.used = st.used + 1
  end
  if not decode_all then
    local next_offset = -1
    if st.left ~= 0 then next_offset = len - st.left end
    return next_offset, unpack(out, 1, cnt)
  end
  return unpack(out, 1, cnt)
end

local function string_arg(v, narg, level)
  if type(v) == 'number' then return tostring(v) end
  if type(v) ~= 'string' then
    argerror(narg, 'string expected, got ' .. (v == nil and 'no value' or type(v)), level + 1)
  end
  return v
end

local function integer_arg(v, narg, default, level)
  if v == nil and default ~= nil then return default end
  local n = tonumber(v)
  if n == nil or (type(v) ~= 'number' and type(v) ~= 'string') then
    argerror(narg, 'number expected, got ' .. (v == nil and 'no value' or type(v)), level + 1)
  end
  if n >= 0 then return floor(n) end
  return -floor(-n)
end

function M.unpack(...)
  local s = string_arg((...), 1, 1)
  return unpack_full(s, 0, 0)
end

function M.unpack_one(...)
  local s = string_arg((...), 1, 1)
  local offset = integer_arg((select(2, ...)), 2, 0, 1)
  return unpack_full(s, 1, offset)
end

function M.unpack_limit(...)
  local s = string_arg((...), 1, 1)
  local limit = integer_arg((select(2, ...)), 2, nil, 1)
  local offset = integer_arg((select(3, ...)), 3, 0, 1)
  return unpack_full(s, limit, offset)
end

M._NAME = 'cmsgpack'
M._VERSION = 'lua-cmsgpack 0.4.0'
M._COPYRIGHT = 'Copyright (C) 2012, Salvatore Sanfilippo'
M._DESCRIPTION = 'MessagePack C implementation for Lua'

return M
