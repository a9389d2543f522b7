"""Pluggable JSON codecs: stdlib (default, compact), orjson and msgspec.

Each codec encodes to ``str`` for text frames and to ``bytes`` for binary ones
without a detour through the other type when the library allows it.
"""

from __future__ import annotations

import json as _stdlib_json
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["JSONCodec", "MsgspecCodec", "OrjsonCodec", "StdlibCodec"]


class JSONCodec(Protocol):
    """How a WebSocket turns values into JSON frames and back."""

    def encode_text(self, value: Any, /) -> str: ...

    def encode_bytes(self, value: Any, /) -> bytes: ...

    def decode(self, data: str | bytes, /) -> Any: ...


class StdlibCodec:
    """The standard library's ``json``, compact (``separators=(",", ":")``) and
    keeping non-ASCII as UTF-8 rather than ``\\u`` escapes."""

    __slots__ = ("_dumps", "decode")

    def __init__(self, *, default: Callable[[Any], Any] | None = None) -> None:
        encoder = _stdlib_json.JSONEncoder(
            separators=(",", ":"), ensure_ascii=False, default=default
        )
        self._dumps = encoder.encode
        self.decode: Callable[[str | bytes], Any] = _stdlib_json.loads

    def encode_text(self, value: Any, /) -> str:
        dumps = self._dumps  # an attribute, not a method: loaded as one is cheaper
        return dumps(value)

    def encode_bytes(self, value: Any, /) -> bytes:
        return self._dumps(value).encode("utf-8")


class OrjsonCodec:
    """orjson (``pip install lilya-ws[orjson]``): encodes straight to bytes."""

    __slots__ = ("decode", "encode_bytes")

    def __init__(self) -> None:
        import orjson

        self.encode_bytes: Callable[[Any], bytes] = orjson.dumps
        self.decode: Callable[[str | bytes], Any] = orjson.loads

    def encode_text(self, value: Any, /) -> str:
        encode = self.encode_bytes  # an attribute, not a method: loaded as one is cheaper
        return encode(value).decode("utf-8")


class MsgspecCodec:
    """msgspec (``pip install lilya-ws[msgspec]``): encodes straight to bytes."""

    __slots__ = ("decode", "encode_bytes")

    def __init__(self) -> None:
        import msgspec

        self.encode_bytes: Callable[[Any], bytes] = msgspec.json.Encoder().encode
        self.decode: Callable[[str | bytes], Any] = msgspec.json.Decoder().decode

    def encode_text(self, value: Any, /) -> str:
        encode = self.encode_bytes  # an attribute, not a method: loaded as one is cheaper
        return encode(value).decode("utf-8")
