"""Fencing tokens: a lock that the protected resource can double-check.

    acquire(r, name, ttl_ms) -> int | None

Take the lock `name` for `ttl_ms` milliseconds and return a fencing token: a number that
is larger for every successful acquisition, ever. Return None if someone else holds it.

The simulation gives each holder's token to a storage service that refuses any write whose
token is not larger than every token it has already seen. One holder will freeze (a long
GC pause) far past its lock's TTL and then try to write.

As shipped, the token is random, so the storage cannot tell old holders from new ones.
"""

import random


def acquire(r, name, ttl_ms):
    token = random.randrange(1, 10**9)
    if r.set(name, token, nx=True, px=ttl_ms):
        return token
    return None
