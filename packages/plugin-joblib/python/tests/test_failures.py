"""Infrastructure failures never hang the caller: every batch's callback fires exactly once."""
from __future__ import annotations

import threading
import time

import pytest
from joblib import Parallel, delayed, parallel_config

import skyward_joblib
from fake_bridge import FakeBridge
from skyward_joblib import BridgeError, SkywardBackend, _bridge
from skyward_joblib._backend import BatchFuture
from skyward_joblib._bridge import BridgeClient
from tasks import sleep_then, square

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def private_client(monkeypatch):  # type: ignore[no-untyped-def]
    """Points the process's bridge client at a FakeBridge for one test (the pool's is put back)."""
    bridges = []

    def connect(bridge: FakeBridge) -> BridgeClient:
        bridges.append(bridge)
        client = BridgeClient(bridge.path, "token")
        monkeypatch.setattr(_bridge, "_client", client)
        return client

    yield connect
    for bridge in bridges:
        bridge.close()


def test_a_refused_handshake_is_a_bridge_error() -> None:
    bridge = FakeBridge(accept_hello=False)
    try:
        with pytest.raises(BridgeError, match="handshake"):
            BridgeClient(bridge.path, "wrong")
    finally:
        bridge.close()


def test_no_bridge_configured_is_a_clear_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SKYWARD_BRIDGE", raising=False)
    monkeypatch.setattr(_bridge, "_client", None)
    with pytest.raises(BridgeError, match="SKYWARD_BRIDGE"):
        skyward_joblib.total_slots()


def test_closing_the_bridge_finishes_every_pending_batch_once(private_client) -> None:  # type: ignore[no-untyped-def]
    client = private_client(FakeBridge(slots=2))  # never answers submits
    backend = SkywardBackend()
    calls = []
    futures = [backend.submit(lambda: 1, callback=lambda f: calls.append(f)) for _ in range(5)]
    deadline = time.monotonic() + 5
    while client.pending < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    client.close("test closes it")
    assert len(calls) == 5
    for future in futures:
        with pytest.raises(BridgeError, match="test closes it"):
            future.result(timeout=1)
    client.close("again")  # idempotent: no second callback
    assert len(calls) == 5


def test_a_bridge_dying_mid_call_raises_instead_of_hanging(private_client) -> None:  # type: ignore[no-untyped-def]
    answered = []

    def on_submit(bridge, conn, message):  # type: ignore[no-untyped-def]
        answered.append(message["id"])
        if len(answered) == 3:
            threading.Timer(0.2, bridge.drop_all).start()

    private_client(FakeBridge(slots=2, on_submit=on_submit))
    with parallel_config(backend="skyward"), pytest.raises(BridgeError):
        Parallel(n_jobs=2)(delayed(square)(i) for i in range(10))


def test_submitting_on_a_closed_bridge_fails_the_batch_asynchronously(private_client) -> None:  # type: ignore[no-untyped-def]
    client = private_client(FakeBridge(slots=2))
    client.close("gone")
    # get_client() would reconnect to the (still listening) fake; use the closed one directly
    backend = SkywardBackend()
    fired = threading.Event()
    inside_submit = threading.local()
    inside_submit.value = True

    def callback(future: BatchFuture) -> None:
        assert not getattr(inside_submit, "value", False), "callback ran inside submit"
        fired.set()

    future = BatchFuture(backend)
    future.add_done_callback(callback)
    with pytest.raises(BridgeError):
        client.submit(b"x", future)
    future.fail(BridgeError("closed"), deferred=True)
    inside_submit.value = False
    assert fired.wait(5)


@pytest.mark.usefixtures("pool")
@pytest.mark.timeout(120)
@pytest.mark.filterwarnings("ignore:.*tasks which were still being processed")
def test_abort_cancels_running_tasks_on_the_pool() -> None:
    # a generator abandoned early aborts its call: the long tasks are cancelled, slots come back
    with parallel_config(backend="skyward"):
        gen = Parallel(n_jobs=-1, batch_size=1, return_as="generator")(
            delayed(sleep_then)(i, 0 if i == 0 else 30) for i in range(8))
        assert next(gen) == 0
        del gen
        start = time.monotonic()
        assert Parallel(n_jobs=-1)(delayed(square)(i) for i in range(16)) == [i * i for i in range(16)]
        assert time.monotonic() - start < 20
