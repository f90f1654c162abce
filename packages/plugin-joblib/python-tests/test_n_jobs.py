"""What ``n_jobs`` means on a pool, and that work never runs on the client unless ``n_jobs=1`` says so.

joblib runs a whole call in the caller when the backend reports 1 worker: on a 1-slot pool that
would put the work on the client, without the pool's timeout and retries. These tests use a fake
bridge (no pool) that runs each batch on its own thread, as a slot would.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest
from fake_bridge import FakeBridge
from joblib import Parallel, delayed, effective_n_jobs, parallel_config

from skyward_joblib import SkywardBackend, TaskTimeoutError, _bridge
from skyward_joblib._backend import MIN_POOL_N_JOBS
from skyward_joblib._bridge import BridgeClient
from skyward_joblib._pickle import loads
from skyward_wire import TIMEOUT_EXC_TYPE, encode_frame, timeout_text

pytestmark = [pytest.mark.timeout(60), pytest.mark.joblib_matrix]

TASKS = 12


def where(i: int) -> tuple[int, int]:
    """A task: its input and the thread it ran on."""
    return i, threading.get_ident()


class FakePool:
    """A fake bridge with ``slots`` slots that runs every batch it is sent, one at a time."""

    def __init__(self, slots: int, answer: dict[str, Any] | None = None) -> None:
        self.submits: list[dict[str, Any]] = []
        self.answer = answer
        self.bridge = FakeBridge(slots=slots, on_submit=self._run)

    def _run(self, bridge: FakeBridge, conn: Any, message: dict[str, Any]) -> None:
        self.submits.append(message)
        if self.answer is not None:
            reply = dict(self.answer, id=message["id"])
        else:
            reply = {"type": "result", "id": message["id"],
                     "payload": cloudpickle.dumps(loads(message["payload"])())}
        conn.sendall(encode_frame(reply))


@pytest.fixture
def fake_pool(monkeypatch) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """``fake_pool(slots, answer=None)``: this process's bridge client talks to a :class:`FakePool`."""
    pools: list[FakePool] = []

    def connect(slots: int, answer: dict[str, Any] | None = None) -> FakePool:
        pool = FakePool(slots, answer)
        pools.append(pool)
        monkeypatch.setattr(_bridge, "_client", BridgeClient(pool.bridge.path, "token"))
        return pool

    yield connect
    for pool in pools:
        pool.bridge.close()


@pytest.fixture
def submits(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Counts the batches that go through the backend's ``submit``."""
    calls: list[int] = []
    original = SkywardBackend.submit

    def counting(self, func, callback=None):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(self, func, callback)

    monkeypatch.setattr(SkywardBackend, "submit", counting)
    return calls


@pytest.mark.parametrize("slots, expected", [
    (4, {None: 4, -1: 4, 1: 1, 2: 2, -2: 3, 8: 4, -3: 2, -4: MIN_POOL_N_JOBS}),
    (2, {None: 2, -1: 2, 1: 1, 2: 2, -2: MIN_POOL_N_JOBS}),
    (1, {None: MIN_POOL_N_JOBS, -1: MIN_POOL_N_JOBS, 1: 1, 2: MIN_POOL_N_JOBS, -2: MIN_POOL_N_JOBS}),
])
def test_n_jobs_against_the_slots(fake_pool, slots, expected) -> None:  # type: ignore[no-untyped-def]
    fake_pool(slots)
    backend = SkywardBackend()
    assert {n: backend.effective_n_jobs(n) for n in expected} == expected
    with pytest.raises(ValueError):
        backend.effective_n_jobs(0)
    with parallel_config(backend="skyward"):  # what scikit-learn asks when it splits its work
        assert effective_n_jobs(None) == expected[None]
        assert effective_n_jobs(-1) == expected[-1]
        assert effective_n_jobs(1) == 1


def _caller_thread_ran(out: list[tuple[int, int]]) -> bool:
    return any(ident == threading.get_ident() for _, ident in out)


@pytest.mark.parametrize("n_jobs", [-1, None, 2, -2], ids=["-1", "None", "2", "-2"])
def test_a_one_slot_pool_runs_the_calls_on_the_pool(fake_pool, submits, n_jobs) -> None:  # type: ignore[no-untyped-def]
    pool = fake_pool(1)
    with parallel_config(backend="skyward"):
        parallel = Parallel() if n_jobs is None else Parallel(n_jobs=n_jobs)
        out = parallel(delayed(where)(i) for i in range(TASKS))
    assert [i for i, _ in out] == list(range(TASKS))
    assert not _caller_thread_ran(out)
    assert submits and len(submits) == len(pool.submits)


def test_a_one_slot_pool_under_a_managed_parallel(fake_pool, submits) -> None:  # type: ignore[no-untyped-def]
    pool = fake_pool(1)
    with parallel_config(backend="skyward"), Parallel(n_jobs=-1) as parallel:
        first = parallel(delayed(where)(i) for i in range(TASKS))
        second = parallel(delayed(where)(i) for i in range(TASKS, 2 * TASKS))
    assert [i for i, _ in first + second] == list(range(2 * TASKS))
    assert not _caller_thread_ran(first + second)
    assert len(submits) >= 2 and len(submits) == len(pool.submits)


def test_n_jobs_one_asked_for_runs_in_the_caller(fake_pool, submits) -> None:  # type: ignore[no-untyped-def]
    pool = fake_pool(4)
    with parallel_config(backend="skyward"):
        out = Parallel(n_jobs=1)(delayed(where)(i) for i in range(TASKS))
    with parallel_config(backend="skyward", n_jobs=1):
        out += Parallel()(delayed(where)(i) for i in range(TASKS))
    assert all(ident == threading.get_ident() for _, ident in out)
    assert not submits and not pool.submits


def test_the_pools_timeout_applies_on_a_one_slot_pool(fake_pool) -> None:  # type: ignore[no-untyped-def]
    timeout = {"type": "error", "kind": "timeout", "excType": TIMEOUT_EXC_TYPE,
               "message": timeout_text(0.5), "traceback": ""}
    pool = fake_pool(1, answer=timeout)
    with parallel_config(backend="skyward", task_timeout=0.5), pytest.raises(TaskTimeoutError):
        Parallel(n_jobs=-1)(delayed(where)(i) for i in range(TASKS))
    assert pool.submits and all(m.get("timeout") == 0.5 for m in pool.submits)


class HoldingPool:
    """A fake elastic (``max_slots``) or fixed pool that answers no batch until ``hold`` arrived, or
    a second passed: how many the backend sends before any answers is what the pool can see."""

    def __init__(self, slots: int, max_slots: int | None, hold: int) -> None:
        self.hold = hold
        self.held: list[tuple[Any, dict[str, Any]]] = []
        self.sent_before_an_answer: int | None = None
        self.lock = threading.Lock()
        self.bridge = FakeBridge(slots=slots, on_submit=self._hold, max_slots=max_slots)
        self.timer = threading.Timer(1.0, self._answer_all)
        self.timer.start()

    def _hold(self, bridge: FakeBridge, conn: Any, message: dict[str, Any]) -> None:
        with self.lock:
            if self.sent_before_an_answer is not None:
                return self._answer(conn, message)
            self.held.append((conn, message))
            full = len(self.held) == self.hold
        if full:
            self._answer_all()

    def _answer_all(self) -> None:
        with self.lock:
            if self.sent_before_an_answer is None:
                self.sent_before_an_answer = len(self.held)
            for conn, message in self.held:
                self._answer(conn, message)
            self.held.clear()

    @staticmethod
    def _answer(conn: Any, message: dict[str, Any]) -> None:
        reply = {"type": "result", "id": message["id"], "payload": cloudpickle.dumps(loads(message["payload"])())}
        conn.sendall(encode_frame(reply))


@pytest.mark.parametrize("max_slots, pre_dispatch, sent", [
    (None, "2 * n_jobs", 4),  # a fixed pool: joblib's pace, twice the slots ahead
    (8, "2 * n_jobs", 12),  # an elastic pool sees the whole call, so it can grow for it
    (8, "3", 3),  # a pre_dispatch the script set is kept
])
def test_an_elastic_pool_gets_a_calls_batches_at_once(monkeypatch, max_slots, pre_dispatch, sent) -> None:  # type: ignore[no-untyped-def]
    pool = HoldingPool(slots=2, max_slots=max_slots, hold=12)
    monkeypatch.setattr(_bridge, "_client", BridgeClient(pool.bridge.path, "token"))
    try:
        with parallel_config(backend="skyward"):
            out = Parallel(n_jobs=-1, batch_size=1, pre_dispatch=pre_dispatch)(delayed(where)(i) for i in range(12))
        assert [i for i, _ in out] == list(range(12))
        assert pool.sent_before_an_answer == sent
    finally:
        pool.timer.cancel()
        pool.bridge.close()
