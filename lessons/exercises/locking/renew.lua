-- Extend a lock you hold (a "watchdog" renewal while the work goes on).
--
-- KEYS[1]  the lock's key
-- ARGV[1]  your token
-- ARGV[2]  the new time to live, in milliseconds
-- Return 1 if you extended it, 0 if it is not yours any more.
--
-- As shipped, this extends the lock whoever holds it. Fix it.
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
