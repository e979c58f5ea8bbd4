"""A page-view counter.

    increment(r, key)

Add one to the counter `key`. Two clients call this at the same time, twice each; every
order of their commands is tried. As shipped, an update can be lost.
"""


def increment(r, key):
    n = int(r.get(key) or 0)
    r.set(key, n + 1)
