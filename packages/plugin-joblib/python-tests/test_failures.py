"""Infrastructure failures never hang the caller: every batch's callback fires exactly once."""
from __future__ import annotations

import threading
import time

import pytest
from fake_bridge import FakeBridge
from joblib import Parallel, delayed, parallel_config
from tasks import sleep_then, square

import skyward_joblib
from skyward_joblib import BridgeError, SkywardBackend, TaskPicklingError, _bridge
from skyward_joblib._backend import BatchFuture
from skyward_joblib._bridge import BridgeClient
from skyward_wire import BLOB_EXC_TYPE, blob_text, encode_frame

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


@pytest.mark.joblib_matrix
def test_a_bridge_dying_mid_call_raises_instead_of_hanging(private_client) -> None:  # type: ignore[no-untyped-def]
    answered = []

    def on_submit(bridge, conn, message):  # type: ignore[no-untyped-def]
        answered.append(message["id"])
        if len(answered) == 2:  # n_jobs=2: the others wait until one of these two finishes
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


@pytest.mark.joblib_matrix
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


def test_a_blob_the_bridge_dropped_is_sent_again_with_its_task(private_client) -> None:  # type: ignore[no-untyped-def]
    import pickle

    import cloudpickle

    submits = []

    def on_submit(bridge, conn, message):  # type: ignore[no-untyped-def]
        submits.append(message)
        if len(submits) == 1:  # as if the pool had dropped the blob to stay in its budget
            reply = {"type": "error", "id": message["id"], "kind": "blob", "excType": BLOB_EXC_TYPE,
                     "message": blob_text("the pool", message["blobs"][0]), "traceback": ""}
        else:
            reply = {"type": "result", "id": message["id"], "payload": cloudpickle.dumps([42])}
        conn.sendall(encode_frame(reply))

    bridge = FakeBridge(slots=2, on_submit=on_submit)
    private_client(bridge)
    data = bytearray(3 << 20)
    with parallel_config(backend="skyward"):
        out = Parallel(n_jobs=2, batch_size=1)(delayed(len)(pickle.PickleBuffer(data)) for _ in range(2))
    assert out == [42, 42]
    blobs = [m for m in bridge.received if m["type"] == "blob"]
    # the dropped task is submitted again: after the other task's submit, or before it when joblib's
    # second dispatch comes after the error's reply
    ids = [m["id"] for m in submits]
    assert len(submits) == 3 and ids.count(submits[0]["id"]) == 2
    assert submits[0]["blobs"] == submits[1]["blobs"] == submits[2]["blobs"]
    assert {m["hash"] for m in blobs} == set(submits[0]["blobs"])
    assert sum(len(m["data"]) for m in blobs) == 2 * len(data)  # once, then once more after the drop
    assert all(m["total"] == len(data) for m in blobs)


def test_large_arguments_over_the_bridges_limit_are_refused_before_anything_is_sent(private_client) -> None:  # type: ignore[no-untyped-def]
    import mmap
    import pickle

    bridge = FakeBridge(slots=2, max_blob_bytes=2 << 20)
    client = private_client(bridge)
    assert client.max_blob_bytes == 2 << 20
    small = bytearray(3 << 20)
    # 4.5 GiB the check sees without reading it: a private anonymous mapping holds no memory until written
    huge = mmap.mmap(-1, 9 << 29, flags=mmap.MAP_PRIVATE)
    with parallel_config(backend="skyward"):
        with pytest.raises(TaskPicklingError, match=r"^argument 0 \(pickle\.PickleBuffer\) of the call to len\(\) "
                           r"holds 3\.0 MiB of large buffers; one task may carry at most 2\.0 MiB of them \(the pool's "
                           r"argument limit\)\. Raise it with skyward run --argument-limit SIZE \(pool option "
                           r"argumentLimit\)"):
            Parallel(n_jobs=2)(delayed(len)(pickle.PickleBuffer(small)) for _ in range(1))
        started = time.monotonic()
        with pytest.raises(TaskPicklingError, match=r"holds 4\.5 GiB of large buffers; one task may carry at most "
                                                    r"2\.0 MiB"):
            Parallel(n_jobs=2)(delayed(len)(pickle.PickleBuffer(huge)) for _ in range(1))
        assert time.monotonic() - started < 1  # neither hashed nor sent
    assert [m["type"] for m in bridge.received] == ["hello"]
    huge.close()


def test_a_blob_the_bridge_refused_is_sent_again_by_a_later_call(private_client) -> None:  # type: ignore[no-untyped-def]
    import pickle

    import cloudpickle

    submits = []

    def on_submit(bridge, conn, message):  # type: ignore[no-untyped-def]
        submits.append(message)
        if len(submits) == 1:  # as if the buffer had changed while it was sent
            reply = {"type": "error", "id": message["id"], "kind": "pickle", "excType": "skyward.BlobMismatch",
                     "message": f"blob {message['blobs'][0]} (3.0 MiB) arrived with other content", "traceback": ""}
        else:
            reply = {"type": "result", "id": message["id"], "payload": cloudpickle.dumps([42])}
        conn.sendall(encode_frame(reply))

    bridge = FakeBridge(slots=2, on_submit=on_submit)
    private_client(bridge)
    data = bytearray(3 << 20)
    with parallel_config(backend="skyward"):
        with pytest.raises(TaskPicklingError, match=r"^skyward\.BlobMismatch: blob [0-9a-f]{64} \(3\.0 MiB\) arrived"):
            Parallel(n_jobs=2)(delayed(len)(pickle.PickleBuffer(data)) for _ in range(1))
        assert Parallel(n_jobs=2)(delayed(len)(pickle.PickleBuffer(data)) for _ in range(1)) == [42]
    blobs = [m for m in bridge.received if m["type"] == "blob"]
    assert [m["blobs"] for m in submits] == [[blobs[0]["hash"]]] * 2
    assert sum(len(m["data"]) for m in blobs) == 2 * len(data)  # sent again after the refusal
