"""Unit tests of the agent's pure parts."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from skyward_worker.blobs import BlobMissing, BlobStore, MappedBlobs
from skyward_worker.cli import parse_args
from skyward_worker.errors import lost_message, qualified_name

A = "a" * 64
B = "b" * 64
C = "c" * 64


def test_blob_store_keeps_files_lru_by_bytes(tmp_path):
    store = BlobStore(10, str(tmp_path))
    assert store.put(A, b"1234") is None
    assert store.put(B, b"1234") is None
    assert open(store.path(A), "rb").read() == b"1234"  # a is now the most recent
    assert store.put(C, b"1234") is None  # evicts b, and its file
    assert B not in store and A in store and C in store
    assert store.total_bytes == 8
    with pytest.raises(BlobMissing):
        store.path(B)
    assert "exceeds --max-blob-bytes" in (store.put("d" * 64, b"x" * 11) or "")
    assert "not a content hash" in (store.put("../x", b"1") or "")
    folder = os.path.dirname(store.path(A))
    store.close()
    assert not os.path.exists(folder)


def test_blob_store_assembles_chunks_and_maps_them(tmp_path):
    store = BlobStore(1 << 20, str(tmp_path))
    data = os.urandom(1000)
    assert store.put(A, data[:400], 0, 1000) is None
    assert A not in store  # not complete yet
    assert store.put(A, data[400:], 400, 1000) is None
    [view] = MappedBlobs().buffers(store.paths([A]))
    assert view.readonly and bytes(view) == data
    assert "outside" in (store.put(B, b"xx", 999, 1000) or "")
    store.close()


def test_blob_folders_of_dead_agents_are_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f"skyward-blobs-{dead.stdout.strip()}-x"
    orphan.mkdir()
    store = BlobStore(100, str(tmp_path))
    store.put(A, b"1")
    assert not orphan.exists()
    store.close()


def test_cli_defaults_and_options():
    c = parse_args([])
    assert (c.node_index, c.node_count, c.executor, c.heartbeat_interval) == (0, 1, "process", 1.0)
    assert c.concurrency >= 1 and c.max_blob_bytes == 1 << 30
    c = parse_args(["--node-index", "1", "--node-count", "2", "--concurrency", "3",
                    "--executor", "thread", "--heartbeat-interval", "0.5",
                    "--task-hook", "a:b", "--task-hook", "c:d", "--app-hook", "e:f",
                    "--max-blob-bytes", "100"])
    assert c.task_hooks == ("a:b", "c:d") and c.app_hooks == ("e:f",)
    assert (c.concurrency, c.executor, c.max_blob_bytes) == (3, "thread", 100)
    assert parse_args(["--cpus", "8", "--concurrency", "2"]).blas_threads == 4
    assert parse_args(["--cpus", "1", "--concurrency", "2"]).blas_threads == 1
    with pytest.raises(SystemExit):
        parse_args(["--cpus", "0"])
    with pytest.raises(SystemExit):
        parse_args(["--task-hook", "nocolon"])
    with pytest.raises(SystemExit):
        parse_args(["--node-index", "2", "--node-count", "2"])


def test_messages():
    assert qualified_name(ValueError) == "builtins.ValueError"
    assert "SIGKILL" in lost_message(-signal.SIGKILL) and "memory" in lost_message(-9)
    assert lost_message(1) == "worker process died with exit code 1 while running the task"
    assert "SIGSEGV" in lost_message(-signal.SIGSEGV)


def test_a_slot_killed_earlier_in_the_same_select_batch_is_ignored():
    """A cancel from Node kills a slot whose result is readable in the same ``select()`` batch:
    the stale readable event must not reach the closed pipe (it used to stop the agent)."""
    import multiprocessing
    import selectors

    from skyward_worker.slots_process import ProcessExecutor, _Reap

    sent = []

    class FakeChannel:
        def send(self, message):
            sent.append(message)

        def send_raw(self, frame):
            sent.append(bytes(frame))

    class FakeProc:
        pid = 4242

        def kill(self):
            pass

    class FakeHost:
        config = parse_args(["--concurrency", "1"])
        channel = FakeChannel()
        selector = selectors.DefaultSelector()

        def call_soon(self, fn):
            fn()

        def log(self, text):
            pass

    host = FakeHost()
    executor = ProcessExecutor(host)  # type: ignore[arg-type]
    parent, child = multiprocessing.Pipe(duplex=True)
    try:
        executor._on_spawned(0, FakeProc(), parent)
        slot = executor._slots[0]
        assert slot is not None
        slot.task = 7
        executor._running[7] = slot
        child.send_bytes(b"R" + b"a result frame")
        ready = [key.data for key, _ in host.selector.select(0)]
        executor.cancel(7)  # an earlier event of the batch: Node's cancel kills the slot
        for callback in ready:
            callback()  # the slot's own (now stale) event
        assert [m["kind"] for m in sent if isinstance(m, dict)] == ["cancelled"]
        assert not [m for m in sent if isinstance(m, bytes)]
        assert isinstance(executor._spawn_q.get_nowait(), _Reap)
    finally:
        child.close()
        host.selector.close()
        executor._lifeline.close()
        os.close(executor._lifeline_w)


def test_shutdown_skips_a_slot_process_its_reaper_closed_meanwhile():
    """The reaper thread closes a dead slot's process object; a shutdown that listed it just before
    must not stop on it (it raised "process object is closed": the agent's internal error)."""
    import multiprocessing
    import selectors

    from skyward_worker.slots_process import ProcessExecutor

    class FakeHost:
        config = parse_args(["--concurrency", "1"])
        selector = selectors.DefaultSelector()

    executor = ProcessExecutor(FakeHost())  # type: ignore[arg-type]
    reaped = multiprocessing.get_context("spawn").Process(target=int)
    reaped.start()
    reaped.join()
    reaped.close()
    executor._procs.add(reaped)
    try:
        executor.shutdown()
    finally:
        FakeHost.selector.close()
        executor._lifeline.close()
