"""A fixed-window rate limiter.

    allow(r, user, now_ms, limit, window_ms) -> bool

Allow at most `limit` requests per user in each window of `window_ms` milliseconds. Windows
are aligned on multiples of `window_ms` (window number now_ms // window_ms). Return True to
let the request through, False to refuse it.

Many requests run at the same moment, and a client can crash between two of your commands.
As shipped, this version has a race.
"""


def allow(r, user, now_ms, limit, window_ms):
    key = f"rl:{user}:{now_ms // window_ms}"
    count = r.incr(key)
    if count == 1:
        r.pexpire(key, window_ms)
    return count <= limit
