"""The Lua-written pattern matcher gives exactly what Lua 5.1's C matcher gives.

Patterns whose worst case could hang the engine run in patterns.lua instead of the C matcher;
here both run side by side on generated subjects and patterns, and must agree on every result
and every error message.
"""

from __future__ import annotations

import random
from importlib import resources

import pytest
from lupa import lua51

HARNESS = b"""
local src = ...
local H = {}
function H.raise(msg) error({pattern_error = msg}, 0) end
function H.argerror(n, msg) error({pattern_error = msg}, 0) end
local PAT = assert(loadstring(src, '=[library]'))(H)

local function pack(ok, ...)
  if ok then return {n = select('#', ...), ...} end
  local e = ...
  if type(e) == 'table' then e = e.pattern_error end
  e = string.gsub(tostring(e), '^[^:]*:%d+: ', '')
  return {n = 1, 'error: ' .. e}
end

local function show(r)
  local out = {}
  for i = 1, r.n do out[i] = type(r[i]) .. ':' .. tostring(r[i]) end
  return table.concat(out, '|')
end

return function(kind, s, p, extra)
  local c, l
  if kind == 'find' then
    c = pack(pcall(string.find, s, p, extra))
    local init = extra or 1
    if init < 0 then init = #s + init + 1 if init < 0 then init = 0 end end
    init = init - 1
    if init < 0 then init = 0 elseif init > #s then init = #s end
    l = pack(pcall(PAT.find, s, p, init, true))
  elseif kind == 'match' then
    c = pack(pcall(string.match, s, p))
    l = pack(pcall(PAT.find, s, p, 0, false))
  elseif kind == 'gmatch' then
    local function all(iter)
      local out = {}
      for a, b in iter do out[#out + 1] = tostring(a) .. ',' .. tostring(b) end
      return table.concat(out, ';')
    end
    c = pack(pcall(function() return all(string.gmatch(s, p)) end))
    l = pack(pcall(function() return all(PAT.gmatch(s, p)) end))
  else
    if extra == 'FUNCTION' then
      extra = function(a, b)
        if a == 'b' then return false end
        if a == 'x' then return {} end
        return '[' .. tostring(a) .. ',' .. tostring(b) .. ']'
      end
    elseif extra == 'TABLE' then
      extra = {a = 'A', b = false, [' '] = 7, x = true}
    end
    c = pack(pcall(string.gsub, s, p, extra))
    l = pack(pcall(PAT.gsub, s, p, extra, type(extra), #s + 1))
  end
  return show(c), show(l)
end
"""

ATOMS = ["a", "b", ".", "%a", "%d", "%s", "%w", "%A", "%p", "%x", "%z", "[ab]", "[^a]",
         "[a-c]", "[%d_]", "[]]", "[^]a]", "%%", "%.", "%b()", "%bab", "%f[%w]", "%f[%W]"]
QUANT = ["", "", "", "*", "+", "-", "?"]
TAILS = ["", "", "$", "(", ")", "%", "[", "%1", "%2", "%f", "%b"]


def _pattern(rng: random.Random) -> str:
    parts = []
    if rng.random() < 0.2:
        parts.append("^")
    depth = 0
    for _ in range(rng.randint(0, 5)):
        r = rng.random()
        if r < 0.15:
            parts.append("(")
            depth += 1
        elif r < 0.25 and depth:
            parts.append(")")
            depth -= 1
        elif r < 0.3:
            parts.append("()")
        elif r < 0.35 and depth == 0 and parts:
            parts.append("%" + str(rng.randint(1, 2)))
        else:
            parts.append(rng.choice(ATOMS) + rng.choice(QUANT))
    parts.append(")" * depth if rng.random() < 0.8 else "")
    parts.append(rng.choice(TAILS))
    return "".join(parts)


def _subject(rng: random.Random) -> str:
    return "".join(rng.choice("aabb  1_.()x\0") for _ in range(rng.randint(0, 12)))


@pytest.fixture(scope="module")
def compare():  # type: ignore[no-untyped-def]
    rt = lua51.LuaRuntime(encoding=None)
    src = resources.files("redislab.engine.lua").joinpath("patterns.lua").read_bytes()
    return rt.execute(HARNESS, src)


@pytest.mark.parametrize("kind", ["find", "match", "gmatch", "gsub"])
def test_matches_the_c_matcher(compare, kind: str) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(f"patterns-{kind}")
    repls = [b"<%0>", b"%1", b"x%%", b"%2", b"%", b"FUNCTION", b"TABLE"]
    for _ in range(3000):
        s = _subject(rng).encode()
        p = _pattern(rng).encode()
        extra = None
        if kind == "find":
            extra = rng.choice([None, 1, 2, -1, -3, 0, 20])
        elif kind == "gsub":
            extra = rng.choice(repls)
        if kind == "find" and not any(ch in p.split(b"\0")[0] for ch in b"^$*+?.([%-"):
            continue  # a plain search: the sandbox never sends those to either matcher
        c, lua = compare(kind.encode(), s, p, extra)
        assert c == lua, f"{kind}({s!r}, {p!r}, {extra!r}): C {c!r} != Lua {lua!r}"
