"""Reply values and the RESP2/RESP3 codec; the bottom layer, importing nothing of redislab."""

from __future__ import annotations

from .reply import (
    NO_REPLY, NULL_ARRAY, OK, PONG, QUEUED, BigNumber, Bool, Double, ErrorReply, MapReply, Push,
    Reply, SetReply, Status, Verbatim,
)
from .resp import (
    ProtocolError, ReplyParser, RequestParser, encode, encode_command, format_double, split_args,
)

__all__ = [
    "NO_REPLY", "NULL_ARRAY", "OK", "PONG", "QUEUED", "BigNumber", "Bool", "Double", "ErrorReply",
    "MapReply", "Push", "Reply", "SetReply", "Status", "Verbatim", "ProtocolError",
    "ReplyParser", "RequestParser", "encode", "encode_command", "format_double", "split_args",
]
