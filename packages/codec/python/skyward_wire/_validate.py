"""Message validation and decompression of LZ4-tagged byte strings (mirrors src/internal/validate.ts)."""

from __future__ import annotations

import json
from typing import Any, cast

from cbor2 import CBORTag

from ._compression import decompress
from ._constants import LZ4_TAG, MAX_UINT
from ._errors import InvalidCbor, InvalidMessage
from ._messages import MESSAGE_FIELDS, FieldKind, Message

_BYTESLIKE = (bytes, bytearray, memoryview)


def _describe(kind: FieldKind) -> str:
    if isinstance(kind, tuple):
        return "one of " + ", ".join(json.dumps(k) for k in kind)
    return {
        "uint": "a uint (an integer from 0 to 2^53-1)",
        "float": "a number",
        "text": "a text string",
        "bytes": "a byte string",
        "array": "an array",
        "any": "a CBOR value",
        "textArray": "an array of text strings",
        "bytesArray": "an array of byte strings",
    }[kind]


class _Budget:
    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left


def _bytes_of(v: object, mtype: str, field: str, budget: _Budget) -> bytes | None:
    if type(v) is bytes:
        return v
    if isinstance(v, CBORTag):
        if v.tag == LZ4_TAG and isinstance(v.value, bytes):
            try:
                out = decompress(v.value, budget.left)
            except InvalidCbor as e:
                raise InvalidCbor(f"{mtype}.{field}: {e.reason}") from None
            budget.left -= len(out)
            return out
        return None
    if isinstance(v, _BYTESLIKE):
        return bytes(v)
    return None


_MISSING = object()


def _check(mtype: str, field: str, kind: FieldKind, v: Any, budget: _Budget) -> Any:
    if kind == "uint":
        if isinstance(v, int) and not isinstance(v, bool):
            if 0 <= v <= MAX_UINT:
                return int(v)
        elif isinstance(v, float) and v.is_integer() and 0 <= v <= MAX_UINT:
            # JavaScript cannot tell 3.0 from 3: accept integral floats, as the TS decoder must
            return int(v)
    elif kind == "float":
        if isinstance(v, float):
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            try:
                return float(v)
            except OverflowError:
                pass
    elif kind == "text":
        if isinstance(v, str):
            return v
    elif kind == "bytes":
        b = _bytes_of(v, mtype, field, budget)
        if b is not None:
            return b
    elif kind == "array":
        if isinstance(v, list):
            return v
        if isinstance(v, tuple):
            return list(v)
    elif kind == "any":
        return v
    elif kind == "textArray":
        if isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
            return list(v)
    elif kind == "bytesArray":
        if isinstance(v, (list, tuple)):
            out: list[bytes] = []
            for x in v:
                b = _bytes_of(x, mtype, field, budget)
                if b is None:
                    break
                out.append(b)
            else:
                return out
    elif isinstance(kind, tuple):
        if isinstance(v, str) and v in kind:
            return v
    raise InvalidMessage(f"must be {_describe(kind)}", mtype, field)


def validate_message(value: object, max_bytes: int) -> Message:
    """Returns a fresh dict holding only the known fields of ``value``, LZ4-tagged byte strings decompressed."""
    if not isinstance(value, dict):
        raise InvalidMessage("a message must be a map")
    mtype = value.get("type", _MISSING)
    if mtype is _MISSING:
        raise InvalidMessage("missing required field", None, "type")
    if not isinstance(mtype, str):
        raise InvalidMessage("must be a text string", None, "type")
    fields = MESSAGE_FIELDS.get(mtype)
    if fields is None:
        raise InvalidMessage(f"unknown message type {json.dumps(mtype)}", mtype, "type")
    out: dict[str, Any] = {"type": mtype}
    budget = _Budget(max_bytes)
    for name, kind, required in fields:
        v = value.get(name, _MISSING)
        if v is _MISSING:
            if required:
                raise InvalidMessage("missing required field", mtype, name)
            continue
        out[name] = _check(mtype, name, kind, v, budget)
    return cast(Message, out)  # the fields of its type, each of its kind: what that TypedDict says
