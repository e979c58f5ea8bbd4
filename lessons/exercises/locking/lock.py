"""A whole lock: take it and give it back.

The simulation calls these from several clients at once, pauses clients between your
commands (as a garbage-collection pause would), and crashes a client now and then.

    acquire(r, name, token, ttl_ms) -> bool   take the lock `name` for `ttl_ms` ms, storing
                                              `token` (a random string, unique per attempt);
                                              True if you got it
    release(r, name, token) -> bool           give it back, only if it is still yours

`r` is a redis-py client (redis.Redis). As shipped, both functions are wrong.
"""


def acquire(r, name, token, ttl_ms):
    return bool(r.setnx(name, token))


def release(r, name, token):
    r.delete(name)
    return True
