"""Redis's 52-bit geohash, its neighbour search and its distance formula (geohash*.c).

A geo set is a sorted set whose scores are 52-bit interleaved geohashes of (longitude,
latitude) over Web Mercator's latitude limits. Searches look at the cell holding the centre
and its eight neighbours at a step chosen from the radius, exactly as Redis does, so results
come out in the same order and distances print the same digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GEO_STEP_MAX = 26
LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
LONG_MIN, LONG_MAX = -180.0, 180.0
EARTH_RADIUS_M = 6372797.560856
MERCATOR_MAX = 20037726.37
D_R = math.pi / 180.0
ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"
U64 = (1 << 64) - 1


def _spread(v: int) -> int:
    """Spread the low 32 bits of ``v`` to the even bit positions."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    v = (v | (v << 1)) & 0x5555555555555555
    return v


def _squash(v: int) -> int:
    v &= 0x5555555555555555
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    v = (v | (v >> 16)) & 0x00000000FFFFFFFF
    return v


def interleave(lat_bits: int, lon_bits: int) -> int:
    return _spread(lat_bits) | (_spread(lon_bits) << 1)


def deinterleave(bits: int) -> tuple[int, int]:
    """(latitude bits, longitude bits)."""
    return _squash(bits), _squash(bits >> 1)


@dataclass(slots=True)
class HashBits:
    bits: int
    step: int

    def is_zero(self) -> bool:
        return self.bits == 0 and self.step == 0


def encode(lon: float, lat: float, step: int = GEO_STEP_MAX,
           lon_range: tuple[float, float] = (LONG_MIN, LONG_MAX),
           lat_range: tuple[float, float] = (LAT_MIN, LAT_MAX)) -> HashBits | None:
    """geohashEncode; None for a point outside the ranges."""
    if lon > 180 or lon < -180 or lat > 85.05112878 or lat < -85.05112878:
        return None
    if lat < lat_range[0] or lat > lat_range[1] or lon < lon_range[0] or lon > lon_range[1]:
        return None
    lat_off = (lat - lat_range[0]) / (lat_range[1] - lat_range[0])
    lon_off = (lon - lon_range[0]) / (lon_range[1] - lon_range[0])
    lat_off *= float(1 << step)
    lon_off *= float(1 << step)
    return HashBits(interleave(int(lat_off), int(lon_off)), step)


def encode_score(lon: float, lat: float) -> int | None:
    h = encode(lon, lat)
    return None if h is None else h.bits


@dataclass(slots=True)
class Area:
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float


def decode(h: HashBits, lon_range: tuple[float, float] = (LONG_MIN, LONG_MAX),
           lat_range: tuple[float, float] = (LAT_MIN, LAT_MAX)) -> Area:
    ilat, ilon = deinterleave(h.bits)
    lat_scale = lat_range[1] - lat_range[0]
    lon_scale = lon_range[1] - lon_range[0]
    div = float(1 << h.step)
    return Area(
        lon_range[0] + (ilon * 1.0 / div) * lon_scale,
        lon_range[0] + ((ilon + 1) * 1.0 / div) * lon_scale,
        lat_range[0] + (ilat * 1.0 / div) * lat_scale,
        lat_range[0] + ((ilat + 1) * 1.0 / div) * lat_scale,
    )


def decode_score(score: float | int) -> tuple[float, float]:
    """Longitude and latitude at the centre of a score's cell (clamped as Redis does)."""
    area = decode(HashBits(int(score), GEO_STEP_MAX))
    lon = (area.lon_min + area.lon_max) / 2
    lon = min(max(lon, LONG_MIN), LONG_MAX)
    lat = (area.lat_min + area.lat_max) / 2
    lat = min(max(lat, LAT_MIN), LAT_MAX)
    return lon, lat


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """geohashGetDistance: haversine on Redis's earth radius, in metres."""
    lon1r = lon1 * D_R
    lon2r = lon2 * D_R
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r = lat1 * D_R
    lat2r = lat2 * D_R
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS_M * abs(lat2 * D_R - lat1 * D_R)


def geohash_string(score: float | int) -> bytes:
    """GEOHASH's 11-character string, re-encoded over the standard -90..90 latitudes."""
    lon, lat = decode_score(score)
    lat_off = (lat + 90) / 180 * float(1 << GEO_STEP_MAX)
    lon_off = (lon + 180) / 360 * float(1 << GEO_STEP_MAX)
    bits = interleave(int(lat_off), int(lon_off))
    out = bytearray()
    for i in range(11):
        idx = 0 if i == 10 else (bits >> (52 - (i + 1) * 5)) & 0x1F
        out.append(ALPHABET[idx])
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Neighbour search (geohash_helper.c)

def _move_x(h: HashBits, d: int) -> HashBits:
    if d == 0:
        return h
    x = h.bits & 0xAAAAAAAAAAAAAAAA
    y = h.bits & 0x5555555555555555
    zz = 0x5555555555555555 >> (64 - h.step * 2)
    if d > 0:
        x = (x + (zz + 1)) & U64
    else:
        x = x | zz
        x = (x - (zz + 1)) & U64
    x &= 0xAAAAAAAAAAAAAAAA >> (64 - h.step * 2)
    return HashBits(x | y, h.step)


def _move_y(h: HashBits, d: int) -> HashBits:
    if d == 0:
        return h
    x = h.bits & 0xAAAAAAAAAAAAAAAA
    y = h.bits & 0x5555555555555555
    zz = 0xAAAAAAAAAAAAAAAA >> (64 - h.step * 2)
    if d > 0:
        y = (y + (zz + 1)) & U64
    else:
        y = y | zz
        y = (y - (zz + 1)) & U64
    y &= 0x5555555555555555 >> (64 - h.step * 2)
    return HashBits(x | y, h.step)


def neighbors(h: HashBits) -> dict[str, HashBits]:
    return {
        "east": _move_y(_move_x(h, 1), 0),
        "west": _move_y(_move_x(h, -1), 0),
        "south": _move_y(_move_x(h, 0), -1),
        "north": _move_y(_move_x(h, 0), 1),
        "north_west": _move_y(_move_x(h, -1), 1),
        "south_west": _move_y(_move_x(h, -1), -1),
        "north_east": _move_y(_move_x(h, 1), 1),
        "south_east": _move_y(_move_x(h, 1), -1),
    }


def estimate_steps(range_m: float, lat: float) -> int:
    if range_m == 0:
        return 26
    step = 1
    while range_m < MERCATOR_MAX:
        range_m *= 2
        step += 1
    step -= 2
    if lat > 66 or lat < -66:
        step -= 1
        if lat > 80 or lat < -80:
            step -= 1
    return max(1, min(26, step))


@dataclass(slots=True)
class Shape:
    """A search shape: a circle (radius) or a box (width, height), in the given unit."""

    lon: float
    lat: float
    conversion: float          # metres per unit
    radius: float = 0.0
    width: float = 0.0
    height: float = 0.0
    is_box: bool = False

    def bounding_box(self) -> tuple[float, float, float, float]:
        height = self.conversion * (self.height / 2 if self.is_box else self.radius)
        width = self.conversion * (self.width / 2 if self.is_box else self.radius)
        lat_delta = (height / EARTH_RADIUS_M) / D_R
        long_delta_top = (width / EARTH_RADIUS_M / math.cos((self.lat + lat_delta) * D_R)) / D_R
        long_delta_bottom = (width / EARTH_RADIUS_M
                             / math.cos((self.lat - lat_delta) * D_R)) / D_R
        south = self.lat < 0
        min_lon = self.lon - long_delta_bottom if south else self.lon - long_delta_top
        max_lon = self.lon + long_delta_bottom if south else self.lon + long_delta_top
        return min_lon, self.lat - lat_delta, max_lon, self.lat + lat_delta

    def distance_if_inside(self, lon: float, lat: float) -> float | None:
        """Distance in metres from the centre, or None when the point is outside."""
        if not self.is_box:
            d = distance(self.lon, self.lat, lon, lat)
            return None if d > self.radius * self.conversion else d
        width_m = self.width * self.conversion
        height_m = self.height * self.conversion
        if lat_distance(lat, self.lat) > height_m / 2:
            return None
        if distance(lon, lat, self.lon, lat) > width_m / 2:
            return None
        return distance(self.lon, self.lat, lon, lat)


def search_cells(shape: Shape) -> list[HashBits]:
    """The cells to scan, in Redis's order: centre, N, S, E, W, NE, NW, SE, SW (zeroed = skip)."""
    min_lon, min_lat, max_lon, max_lat = shape.bounding_box()
    if shape.is_box:
        radius_m = math.sqrt((shape.width / 2) ** 2 + (shape.height / 2) ** 2)
    else:
        radius_m = shape.radius
    radius_m *= shape.conversion
    steps = estimate_steps(radius_m, shape.lat)
    h = encode(shape.lon, shape.lat, steps) or HashBits(0, steps)
    nb = neighbors(h)
    decrease = False
    if decode(nb["north"]).lat_max < max_lat:
        decrease = True
    if decode(nb["south"]).lat_min > min_lat:
        decrease = True
    if decode(nb["east"]).lon_max < max_lon:
        decrease = True
    if decode(nb["west"]).lon_min > min_lon:
        decrease = True
    if steps > 1 and decrease:
        steps -= 1
        h = encode(shape.lon, shape.lat, steps) or HashBits(0, steps)
        nb = neighbors(h)
    area = decode(h)
    zero = HashBits(0, 0)
    if steps >= 2:
        if area.lat_min < min_lat:
            nb["south"] = nb["south_west"] = nb["south_east"] = zero
        if area.lat_max > max_lat:
            nb["north"] = nb["north_east"] = nb["north_west"] = zero
        if area.lon_min < min_lon:
            nb["west"] = nb["south_west"] = nb["north_west"] = zero
        if area.lon_max > max_lon:
            nb["east"] = nb["south_east"] = nb["north_east"] = zero
    return [h, nb["north"], nb["south"], nb["east"], nb["west"], nb["north_east"],
            nb["north_west"], nb["south_east"], nb["south_west"]]


def cell_range(h: HashBits) -> tuple[int, int]:
    """Scores covered by a cell: [min, max)."""
    shift = 52 - h.step * 2
    return h.bits << shift, (h.bits + 1) << shift
