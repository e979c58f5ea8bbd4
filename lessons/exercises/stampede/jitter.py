"""Warming a cache without a cliff.

    warm(r, keys, base_ttl, ctx)

Cache every key of `keys` (the value "cached" will do) with a TTL of at least `base_ttl`
seconds and at most one and a half times that. `ctx.random()` gives seeded random numbers.

As shipped, every key gets the same TTL: they will all expire in the same second, and the
database behind the cache will take all the misses at once.
"""


def warm(r, keys, base_ttl, ctx):
    for key in keys:
        r.set(key, "cached", ex=base_ttl)
