-- A token bucket: holds up to ARGV[2] tokens and refills at ARGV[2] tokens per ARGV[3]
-- milliseconds. Each request takes one token; with none left it is refused.
--
-- KEYS[1]  the user's bucket (rl:<user>)
-- ARGV[1]  now, in milliseconds
-- ARGV[2]  the capacity
-- ARGV[3]  the time to refill the whole bucket, in milliseconds
-- ARGV[4]  a unique id for this request (not needed here)
-- Return 1 to allow the request, 0 to refuse it.
--
-- As shipped, the bucket never refills.
local capacity = tonumber(ARGV[2])
local tokens = tonumber(redis.call('GET', KEYS[1]) or capacity)
if tokens >= 1 then
  redis.call('SET', KEYS[1], tokens - 1, 'PX', tonumber(ARGV[3]) * 10)
  return 1
end
return 0
