"""A corpus of keys across every type and encoding boundary, for memory comparisons.

Each entry is a key and the commands that build it. Replayed on the engine and on a real
redis-server, the keys must show the same OBJECT ENCODING and about the same MEMORY USAGE.
"""

from __future__ import annotations

Command = list[bytes]


def _b(*args: object) -> Command:
    return [a if isinstance(a, bytes) else str(a).encode() for a in args]


SIZES = (1, 127, 128, 129, 512, 513, 1000)


def corpus() -> list[tuple[str, list[Command]]]:
    out: list[tuple[str, list[Command]]] = []

    def add(key: str, *cmds: Command) -> None:
        out.append((key, list(cmds)))

    # Strings: int (shared and not), embstr, raw, big arguments, edited in place.
    for name, value in [("s:int:0", "0"), ("s:int:9999", "9999"), ("s:int:10000", "10000"),
                        ("s:int:-1", "-1"), ("s:int:maxlong", "9223372036854775807"),
                        ("s:int:minlong", "-9223372036854775808"),
                        ("s:bigint", "9223372036854775808"), ("s:float", "3.14"),
                        ("s:lead0", "0123"), ("s:plus", "+5"), ("s:empty", "")]:
        add(name, _b("SET", name, value))
    for n in (1, 20, 31, 32, 44, 45, 64, 65, 127, 128, 200, 1024, 4096, 32767, 32768,
              100000):
        add(f"s:len{n}", _b("SET", f"s:len{n}", "x" * n))
    add("s:incr", _b("SET", "s:incr", "5"), _b("INCR", "s:incr"))
    add("s:incrby-big", _b("SET", "s:incrby-big", "5"), _b("INCRBY", "s:incrby-big", 20000))
    add("s:incrbyfloat", _b("SET", "s:incrbyfloat", "1"),
        _b("INCRBYFLOAT", "s:incrbyfloat", "0.5"))
    add("cv:append-small", _b("SET", "cv:append-small", "hello"),
        _b("APPEND", "cv:append-small", "x"))
    add("cv:append-many", *[_b("APPEND", "cv:append-many", "y") for _ in range(100)])
    add("cv:append-raw", _b("SET", "cv:append-raw", "r" * 100),
        _b("APPEND", "cv:append-raw", "z" * 10))
    add("cv:append-int", _b("SET", "cv:append-int", "1234"), _b("APPEND", "cv:append-int", "5"))
    add("cv:setrange", _b("SETRANGE", "cv:setrange", 100, "x"))
    add("cv:setrange-grow", _b("SET", "cv:setrange-grow", "a" * 10),
        _b("SETRANGE", "cv:setrange-grow", 50, "y"))
    add("bm:0", _b("SETBIT", "bm:0", 0, 1))
    add("bm:8191", _b("SETBIT", "bm:8191", 8191, 1))
    add("bm:grow", _b("SETBIT", "bm:grow", 8191, 1), _b("SETBIT", "bm:grow", 8200, 1),
        _b("SETBIT", "bm:grow", 10200, 1))
    add("bm:bitfield", _b("BITFIELD", "bm:bitfield", "SET", "u8", 100, 255))
    add("bm:bitop", _b("SETBIT", "bm:bitop-src", 1000, 1),
        _b("BITOP", "NOT", "bm:bitop", "bm:bitop-src"))
    add("bm:bitop-src")

    # HyperLogLogs: sparse (grown greedily), dense, merged.
    add("hll:empty", _b("PFADD", "hll:empty"))
    for n in (10, 1000, 2000):
        add(f"hll:{n}", _b("PFADD", f"hll:{n}", *[f"e{i}" for i in range(n)]))
    add("hll:200-1by1", *[_b("PFADD", "hll:200-1by1", f"o{i}") for i in range(200)])
    add("hll:merge", _b("PFMERGE", "hll:merge", "hll:10", "hll:1000"))

    # Lists: quicklist nodes of 8 KB.
    for n in SIZES + (10000,):
        add(f"l:{n}", _b("RPUSH", f"l:{n}", *[f"v{i}" for i in range(n)]))
    add("l:ints", _b("RPUSH", "l:ints", *range(1000)))
    add("l:big-elems", _b("RPUSH", "l:big-elems", *["e" * 1000 for _ in range(100)]))
    add("l:lpush", _b("LPUSH", "l:lpush", *[f"w{i}" for i in range(3000)]))
    add("l:1by1", *[_b("RPUSH", "l:1by1", f"item-{i}") for i in range(300)])
    add("l:lpush1by1", *[_b("LPUSH", "l:lpush1by1", f"item-{i}") for i in range(2000)])
    add("l:popped", _b("RPUSH", "l:popped", *[f"p{i}" for i in range(3000)]),
        _b("LPOP", "l:popped", 700), _b("RPOP", "l:popped", 900))
    add("l:ltrim", _b("RPUSH", "l:ltrim", *[f"t{i}" for i in range(3000)]),
        _b("LTRIM", "l:ltrim", 500, 2200))
    add("l:lset", _b("RPUSH", "l:lset", *[f"s{i}" for i in range(100)]),
        _b("LSET", "l:lset", 50, "L" * 300))

    # Sets: intsets of 16/32/64-bit members, hashtables, conversions, shrinking.
    for n in SIZES:
        add(f"set:i:{n}", _b("SADD", f"set:i:{n}", *range(n)))
        add(f"set:s:{n}", _b("SADD", f"set:s:{n}", *[f"m{i:05d}" for i in range(n)]))
    add("set:i16", _b("SADD", "set:i16", *range(-5, 5)))
    add("set:i32", _b("SADD", "set:i32", *range(100000, 100010)))
    add("set:i64", _b("SADD", "set:i64", *range(10**12, 10**12 + 10)))
    add("set:i-upgrade", _b("SADD", "set:i-upgrade", 1, 2, 3),
        _b("SADD", "set:i-upgrade", 5000000000))
    add("set:mixed", _b("SADD", "set:mixed", *range(20)), _b("SADD", "set:mixed", "abc"))
    add("set:shrunk", _b("SADD", "set:shrunk", *[f"k{i}" for i in range(1000)]),
        _b("SREM", "set:shrunk", *[f"k{i}" for i in range(950)]))
    add("set:1by1", *[_b("SADD", "set:1by1", f"x{i}") for i in range(300)])
    add("set:store", _b("SINTERSTORE", "set:store", "set:s:1000", "set:s:513"))

    # Hashes: listpack up to 512 fields of up to 64 bytes, then hashtable.
    for n in SIZES:
        add(f"h:{n}", _b("HSET", f"h:{n}", *[x for i in range(n)
                                              for x in (f"f{i:05d}", f"v{i}")]))
    add("h:v64", _b("HSET", "h:v64", "f", "v" * 64))
    add("h:v65", _b("HSET", "h:v65", "f", "v" * 65))
    add("h:f65", _b("HSET", "h:f65", "f" * 65, "v"))
    add("h:ints", _b("HSET", "h:ints", *[x for i in range(100) for x in (i, i * 1000)]))
    add("h:shrunk", _b("HSET", "h:shrunk", *[x for i in range(1000)
                                              for x in (f"f{i}", f"v{i}")]),
        _b("HDEL", "h:shrunk", *[f"f{i}" for i in range(990)]))
    add("h:1by1", *[_b("HSET", "h:1by1", f"field{i}", f"value{i}") for i in range(600)])
    add("h:incr", _b("HINCRBY", "h:incr", "n", 5), _b("HINCRBYFLOAT", "h:incr", "f", "1.5"))

    # Sorted sets: listpack up to 128 members of up to 64 bytes, then skiplist.
    for n in SIZES:
        add(f"z:{n}", _b("ZADD", f"z:{n}", *[x for i in range(n) for x in (i, f"m{i:05d}")]))
    add("z:v64", _b("ZADD", "z:v64", 1, "m" * 64))
    add("z:v65", _b("ZADD", "z:v65", 1, "m" * 65))
    add("z:float", _b("ZADD", "z:float", *[x for i in range(50) for x in (i / 7, f"f{i}")]))
    add("z:shrunk", _b("ZADD", "z:shrunk", *[x for i in range(1000) for x in (i, f"q{i}")]),
        _b("ZREMRANGEBYRANK", "z:shrunk", 0, 989))
    add("z:1by1", *[_b("ZADD", "z:1by1", i, f"zz{i}") for i in range(300)])
    add("geo:10", _b("GEOADD", "geo:10", *[x for i in range(10)
                                          for x in (10 + i / 10, 20 + i / 10, f"p{i}")]))

    # Streams: node listpacks (the tail preallocated), the rax, consumer groups.
    for n in (1, 100, 101, 1000):
        add(f"x:{n}", *[_b("XADD", f"x:{n}", f"1-{i + 1}", "field", f"value{i}")
                        for i in range(n)])
    add("x:big", *[_b("XADD", "x:big", f"2-{i + 1}", "data", "d" * 500) for i in range(40)])
    add("x:fields", *[_b("XADD", "x:fields", f"3-{i + 1}", f"a{i % 3}", i, "b", i)
                      for i in range(150)])
    add("x:g", *[_b("XADD", "x:g", f"4-{i + 1}", "f", i) for i in range(20)],
        _b("XGROUP", "CREATE", "x:g", "g1", "0"),
        _b("XREADGROUP", "GROUP", "g1", "alice", "COUNT", 5, "STREAMS", "x:g", ">"),
        _b("XREADGROUP", "GROUP", "g1", "bob", "COUNT", 3, "STREAMS", "x:g", ">"),
        _b("XGROUP", "CREATE", "x:g", "g2", "$"))
    add("x:g-empty", _b("XGROUP", "CREATE", "x:g-empty", "g", "$", "MKSTREAM"))
    add("x:deleted", *[_b("XADD", "x:deleted", f"5-{i + 1}", "f", i) for i in range(250)],
        _b("XDEL", "x:deleted", *[f"5-{i + 1}" for i in range(0, 250, 5)]))

    # Keys with TTLs (the expires entry is not part of MEMORY USAGE) and key-name lengths.
    add("t:str", _b("SET", "t:str", "v" * 10, "EX", 1000))
    add("t:hash", _b("HSET", "t:hash", "a", 1), _b("EXPIRE", "t:hash", 1000))
    add("t:list", _b("RPUSH", "t:list", "a", "b"), _b("PEXPIRE", "t:list", 100000))
    for n in (31, 32, 255, 256):
        key = "k" * n
        add(key, _b("SET", key, "v"))
    return out


def commands() -> list[Command]:
    return [cmd for _, cmds in corpus() for cmd in cmds]


def keys() -> list[str]:
    return [key for key, _ in corpus()]
