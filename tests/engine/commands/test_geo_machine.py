"""Random geo sequences run on the engine and on real Redis, replies compared."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from ...support.machines import DiffMachine, run_machine

KEYS = st.sampled_from([b"g1", b"g2", b"str"])
MEMBERS = st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"f", b"missing"])
# Points in a small area (so that radius searches find several) plus the edges of the range.
LONS = st.one_of(st.floats(13.0, 13.6, allow_nan=False).map(lambda f: b"%.6f" % f),
                 st.sampled_from([b"13.4", b"13.41", b"-180", b"180", b"0"]))
LATS = st.one_of(st.floats(52.3, 52.7, allow_nan=False).map(lambda f: b"%.6f" % f),
                 st.sampled_from([b"52.5", b"52.51", b"85.05112878", b"-85.05112878", b"0"]))
BAD = st.sampled_from([b"180.1", b"-180.5", b"86", b"abc", b"", b"nan", b"inf"])
UNITS = st.sampled_from([b"km", b"km", b"km", b"mi", b"KM", b"m", b"ft", b"parsec"])
RADII = st.one_of(st.integers(5, 60).map(lambda r: b"%d" % r),
                  st.integers(5, 60).map(lambda r: b"%d" % r),
                  st.sampled_from([b"0", b"0.5", b"-1", b"x", b"10000"]))
CENTERS = st.one_of(st.sampled_from([(b"13.3", b"52.5"), (b"13.45", b"52.4"),
                                     (b"13.5", b"52.6")]), st.tuples(LONS, LATS))


class GeoMachine(DiffMachine):
    @rule(k=KEYS, pts=st.lists(st.tuples(LONS, LATS, MEMBERS), min_size=1, max_size=5),
          opts=st.lists(st.sampled_from([b"NX", b"XX", b"CH"]), max_size=2, unique=True))
    def geoadd(self, k, pts, opts):
        args = [b"GEOADD", k, *opts]
        for lon, lat, m in pts:
            args += [lon, lat, m]
        self.check(*args)

    @rule(k=KEYS, lon=st.one_of(LONS, BAD), lat=st.one_of(LATS, BAD), m=MEMBERS)
    def geoadd_out_of_range(self, k, lon, lat, m):
        self.check(b"GEOADD", k, lon, lat, m)

    @rule(k=KEYS, a=MEMBERS, b=MEMBERS, unit=st.one_of(st.none(), UNITS))
    def geodist(self, k, a, b, unit):
        self.check(b"GEODIST", k, a, b, *([unit] if unit else []))

    @rule(k=KEYS, ms=st.lists(MEMBERS, max_size=3))
    def geopos(self, k, ms):
        self.check(b"GEOPOS", k, *ms)

    @rule(k=KEYS, ms=st.lists(MEMBERS, max_size=3))
    def geohash(self, k, ms):
        self.check(b"GEOHASH", k, *ms)

    @rule(k=KEYS, member=st.one_of(st.none(), MEMBERS), center=CENTERS,
          shape=st.one_of(st.tuples(st.just(b"BYRADIUS"), RADII, UNITS),
                          st.tuples(st.just(b"BYBOX"), RADII, RADII, UNITS)),
          order=st.sampled_from([None, b"ASC", b"DESC"]),
          count=st.one_of(st.none(), st.tuples(st.integers(0, 4), st.booleans())),
          withs=st.lists(st.sampled_from([b"WITHCOORD", b"WITHDIST", b"WITHHASH"]),
                         max_size=3, unique=True),
          store=st.sampled_from([None, None, None, b"dest", b"g2"]), storedist=st.booleans())
    def geosearch(self, k, member, center, shape, order, count, withs, store, storedist):
        lon, lat = center
        args = [b"GEOSEARCHSTORE", store, k] if store else [b"GEOSEARCH", k]
        args += [b"FROMMEMBER", member] if member is not None else [b"FROMLONLAT", lon, lat]
        args += list(shape)
        if order:
            args.append(order)
        if count is not None:
            args += [b"COUNT", b"%d" % count[0]] + ([b"ANY"] if count[1] else [])
        if store:
            if storedist:
                args.append(b"STOREDIST")
        else:
            args += withs
        self.check(*args)
        if store:
            self.check(b"ZRANGE", store, b"0", b"-1", b"WITHSCORES")

    @rule(k=KEYS, member=MEMBERS, center=CENTERS, r=RADII, unit=UNITS,
          order=st.sampled_from([None, b"ASC", b"DESC"]),
          withs=st.lists(st.sampled_from([b"WITHCOORD", b"WITHDIST", b"WITHHASH"]),
                         max_size=3, unique=True),
          by_member=st.booleans(), ro=st.booleans())
    def georadius(self, k, member, center, r, unit, order, withs, by_member, ro):
        lon, lat = center
        if by_member:
            args = [b"GEORADIUSBYMEMBER" + (b"_RO" if ro else b""), k, member]
        else:
            args = [b"GEORADIUS" + (b"_RO" if ro else b""), k, lon, lat]
        args += [r, unit, *withs] + ([order] if order else [])
        self.check(*args)

    @rule(k=KEYS, m=MEMBERS)
    def zrem(self, k, m):
        self.check(b"ZREM", k, m)

    @rule(k=KEYS)
    def dump(self, k):
        self.check(b"DUMP", k)

    @precondition(lambda self: not getattr(self, "has_str", False))
    @rule()
    def wrong_type(self):
        self.has_str = True
        self.check(b"SET", b"str", b"x")


def test_geo_machine(redis_server):
    run_machine(GeoMachine, redis_server, examples=60, steps=25)
