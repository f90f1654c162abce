"""Unit tests of the Python twin."""

from __future__ import annotations

import os
import struct
import time
from typing import Any

import cbor2
import lz4.frame
import pytest

from skyward_wire import (
    DEFAULT_COMPRESS_THRESHOLD,
    DEFAULT_MAX_FRAME_BYTES,
    LZ4_TAG,
    PROTOCOL_VERSION,
    FrameDecoder,
    FrameTooLarge,
    InvalidCbor,
    InvalidMessage,
    WireError,
    decode_message,
    encode_frame,
    encode_frames,
)

TAG_HEAD = bytes.fromhex("da004c5a34")

MESSAGES: list[dict[str, Any]] = [
    {"type": "hello", "protocol": 1, "role": "client", "token": "t"},
    {"type": "submit", "id": 1, "kind": "call", "fn": "m:f", "args": [1, "a", [True, None]], "timeout": 1.5},
    {"type": "heartbeat", "seq": 7, "time": 12.25},
    {"type": "log", "stream": "stdout", "line": "hi"},
    {"type": "shutdown"},
]


def frame_of(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def frame_value(value: object) -> bytes:
    return frame_of(cbor2.dumps(value))


def feed_error(data: bytes, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> WireError:
    with pytest.raises(WireError) as info:
        FrameDecoder(max_frame_bytes).feed(data)
    return info.value


def test_constants() -> None:
    assert PROTOCOL_VERSION == 1
    assert DEFAULT_MAX_FRAME_BYTES == 256 * 1024 * 1024
    assert DEFAULT_COMPRESS_THRESHOLD == 4096
    assert LZ4_TAG == 0x4C5A34
    assert issubclass(WireError, ValueError)
    for cls in (FrameTooLarge, InvalidCbor, InvalidMessage):
        assert issubclass(cls, WireError)


def test_frame_layout() -> None:
    frame = encode_frame({"type": "cancel", "id": 5})
    assert frame.hex() == "00000011" + "a2" + "6474797065" + "6663616e63656c" + "626964" + "05"


def test_several_frames_in_one_chunk() -> None:
    assert FrameDecoder().feed(encode_frames(MESSAGES)) == MESSAGES
    assert encode_frames(MESSAGES) == b"".join(encode_frame(m) for m in MESSAGES)
    assert encode_frames([]) == b""


def test_one_byte_at_a_time() -> None:
    data = encode_frames(MESSAGES)
    decoder = FrameDecoder()
    out = []
    for i in range(len(data)):
        out += decoder.feed(data[i : i + 1])
    assert out == MESSAGES
    assert decoder.buffered == 0


def test_accepts_bytearray_and_memoryview() -> None:
    data = encode_frames(MESSAGES)
    assert FrameDecoder().feed(bytearray(data)) == MESSAGES
    assert FrameDecoder().feed(memoryview(data)) == MESSAGES
    decoder = FrameDecoder()
    assert decoder.feed(memoryview(data)[:10]) == []
    assert decoder.feed(bytearray(data[10:])) == MESSAGES


def test_buffered_counts_the_prefix() -> None:
    frame = encode_frame(MESSAGES[0])
    decoder = FrameDecoder()
    assert decoder.feed(frame[:2]) == []
    assert decoder.buffered == 2
    assert decoder.feed(frame[2:7]) == []
    assert decoder.buffered == 7
    assert decoder.feed(frame[7:]) == [MESSAGES[0]]
    assert decoder.buffered == 0


def test_oversized_prefix_rejected_after_four_bytes() -> None:
    decoder = FrameDecoder(max_frame_bytes=1024 * 1024)
    assert decoder.feed(b"\xff\xff\xff") == []
    with pytest.raises(FrameTooLarge) as info:
        decoder.feed(b"\xff")
    assert (info.value.length, info.value.max) == (0xFFFFFFFF, 1024 * 1024)
    with pytest.raises(FrameTooLarge) as again:
        decoder.feed(encode_frame(MESSAGES[0]))
    assert again.value is info.value  # poisoned


def test_max_frame_bytes_boundary() -> None:
    frame = encode_frame({"type": "blob", "hash": "h", "data": bytes(200)})
    size = len(frame) - 4
    assert len(FrameDecoder(size).feed(frame)) == 1
    err = feed_error(frame, size - 1)
    assert isinstance(err, FrameTooLarge) and err.length == size
    assert isinstance(feed_error(b"\x10\x00\x00\x01"), FrameTooLarge)


def test_invalid_cbor() -> None:
    for body in (b"\xa1\x61", b"\xff", b"\x1c", cbor2.dumps([1, 2]), cbor2.dumps("cancel")):
        assert isinstance(feed_error(frame_of(body)), InvalidCbor), body
    assert isinstance(feed_error(b"\x00\x00\x00\x00"), InvalidCbor)  # empty frame
    err = feed_error(frame_value({"type": "cancel", "id": 1, 5: 6}))
    assert isinstance(err, InvalidCbor) and "text" in err.reason
    err = feed_error(frame_of(cbor2.dumps({"type": "cancel", "id": 1}) + b"\x00"))
    assert isinstance(err, InvalidCbor) and "trailing" in err.reason


def test_unknown_type() -> None:
    err = feed_error(frame_value({"type": "nope"}))
    assert isinstance(err, InvalidMessage)
    assert (err.message_type, err.field) == ("nope", "type")
    err = feed_error(frame_value({"id": 1}))
    assert isinstance(err, InvalidMessage) and err.field == "type"


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"type": "cancel"}, "id"),
        ({"type": "cancel", "id": "1"}, "id"),
        ({"type": "cancel", "id": -1}, "id"),
        ({"type": "cancel", "id": 1.5}, "id"),
        ({"type": "cancel", "id": True}, "id"),
        ({"type": "cancel", "id": 2**53}, "id"),
        ({"type": "hello", "protocol": 1, "role": "boss"}, "role"),
        ({"type": "submit", "id": 1, "kind": "pickle", "payload": "not bytes"}, "payload"),
        ({"type": "submit", "id": 1, "kind": "call", "args": {"a": 1}}, "args"),
        ({"type": "submit", "id": 1, "kind": "call", "blobs": ["a", 1]}, "blobs"),
        ({"type": "submit", "id": 1, "kind": "call", "timeout": "soon"}, "timeout"),
        ({"type": "result", "id": 1, "warnings": [b"\x00", "x"]}, "warnings"),
        ({"type": "log", "stream": "stdout", "line": None}, "line"),
        ({"type": "heartbeat", "seq": True}, "seq"),
        ({"type": "heartbeat", "seq": 1, "time": False}, "time"),
        ({"type": "blob", "hash": "h"}, "data"),
        ({"type": "blob", "hash": "h", "data": b"x", "offset": -1}, "offset"),
        ({"type": "blob", "hash": "h", "data": b"x", "total": "big"}, "total"),
        ({"type": "error", "id": 1, "kind": "missing", "excType": "", "message": "", "traceback": ""}, "kind"),
    ],
)
def test_wrong_field_is_named(value: dict[str, object], field: str) -> None:
    err = feed_error(frame_value(value))
    assert isinstance(err, InvalidMessage)
    assert (err.message_type, err.field) == (value["type"], field)
    assert field in str(err)


def test_lenient_numbers_and_extra_fields() -> None:
    out = FrameDecoder().feed(frame_value({"type": "heartbeat", "seq": 1, "time": 3, "extra": {"x": 1}}))
    assert out == [{"type": "heartbeat", "seq": 1, "time": 3.0}]
    assert isinstance(out[0]["time"], float)
    # an integral float where a uint is expected (JavaScript cannot tell them apart)
    out = FrameDecoder().feed(frame_value({"type": "cancel", "id": 3.0}))
    assert out == [{"type": "cancel", "id": 3}] and isinstance(out[0]["id"], int)


def test_compression_threshold() -> None:
    def frame(n: int, **kw: int) -> bytes:
        return encode_frame({"type": "blob", "hash": "h", "data": bytes(n)}, **kw)

    assert TAG_HEAD not in frame(4096)
    assert TAG_HEAD in frame(4097)
    assert TAG_HEAD in frame(200, compress_threshold=100)
    noise = os.urandom(20_000)
    f = encode_frame({"type": "blob", "hash": "h", "data": noise})
    assert TAG_HEAD not in f and len(f) < 20_040
    big = bytes(10_000)
    m = {"type": "result", "id": 1, "payload": big, "warnings": [big, b"abc"], "value": big}
    body = cbor2.loads(encode_frame(m)[4:])
    assert isinstance(body["payload"], cbor2.CBORTag) and body["payload"].tag == LZ4_TAG
    assert isinstance(body["warnings"][0], cbor2.CBORTag)
    assert body["warnings"][1] == b"abc"
    assert body["value"] == big  # free-form values are never compressed
    assert FrameDecoder().feed(encode_frame(m)) == [m]
    # bytes-like inputs encode as byte strings
    assert FrameDecoder().feed(encode_frame({"type": "blob", "hash": "h", "data": bytearray(b"xy")})) == [
        {"type": "blob", "hash": "h", "data": b"xy"}
    ]


def test_corrupt_and_oversized_lz4() -> None:
    frame = bytearray(encode_frame({"type": "blob", "hash": "h", "data": bytes(50_000)}))
    assert TAG_HEAD in frame
    corrupt = bytes(frame[:-10]) + bytes([frame[-10] ^ 0xFF]) + bytes(frame[-9:])
    assert isinstance(feed_error(corrupt), (InvalidCbor, InvalidMessage))
    err = feed_error(bytes(frame), 40_000)
    assert isinstance(err, InvalidCbor) and "limit" in err.reason
    two = encode_frame({"type": "result", "id": 1, "warnings": [bytes(30_000), bytes(30_000)]})
    assert len(FrameDecoder(60_000).feed(two)) == 1
    assert isinstance(feed_error(two, 59_999), InvalidCbor)
    # trailing bytes after the LZ4 frame, and a truncated one
    packed = lz4.frame.compress(bytes(10_000))
    for bad in (packed + b"x", packed[:-4], b"\x04\x22\x4d\x18"):
        m = {"type": "blob", "hash": "h", "data": cbor2.CBORTag(LZ4_TAG, bad)}
        assert isinstance(feed_error(frame_value(m)), InvalidCbor)


def test_decode_message() -> None:
    data = bytes(10_000)
    tagged = cbor2.CBORTag(LZ4_TAG, lz4.frame.compress(data))
    assert decode_message({"type": "blob", "hash": "h", "data": tagged}) == {"type": "blob", "hash": "h", "data": data}
    with pytest.raises(InvalidMessage):
        decode_message(None)
    with pytest.raises(InvalidMessage):
        decode_message({"type": "blob", "hash": "h", "data": cbor2.CBORTag(99, data)})
    for m in MESSAGES:
        assert decode_message(m) == m


def test_large_frame_in_chunks_is_linear() -> None:
    size = 200 * 1024 * 1024
    data = bytes(size)
    frame = encode_frame({"type": "blob", "hash": "big", "data": data}, compress_threshold=size)
    del data
    decoder = FrameDecoder()
    started = time.perf_counter()
    out = []
    view = memoryview(frame)
    for i in range(0, len(frame), 65536):
        out += decoder.feed(view[i : i + 65536])
    elapsed = time.perf_counter() - started
    assert len(out) == 1 and len(out[0]["data"]) == size
    assert elapsed < 10


def test_non_wire_errors_are_wrapped() -> None:
    # a semantic tag cbor2 itself rejects (tag 1 epoch with a text payload) still surfaces as WireError
    assert isinstance(feed_error(frame_value({"type": "result", "id": 1, "value": cbor2.CBORTag(1, "x")})), WireError)
    # nesting beyond the recursion limit
    deep = b"\x81" * 5000 + b"\x00"
    body = (b"\xa3" + cbor2.dumps("type") + cbor2.dumps("result") + cbor2.dumps("id") + b"\x01"
            + cbor2.dumps("value") + deep)
    assert isinstance(feed_error(frame_of(body)), InvalidCbor)


def test_a_blob_chunk_travels_as_views_of_the_callers_buffer() -> None:
    from skyward_wire import encode_frame_parts

    data = bytearray(range(256)) * 100
    chunk = memoryview(data)[1000:9000]
    parts = encode_frame_parts({"type": "blob", "hash": "h", "data": chunk, "offset": 1000, "total": len(data)},
                               1 << 62)
    assert any(isinstance(p, memoryview) and p.obj is data for p in parts)  # no copy of the chunk
    [message] = FrameDecoder().feed(b"".join(parts))
    assert message == {"type": "blob", "hash": "h", "data": bytes(chunk), "offset": 1000, "total": len(data)}
