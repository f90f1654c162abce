"""The errors the codec raises (mirrors src/internal/errors.ts)."""

from __future__ import annotations


class WireError(ValueError):
    """Base of everything the codec raises."""


class FrameTooLarge(WireError):
    """A frame's length prefix exceeds the decoder's ``max_frame_bytes``."""

    def __init__(self, length: int, max: int) -> None:  # noqa: A002 - mirrors the TS field name
        super().__init__(f"frame of {length} bytes exceeds the limit of {max} bytes")
        self.length = length
        self.max = max


class InvalidCbor(WireError):
    """A frame body is not exactly one CBOR map with text keys, or a compressed byte string is corrupt."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid CBOR: {reason}")
        self.reason = reason


class InvalidMessage(WireError):
    """A well-formed CBOR map that is not a valid message (unknown type, missing or mistyped field)."""

    def __init__(self, reason: str, message_type: str | None = None, field: str | None = None) -> None:
        where = ".".join(x for x in (message_type, field) if x is not None)
        super().__init__(f"invalid message{f' ({where})' if where else ''}: {reason}")
        self.reason = reason
        self.message_type = message_type
        self.field = field
