"""skyward_wire: Skyward's wire format (length-prefixed CBOR frames, LZ4-compressed payloads).

The Python twin of ``@skyward/codec``; the contract is ``packages/codec/PROTOCOL.md``. Messages are
plain dicts, byte fields are ``bytes``.
"""

from __future__ import annotations

from typing import Any

from ._constants import DEFAULT_COMPRESS_THRESHOLD, DEFAULT_MAX_FRAME_BYTES, LZ4_TAG, PROTOCOL_VERSION
from ._decoder import FrameDecoder
from ._encoder import encode_frame, encode_frame_parts, encode_frames
from ._errors import FrameTooLarge, InvalidCbor, InvalidMessage, WireError
from ._validate import validate_message


def decode_message(value: object, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> dict[str, Any]:
    """Validates an already-decoded CBOR value as a message.

    Checks the fields of its ``type``, decompresses LZ4-tagged byte strings and drops unknown fields.
    Raises a :class:`WireError`.
    """
    try:
        return validate_message(value, max_frame_bytes)
    except WireError:
        raise
    except Exception as e:
        raise InvalidCbor(f"{type(e).__name__}: {e}") from None


__all__ = [
    "DEFAULT_COMPRESS_THRESHOLD",
    "DEFAULT_MAX_FRAME_BYTES",
    "LZ4_TAG",
    "PROTOCOL_VERSION",
    "FrameDecoder",
    "FrameTooLarge",
    "InvalidCbor",
    "InvalidMessage",
    "WireError",
    "decode_message",
    "encode_frame",
    "encode_frame_parts",
    "encode_frames",
]
