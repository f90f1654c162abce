"""Unit tests of the agent's pure parts."""
from __future__ import annotations

import signal

import pytest

from skyward_worker.blobs import BlobStore
from skyward_worker.cli import parse_args
from skyward_worker.errors import lost_message, qualified_name


def test_blob_store_lru_by_bytes():
    store = BlobStore(10)
    assert store.put("a", b"1234")
    assert store.put("b", b"1234")
    assert store.get("a") == b"1234"  # a is now most recent
    assert store.put("c", b"1234")  # evicts b
    assert "b" not in store and "a" in store and "c" in store
    assert store.total_bytes == 8
    assert not store.put("huge", b"x" * 11)
    assert store.put("a", b"12")
    assert store.total_bytes == 6


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
    with pytest.raises(SystemExit):
        parse_args(["--task-hook", "nocolon"])
    with pytest.raises(SystemExit):
        parse_args(["--node-index", "2", "--node-count", "2"])


def test_messages():
    assert qualified_name(ValueError) == "builtins.ValueError"
    assert "SIGKILL" in lost_message(-signal.SIGKILL) and "memory" in lost_message(-9)
    assert lost_message(1) == "worker process died with exit code 1 while running the task"
    assert "SIGSEGV" in lost_message(-signal.SIGSEGV)
