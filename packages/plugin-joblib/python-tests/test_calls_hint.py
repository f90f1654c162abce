"""Each submit says how many of the script's calls its batch runs (progress counts those, not
batches), and which joblib call they belong to, with that call's size when joblib knows it."""
from __future__ import annotations

import time

import pytest
from fake_bridge import FakeBridge
from joblib import Parallel

from skyward_joblib import SkywardBackend, _bridge
from skyward_joblib._bridge import BridgeClient

pytestmark = pytest.mark.timeout(60)


class ThreeCalls:
    """Stands for joblib's ``BatchedCalls`` of three calls: a callable with a length."""

    def __call__(self) -> list[int]:
        return [1, 2, 3]

    def __len__(self) -> int:
        return 3


def test_a_batch_says_its_calls_and_a_plain_callable_says_nothing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bridge = FakeBridge(slots=2)  # never answers: only what was sent matters
    client = BridgeClient(bridge.path, "token")
    monkeypatch.setattr(_bridge, "_client", client)
    try:
        backend = SkywardBackend()
        backend.submit(ThreeCalls())
        backend.submit(lambda: 1)
        deadline = time.monotonic() + 5
        while len([m for m in bridge.received if m["type"] == "submit"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        submits = [m for m in bridge.received if m["type"] == "submit"]
        assert [m.get("calls") for m in submits] == [3, None]
    finally:
        client.close("the test is over")
        bridge.close()


def _submits(bridge: FakeBridge, count: int) -> list[dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + 5
    while len([m for m in bridge.received if m["type"] == "submit"]) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return [m for m in bridge.received if m["type"] == "submit"]


def test_a_batch_names_its_joblib_call_and_that_calls_size_when_joblib_knows_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bridge = FakeBridge(slots=2)
    client = BridgeClient(bridge.path, "token")
    monkeypatch.setattr(_bridge, "_client", client)
    try:
        backend = SkywardBackend()
        parallel = Parallel(n_jobs=2)
        backend.configure(n_jobs=2, parallel=parallel)
        for size in (40, None):  # what joblib's __call__ sets: a list of 40, then a generator
            parallel.n_tasks = size
            backend.start_call()
            backend.submit(ThreeCalls())
            backend.stop_call()
        first, second = _submits(bridge, 2)
        assert (first["calls"], first.get("callTotal")) == (3, 40)
        assert (second["calls"], second.get("callTotal")) == (3, None)
        assert second["call"] == first["call"] + 1
    finally:
        client.close("the test is over")
        bridge.close()
