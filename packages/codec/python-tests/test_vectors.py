"""Golden vectors, both producers: decode them, and re-encode the expected messages with Python."""

from __future__ import annotations

import random

import pytest
from wire_helpers import CASES, SIDES, from_json, load_vector, to_json

from skyward_wire import FrameDecoder, encode_frame

TAG_HEAD = bytes.fromhex("da004c5a34")
PARAMS = [(side, c["name"], c["compressed"]) for side in SIDES for c in CASES]


@pytest.mark.parametrize(("side", "name", "compressed"), PARAMS)
def test_decodes_vector(side: str, name: str, compressed: bool) -> None:
    frame, expected = load_vector(side, name)
    assert (TAG_HEAD in frame) is compressed
    assert [to_json(m) for m in FrameDecoder().feed(frame)] == [expected]
    rng = random.Random(name)
    decoder = FrameDecoder()
    out = []
    i = 0
    while i < len(frame):
        n = rng.randint(1, 97)
        out += decoder.feed(frame[i : i + n])
        i += n
    assert [to_json(m) for m in out] == [expected]
    assert decoder.buffered == 0


@pytest.mark.parametrize(("side", "name", "compressed"), PARAMS)
def test_reencodes_vector(side: str, name: str, compressed: bool) -> None:
    _, expected = load_vector(side, name)
    frame = encode_frame(from_json(expected))
    assert (TAG_HEAD in frame) is compressed
    assert [to_json(m) for m in FrameDecoder().feed(frame)] == [expected]


def test_all_vectors_in_one_stream() -> None:
    for side in SIDES:
        vectors = [load_vector(side, c["name"]) for c in CASES]
        stream = b"".join(f for f, _ in vectors)
        assert [to_json(m) for m in FrameDecoder().feed(stream)] == [e for _, e in vectors]
        small = [(f, e) for f, e in vectors if len(f) < 2000]
        stream = b"".join(f for f, _ in small)
        decoder = FrameDecoder()
        out = []
        for i in range(len(stream)):
            out += decoder.feed(stream[i : i + 1])
        assert [to_json(m) for m in out] == [e for _, e in small]
