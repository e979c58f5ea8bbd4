"""Cache-aside in front of a slow database, for a very hot key.

    get(r, key, ttl, load, ctx) -> value

Return the value of `key` from the cache, or call `load()` (a database query taking 200 ms
of simulated time) and cache what it returns for `ttl` seconds. `ctx.sleep(seconds)` waits
in simulated time (use it, not time.sleep); `ctx.now()` is the simulated time in seconds;
`ctx.random()` a seeded random number.

A thousand clients ask for the key right after it expires. As shipped, every one of them
goes to the database.
"""


def get(r, key, ttl, load, ctx):
    value = r.get(key)
    if value is None:
        value = load()
        r.set(key, value, ex=ttl)
    return value
