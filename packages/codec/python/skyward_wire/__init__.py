"""skyward_wire: Skyward's wire format (length-prefixed CBOR frames, LZ4-compressed payloads).

The Python twin of ``@skyward/codec``; the contract is ``packages/codec/PROTOCOL.md``. Messages are
plain dicts, byte fields are ``bytes``; each message type has a TypedDict (``Submit``,
``ErrorMessage``, ...) and the errors whose kind fixes them a fixed wording (``timeout_text``, ...),
both generated from ``schema/messages.json``.
"""

from __future__ import annotations

from . import _messages
from ._constants import DEFAULT_COMPRESS_THRESHOLD, DEFAULT_MAX_FRAME_BYTES, LZ4_TAG, PROTOCOL_VERSION
from ._decoder import FrameDecoder
from ._encoder import encode_frame, encode_frame_parts, encode_frames
from ._error_texts import (
    BLOB_EXC_TYPE,
    CANCELLED_EXC_TYPE,
    LOST_EXC_TYPE,
    PROTOCOL_EXC_TYPE,
    TIMEOUT_EXC_TYPE,
    blob_text,
    cancelled_text,
    lost_text,
    timeout_text,
)
from ._errors import FrameTooLarge, InvalidCbor, InvalidMessage, WireError
from ._messages import *  # noqa: F403 - the message types, as schema/messages.json names them
from ._messages import Message
from ._validate import validate_message


def decode_message(value: object, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Message:
    """Validates an already-decoded CBOR value as a message.

    Checks the fields of its ``type``, decompresses LZ4-tagged byte strings and drops unknown fields.
    Raises a :class:`WireError`.
    """
    try:
        return validate_message(value, max_frame_bytes)
    except WireError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever the value holds is a decoding error
        raise InvalidCbor(f"{type(e).__name__}: {e}") from None


__all__ = [
    "BLOB_EXC_TYPE",
    "CANCELLED_EXC_TYPE",
    "DEFAULT_COMPRESS_THRESHOLD",
    "DEFAULT_MAX_FRAME_BYTES",
    "LOST_EXC_TYPE",
    "LZ4_TAG",
    "PROTOCOL_EXC_TYPE",
    "PROTOCOL_VERSION",
    "TIMEOUT_EXC_TYPE",
    "FrameDecoder",
    "FrameTooLarge",
    "InvalidCbor",
    "InvalidMessage",
    "WireError",
    "blob_text",
    "cancelled_text",
    "decode_message",
    "encode_frame",
    "encode_frame_parts",
    "encode_frames",
    "lost_text",
    "timeout_text",
]
__all__ += _messages.__all__
