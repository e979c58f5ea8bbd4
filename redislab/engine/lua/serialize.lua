-- Flattens a script's table result into one string the host decodes into a reply value.
--
-- Each item is a tag, a decimal length or count, ':' and, for strings, the bytes. Fields are
-- read raw (no metamethods) and in Redis's order: err, ok, double, big_number,
-- verbatim_string, map, set, then the array part up to the first nil. Depth is capped so a
-- self-referencing table ends in a "reached lua stack limit" error instead of exhausting the
-- host's stack.
local H = ...
local MAX_DEPTH = H.max_depth
local real = H.real
local type, rawget, next, tostring = type, rawget, next, tostring
local format = string.format
local concat = table.concat

local function number_text(n)
  return format('%.17g', n)
end

local ser

local function put_string(out, tag, s)
  out[#out + 1] = tag .. #s .. ':'
  out[#out + 1] = s
end

local function ser_table(t, depth, out)
  local v = rawget(t, 'err')
  if type(v) == 'string' then put_string(out, '-', v) return end
  v = rawget(t, 'ok')
  if type(v) == 'string' then put_string(out, '+', v) return end
  v = rawget(t, 'double')
  if type(v) == 'number' then put_string(out, ',', number_text(v)) return end
  v = rawget(t, 'big_number')
  if type(v) == 'string' then put_string(out, '(', v) return end
  v = rawget(t, 'verbatim_string')
  if type(v) == 'table' then
    local f, s = rawget(v, 'format'), rawget(v, 'string')
    if type(f) == 'string' and type(s) == 'string' then
      out[#out + 1] = '=0:'
      put_string(out, '$', f)
      put_string(out, '$', s)
      return
    end
  end
  v = rawget(t, 'map')
  if type(v) == 'table' then
    v = real(v)
    local slot = #out + 1
    out[slot] = false
    local n = 0
    for k, val in next, v do
      n = n + 1
      ser(k, depth + 1, out)
      ser(val, depth + 1, out)
    end
    out[slot] = '%' .. n .. ':'
    return
  end
  v = rawget(t, 'set')
  if type(v) == 'table' then
    v = real(v)
    local slot = #out + 1
    out[slot] = false
    local n = 0
    for k in next, v do
      n = n + 1
      ser(k, depth + 1, out)
    end
    out[slot] = '~' .. n .. ':'
    return
  end
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  out[#out + 1] = '*' .. n .. ':'
  for i = 1, n do ser(rawget(t, i), depth + 1, out) end
end

ser = function(v, depth, out)
  if depth > MAX_DEPTH then
    out[#out + 1] = '!0:'
    return
  end
  local t = type(v)
  if t == 'string' then
    put_string(out, '$', v)
  elseif t == 'number' then
    put_string(out, ':', number_text(v))
  elseif t == 'boolean' then
    out[#out + 1] = v and 'T0:' or 'F0:'
  elseif t == 'table' then
    ser_table(v, depth, out)
  else
    out[#out + 1] = 'N0:'
  end
end

return function(v)
  local out = {}
  ser(v, 1, out)
  return concat(out)
end
