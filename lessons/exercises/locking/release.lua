-- Release a lock, but only if it is still yours.
--
-- KEYS[1]  the lock's key (for example lock:report)
-- ARGV[1]  the token you stored in it when you took it
-- Return 1 if you deleted the lock, 0 if it was not yours (or already gone).
--
-- As shipped, this deletes the lock whoever holds it now. Fix it.
return redis.call('DEL', KEYS[1])
