"""Geo commands compared with real Redis to the printed digit."""

from __future__ import annotations

import random

SICILY = """
GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOADD Sicily 13.583333 37.316667 Agrigento 12.758489 38.788135 edge1 17.241510 38.788135 edge2
GEOADD Sicily NX 1 1 Palermo
GEOADD Sicily XX CH 13.361389 38.115556 Palermo 1 1 newplace
GEOADD Sicily NX XX 1 1 x
GEOADD Sicily 1 1
GEOADD Sicily 200 10 bad
GEOADD Sicily 10 86 bad
GEOADD Sicily abc 10 bad
GEOPOS Sicily Palermo Catania NonExisting
GEOPOS missing a
GEODIST Sicily Palermo Catania
GEODIST Sicily Palermo Catania km
GEODIST Sicily Palermo Catania mi
GEODIST Sicily Palermo Catania ft
GEODIST Sicily Palermo Catania parsecs
GEODIST Sicily Palermo Nope
GEODIST Sicily Palermo Catania km extra
GEOHASH Sicily Palermo Catania Nope
GEOHASH missing a
GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH
GEORADIUS Sicily 15 37 200 km
GEORADIUS Sicily 15 37 200 km ASC
GEORADIUS Sicily 15 37 200 km DESC WITHDIST
GEORADIUS Sicily 15 37 200 km COUNT 2
GEORADIUS Sicily 15 37 200 km COUNT 1 ANY
GEORADIUS Sicily 15 37 200 km ANY
GEORADIUS Sicily 15 37 -1 km
GEORADIUS Sicily 15 37 x km
GEORADIUS Sicily 15 37 200 km COUNT 0
GEORADIUS Sicily 15 37 200 km STORE dest
ZRANGE dest 0 -1 WITHSCORES
GEORADIUS Sicily 15 37 200 km STOREDIST dest2
ZRANGE dest2 0 -1 WITHSCORES
GEORADIUS Sicily 15 37 200 km STORE dest WITHDIST
GEORADIUS_RO Sicily 15 37 200 km STORE dest
GEORADIUSBYMEMBER Sicily Agrigento 100 km WITHDIST
GEORADIUSBYMEMBER Sicily Nope 100 km
GEORADIUSBYMEMBER missing Nope 100 km
GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHCOORD WITHDIST
GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 200 km DESC
GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 1 1 BYRADIUS 200 km
GEOSEARCH Sicily BYRADIUS 200 km
GEOSEARCH Sicily FROMLONLAT 15 37
GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km BYBOX 1 1 km
GEOSEARCH missing FROMMEMBER x BYRADIUS 1 km
GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC COUNT 3 STOREDIST
ZRANGE dst 0 -1 WITHSCORES
GEOSEARCHSTORE dst missing FROMLONLAT 15 37 BYBOX 400 400 km
EXISTS dst
GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHDIST
SET str x
GEOADD str 1 1 a
GEOPOS str a
"""


def test_geo_matches_redis(differ):
    differ.check_all(SICILY)


def test_geo_matches_redis_resp3(differ3):
    differ3.check_all(SICILY)


def test_random_points_and_searches_match_redis(differ):
    rng = random.Random(11)
    lines = []
    for i in range(300):
        lon = rng.uniform(-180, 180)
        lat = rng.uniform(-85, 85)
        lines.append(f"GEOADD world {lon:.6f} {lat:.6f} p{i}")
    for _ in range(25):
        lon = rng.uniform(-180, 180)
        lat = rng.uniform(-80, 80)
        radius = rng.choice([10, 500, 3000, 8000])
        lines.append(f"GEOSEARCH world FROMLONLAT {lon:.4f} {lat:.4f} BYRADIUS {radius} km "
                     "WITHDIST WITHCOORD")
        lines.append(f"GEOSEARCH world FROMLONLAT {lon:.4f} {lat:.4f} BYBOX {radius} "
                     f"{radius * 2} km WITHHASH")
    lines.append("GEORADIUS world 0 0 20000 km COUNT 5 WITHDIST")
    differ.check_all("\n".join(lines))
