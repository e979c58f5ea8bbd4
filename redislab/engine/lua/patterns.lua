-- Lua 5.1 pattern matching written in Lua, used for patterns too costly for the C matcher.
--
-- The C matcher cannot be interrupted by a debug hook, so a catastrophic pattern would hang the
-- engine. The sandbox sends such calls here instead: the same algorithm (backtracking over
-- single-character items, captures, %b, %f, back-references), with the same results and error
-- texts, but running as Lua code, so the time limit and SCRIPT KILL apply.
local H = ...
local raise = H.raise
local byte, sub, char, sfind = string.byte, string.sub, string.char, string.find
local tostring, type, select, unpack, pcall = tostring, type, select, unpack, pcall
local concat = table.concat

local CAP_UNFINISHED = -1
local CAP_POSITION = -2
local MAXCAPTURES = 32

local B_PERCENT, B_LBRACKET, B_RBRACKET = 37, 91, 93
local B_CARET, B_DOLLAR, B_DOT, B_MINUS = 94, 36, 46, 45
local B_LPAREN, B_RPAREN = 40, 41
local B_STAR, B_PLUS, B_QUESTION = 42, 43, 63

-- Character classes as the C library defines them in the "C" locale.
local CLASS = {}
do
  local function range(t, a, b) for c = a, b do t[c] = true end end
  local alpha, digit, lower, upper, space, cntrl, punct, xdigit = {}, {}, {}, {}, {}, {}, {}, {}
  range(lower, 97, 122) range(upper, 65, 90) range(digit, 48, 57)
  range(alpha, 97, 122) range(alpha, 65, 90)
  range(space, 9, 13) space[32] = true
  range(cntrl, 0, 31) cntrl[127] = true
  range(punct, 33, 47) range(punct, 58, 64) range(punct, 91, 96) range(punct, 123, 126)
  range(xdigit, 48, 57) range(xdigit, 97, 102) range(xdigit, 65, 70)
  local alnum = {}
  range(alnum, 48, 57) range(alnum, 97, 122) range(alnum, 65, 90)
  CLASS[97] = alpha CLASS[99] = cntrl CLASS[100] = digit CLASS[108] = lower
  CLASS[112] = punct CLASS[115] = space CLASS[117] = upper CLASS[119] = alnum
  CLASS[120] = xdigit CLASS[122] = {[0] = true}
end

local function match_class(c, cl)
  local set = CLASS[cl]
  if set then return set[c] == true end
  local low = cl + 32
  if cl >= 65 and cl <= 90 then
    set = CLASS[low]
    if set then return set[c] ~= true end
  end
  return cl == c
end

-- A match state: subject, its length, the pattern (cut at its first NUL, as the C code sees
-- it), the capture starts and lengths.
local function new_state(s, p)
  local plen = #p
  local z = sfind(p, '\0', 1, true)
  if z then plen = z - 1 end
  return {s = s, slen = #s, p = p, plen = plen, level = 0, init = {}, len = {}}
end

local function pbyte(ms, i)
  if i > ms.plen then return 0 end
  return byte(ms.p, i)
end

local function class_end(ms, pi)
  local c = pbyte(ms, pi)
  pi = pi + 1
  if c == B_PERCENT then
    if pi > ms.plen then raise("malformed pattern (ends with '%')") end
    return pi + 1
  elseif c == B_LBRACKET then
    if pbyte(ms, pi) == B_CARET then pi = pi + 1 end
    repeat
      if pi > ms.plen then raise("malformed pattern (missing ']')") end
      c = pbyte(ms, pi)
      pi = pi + 1
      if c == B_PERCENT and pi <= ms.plen then pi = pi + 1 end
    until pbyte(ms, pi) == B_RBRACKET
    return pi + 1
  end
  return pi
end

-- ``pi`` is the '[' and ``ec`` the closing ']'.
local function match_bracket(ms, c, pi, ec)
  local sig = true
  if pbyte(ms, pi + 1) == B_CARET then
    sig = false
    pi = pi + 1
  end
  pi = pi + 1
  while pi < ec do
    local pc = pbyte(ms, pi)
    if pc == B_PERCENT then
      pi = pi + 1
      if match_class(c, pbyte(ms, pi)) then return sig end
    elseif pbyte(ms, pi + 1) == B_MINUS and pi + 2 < ec then
      if pc <= c and c <= pbyte(ms, pi + 2) then return sig end
      pi = pi + 2
    elseif pc == c then
      return sig
    end
    pi = pi + 1
  end
  return not sig
end

local function single_match(ms, c, pi, ep)
  local pc = pbyte(ms, pi)
  if pc == B_DOT then return true
  elseif pc == B_PERCENT then return match_class(c, pbyte(ms, pi + 1))
  elseif pc == B_LBRACKET then return match_bracket(ms, c, pi, ep - 1)
  end
  return pc == c
end

local do_match

local function max_expand(ms, si, pi, ep)
  local i = 0
  local s, slen = ms.s, ms.slen
  while si + i <= slen and single_match(ms, byte(s, si + i), pi, ep) do i = i + 1 end
  while i >= 0 do
    local res = do_match(ms, si + i, ep + 1)
    if res then return res end
    i = i - 1
  end
  return nil
end

local function min_expand(ms, si, pi, ep)
  local s, slen = ms.s, ms.slen
  while true do
    local res = do_match(ms, si, ep + 1)
    if res then return res end
    if si <= slen and single_match(ms, byte(s, si), pi, ep) then
      si = si + 1
    else
      return nil
    end
  end
end

local function start_capture(ms, si, pi, what)
  local level = ms.level
  if level >= MAXCAPTURES then raise('too many captures') end
  ms.init[level] = si
  ms.len[level] = what
  ms.level = level + 1
  local res = do_match(ms, si, pi)
  if not res then ms.level = ms.level - 1 end
  return res
end

local function capture_to_close(ms)
  local level = ms.level - 1
  while level >= 0 do
    if ms.len[level] == CAP_UNFINISHED then return level end
    level = level - 1
  end
  raise('invalid pattern capture')
end

local function end_capture(ms, si, pi)
  local l = capture_to_close(ms)
  ms.len[l] = si - ms.init[l]
  local res = do_match(ms, si, pi)
  if not res then ms.len[l] = CAP_UNFINISHED end
  return res
end

local function check_capture(ms, l)
  l = l - 49
  if l < 0 or l >= ms.level or ms.len[l] == CAP_UNFINISHED then
    raise('invalid capture index')
  end
  return l
end

local function match_capture(ms, si, l)
  l = check_capture(ms, l)
  local len = ms.len[l]
  if len < 0 then return nil end
  if ms.slen - si + 1 >= len and sub(ms.s, ms.init[l], ms.init[l] + len - 1) == sub(ms.s, si, si + len - 1) then
    return si + len
  end
  return nil
end

local function match_balance(ms, si, pi)
  if pi > ms.plen or pi + 1 > ms.plen then raise('unbalanced pattern') end
  local s, slen = ms.s, ms.slen
  if si > slen or byte(s, si) ~= pbyte(ms, pi) then return nil end
  local b, e = pbyte(ms, pi), pbyte(ms, pi + 1)
  local cont = 1
  si = si + 1
  while si <= slen do
    local c = byte(s, si)
    if c == e then
      cont = cont - 1
      if cont == 0 then return si + 1 end
    elseif c == b then
      cont = cont + 1
    end
    si = si + 1
  end
  return nil
end

-- Returns the index just past the match, or nil.
do_match = function(ms, si, pi)
  local s, slen = ms.s, ms.slen
  while true do
    local pc = pbyte(ms, pi)
    if pc == 0 then
      return si
    elseif pc == B_LPAREN then
      if pbyte(ms, pi + 1) == B_RPAREN then
        return start_capture(ms, si, pi + 2, CAP_POSITION)
      end
      return start_capture(ms, si, pi + 1, CAP_UNFINISHED)
    elseif pc == B_RPAREN then
      return end_capture(ms, si, pi + 1)
    elseif pc == B_DOLLAR and pi + 1 > ms.plen then
      if si == slen + 1 then return si end
      return nil
    else
      local handled = false
      if pc == B_PERCENT then
        local nc = pbyte(ms, pi + 1)
        if nc == 98 then -- %b
          si = match_balance(ms, si, pi + 2)
          if not si then return nil end
          pi = pi + 4
          handled = true
        elseif nc == 102 then -- %f
          pi = pi + 2
          if pbyte(ms, pi) ~= B_LBRACKET then
            raise("missing '[' after '%f' in pattern")
          end
          local ep = class_end(ms, pi)
          local prev = 0
          if si > 1 then prev = byte(s, si - 1) end
          local cur = 0
          if si <= slen then cur = byte(s, si) end
          if match_bracket(ms, prev, pi, ep - 1) or not match_bracket(ms, cur, pi, ep - 1) then
            return nil
          end
          pi = ep
          handled = true
        elseif nc >= 48 and nc <= 57 then -- back-reference
          si = match_capture(ms, si, nc)
          if not si then return nil end
          pi = pi + 2
          handled = true
        end
      end
      if not handled then
        local ep = class_end(ms, pi)
        local m = si <= slen and single_match(ms, byte(s, si), pi, ep)
        local epc = pbyte(ms, ep)
        if epc == B_QUESTION then
          if m then
            local res = do_match(ms, si + 1, ep + 1)
            if res then return res end
          end
          pi = ep + 1
        elseif epc == B_STAR then
          return max_expand(ms, si, pi, ep)
        elseif epc == B_PLUS then
          if m then return max_expand(ms, si + 1, pi, ep) end
          return nil
        elseif epc == B_MINUS then
          return min_expand(ms, si, pi, ep)
        else
          if not m then return nil end
          si = si + 1
          pi = ep
        end
      end
    end
  end
end

local function get_capture(ms, i, si, ei)
  if i >= ms.level then
    if i == 0 then return sub(ms.s, si, ei - 1) end
    raise('invalid capture index')
  end
  local l = ms.len[i]
  if l == CAP_UNFINISHED then raise('unfinished capture') end
  if l == CAP_POSITION then return ms.init[i] end
  return sub(ms.s, ms.init[i], ms.init[i] + l - 1)
end

local function captures(ms, si, ei, wholeifnone)
  local n = ms.level
  if n == 0 and wholeifnone then n = 1 end
  local out = {}
  for i = 0, n - 1 do out[i + 1] = get_capture(ms, i, si, ei) end
  return out, n
end

local M = {}

-- string.find / string.match on a non-plain pattern. ``init`` is already a 0-based offset
-- clamped to [0, #s]; ``pi`` skips a leading '^'.
function M.find(s, p, init, find)
  local ms = new_state(s, p)
  local pi, anchor = 1, false
  if pbyte(ms, 1) == B_CARET then pi = 2 anchor = true end
  local si = init + 1
  repeat
    ms.level = 0
    local e = do_match(ms, si, pi)
    if e then
      if find then
        local caps, n = captures(ms, nil, nil, false)
        return si, e - 1, unpack(caps, 1, n)
      end
      local caps, n = captures(ms, si, e, true)
      return unpack(caps, 1, n)
    end
    si = si + 1
  until si > ms.slen + 1 or anchor
  return nil
end

function M.gmatch(s, p)
  local ms = new_state(s, p)
  local start = 0
  return function()
    local si = start + 1
    while si <= ms.slen + 1 do
      ms.level = 0
      local e = do_match(ms, si, 1)
      if e then
        local newstart = e - 1
        if e == si then newstart = newstart + 1 end
        start = newstart
        local caps, n = captures(ms, si, e, true)
        return unpack(caps, 1, n)
      end
      si = si + 1
    end
    return nil
  end
end

local function add_s(ms, out, si, ei, news)
  local l = #news
  local i = 1
  while i <= l do
    local c = byte(news, i)
    if c ~= B_PERCENT then
      out[#out + 1] = char(c)
    else
      i = i + 1
      local d = byte(news, i) or 0
      if d < 48 or d > 57 then
        out[#out + 1] = char(d)
      elseif d == 48 then
        out[#out + 1] = sub(ms.s, si, ei - 1)
      else
        out[#out + 1] = tostring(get_capture(ms, d - 49, si, ei))
      end
    end
    i = i + 1
  end
end

local function add_value(ms, out, si, ei, repl, tr)
  local v
  if tr == 'number' or tr == 'string' then
    add_s(ms, out, si, ei, tostring(repl))
    return
  elseif tr == 'function' then
    local caps, n = captures(ms, si, ei, true)
    v = repl(unpack(caps, 1, n))
  else
    v = repl[get_capture(ms, 0, si, ei)]
  end
  if not v then
    out[#out + 1] = sub(ms.s, si, ei - 1)
  elseif type(v) == 'string' or type(v) == 'number' then
    out[#out + 1] = tostring(v)
  else
    raise('invalid replacement value (a ' .. type(v) .. ')')
  end
end

-- string.gsub. ``max_s`` is already an integer; ``tr`` the type of ``repl``.
function M.gsub(s, p, repl, tr, max_s)
  local ms = new_state(s, p)
  local pi, anchor = 1, false
  if pbyte(ms, 1) == B_CARET then pi = 2 anchor = true end
  local out = {}
  local si, n = 1, 0
  while n < max_s do
    ms.level = 0
    local e = do_match(ms, si, pi)
    if e then
      n = n + 1
      add_value(ms, out, si, e, repl, tr)
    end
    if e and e > si then
      si = e
    elseif si <= ms.slen then
      out[#out + 1] = sub(s, si, si)
      si = si + 1
    else
      break
    end
    if anchor then break end
  end
  out[#out + 1] = sub(s, si)
  return concat(out), n
end

-- The default order for table.sort when the array is large: as a Lua function it can be
-- interrupted, unlike the C sort's own comparisons (whose worst case is quadratic).
function M.less(a, b)
  return a < b
end

-- Worst-case cost of running the C matcher: each unbounded item can multiply the work by
-- the subject length, and an unanchored search tries every start position.
local SPECIALS = '[%^%$%*%+%?%.%(%[%%%-]'
function M.cost(p, n, anchored_ok)
  local ms = new_state('', p)
  local pi, q, opt = 1, 0, 0
  local anchored = false
  if anchored_ok and pbyte(ms, 1) == B_CARET then anchored = true pi = 2 end
  local plen = ms.plen
  while pi <= plen do
    local c = pbyte(ms, pi)
    if c == B_LPAREN or c == B_RPAREN then
      pi = pi + 1
    elseif c == B_PERCENT and (pbyte(ms, pi + 1) == 98) then
      q = q + 1
      pi = pi + 4
    elseif c == B_PERCENT and (pbyte(ms, pi + 1) == 102) then
      pi = pi + 2
      local ok, ep = pcall(class_end, ms, pi)
      if not ok then break end
      pi = ep
    elseif c == B_PERCENT and pbyte(ms, pi + 1) >= 48 and pbyte(ms, pi + 1) <= 57 then
      q = q + 1
      pi = pi + 2
    else
      local ok, ep = pcall(class_end, ms, pi)
      if not ok then break end -- malformed: the C matcher stops when it gets there
      local e = pbyte(ms, ep)
      if e == B_STAR or e == B_PLUS or e == B_MINUS then
        q = q + 1
        ep = ep + 1
      elseif e == B_QUESTION then
        opt = opt + 1
        ep = ep + 1
      end
      pi = ep
    end
  end
  local base = n + 1
  local cost = (plen + 1) * (2 ^ opt)
  if not anchored then cost = cost * base end
  if q > 0 then cost = cost * (base ^ q) end
  return cost
end

return M
