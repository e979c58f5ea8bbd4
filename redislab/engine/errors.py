"""Every error text the engine replies with, in one place, exactly as Redis 7.0 words it.

Handlers raise these (an :class:`ErrorReply` is an exception) and dispatch returns them as the
reply. Module constants are shared instances: raising one is cheap and its text is fixed.
"""

from __future__ import annotations

from ..protocol.reply import ErrorReply


def err(message: str) -> ErrorReply:
    """An error reply; ``message`` already carries its code (``ERR``, ``WRONGTYPE`` ...)."""
    return ErrorReply(message)


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
NO_SUCH_KEY = "ERR no such key"
INDEX_OUT_OF_RANGE = "ERR index out of range"
OUT_OF_RANGE = "ERR value is out of range, must be positive"
NAN_OR_INF = "ERR increment would produce NaN or Infinity"
HASH_NOT_INTEGER = "ERR hash value is not an integer"
HASH_NOT_FLOAT = "ERR hash value is not a float"
MIN_MAX_NOT_FLOAT = "ERR min or max is not a float"
MIN_MAX_NOT_STRING = "ERR min or max not valid string range item"
INVALID_DB = "ERR DB index is out of range"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
OOM = "OOM command not allowed when used memory > 'maxmemory'."
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
BUSY = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
SAME_OBJECT = "ERR source and destination objects are the same"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
COUNT_POSITIVE = "ERR count should be greater than 0"


def wrong_arity(name: str) -> ErrorReply:
    return ErrorReply(f"ERR wrong number of arguments for '{name}' command")


def invalid_expire(command: str) -> ErrorReply:
    return ErrorReply(f"ERR invalid expire time in '{command}' command")


def unknown_command(name: bytes, args: list[bytes]) -> ErrorReply:
    """Redis's text for an unknown command: its name and as many arguments as fit 128 bytes.

    Counted in bytes, and each string cut at a NUL, as Redis's printf-style formatting does.
    """
    shown = b""
    for a in args:
        if len(shown) >= 128:
            break
        shown += b"'%s' " % _c_string(a)[: 128 - len(shown)]
    return ErrorReply(_clean(
        "ERR unknown command '%s', with args beginning with: %s"
        % (_text(_c_string(name)[:128]), _text(shown))))


def _c_string(data: bytes) -> bytes:
    return data.split(b"\0", 1)[0]


def unknown_subcommand(sub: bytes, container: str) -> ErrorReply:
    return ErrorReply(_clean(
        "ERR unknown subcommand '%s'. Try %s HELP." % (_cut(sub), container.upper())))


def _cut(data: bytes) -> str:
    return _text(data[:128])


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _clean(message: str) -> str:
    # Error replies travel on one line; Redis replaces CR and LF with spaces.
    return message.replace("\r", " ").replace("\n", " ")
