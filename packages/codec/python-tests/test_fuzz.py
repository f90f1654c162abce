"""Hypothesis fuzzing of the decoder: random, mutated and message-shaped frames fed in random chunks.

The only exception a feed may raise is a WireError; a poisoned decoder re-raises it; every feed returns
promptly (so decoding terminates). 12,500 examples in total (see the fuzz(...) counts).
"""

from __future__ import annotations

import random
import struct
import time
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_helpers import CASES, SIDES, load_vector, to_json

from skyward_wire import FrameDecoder, WireError, encode_frame

MAX_FEED_SECONDS = 2.0

CORPUS: list[bytes] = [
    frame for frame in (load_vector(side, c["name"])[0] for side in SIDES for c in CASES) if len(frame) < 50_000
] + [
    encode_frame({"type": "result", "id": 1, "payload": bytes(9000), "warnings": [b"\x07" * 5000]}),
    encode_frame({"type": "submit", "id": 2, "kind": "call", "args": [[[[1]]], {"a": [None, True]}, "x"]}),
]


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,  # timing is asserted per feed instead
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def feed_all(data: bytes, chunk_seed: int, max_frame_bytes: int) -> list[dict[str, Any]]:
    """Feeds ``data`` in chunks of random sizes; checks the error contract; returns what decoded."""
    decoder = FrameDecoder(max_frame_bytes)
    out: list[dict[str, Any]] = []
    rng = random.Random(chunk_seed)
    largest = rng.choice([1, 7, 64, 4096, len(data) + 1])
    points = [0]
    while points[-1] < len(data):
        points.append(min(len(data), points[-1] + rng.randint(1, largest)))
    for a, b in zip(points, points[1:]):
        started = time.perf_counter()
        try:
            out += decoder.feed(data[a:b])
        except WireError as e:
            assert time.perf_counter() - started < MAX_FEED_SECONDS
            with pytest.raises(WireError) as again:
                decoder.feed(b"\x00")
            assert again.value is e
            return out
        assert time.perf_counter() - started < MAX_FEED_SECONDS
    return out


max_frames = st.sampled_from([1024 * 1024, 256 * 1024 * 1024])
chunk_seeds = st.integers(min_value=0, max_value=2**32 - 1)


@fuzz(4000)
@given(data=st.binary(max_size=300), chunk_seed=chunk_seeds, max_frame_bytes=max_frames)
def test_random_bytes(data: bytes, chunk_seed: int, max_frame_bytes: int) -> None:
    feed_all(data, chunk_seed, max_frame_bytes)


@fuzz(3000)
@given(body=st.binary(max_size=300), chunk_seed=chunk_seeds, map_head=st.integers(min_value=0xA0, max_value=0xBF))
def test_random_framed_bodies(body: bytes, chunk_seed: int, map_head: int) -> None:
    body = bytes([map_head]) + body
    feed_all(struct.pack(">I", len(body)) + body, chunk_seed, 1024 * 1024)


MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(min_value=0), st.integers(min_value=0, max_value=7)),
    st.tuples(st.just("set"), st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
    st.tuples(st.just("truncate"), st.integers(min_value=0), st.just(0)),
    st.tuples(st.just("prefix"), st.integers(min_value=0, max_value=0xFFFFFFFF), st.just(0)),
    st.tuples(st.just("prefix_delta"), st.integers(min_value=-8, max_value=8), st.just(0)),
    st.tuples(st.just("splice"), st.integers(min_value=0), st.integers(min_value=0)),
    st.tuples(st.just("insert"), st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
    st.tuples(st.just("delete"), st.integers(min_value=0), st.integers(min_value=1, max_value=16)),
    st.tuples(st.just("append"), st.integers(min_value=0), st.just(0)),
)


def mutate(frame: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    b = bytearray(frame)
    for op, x, y in mutations:
        n = len(b)
        if op == "flip" and n:
            b[x % n] ^= 1 << y
        elif op == "set" and n:
            b[x % n] = y
        elif op == "truncate":
            del b[x % (n + 1) :]
        elif op == "prefix" and n >= 4:
            b[0:4] = struct.pack(">I", x)
        elif op == "prefix_delta" and n >= 4:
            b[0:4] = struct.pack(">I", (struct.unpack(">I", b[0:4])[0] + x) % (1 << 32))
        elif op == "splice":
            other = CORPUS[y % len(CORPUS)]
            b = b[: x % (n + 1)] + other[(x * 7 + y) % (len(other) + 1) :]
        elif op == "insert":
            b.insert(x % (n + 1), y)
        elif op == "delete":
            at = x % (n + 1)
            del b[at : at + y]
        elif op == "append":
            b += CORPUS[x % len(CORPUS)]
    return bytes(b)


@fuzz(3000)
@given(
    index=st.integers(min_value=0, max_value=len(CORPUS) - 1),
    mutations=st.lists(MUTATION, min_size=1, max_size=5),
    chunk_seed=chunk_seeds,
    max_frame_bytes=max_frames,
)
def test_mutated_frames(
    index: int, mutations: list[tuple[str, int, int]], chunk_seed: int, max_frame_bytes: int
) -> None:
    feed_all(mutate(CORPUS[index], mutations), chunk_seed, max_frame_bytes)


TYPES = ["hello", "submit", "started", "result", "error", "cancel", "heartbeat", "log", "blob", "shutdown", "x"]
FIELDS = ["id", "kind", "payload", "protocol", "role", "slot", "seq", "stream", "line", "hash", "data", "args",
          "value", "warnings", "blobs", "excType", "message", "traceback", "timeout", "time", "reason", "node"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),
    st.text(max_size=10),
    st.binary(max_size=20),
    st.sampled_from(["agent", "pickle", "call", "stdout", "user", "protocol"]),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=3), scalars, max_size=3),
    st.lists(st.lists(scalars, max_size=2), max_size=2),
)


@fuzz(1500)
@given(
    mtype=st.sampled_from(TYPES),
    fields=st.dictionaries(st.sampled_from(FIELDS), values, max_size=7),
    chunk_seed=chunk_seeds,
)
def test_message_shaped_maps(mtype: str, fields: dict[str, Any], chunk_seed: int) -> None:
    body = cbor2.dumps({"type": mtype, **fields})
    feed_all(struct.pack(">I", len(body)) + body, chunk_seed, 1024 * 1024)


uints = st.integers(min_value=0, max_value=2**53 - 1)
payloads = st.one_of(
    st.binary(max_size=64),
    st.tuples(st.integers(4097, 6000), st.integers(0, 2**32)).map(lambda t: random.Random(t[1]).randbytes(t[0])),
    st.integers(0, 9000).map(bytes),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=8), st.binary(max_size=8)
)
json_values = st.one_of(
    json_scalars,
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=3), st.lists(json_scalars, max_size=2), max_size=3),
)
valid_messages = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("hello"), "protocol": uints, "role": st.sampled_from(["agent", "client", "server"])}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("submit"),
            "id": uints,
            "kind": st.just("call"),
            "fn": st.text(),
            "args": st.lists(json_values, max_size=3),
        }
    ),
    st.fixed_dictionaries({"type": st.just("submit"), "id": uints, "kind": st.just("pickle"), "payload": payloads}),
    st.fixed_dictionaries(
        {"type": st.just("result"), "id": uints, "value": json_values, "warnings": st.lists(payloads, max_size=2)}
    ),
    st.fixed_dictionaries({"type": st.just("blob"), "hash": st.text(), "data": payloads}),
    st.fixed_dictionaries(
        {"type": st.just("log"), "stream": st.sampled_from(["stdout", "stderr", "agent"]), "line": st.text()}
    ),
)


@fuzz(1000)
@given(
    messages=st.lists(valid_messages, min_size=1, max_size=4),
    chunk_seed=chunk_seeds,
    threshold=st.sampled_from([0, 4096]),
)
def test_valid_messages_round_trip(messages: list[dict[str, Any]], chunk_seed: int, threshold: int) -> None:
    from skyward_wire import encode_frames

    data = encode_frames(messages, compress_threshold=threshold)
    assert [to_json(m) for m in feed_all(data, chunk_seed, 256 * 1024 * 1024)] == [to_json(m) for m in messages]
