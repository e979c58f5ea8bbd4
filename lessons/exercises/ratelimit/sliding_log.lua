-- A sliding-log rate limiter: at most ARGV[2] requests in any ARGV[3] milliseconds.
--
-- KEYS[1]  the user's key (rl:<user>)
-- ARGV[1]  now, in milliseconds
-- ARGV[2]  the limit
-- ARGV[3]  the window, in milliseconds
-- ARGV[4]  a unique id for this request
-- Return 1 to allow the request, 0 to refuse it.
--
-- As shipped, this is a fixed window: it lets twice the limit through around a boundary.
local key = KEYS[1] .. ':' .. math.floor(tonumber(ARGV[1]) / tonumber(ARGV[3]))
local n = redis.call('INCR', key)
redis.call('PEXPIRE', key, ARGV[3])
if n <= tonumber(ARGV[2]) then
  return 1
end
return 0
