"""The agent with the thread executor."""
from __future__ import annotations

import os
import sys
import threading
import time
import warnings

import cloudpickle
import pytest

from skyward_wire import TIMEOUT_EXC_TYPE, timeout_text

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)


def test_thread_basics(start_agent):
    a = start_agent("--executor", "thread", "--concurrency", "4", "--node-index", "1",
                    "--node-count", "2")
    hello = a.hello()
    assert hello["slots"] == 4

    def task(i):
        import skyward_worker
        return (i, os.getpid(), skyward_worker.current_slot(), os.environ["SKYWARD_NODE_INDEX"],
                os.environ["SKYWARD_NODE_COUNT"], threading.current_thread().name)

    for i in range(1, 101):
        a.submit(i, lambda i=i: task(i))
    slots = set()
    for i in range(1, 101):
        m = a.answer(i)
        value, pid, slot, node, count, name = cloudpickle.loads(m["payload"])
        assert value == i and pid == a.proc.pid and slot == m["slot"]
        assert node == "1" and count == "2" and name == f"skyward-slot-{slot}"
        slots.add(slot)
    assert slots <= {0, 1, 2, 3}
    started = a.take_type("started")
    assert started["pid"] == a.proc.pid


def test_thread_errors_output_and_warnings(start_agent):
    a = start_agent("--executor", "thread", "--concurrency", "2")

    def task():
        print("from a thread task")
        warnings.warn("thread warning", stacklevel=1)
        raise ValueError("thread failure")

    a.submit(1, task)
    m = a.answer(1)
    assert m["kind"] == "user" and m["excType"] == "builtins.ValueError"
    assert isinstance(cloudpickle.loads(m["payload"]), ValueError)
    assert len(m["warnings"]) == 1
    assert cloudpickle.loads(m["warnings"][0])[0].args == ("thread warning",)
    log = a.take_type("log")
    assert log["line"] == "from a thread task" and log["id"] == 1
    a.submit(2, lambda: threading.Lock())
    assert a.answer(2)["kind"] == "pickle"
    a.call(3, "skyward_testmod:add", 4, 5)
    assert a.value(3) == 9


def test_thread_cancel_running_answers_at_once_and_drops_result(start_agent):
    a = start_agent("--executor", "thread", "--concurrency", "1")
    a.submit(1, lambda: time.sleep(1.0) or "late")
    a.take_type("started")
    t0 = time.monotonic()
    a.cancel(1)
    m = a.answer(1)
    assert m["kind"] == "cancelled" and time.monotonic() - t0 < 0.8
    a.submit(2, lambda: "next")
    assert a.value(2) == "next"
    assert not [m for m in a.all("result") if m["id"] == 1]


def test_thread_withdraw_takes_back_a_queued_task_only(start_agent):
    a = start_agent("--executor", "thread", "--concurrency", "1")
    a.submit(1, lambda: time.sleep(0.5) or "first")
    a.take_type("started")
    a.submit(2, lambda: "second")
    a.cancel(2, only_queued=True)
    assert a.answer(2)["kind"] == "cancelled"
    a.cancel(1, only_queued=True)  # running: it finishes and answers as usual
    assert a.value(1) == "first"
    assert not [m for m in a.all("error") if m["id"] == 1]
    assert not [m for m in a.all("started") if m["id"] == 2]


def test_thread_timeout_and_shutdown(start_agent):
    a = start_agent("--executor", "thread", "--concurrency", "1")
    a.submit(1, lambda: time.sleep(30), timeout=0.2)
    m = a.answer(1)
    assert (m["kind"], m["excType"], m["message"]) == ("timeout", TIMEOUT_EXC_TYPE, timeout_text(0.2))
    t0 = time.monotonic()
    a.close_stdin()
    assert a.wait(5) == 0 and time.monotonic() - t0 < 2.0
