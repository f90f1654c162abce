"""Frame encoding (mirrors src/internal/encoder.ts).

The top-level map is assembled by hand so that byte strings are copied exactly once, by the final
``bytes.join``; everything else goes through cbor2.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Union

import cbor2

from ._compression import compress
from ._constants import DEFAULT_COMPRESS_THRESHOLD, LZ4_TAG
from ._errors import FrameTooLarge
from ._messages import BYTES_ARRAY_FIELDS, BYTES_FIELDS

_BYTESLIKE = (bytes, bytearray, memoryview)
_MAX_BODY = 0xFFFFFFFF

Part = Union[bytes, memoryview]


def _head(major: int, arg: int) -> bytes:
    m = major << 5
    if arg < 24:
        return bytes((m | arg,))
    if arg < 0x100:
        return bytes((m | 24, arg))
    if arg < 0x10000:
        return bytes((m | 25,)) + arg.to_bytes(2, "big")
    if arg < 0x100000000:
        return bytes((m | 26,)) + arg.to_bytes(4, "big")
    return bytes((m | 27,)) + arg.to_bytes(8, "big")


_TAG_HEAD = _head(6, LZ4_TAG)
_KEYS: dict[str, bytes] = {k: cbor2.dumps(k) for k in (*BYTES_FIELDS, *BYTES_ARRAY_FIELDS)}


def _as_bytes_view(v: bytes | bytearray | memoryview) -> Part:
    if type(v) is bytes:
        return v
    mv = memoryview(v)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv


def _push_bytes(parts: list[Part], v: bytes | bytearray | memoryview, threshold: int) -> None:
    data = _as_bytes_view(v)
    n = len(data)
    if n > threshold:
        packed = compress(data)
        if len(packed) < n:
            parts.append(_TAG_HEAD)
            parts.append(_head(2, len(packed)))
            parts.append(packed)
            return
    parts.append(_head(2, n))
    parts.append(data)


def _plan(message: Mapping[str, Any], threshold: int) -> tuple[list[Part], int]:
    """Returns the body's parts (first one left empty for the length prefix) and the body size."""
    rest: dict[str, Any] = {}
    bin_parts: list[Part] = []
    bin_fields = 0
    for key, v in message.items():
        if key in BYTES_FIELDS and isinstance(v, _BYTESLIKE):
            bin_fields += 1
            bin_parts.append(_KEYS[key])
            _push_bytes(bin_parts, v, threshold)
        elif (
            key in BYTES_ARRAY_FIELDS
            and isinstance(v, (list, tuple))
            and all(isinstance(x, _BYTESLIKE) for x in v)
        ):
            bin_fields += 1
            bin_parts.append(_KEYS[key])
            bin_parts.append(_head(4, len(v)))
            for x in v:
                _push_bytes(bin_parts, x, threshold)
        else:
            rest[key] = v
    encoded = cbor2.dumps(rest)
    info = encoded[0] & 31
    if info < 24:
        head_len, count = 1, info
    else:
        head_len = 1 + (1 << (info - 24))
        count = int.from_bytes(encoded[1:head_len], "big")
    map_head = _head(5, count + bin_fields)
    rest_body = memoryview(encoded)[head_len:]
    parts: list[Part] = [b"", map_head, rest_body, *bin_parts]
    size = sum(len(p) for p in parts)
    if size > _MAX_BODY:
        raise FrameTooLarge(size, _MAX_BODY)
    parts[0] = size.to_bytes(4, "big")
    return parts, size


def encode_frame(message: Mapping[str, Any], compress_threshold: int = DEFAULT_COMPRESS_THRESHOLD) -> bytes:
    """Encodes one message (a dict) as a frame: 4-byte big-endian body length, then the CBOR map.

    Byte fields (``payload``, ``data``, each of ``warnings``) longer than ``compress_threshold`` bytes are
    LZ4-compressed when that makes them smaller. The message is not validated.
    """
    parts, _ = _plan(message, compress_threshold)
    return b"".join(parts)


def encode_frame_parts(
    message: Mapping[str, Any], compress_threshold: int = DEFAULT_COMPRESS_THRESHOLD
) -> list[Part]:
    """:func:`encode_frame` without the final join: the frame as parts (byte fields are views
    of the caller's buffers, not copies), for ``socket.sendmsg`` of large data."""
    return _plan(message, compress_threshold)[0]


def encode_frames(
    messages: Iterable[Mapping[str, Any]], compress_threshold: int = DEFAULT_COMPRESS_THRESHOLD
) -> bytes:
    """Encodes several messages as consecutive frames in one ``bytes`` (for batched writes)."""
    parts: list[Part] = []
    for message in messages:
        parts.extend(_plan(message, compress_threshold)[0])
    return b"".join(parts)
