"""Function libraries (Redis 7.0 functions.c): metadata, loading, listing, dump and restore.

A library is the code given to FUNCTION LOAD: a ``#!lua name=<lib>`` line and a Lua body that
registers functions with ``redis.register_function``. Library names are case-sensitive; the
global function-name lookup FCALL uses is not. Loading is all or nothing: on any error the
registry is left exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...protocol.reply import ErrorReply
from . import rdbcodec

if TYPE_CHECKING:
    from .runtime import Scripting

NAME_ERROR = ("ERR Library names can only contain letters, numbers, or underscores(_) and "
              "must be at least one character long")


@dataclass(slots=True, eq=False)
class Function:
    name: str
    library: "Library"
    fn: Any
    flags: list[str]
    description: bytes | None


@dataclass(slots=True, eq=False)
class Library:
    name: str
    code: bytes
    functions: dict[str, Function] = field(default_factory=dict)


class FunctionRegistry:
    """The loaded libraries and the function-name index (a functionsLibCtx)."""

    def __init__(self) -> None:
        self.libraries: dict[str, Library] = {}
        self.functions: dict[bytes, Function] = {}

    def link(self, lib: Library) -> None:
        self.libraries[lib.name] = lib
        for f in lib.functions.values():
            self.functions[f.name.encode().lower()] = f

    def unlink(self, lib: Library) -> None:
        self.libraries.pop(lib.name, None)
        for f in lib.functions.values():
            key = f.name.encode().lower()
            if self.functions.get(key) is f:
                del self.functions[key]

    def clear(self) -> None:
        self.libraries.clear()
        self.functions.clear()

    def function_count(self) -> int:
        return sum(len(lib.functions) for lib in self.libraries.values())


def valid_name(name: bytes) -> bool:
    if not name:
        return False
    for c in name:
        if not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c == 95):
            return False
    return True


def parse_metadata(code: bytes) -> tuple[bytes, bytes, bytes]:
    """functionExtractLibMetaData: (engine, library name, body starting at the first newline)."""
    from ...protocol.resp import split_args

    if not code.startswith(b"#!"):
        raise ErrorReply("ERR Missing library metadata")
    z = code.find(b"\0")
    visible = code if z < 0 else code[:z]
    end = visible.find(b"\n")
    if end < 0:
        raise ErrorReply("ERR Invalid library metadata")
    parts = split_args(code[:end])
    if not parts:
        raise ErrorReply("ERR Invalid library metadata")
    engine = parts[0][2:]
    name: bytes | None = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise ErrorReply(
                    "ERR Invalid metadata value, name argument was given multiple times")
            name = part[5:]
            continue
        raise ErrorReply("ERR Invalid metadata value given: " + _text(part))
    if name is None:
        raise ErrorReply("ERR Library name was not given")
    return engine, name, code[end:]


def _text(data: bytes) -> str:
    z = data.find(b"\0")
    if z >= 0:
        data = data[:z]
    return data.decode("utf-8", "surrogateescape")


def create(lua: "Scripting", registry: FunctionRegistry, code: bytes, replace: bool) -> str:
    """functionsCreateWithLibraryCtx: load ``code`` into ``registry``; returns the library name."""
    engine, raw_name, body = parse_metadata(code)
    if not valid_name(raw_name):
        raise ErrorReply(NAME_ERROR)
    if engine.lower() != b"lua":
        raise ErrorReply("ERR Engine '%s' not found" % _text(engine))
    name = raw_name.decode("latin-1")
    old = registry.libraries.get(name)
    if old is not None and not replace:
        raise ErrorReply("ERR Library '%s' already exists" % name)
    if old is not None:
        registry.unlink(old)
    try:
        lib = Library(name, code)
        for fname, fn, flags, desc in lua.create_library(name, code, body):
            lib.functions[fname] = Function(fname, lib, fn, flags, desc)
        if not lib.functions:
            raise ErrorReply("ERR No functions registered")
        for f in lib.functions.values():
            if f.name.encode().lower() in registry.functions:
                raise ErrorReply("ERR Function %s already exists" % f.name)
        registry.link(lib)
    except BaseException:
        if old is not None:
            registry.link(old)
        raise
    return name


def dump(registry: FunctionRegistry, compress: bool) -> bytes:
    """FUNCTION DUMP: every library as a FUNCTION2 record, then version and CRC64."""
    body = b"".join(bytes([rdbcodec.OPCODE_FUNCTION2]) + rdbcodec.encode_string(lib.code, compress)
                    for lib in registry.libraries.values())
    return rdbcodec.add_footer(body)


def restore(lua: "Scripting", registry: FunctionRegistry, payload: bytes, policy: str) -> None:
    """FUNCTION RESTORE with policy FLUSH, APPEND or REPLACE."""
    if not rdbcodec.verify_footer(payload, lua.engine.config["rdbchecksum"]):
        raise ErrorReply("ERR DUMP payload version or checksum are wrong")
    loaded = FunctionRegistry()
    reader = rdbcodec.Reader(payload)
    while len(payload) - reader.pos > 10:
        try:
            kind = reader.byte()
        except rdbcodec.PayloadError:
            raise ErrorReply("ERR can not read data type") from None
        if kind == rdbcodec.OPCODE_FUNCTION_PRE_GA:
            raise ErrorReply("ERR Pre-GA function format not supported")
        if kind != rdbcodec.OPCODE_FUNCTION2:
            raise ErrorReply("ERR given type is not a function")
        try:
            code = reader.string()
        except rdbcodec.PayloadError:
            raise ErrorReply("ERR Failed loading library payload") from None
        create(lua, loaded, code, False)
    if policy == "FLUSH":
        registry.clear()
        for lib in loaded.libraries.values():
            registry.link(lib)
        return
    replaced: list[Library] = []
    try:
        for lib in loaded.libraries.values():
            old = registry.libraries.get(lib.name)
            if old is not None:
                if policy != "REPLACE":
                    raise ErrorReply("ERR Library %s already exists" % lib.name)
                registry.unlink(old)
                replaced.append(old)
        for key, f in loaded.functions.items():
            if key in registry.functions:
                raise ErrorReply("ERR Function %s already exists" % f.name)
    except ErrorReply:
        for old in replaced:
            registry.link(old)
        raise
    for lib in loaded.libraries.values():
        registry.link(lib)
