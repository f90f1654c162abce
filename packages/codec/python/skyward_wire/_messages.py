"""The field table of every message type (mirrors src/internal/messages.ts and PROTOCOL.md)."""

from __future__ import annotations

from typing import Final, Union

# A field kind: "uint", "float", "text", "bytes", "array", "any", "textArray", "bytesArray",
# or a tuple of the allowed text values.
FieldKind = Union[str, tuple[str, ...]]
FieldSpec = tuple[str, FieldKind, bool]  # name, kind, required

_ROLES: Final = ("agent", "client", "server")
_SUBMIT_KINDS: Final = ("pickle", "call")
_ERROR_KINDS: Final = ("user", "timeout", "cancelled", "lost", "pickle", "protocol", "blob")
_STREAMS: Final = ("stdout", "stderr", "agent")
_CANCEL_ONLY: Final = ("queued",)

MESSAGE_FIELDS: Final[dict[str, tuple[FieldSpec, ...]]] = {
    "hello": (
        ("protocol", "uint", True),
        ("role", _ROLES, True),
        ("token", "text", False),
        ("pid", "uint", False),
        ("slots", "uint", False),
        ("node", "uint", False),
        ("python", "text", False),
    ),
    "submit": (
        ("id", "uint", True),
        ("kind", _SUBMIT_KINDS, True),
        ("payload", "bytes", False),
        ("fn", "text", False),
        ("args", "array", False),
        ("timeout", "float", False),
        ("blobs", "textArray", False),
    ),
    "started": (
        ("id", "uint", True),
        ("slot", "uint", True),
        ("pid", "uint", False),
        ("node", "uint", False),
    ),
    "result": (
        ("id", "uint", True),
        ("payload", "bytes", False),
        ("value", "any", False),
        ("warnings", "bytesArray", False),
        ("node", "uint", False),
        ("slot", "uint", False),
        ("duration", "float", False),
    ),
    "error": (
        ("id", "uint", True),
        ("kind", _ERROR_KINDS, True),
        ("excType", "text", True),
        ("message", "text", True),
        ("traceback", "text", True),
        ("payload", "bytes", False),
        ("warnings", "bytesArray", False),
        ("node", "uint", False),
        ("slot", "uint", False),
    ),
    "cancel": (
        ("id", "uint", True),
        ("only", _CANCEL_ONLY, False),
    ),
    "heartbeat": (
        ("seq", "uint", True),
        ("time", "float", False),
    ),
    "log": (
        ("stream", _STREAMS, True),
        ("line", "text", True),
        ("id", "uint", False),
        ("node", "uint", False),
        ("slot", "uint", False),
        ("level", "text", False),
    ),
    "blob": (
        ("hash", "text", True),
        ("data", "bytes", True),
        ("offset", "uint", False),
        ("total", "uint", False),
    ),
    "shutdown": (("reason", "text", False),),
}

BYTES_FIELDS: Final = frozenset({"payload", "data"})
"""Top-level fields holding a byte string (compressed above the threshold)."""

BYTES_ARRAY_FIELDS: Final = frozenset({"warnings"})
"""Top-level fields holding an array of byte strings (each compressed above the threshold)."""
