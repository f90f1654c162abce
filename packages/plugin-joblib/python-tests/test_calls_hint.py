"""Each submit says how many of the script's calls its batch runs: progress counts those, not batches."""
from __future__ import annotations

import time

import pytest
from fake_bridge import FakeBridge

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
