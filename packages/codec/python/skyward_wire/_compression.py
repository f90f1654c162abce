"""LZ4 frame compression with a bounded, strict decompressor (mirrors src/internal/compression.ts)."""

from __future__ import annotations

import lz4.frame

from ._errors import InvalidCbor

_MAGIC = b"\x04\x22\x4d\x18"
# No LZ4 block expands by more than 255x, so no frame can hold more than this many bytes per input byte.
_MAX_RATIO = 255


def compress(data: bytes | bytearray | memoryview) -> bytes:
    """Compresses ``data`` into one LZ4 frame (default settings: 64 KiB linked blocks, content size stored)."""
    packed: bytes = lz4.frame.compress(data)
    return packed


def decompress(data: bytes, budget: int) -> bytes:
    """Decompresses exactly one LZ4 frame whose output may not exceed ``budget`` bytes; raises InvalidCbor."""
    n = len(data)
    if n < 7:
        raise InvalidCbor("LZ4: truncated frame header")
    if data[:4] != _MAGIC:
        raise InvalidCbor("LZ4: bad magic number")
    flg = data[4]
    if flg & 0x01:
        raise InvalidCbor("LZ4: dictionaries are not supported")
    if flg & 0x08:
        if n < 15:
            raise InvalidCbor("LZ4: truncated frame header")
        size = int.from_bytes(data[6:14], "little")
        if size > budget:
            raise InvalidCbor(f"LZ4: decompressed size {size} exceeds the limit of {budget} bytes")
        if size > _MAX_RATIO * n:
            raise InvalidCbor("LZ4: content size larger than the blocks can hold")
    decompressor = lz4.frame.LZ4FrameDecompressor()
    try:
        out: bytes = decompressor.decompress(data, max_length=budget + 1)
    except Exception as e:  # noqa: BLE001 - lz4 raises RuntimeError with the LZ4F error code
        raise InvalidCbor(f"LZ4: {e}") from None
    if len(out) > budget:
        raise InvalidCbor(f"LZ4: decompressed size exceeds the limit of {budget} bytes")
    if not decompressor.eof:
        raise InvalidCbor("LZ4: truncated frame")
    if decompressor.unused_data:
        raise InvalidCbor("LZ4: trailing bytes after the frame")
    return out
