"""Incremental frame decoder (mirrors src/internal/decoder.ts)."""

from __future__ import annotations

import io
import struct
from typing import Union

from cbor2 import CBORDecoder

from ._constants import DEFAULT_MAX_FRAME_BYTES
from ._errors import FrameTooLarge, InvalidCbor, WireError
from ._messages import Message
from ._validate import validate_message

_U32 = struct.Struct(">I")

Buffer = Union[bytes, bytearray, memoryview]


def decode_body(body: bytes, max_bytes: int) -> Message:
    """Decodes one frame body: exactly one CBOR map with text keys, validated as a message."""
    if not body or body[0] >> 5 != 5:
        raise InvalidCbor("a frame must hold a CBOR map")
    fp = io.BytesIO(body)
    try:
        value = CBORDecoder(fp).decode()
    except Exception as e:  # noqa: BLE001 - CBORDecodeError, RecursionError, or whatever a tag decoder raises
        raise InvalidCbor(f"{type(e).__name__}: {e}") from None
    trailing = len(body) - fp.tell()
    if trailing:
        raise InvalidCbor(f"{trailing} trailing bytes after the CBOR item")
    if type(value) is not dict:
        raise InvalidCbor("a frame must hold a CBOR map")
    for key in value:
        if type(key) is not str:
            raise InvalidCbor("message map keys must be text strings")
    return validate_message(value, max_bytes)


class FrameDecoder:
    """Splits a byte stream into frames and decodes them; ``feed`` accepts any chunking.

    Raises a :class:`WireError` on a bad frame, after which the decoder is poisoned (every later
    ``feed`` raises the same error).
    """

    __slots__ = ("_max", "_buf", "_need", "_error")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if not isinstance(max_frame_bytes, int) or not 1 <= max_frame_bytes <= 0xFFFFFFFF:
            raise ValueError(f"max_frame_bytes must be an integer from 1 to 2^32-1, got {max_frame_bytes!r}")
        self._max = max_frame_bytes
        self._buf = bytearray()  # bytes received and not yet consumed (after the length prefix, once read)
        self._need = -1  # body length of the frame being received, -1 while waiting for its prefix
        self._error: WireError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet decoded (including a partial length prefix)."""
        return len(self._buf) + (4 if self._need >= 0 else 0)

    def feed(self, data: Buffer) -> list[Message]:
        """Feeds bytes; returns the messages completed by them."""
        if self._error is not None:
            raise self._error
        try:
            return self._feed(data)
        except WireError as e:
            self._poison(e)
            raise
        except Exception as e:  # noqa: BLE001 - never let anything else out
            err = InvalidCbor(f"{type(e).__name__}: {e}")
            self._poison(err)
            raise err from None

    def _poison(self, error: WireError) -> None:
        self._error = error
        self._buf = bytearray()

    def _feed(self, data: Buffer) -> list[Message]:
        if self._buf:
            self._buf += data
            view = memoryview(self._buf)
            consumed, out = self._parse(view)
            view.release()
            del self._buf[:consumed]  # O(1) amortized at the front of a bytearray
            return out
        # nothing pending: parse straight from the caller's buffer, keep only the remainder
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        consumed, out = self._parse(view)
        if consumed < len(view):
            self._buf += view[consumed:]
        return out

    def _parse(self, view: memoryview) -> tuple[int, list[Message]]:
        out: list[Message] = []
        pos = 0
        end = len(view)
        need = self._need
        while True:
            if need < 0:
                if end - pos < 4:
                    break
                need = _U32.unpack_from(view, pos)[0]
                pos += 4
                if need > self._max:
                    raise FrameTooLarge(need, self._max)
                if need == 0:
                    raise InvalidCbor("empty frame (length 0)")
                self._need = need
            if end - pos < need:
                break
            body = view[pos : pos + need].tobytes()
            pos += need
            need = self._need = -1
            out.append(decode_body(body, self._max))
        return pos, out
