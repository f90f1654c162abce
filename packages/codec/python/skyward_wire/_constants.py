"""Protocol constants (mirrors src/internal/constants.ts)."""

from __future__ import annotations

from typing import Final

PROTOCOL_VERSION: Final = 1
"""The protocol version carried by ``hello.protocol``."""

DEFAULT_MAX_FRAME_BYTES: Final = 256 * 1024 * 1024
"""Default limit on a frame's CBOR body, and on the decompressed bytes of one message: 256 MiB."""

DEFAULT_COMPRESS_THRESHOLD: Final = 4096
"""Byte strings longer than this are LZ4-compressed (when that makes them smaller)."""

LZ4_TAG: Final = 0x4C5A34
"""CBOR tag wrapping an LZ4-frame-compressed byte string ("LZ4")."""

MAX_UINT: Final = 2**53 - 1
"""The ceiling of a ``uint``: the largest integer both languages represent exactly."""
