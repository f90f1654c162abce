"""The agent with the process executor (default)."""
from __future__ import annotations

import os
import sys
import threading
import time
import warnings

import cloudpickle
import pytest
from conftest import alive

from skyward_wire import CANCELLED_EXC_TYPE, TIMEOUT_EXC_TYPE, cancelled_text, timeout_text

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)


def test_hello_then_heartbeats(start_agent):
    a = start_agent("--concurrency", "2", "--heartbeat-interval", "0.1", "--node-index", "1",
                    "--node-count", "3")
    hello = a.hello()
    assert hello["protocol"] == 1 and hello["role"] == "agent"
    assert hello["pid"] == a.proc.pid and hello["slots"] == 2 and hello["node"] == 1
    assert hello["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    beats = [a.take_type("heartbeat") for _ in range(4)]
    seqs = [b["seq"] for b in beats]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert all(abs(b["time"] - time.time()) < 30 for b in beats)


def test_pickle_task_result(start_agent):
    a = start_agent("--concurrency", "1")
    a.hello()
    a.submit(1, lambda: {"answer": 6 * 7})
    started = a.take_type("started")
    assert started["id"] == 1 and started["slot"] == 0 and started["node"] == 0
    assert started["pid"] != a.proc.pid
    m = a.answer(1)
    assert m["type"] == "result" and m["slot"] == 0 and m["node"] == 0
    assert m["duration"] >= 0
    assert cloudpickle.loads(m["payload"]) == {"answer": 42}


def test_call_task_result(start_agent):
    a = start_agent("--concurrency", "1")
    a.call(5, "skyward_testmod:add", 2, 3)
    m = a.answer(5)
    assert m["type"] == "result" and m["value"] == 5 and "payload" not in m


def test_call_task_errors(start_agent):
    a = start_agent("--concurrency", "1")
    a.call(1, "skyward_testmod:boom", "bad")
    m = a.answer(1)
    assert m["type"] == "error" and m["kind"] == "user" and m["excType"] == "builtins.ValueError"
    a.call(2, "no_such_module_xyz:fn")
    m = a.answer(2)
    assert m["kind"] == "user" and m["excType"] == "builtins.ModuleNotFoundError"
    a.call(3, "skyward_testmod:not_cbor")
    m = a.answer(3)
    assert m["kind"] == "pickle" and "builtins.object" in m["message"]
    a.call(4, "skyward_testmod:add", 1, 1)
    assert a.value(4) == 2


def test_tasks_spread_over_slots_with_distinct_pids(start_agent):
    a = start_agent("--concurrency", "2")
    for i in range(1, 201):
        a.submit(i, lambda i=i: (i, os.getpid(), os.environ["SKYWARD_SLOT"]))
    slots, pids = {}, set()
    for i in range(1, 201):
        m = a.answer(i)
        value, pid, env_slot = cloudpickle.loads(m["payload"])
        assert value == i and int(env_slot) == m["slot"]
        slots.setdefault(m["slot"], set()).add(pid)
        pids.add(pid)
    assert set(slots) == {0, 1}
    assert len(pids) == 2 and all(len(p) == 1 for p in slots.values())
    assert a.proc.pid not in pids


def test_env_vars_visible(start_agent):
    a = start_agent("--concurrency", "2", "--node-index", "2", "--node-count", "4")

    def task():
        import skyward_worker
        return (dict((k, os.environ.get(k)) for k in
                     ("SKYWARD_NODE_INDEX", "SKYWARD_NODE_COUNT", "SKYWARD_SLOT")),
                skyward_worker.current_slot(), os.environ.get("OMP_NUM_THREADS"))

    a.submit(1, task)
    m = a.answer(1)
    env, slot, omp = cloudpickle.loads(m["payload"])
    assert env == {"SKYWARD_NODE_INDEX": "2", "SKYWARD_NODE_COUNT": "4",
                   "SKYWARD_SLOT": str(m["slot"])}
    assert slot == m["slot"]
    cpus = len(os.sched_getaffinity(0))
    assert omp == str(max(1, cpus // 2))
    a.call(2, "skyward_testmod:env")
    m = a.answer(2)
    assert m["value"]["SKYWARD_NODE_INDEX"] == "2"


def test_cpus_share_caps_blas_threads(start_agent):
    """Nodes sharing one machine (the local provider's) get a share of its CPUs: a slot's BLAS
    threads come from that share, not from every CPU of the machine."""
    a = start_agent("--concurrency", "1", "--cpus", "1")

    def task():
        return os.environ.get("OMP_NUM_THREADS"), os.environ.get("OPENBLAS_NUM_THREADS")

    a.submit(1, task)
    assert cloudpickle.loads(a.answer(1)["payload"]) == ("1", "1")


def test_user_exception(start_agent):
    a = start_agent("--concurrency", "1")

    def task():
        x = 1
        raise ValueError(f"bad value {x}")  # the raising line

    a.submit(1, task)
    m = a.answer(1)
    assert m["type"] == "error" and m["kind"] == "user"
    assert m["excType"] == "builtins.ValueError" and m["message"] == "bad value 1"
    assert 'raise ValueError(f"bad value {x}")  # the raising line' in m["traceback"]
    assert "skyward_worker/task.py" not in m["traceback"]
    exc = cloudpickle.loads(m["payload"])
    assert isinstance(exc, ValueError) and exc.args == ("bad value 1",)
    assert m["slot"] == 0 and m["node"] == 0


def test_unpicklable_exception_has_no_payload(start_agent):
    a = start_agent("--concurrency", "1")

    def task():
        class LockedError(Exception):
            def __init__(self):
                super().__init__("holding a lock")
                self.lock = threading.Lock()
        raise LockedError()

    a.submit(1, task)
    m = a.answer(1)
    assert m["kind"] == "user" and m["message"] == "holding a lock"
    assert m["excType"].endswith("LockedError")
    assert "payload" not in m and "LockedError" in m["traceback"]


def test_unpicklable_result(start_agent):
    a = start_agent("--concurrency", "1")
    a.submit(1, lambda: threading.Lock())
    m = a.answer(1)
    assert m["type"] == "error" and m["kind"] == "pickle"
    assert "_thread.lock" in m["message"] and m["excType"]
    a.submit(2, lambda: "still fine")
    assert a.value(2) == "still fine"


def test_cancel_running_kills_slot_and_slot_is_reused(start_agent):
    a = start_agent("--concurrency", "1")
    a.submit(1, lambda: time.sleep(60))
    first = a.take(lambda m: m.get("type") == "started" and m["id"] == 1)
    a.submit(2, lambda: os.getpid())
    time.sleep(0.2)
    t0 = time.monotonic()
    a.cancel(1)
    m = a.answer(1)
    assert m["type"] == "error" and m["kind"] == "cancelled"
    assert (m["excType"], m["message"]) == (CANCELLED_EXC_TYPE, cancelled_text("on request"))
    second = a.take(lambda m: m.get("type") == "started" and m["id"] == 2)
    assert second["slot"] == 0 and second["pid"] != first["pid"]
    assert a.value(2) == second["pid"]
    assert time.monotonic() - t0 < 10
    deadline = time.monotonic() + 5
    while alive(first["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(first["pid"])
    a.cancel(2)  # finished: ignored
    a.cancel(999)  # unknown: ignored
    a.submit(3, lambda: 3)
    assert a.value(3) == 3
    assert not [m for m in a.all("error") if m["id"] in (2, 999)]


def test_cancel_queued(start_agent):
    a = start_agent("--concurrency", "1")
    a.submit(1, lambda: time.sleep(1.0) or 1)
    a.submit(2, lambda: 2)
    a.cancel(2)
    m = a.answer(2)
    assert m["kind"] == "cancelled"
    assert a.value(1) == 1
    assert not [m for m in a.all("started") if m["id"] == 2]


def test_withdraw_takes_back_a_queued_task_and_never_kills_a_running_one(start_agent):
    """``cancel {only: "queued"}``: how the scheduler takes back a task to run it on another node."""
    a = start_agent("--concurrency", "1")
    a.submit(1, lambda: time.sleep(0.5) or os.getpid())
    started = a.take(lambda m: m.get("type") == "started" and m["id"] == 1)
    a.submit(2, lambda: 2)
    a.cancel(2, only_queued=True)
    assert a.answer(2)["kind"] == "cancelled"
    a.cancel(1, only_queued=True)  # running: left alone, no answer but its result
    assert a.value(1) == started["pid"]
    assert not [m for m in a.all("error") if m["id"] == 1]
    assert not [m for m in a.all("started") if m["id"] == 2]


def test_timeout_kills_task(start_agent):
    a = start_agent("--concurrency", "1")
    a.submit(1, lambda: time.sleep(60), timeout=0.3)
    m = a.answer(1)
    # worded as Node words the timeouts it enforces (both from the codec's schema)
    assert (m["kind"], m["excType"], m["message"]) == ("timeout", TIMEOUT_EXC_TYPE, timeout_text(0.3))
    a.submit(2, lambda: "ok")
    assert a.value(2) == "ok"


def test_os_exit_is_lost_and_slot_recovers(start_agent):
    a = start_agent("--concurrency", "1")
    a.submit(1, lambda: os._exit(1))
    m = a.answer(1)
    assert m["type"] == "error" and m["kind"] == "lost"
    assert m["message"] == "worker process died with exit code 1 while running the task"
    a.submit(2, lambda: "next")
    assert a.value(2) == "next"


def test_sigkill_is_lost_with_memory_hint(start_agent):
    a = start_agent("--concurrency", "1")
    a.submit(1, lambda: os.kill(os.getpid(), 9))
    m = a.answer(1)
    assert m["kind"] == "lost" and "SIGKILL" in m["message"] and "memory" in m["message"]
    a.submit(2, lambda: "next")
    assert a.value(2) == "next"


def test_print_comes_back_as_log(start_agent):
    a = start_agent("--concurrency", "1")

    def task():
        print("hello from task")
        print("second", "line")
        sys.stderr.write("to stderr\npartial")
        return 1

    a.submit(7, task)
    assert a.value(7) == 1
    logs = [a.take_type("log") for _ in range(4)]
    assert [(m["stream"], m["line"]) for m in logs] == [
        ("stdout", "hello from task"), ("stdout", "second line"),
        ("stderr", "to stderr"), ("stderr", "partial")]
    assert all(m["id"] == 7 and m["slot"] == 0 and m["node"] == 0 for m in logs)


def test_logs_arrive_before_result(start_agent):
    a = start_agent("--concurrency", "1")
    a.submit(1, lambda: print("x") or 1)
    m = a.take(lambda m: m.get("type") in ("log", "result"))
    assert m["type"] == "log"


def test_warning_comes_back(start_agent):
    a = start_agent("--concurrency", "1")

    def task():
        warnings.warn("careful now", RuntimeWarning, stacklevel=1)
        warnings.warn("careful now", RuntimeWarning, stacklevel=1)  # "always": both recorded
        return 1

    a.submit(1, task)
    m = a.answer(1)
    assert m["type"] == "result" and len(m["warnings"]) == 2
    message, category, filename, lineno = cloudpickle.loads(m["warnings"][0])
    assert category is RuntimeWarning and str(message) == "careful now"
    assert isinstance(lineno, int)

    def failing():
        warnings.warn("before failing", stacklevel=1)
        raise KeyError("k")

    a.submit(2, failing)
    m = a.answer(2)
    assert m["kind"] == "user" and len(m["warnings"]) == 1


def test_warning_of_a_call_is_also_a_stderr_line(start_agent):
    # a "module:function" call's caller (TypeScript) cannot unpickle warnings: it gets them as output
    a = start_agent("--concurrency", "1")
    a.call(1, "warnings:warn", "careful from a call")
    m = a.answer(1)
    assert m["type"] == "result" and len(m["warnings"]) == 1
    lines = [log for log in a.all("log") if log.get("id") == 1]
    assert any(log["stream"] == "stderr" and "UserWarning: careful from a call" in log["line"] for log in lines)


def test_stdin_close_exits_quickly_and_leaves_no_children(start_agent):
    a = start_agent("--concurrency", "3")
    for i in range(3):
        a.submit(i + 1, lambda: time.sleep(60))
    for _ in range(3):
        a.take_type("started")
    tree = a.snapshot_tree()
    assert len(tree) >= 3
    t0 = time.monotonic()
    a.close_stdin()
    assert a.wait(5) == 0
    assert time.monotonic() - t0 < 2.0
    deadline = time.monotonic() + 3
    while any(alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in tree if alive(p)]


def test_shutdown_message_and_sigterm(start_agent):
    a = start_agent("--concurrency", "2")
    a.submit(1, lambda: time.sleep(60))
    a.take_type("started")
    a.snapshot_tree()
    a.send({"type": "shutdown", "reason": "test"})
    t0 = time.monotonic()
    assert a.wait(5) == 0 and time.monotonic() - t0 < 2.0

    b = start_agent("--concurrency", "2")
    b.submit(1, lambda: time.sleep(60))
    b.take_type("started")
    b.snapshot_tree()
    b.proc.terminate()
    t0 = time.monotonic()
    assert b.wait(5) == 0 and time.monotonic() - t0 < 2.0


def test_agent_killed_children_follow(start_agent):
    a = start_agent("--concurrency", "2")
    a.submit(1, lambda: time.sleep(60))
    a.take_type("started")
    tree = a.snapshot_tree()
    a.sigkill()
    a.wait(5)
    deadline = time.monotonic() + 5
    while any(alive(p) for p in tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in tree if alive(p)]


def test_undecodable_frame_exits_nonzero(start_agent):
    a = start_agent("--concurrency", "1")
    a.hello()
    a.send_raw(b"\x00\x00\x00\x03\xff\xff\xff")
    assert a.wait(5) != 0
    assert "decode" in a.stderr


def test_bad_submit_is_protocol_error(start_agent):
    a = start_agent("--concurrency", "1")
    a.send({"type": "submit", "id": 9, "kind": "pickle"})
    m = a.answer(9)
    assert m["kind"] == "protocol"
    a.submit(10, lambda: 10)
    assert a.value(10) == 10


def _with_blob(array_bytes: bytes):
    """A payload whose large buffer travels out of band, and that buffer's blob name."""
    import hashlib
    import pickle

    buffers: list = []
    data = pickle.PickleBuffer(bytearray(array_bytes))
    payload = cloudpickle.dumps(lambda: (type(data).__name__, bytes(data)[-3:], data.readonly),
                                protocol=5, buffer_callback=lambda b: buffers.append(b) or False)
    assert len(buffers) == 1
    return payload, hashlib.sha256(array_bytes).hexdigest()


@pytest.mark.parametrize("executor", ["process", "thread"])
def test_blob_sent_in_chunks_is_mapped_into_the_task(start_agent, executor):
    a = start_agent("--concurrency", "1", "--executor", executor)
    content = os.urandom(3000) + b"end"
    payload, name = _with_blob(content)
    for offset in range(0, len(content), 1024):
        a.send({"type": "blob", "hash": name, "data": content[offset:offset + 1024],
                "offset": offset, "total": len(content)})
    a.send({"type": "submit", "id": 1, "kind": "pickle", "payload": payload, "blobs": [name]})
    assert a.value(1) == ("memoryview", b"end", True)


def test_task_with_a_blob_the_node_lacks_is_answered_with_kind_blob(start_agent):
    a = start_agent("--concurrency", "1")
    payload, name = _with_blob(b"x" * 2000)
    a.send({"type": "submit", "id": 1, "kind": "pickle", "payload": payload, "blobs": [name]})
    assert a.answer(1)["kind"] == "blob"
    a.send({"type": "blob", "hash": name, "data": b"x" * 2000})
    a.send({"type": "submit", "id": 2, "kind": "pickle", "payload": payload, "blobs": [name]})
    assert a.value(2)[1] == b"xxx"


def test_blob_over_the_budget_fails_its_task_clearly(start_agent):
    a = start_agent("--concurrency", "1", "--max-blob-bytes", "10")
    payload, name = _with_blob(b"y" * 2000)
    a.send({"type": "blob", "hash": name, "data": b"y" * 2000})
    a.send({"type": "submit", "id": 1, "kind": "pickle", "payload": payload, "blobs": [name]})
    m = a.answer(1)
    assert (m["kind"], m["excType"]) == ("pickle", "skyward.BlobTooLarge")
    assert "--max-blob-bytes" in m["message"]
    a.submit(2, lambda: 2)
    assert a.value(2) == 2


def test_big_payload_and_result(start_agent):
    a = start_agent("--concurrency", "1")
    blob = os.urandom(3 * 1024 * 1024) + b"\0" * (3 * 1024 * 1024)
    a.submit(1, lambda: blob[::-1])
    assert a.value(1) == blob[::-1]


def test_an_answer_too_large_for_one_frame_fails_that_task_clearly(start_agent):
    a = start_agent("--concurrency", "1")
    a.submit(1, lambda: b"x" * (300 << 20))
    m = a.answer(1, timeout=60)
    assert (m["type"], m["kind"], m["excType"]) == ("error", "pickle", "skyward.ResultTooLarge")
    assert "at most 255 MiB" in m["message"]
    a.submit(2, lambda: 2)  # the node is fine
    assert a.value(2) == 2
