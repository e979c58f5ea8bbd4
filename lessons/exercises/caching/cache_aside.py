"""Cache-aside with invalidation on write.

    read(r, key, db, ctx) -> str       the value, from the cache or from the database
    write(r, key, value, db, ctx)      change the value in the database, keep the cache honest

`db.query(ctx, key)` reads the database (100 ms); `db.write(ctx, key, value)` writes it.
A reader and a writer run at nearly the same moment. As shipped, the cache can keep an old
value for ever.
"""


def read(r, key, db, ctx):
    value = r.get(key)
    if value is None:
        value = db.query(ctx, key)
        r.set(key, value)
    return value if isinstance(value, str) else value.decode()


def write(r, key, value, db, ctx):
    db.write(ctx, key, value)
    r.delete(key)
