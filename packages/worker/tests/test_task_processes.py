"""What a task leaves behind and how it is interrupted (issue 24, items 1, 3 and 9), on both executors.

- processes a task starts end with its slot (a killed slot process) or with the agent;
- a task never sees the agent's frame channel on its stdin;
- a timed-out or cancelled thread task does not keep its slot from the next tasks, up to a bound;
- ``KeyboardInterrupt`` / ``SystemExit`` in a task, raised or delivered by SIGINT, fail that task only.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import cloudpickle
import pytest
from conftest import alive

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)

EXECUTORS = ("process", "thread")


def _gone(pid: int, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


def _start_sleep() -> int:
    return subprocess.Popen(["sleep", "300"]).pid


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_process_a_task_started_ends_with_the_agent(start_agent, executor):
    a = start_agent("--executor", executor, "--concurrency", "2")
    a.submit(1, _start_sleep)
    orphan = a.value(1)
    assert alive(orphan)
    t0 = time.monotonic()
    a.close_stdin()
    assert a.wait(5) == 0 and time.monotonic() - t0 < 2.0
    assert _gone(orphan), f"sleep {orphan} outlived its agent"


def test_a_process_a_task_started_ends_with_its_timed_out_slot(start_agent):
    a = start_agent("--concurrency", "1")

    def start_and_hang() -> None:
        print(subprocess.Popen(["sleep", "300"]).pid, flush=True)
        time.sleep(60)

    a.submit(1, start_and_hang, timeout=1.0)
    orphan = int(a.take_type("log")["line"])
    assert a.answer(1)["kind"] == "timeout"
    assert _gone(orphan), f"sleep {orphan} outlived its slot"
    a.submit(2, lambda: "next")
    assert a.value(2) == "next"


def test_a_process_a_task_started_ends_with_its_slot_when_the_agent_is_killed(start_agent):
    a = start_agent("--concurrency", "1")
    a.submit(1, _start_sleep)
    orphan = a.value(1)
    a.sigkill()
    a.wait(5)
    assert _gone(orphan), f"sleep {orphan} outlived its slot"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_task_reads_nothing_of_the_frame_channel(start_agent, executor):
    a = start_agent("--executor", executor, "--concurrency", "1")
    a.submit(1, lambda: os.read(0, 100))
    assert a.value(1) == b""
    a.submit(2, lambda: "the channel still works")
    assert a.value(2) == "the channel still works"


def _spin() -> None:
    while True:
        pass


def test_thread_slots_of_timed_out_tasks_run_the_next_tasks(start_agent):
    a = start_agent("--executor", "thread", "--concurrency", "2")
    for tid in (1, 2):
        a.submit(tid, _spin, timeout=0.3)
    assert [a.answer(tid)["kind"] for tid in (1, 2)] == ["timeout", "timeout"]
    for tid in (3, 4):
        a.submit(tid, lambda: "next")
    assert [a.value(tid, timeout=5) for tid in (3, 4)] == ["next", "next"]
    warning = a.take(lambda m: m.get("type") == "log" and m.get("stream") == "agent")
    assert warning["level"] == "warning" and "cannot be stopped" in warning["line"]


def test_thread_slot_of_a_cancelled_task_runs_the_next_tasks(start_agent):
    a = start_agent("--executor", "thread", "--concurrency", "1")
    a.submit(1, lambda: time.sleep(30))
    a.take(lambda m: m.get("type") == "started" and m["id"] == 1)
    a.cancel(1)
    assert a.answer(1)["kind"] == "cancelled"
    a.submit(2, lambda: "after a cancel")
    assert a.value(2, timeout=5) == "after a cancel"


def test_thread_slots_stop_the_agent_once_more_given_up_tasks_are_stuck_than_it_has_slots(start_agent):
    from skyward_worker.exit_codes import EXIT_STUCK
    from skyward_worker.slots_thread import STUCK_AFTER

    a = start_agent("--executor", "thread", "--concurrency", "1")
    for tid in (1, 2):
        a.submit(tid, _spin, timeout=0.2)
        assert a.answer(tid)["kind"] == "timeout"
    given_up = time.monotonic()
    a.submit(3, lambda: "still served meanwhile")
    assert a.value(3) == "still served meanwhile"
    error = a.take(lambda m: m.get("type") == "log" and m.get("level") == "error", timeout=STUCK_AFTER + 5)
    assert "2 tasks that timed out or were cancelled still run" in error["line"]
    assert a.wait(5) == EXIT_STUCK
    assert time.monotonic() - given_up >= STUCK_AFTER - 0.5


def test_thread_slots_cancelled_tasks_that_end_soon_are_never_stuck(start_agent):
    """joblib cancels what still runs when a call fails: many short tasks given up at once are fine."""
    a = start_agent("--executor", "thread", "--concurrency", "1")
    for tid in range(1, 6):
        a.submit(tid, lambda: time.sleep(0.3))
        a.take(lambda m, tid=tid: m.get("type") == "started" and m["id"] == tid)
        a.cancel(tid)
        assert a.answer(tid)["kind"] == "cancelled"
    a.submit(6, lambda: "served")
    assert a.value(6) == "served"
    time.sleep(0.5)
    assert a.proc.poll() is None


def _nap(seconds: float) -> str:
    """Short sleeps: a thread gets an exception raised in it between two of them."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    return "not interrupted"


def _sigint_self() -> str:
    os.kill(os.getpid(), signal.SIGINT)
    return _nap(5)


def _interrupt_main() -> str:
    import _thread

    _thread.interrupt_main()
    return _nap(5)


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("task", [_sigint_self, _interrupt_main], ids=["sigint", "interrupt_main"])
def test_sigint_in_a_task_fails_that_task_with_keyboard_interrupt(start_agent, executor, task):
    a = start_agent("--executor", executor, "--concurrency", "1")
    a.submit(1, task)
    m = a.answer(1, timeout=4)
    assert (m["type"], m["kind"], m["excType"]) == ("error", "user", "builtins.KeyboardInterrupt")
    assert isinstance(cloudpickle.loads(m["payload"]), KeyboardInterrupt)
    a.submit(2, lambda: "next")
    assert a.value(2) == "next"
    assert a.proc.poll() is None


@pytest.mark.parametrize("executor", EXECUTORS)
def test_raised_keyboard_interrupt_and_system_exit_fail_that_task_only(start_agent, executor):
    a = start_agent("--executor", executor, "--concurrency", "1")

    def raise_kbi() -> None:
        raise KeyboardInterrupt("from the task")

    a.submit(1, raise_kbi)
    a.submit(2, lambda: sys.exit(7))
    a.submit(3, lambda: "next")
    kbi, exit7 = a.answer(1), a.answer(2)
    assert (kbi["excType"], kbi["message"]) == ("builtins.KeyboardInterrupt", "from the task")
    assert cloudpickle.loads(exit7["payload"]).code == 7
    assert a.value(3) == "next"


def test_sigint_to_an_idle_slot_is_ignored(start_agent):
    a = start_agent("--concurrency", "1")
    a.submit(1, os.getpid)
    slot = a.value(1)
    os.kill(slot, signal.SIGINT)
    time.sleep(0.3)
    a.submit(2, os.getpid)
    assert a.value(2) == slot
