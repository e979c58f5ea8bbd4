"""Listpack, intset, LZF and CRC-64: exact bytes, boundaries, and clean rejection of bad blobs."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redislab.engine.structures import intset, listpack, lzf
from redislab.engine.structures.crc64 import CHECK_VALUE, crc64, crc64_bytes

# ------------------------------------------------------------------------------------------
# CRC-64


def test_crc64_check_value_and_continuation():
    assert crc64(b"123456789") == CHECK_VALUE == 0xE9C6D914C4B8D9CA
    data = os.urandom(1000)
    assert crc64(data[300:], crc64(data[:300])) == crc64(data)
    assert crc64(memoryview(data)) == crc64(data)
    assert crc64_bytes(b"123456789") == CHECK_VALUE.to_bytes(8, "little")
    assert crc64(b"") == 0


# ------------------------------------------------------------------------------------------
# LZF


@given(st.binary(max_size=600), st.integers(min_value=1, max_value=700))
def test_lzf_round_trip(data, limit):
    packed = lzf.compress(data, limit)
    if packed is not None:
        assert len(packed) <= limit
        assert lzf.decompress(packed, len(data)) == data


def test_lzf_compresses_repetition_and_gives_up_on_noise():
    data = b"abcabcabc" * 100
    packed = lzf.compress(data, len(data) - 4)
    assert packed is not None and len(packed) < 40
    assert lzf.compress(os.urandom(200), 196) is None
    big = os.urandom(20000)
    assert lzf.compress(big, len(big) - 4) is None


def test_lzf_known_bytes():
    # The compressed parts of DUMP payloads from Redis 7.0.15 (SET k <value>).
    assert lzf.compress(b"a" * 30, 26) == b"\x01aa\xe0\x11\x00\x01aa"
    text = b"hello world, hello world, hello world"
    assert lzf.compress(text, len(text) - 4) == b"\rhello world, h\xe0\x0c\x0c\x01ld"
    assert lzf.decompress(b"\x01aa\xe0\x11\x00\x01aa", 30) == b"a" * 30


@pytest.mark.parametrize("blob,size", [
    (b"\x05abc", 6),            # literal run longer than the input
    (b"\x20\x00", 5),           # back-reference before the start
    (b"\x00a\xe0", 10),         # back-reference cut short
    (b"\x00a", 2),              # wrong stated length
    (b"\x00a\x20\x00", 2),      # output overflow
    (b"", 10**9),               # hostile length
])
def test_lzf_rejects_corrupt_input(blob, size):
    with pytest.raises(lzf.LZFError):
        lzf.decompress(blob, size)


# ------------------------------------------------------------------------------------------
# listpack


def test_listpack_reference_bytes():
    # HSET h:1 f00000 v0 on Redis 7.0.15.
    blob = listpack.pack([b"f00000", b"v0"])
    assert blob.hex() == "130000000200866630303030300782763003ff"
    assert listpack.unpack(blob) == [b"f00000", b"v0"]


@pytest.mark.parametrize("value,size", [
    (0, 2), (127, 2), (128, 3), (-1, 3), (-4096, 3), (4095, 3), (4096, 4), (-4097, 4),
    (32767, 4), (-32768, 4), (32768, 5), (8388607, 5), (-8388608, 5), (8388608, 6),
    (2**31 - 1, 6), (-(2**31), 6), (2**31, 10), (2**63 - 1, 10), (-(2**63), 10),
])
def test_listpack_integer_widths(value, size):
    entry = listpack.encode_int(value)
    assert len(entry) == size == listpack.lp_int_size(value)
    assert listpack.unpack(listpack.pack_entries([entry])) == [value]


@pytest.mark.parametrize("length", [0, 1, 63, 64, 126, 127, 128, 4095, 4096, 16382, 16383,
                                    70000])
def test_listpack_string_lengths(length):
    data = b"x" * length
    entry = listpack.encode_string(data)
    assert len(entry) == listpack.lp_str_size(data)
    assert listpack.unpack(listpack.pack([data])) == [data]


def test_listpack_integer_looking_strings():
    assert listpack.string_to_int(b"12") == 12
    assert listpack.string_to_int(b"-0") is None
    assert listpack.string_to_int(b"007") is None
    assert listpack.string_to_int(b"9223372036854775807") == 2**63 - 1
    assert listpack.string_to_int(b"9223372036854775808") is None
    assert listpack.string_to_int(b"+1") is None
    assert listpack.string_to_int(b" 1") is None
    assert listpack.unpack(listpack.pack([b"12", b"-0"])) == [12, b"-0"]
    assert listpack.unpack_bytes(listpack.pack([b"12", b"-0"])) == [b"12", b"-0"]


def test_listpack_count_saturates():
    blob = listpack.pack([b"a"] * 70000)
    assert blob[4:6] == b"\xff\xff"
    assert len(listpack.unpack(blob)) == 70000


items = st.lists(st.one_of(st.binary(max_size=200), st.integers(-(2**63), 2**63 - 1),
                           st.sampled_from([b"0", b"-1", b"123", b"x" * 5000])), max_size=40)


@given(items)
def test_listpack_round_trip(values):
    blob = listpack.pack(values)
    back = listpack.unpack(blob)
    assert [listpack.item_bytes(x) for x in back] == [listpack.item_bytes(x) for x in values]
    assert len(blob) == 7 + sum(listpack.lp_item_size(v) for v in values)


@pytest.mark.parametrize("blob", [
    b"",
    b"\x07\x00\x00\x00\x00\x00",                 # too short
    b"\x08\x00\x00\x00\x00\x00\xff",             # header size disagrees
    b"\x07\x00\x00\x00\x01\x00\xff",             # count disagrees
    b"\x07\x00\x00\x00\x00\x00\x00",             # no terminator
    b"\x09\x00\x00\x00\x01\x00\x05\x02\xff",     # bad backlen
    b"\x09\x00\x00\x00\x01\x00\xf5\x01\xff",     # invalid encoding byte
    b"\x0a\x00\x00\x00\x01\x00\x85ab\xff",       # string runs past the end
])
def test_listpack_rejects_corrupt_blobs(blob):
    with pytest.raises(listpack.ListpackError):
        listpack.unpack(blob)


def test_listpack_random_damage_never_escapes():
    rng = random.Random(7)
    good = listpack.pack([b"alpha", 12, b"x" * 300, -70000, b"", 2**40])
    for _ in range(3000):
        blob = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        if rng.random() < 0.3:
            del blob[rng.randrange(len(blob)):]
        try:
            listpack.unpack(bytes(blob))
        except listpack.ListpackError:
            pass


# ------------------------------------------------------------------------------------------
# intset


def test_intset_layout_and_widths():
    blob = intset.pack([3, 1, 2])
    assert blob.hex() == "02000000" "03000000" "010002000300"
    assert intset.unpack(blob) == [1, 2, 3]
    assert intset.pack([70000])[:4] == b"\x04\x00\x00\x00"
    assert intset.pack([-(2**31) - 1])[:4] == b"\x08\x00\x00\x00"
    assert intset.pack([1], width=8)[:4] == b"\x08\x00\x00\x00"


@given(st.sets(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=50))
def test_intset_round_trip(values):
    assert intset.unpack(intset.pack(values)) == sorted(values)


@pytest.mark.parametrize("blob", [
    b"\x02\x00\x00\x00",                                  # short header
    b"\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00",          # width 3
    b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00",          # count disagrees
    b"\x02\x00\x00\x00\x00\x00\x00\x00",                  # empty
    b"\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00",  # unsorted
    b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x01\x00",  # duplicate
])
def test_intset_rejects_corrupt_blobs(blob):
    with pytest.raises(intset.IntsetError):
        intset.unpack(blob)


@settings(max_examples=50)
@given(st.binary(max_size=40))
def test_intset_garbage_never_escapes(blob):
    try:
        intset.unpack(blob)
    except intset.IntsetError:
        pass
