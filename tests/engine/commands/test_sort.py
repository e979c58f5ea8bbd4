"""SORT and SORT_RO compared with real Redis."""

from __future__ import annotations

SORT_SCRIPT = r"""
RPUSH l 3 1 2 10 -5 1.5
SORT l
SORT l DESC
SORT l ALPHA
SORT l ALPHA DESC
SORT l LIMIT 1 2
SORT l LIMIT -1 2
SORT l LIMIT 0 -1
SORT l LIMIT 10 2
SORT l LIMIT 1
SORT l BOGUS
RPUSH words b a c
SORT words
SORT words ALPHA
SET w_a 3
SET w_b 1
SET w_c 2
SORT words BY w_*
SORT words BY w_* DESC
SORT words BY nosort
SORT words BY w_* GET #
SORT words BY w_* GET w_* GET #
SORT words BY w_* GET missing_*
HSET h_a f 30
HSET h_b f 10
HSET h_c f 20
SORT words BY h_*->f
SORT words BY h_*->f GET h_*->f
SORT words BY h_*->f ALPHA
SORT words BY h_*-> GET h_*->
SORT words BY w_* STORE out
LRANGE out 0 -1
SORT words BY w_* GET missing STORE out2
LRANGE out2 0 -1
SORT missing STORE out
EXISTS out
SORT_RO words ALPHA
SORT_RO words ALPHA STORE x
SADD s 5 3 9 1
SORT s
SORT s DESC LIMIT 0 2
SADD sa z y x
SORT sa ALPHA
SORT sa BY nosort STORE sorted_set
LRANGE sorted_set 0 -1
ZADD z 3 c 1 a 2 b
SORT z BY nosort
SORT z BY nosort DESC
SORT z BY nosort LIMIT 1 1
SORT z ALPHA DESC
SET str x
SORT str
SORT words BY w_*->
"""


def test_sort_matches_redis(differ):
    differ.check_all(SORT_SCRIPT)
