"""The HyperLogLog structure alone: hash, register packing, estimator, sparse editing."""

from __future__ import annotations

import random

import pytest

from redislab.engine.structures import hyperloglog as hll
from redislab.engine.values import MutableString


def naive_get(packed: bytes, index: int) -> int:
    """Register ``index`` read bit by bit: bits 6n..6n+5, least significant first."""
    value = 0
    for k in range(6):
        bit = index * 6 + k
        value |= ((packed[bit >> 3] >> (bit & 7)) & 1) << k
    return value


def build(elements: list[bytes], max_bytes: int = 3000) -> MutableString:
    value = MutableString(hll.EMPTY_SPARSE)
    editor = hll.Editor(value, max_bytes)
    editor.add_many(elements)
    editor.finish()
    return value


def test_hash_matches_redis_registers():
    # (element, register, value) as PFDEBUG GETREG shows them on Redis 7.0 after PFADD.
    for element, index, count in [(b"p172", 16383, 4), (b"p10247", 16383, 1),
                                  (b"p15030", 0, 1), (b"p24959", 0, 2)]:
        assert hll.pattern(element) == (index, count)


def test_small_values_match_redis_bytes():
    # GET after PFADD on Redis 7.0.15 (the header's stale bit is set by PFADD).
    value = build([b"a", b"b", b"c"])
    value.buf[15] |= 0x80
    assert bytes(value.buf) == (b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"
                                b"`\xf3\x80P\xb1\x84K\xfb\x80BZ")


def test_pack_unpack_roundtrip_and_layout():
    rng = random.Random(7)
    regs = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
    packed = bytes(hll.pack_dense(regs))
    assert len(packed) == hll.DENSE_BYTES
    assert hll.unpack_dense(packed) == regs
    for index in (0, 1, 2, 3, 4, 5, 100, 16381, 16382, 16383):
        assert naive_get(packed, index) == regs[index]


def test_merge_max_is_registerwise_max():
    rng = random.Random(3)
    a = bytes(rng.choice([0, 1, 31, 32, 51, 63, rng.randrange(64)]) for _ in range(hll.REGISTERS))
    b = bytes(rng.choice([0, 1, 31, 32, 51, 63, rng.randrange(64)]) for _ in range(hll.REGISTERS))
    assert hll.merge_max(a, b) == bytes(map(max, a, b))


def test_estimates():
    empty = [hll.REGISTERS] + [0] * 63
    assert hll.estimate(empty) == 0
    saturated = [0] * 64
    saturated[63] = hll.REGISTERS
    assert hll.estimate(saturated) == 1 << 63
    assert hll.to_signed(1 << 63) == -(1 << 63)


@pytest.mark.parametrize("n", [1, 50, 1000, 3000])
def test_sparse_and_dense_agree(n):
    els = [b"x%d" % i for i in range(n)]
    sparse = build(els)
    dense = MutableString(hll.EMPTY_SPARSE)
    editor = hll.Editor(dense, 3000)
    editor.to_dense()
    editor.add_many(els)
    editor.finish()
    assert hll.registers(sparse.buf) == hll.registers(dense.buf)
    assert hll.count(sparse.buf) == hll.count(dense.buf)


def test_promotion_follows_max_bytes():
    els = [b"y%d" % i for i in range(400)]
    assert build(els, 3000).buf[4] == hll.SPARSE
    assert build(els, 100).buf[4] == hll.DENSE
    assert len(build(els, 100).buf) == hll.DENSE_SIZE


def test_sparse_growth_is_greedy():
    value = MutableString(hll.EMPTY_SPARSE)
    editor = hll.Editor(value, 3000)
    editor.add_many([b"z"])
    editor.finish()
    # sdsMakeRoomFor(3) before the first edit: twice 21 bytes, rounded to the 48-byte class.
    assert value.alloc == 48 - 3 - 1


def test_corrupt_bodies():
    short = bytearray(hll.EMPTY_SPARSE[:16] + bytes([0x40, 99]))
    with pytest.raises(hll.Corrupt):
        hll.count(short)
    with pytest.raises(hll.Corrupt):
        hll.registers(short)
    editor = hll.Editor(MutableString(short), 3000)
    with pytest.raises(hll.Corrupt):
        editor.set(16000, 3)
    assert editor.set(5, 3) == 1


def test_header_checks():
    assert hll.is_hll(hll.EMPTY_SPARSE)
    assert not hll.is_hll(b"HYLL")
    assert not hll.is_hll(b"HYLX" + hll.EMPTY_SPARSE[4:])
    assert not hll.is_hll(b"HYLL\x00" + bytes(11))  # dense must be exactly 12304 bytes
    assert hll.is_hll(b"HYLL\x00" + bytes(11) + bytes(hll.DENSE_BYTES))
    assert not hll.is_hll(b"HYLL\x02" + bytes(20))


def test_dense_add_is_fast_enough():
    els = [b"%d" % i for i in range(20000)]
    value = build(els)
    assert value.buf[4] == hll.DENSE
    assert abs(hll.count(value.buf) - 20000) < 20000 * 0.03
