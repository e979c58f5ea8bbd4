"""Cache-aside in front of a slow database, for a very hot key.

    get(r, key, ttl, load, ctx) -> value

Return the value of `key` from the cache, or call `load()` (a database query taking 200 ms
of simulated time) and cache what it returns for `ttl` seconds. `ctx.sleep(seconds)` waits
in simulated time (use it, not time.sleep); `ctx.now()` is the simulated time in seconds;
`ctx.random()` a seeded random number.

Here traffic is steady (about 50 requests a second) for several TTL periods. Recompute the
value *before* it expires, with a probability that grows as expiry nears (XFetch): so no
request ever finds the key gone. As shipped, the key expires under load every time.
"""


def get(r, key, ttl, load, ctx):
    value = r.get(key)
    if value is None:
        value = load()
        r.set(key, value, ex=ttl)
    return value
