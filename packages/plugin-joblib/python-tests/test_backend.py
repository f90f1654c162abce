"""joblib semantics under the skyward backend, against a real pool (2 local nodes x 2 slots)."""
from __future__ import annotations

import multiprocessing
import os
import time
import types
import warnings

import joblib
import pytest
from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from tasks import (
    fail_at,
    joblib_version,
    nested,
    noop,
    raise_unpicklable,
    shout,
    sleep_then,
    square,
    warn,
    whoami,
)

import skyward_joblib
from skyward_joblib import RemoteTaskError, SkywardBackend

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("pool")]

JOBLIB = tuple(int(part) for part in joblib.__version__.split(".")[:2])
# the tests test_joblib_versions.py runs again under joblib 1.3, 1.4 and 1.6
matrix = pytest.mark.joblib_matrix


def skyward(**kwargs):  # type: ignore[no-untyped-def]
    return parallel_config(backend="skyward", **kwargs)


@matrix
def test_the_workers_run_the_callers_joblib() -> None:
    with skyward():
        versions = Parallel(n_jobs=-1, batch_size=1)(delayed(joblib_version)() for _ in range(4))
    assert set(versions) == {joblib.__version__}


@matrix
def test_n_jobs_minus_one_is_every_slot_of_the_pool(pool) -> None:  # type: ignore[no-untyped-def]
    assert pool["totalSlots"] == 4
    assert skyward_joblib.total_slots() == 4
    backend = SkywardBackend()
    assert backend.effective_n_jobs(-1) == 4
    assert backend.effective_n_jobs(-2) == 3
    assert backend.effective_n_jobs(3) == 3
    assert backend.effective_n_jobs(64) == 4
    with skyward():
        assert effective_n_jobs(-1) == 4
    with pytest.raises(ValueError):
        backend.effective_n_jobs(0)


@matrix
def test_ordered_results() -> None:
    with skyward():
        out = Parallel(n_jobs=-1)(delayed(square)(i) for i in range(200))
    assert out == [i * i for i in range(200)]


def test_tasks_run_in_the_agents_of_both_nodes() -> None:
    with skyward():
        out = Parallel(n_jobs=-1, batch_size=1)(delayed(whoami)(0.2) for _ in range(16))
    nodes = {node for node, _ in out}
    pids = {pid for _, pid in out}
    assert nodes == {"0", "1"}
    assert os.getpid() not in pids


@matrix
def test_return_as_generator() -> None:
    with skyward():
        gen = Parallel(n_jobs=-1, return_as="generator")(delayed(square)(i) for i in range(50))
        assert isinstance(gen, types.GeneratorType)
        assert list(gen) == [i * i for i in range(50)]


@matrix
@pytest.mark.skipif(JOBLIB < (1, 4), reason='return_as="generator_unordered" is new in joblib 1.4')
def test_return_as_generator_unordered() -> None:
    delays = [0.6, 0.0, 0.0, 0.0, 0.0, 0.0]
    with skyward():
        gen = Parallel(n_jobs=-1, batch_size=1, return_as="generator_unordered")(
            delayed(sleep_then)(i, d) for i, d in enumerate(delays))
        out = list(gen)
    assert sorted(out) == list(range(len(delays)))
    assert out[-1] == 0  # the slow first task came back last


@matrix
def test_an_exception_aborts_the_call_with_its_type_and_remote_traceback() -> None:
    start = time.monotonic()
    with skyward(), pytest.raises(ValueError, match="task 3 is bad") as info:
        Parallel(n_jobs=-1, batch_size=1)(delayed(fail_at)(i, 3) for i in range(400))
    assert time.monotonic() - start < 15  # aborted, not 400 x 50 ms / 4
    cause = info.value.__cause__
    assert cause is not None
    assert "fail_at" in str(cause) and "ValueError" in str(cause)


@matrix
def test_an_unpicklable_exception_becomes_remote_task_error() -> None:
    with skyward(), pytest.raises(RemoteTaskError) as info:
        Parallel(n_jobs=2)(delayed(raise_unpicklable)() for _ in range(2))
    assert info.value.exc_type.endswith("Unpicklable")
    assert "cannot travel" in info.value.message
    assert "raise_unpicklable" in info.value.traceback


@matrix
def test_nested_parallel_inside_a_task_does_not_deadlock() -> None:
    with skyward():
        out = Parallel(n_jobs=-1)(delayed(nested)(5) for _ in range(8))
    assert out == [[i * i for i in range(5)]] * 8


@matrix
def test_auto_batching_grows_the_batch_size_for_many_tiny_tasks(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    submits = []
    sizes = []
    original = SkywardBackend.submit

    def counting(self, func, callback=None):  # type: ignore[no-untyped-def]
        submits.append(1)
        sizes.append(self._effective_batch_size)
        return original(self, func, callback)

    monkeypatch.setattr(SkywardBackend, "submit", counting)
    n = 10_000
    start = time.monotonic()
    with skyward():
        out = Parallel(n_jobs=-1)(delayed(noop)(i) for i in range(n))
    elapsed = time.monotonic() - start
    assert out == list(range(n))
    assert max(sizes) > 1
    assert len(submits) < n / 4
    # tasks that run for microseconds: batches grow 8-fold per step (joblib's own pace is 2-fold)
    growth = [b / a for a, b in zip(sizes, sizes[1:]) if b > a]
    assert max(growth) > 2
    print(f"\n10,000 no-op tasks on 2x2: {n / elapsed:,.0f} tasks/s, {len(submits)} batches, "
          f"largest batch {max(sizes)}")


@matrix
def test_tasks_of_a_few_milliseconds_keep_joblibs_batch_growth(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sizes = []
    original = SkywardBackend.submit

    def recording(self, func, callback=None):  # type: ignore[no-untyped-def]
        sizes.append(self._effective_batch_size)
        return original(self, func, callback)

    monkeypatch.setattr(SkywardBackend, "submit", recording)
    with skyward():
        assert Parallel(n_jobs=-1)(delayed(sleep_then)(i, 0.005) for i in range(200)) == list(range(200))
    assert len(sizes) > 1  # submit is what every joblib version calls (apply_async on < 1.5)
    assert all(b <= 2 * a for a, b in zip(sizes, sizes[1:]))


@matrix
def test_a_warning_in_a_task_reaches_the_caller() -> None:
    with skyward(), pytest.warns(UserWarning, match="careful out there"):
        assert Parallel(n_jobs=2)(delayed(warn)("careful out there") for _ in range(2)) == [1, 1]


@matrix
def test_task_prints_come_back_prefixed_with_the_node(capsys) -> None:  # type: ignore[no-untyped-def]
    with skyward():
        Parallel(n_jobs=2)(delayed(shout)(f"hello {i}") for i in range(4))
    out = capsys.readouterr().out
    for i in range(4):
        assert f"] hello {i}" in out
    assert "[node 0] hello" in out or "[node 1] hello" in out


@matrix
def test_timeout_raises_and_cancels() -> None:
    start = time.monotonic()
    with skyward(), pytest.raises((TimeoutError, multiprocessing.TimeoutError)):  # joblib's own
        Parallel(n_jobs=2, timeout=0.5)(delayed(sleep_then)(i, 20) for i in range(2))
    assert time.monotonic() - start < 10
    # the slots are free again
    with skyward():
        assert Parallel(n_jobs=-1)(delayed(square)(i) for i in range(8)) == [i * i for i in range(8)]


def test_third_party_warning_filters_do_not_reach_the_workers() -> None:
    # pytest is not installed on the workers: a filter naming its warning class must not travel
    import sklearn.utils.parallel as skp

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pytest.PytestWarning)
        with skyward():
            out = skp.Parallel(n_jobs=2)(skp.delayed(square)(i) for i in range(4))
        assert out == [0, 1, 4, 9]
        assert not any(f[2] is pytest.PytestWarning for f in warnings.filters)


def test_n_jobs_one_runs_in_process() -> None:
    with skyward():
        out = Parallel(n_jobs=1)(delayed(whoami)(0) for _ in range(2))
    assert all(pid == os.getpid() for _, pid in out)


@matrix
def test_backend_keyword_arguments() -> None:
    # parallel_config hands its extra keywords to the backend's constructor; joblib < 1.5 passes
    # whatever reaches its base class on to object.__init__
    assert SkywardBackend(task_timeout=2.5)._timeout == 2.5
    assert SkywardBackend()._timeout is None
    with parallel_config(backend="skyward", task_timeout=7):
        backend, _ = joblib.parallel.get_active_backend()
        assert isinstance(backend, SkywardBackend) and backend._timeout == 7


@matrix
def test_a_per_task_timeout_on_the_pool_raises_task_timeout_error() -> None:
    from skyward_joblib import TaskTimeoutError

    start = time.monotonic()
    with parallel_config(backend="skyward", task_timeout=0.5), pytest.raises(TaskTimeoutError):
        Parallel(n_jobs=2, batch_size=1)(delayed(sleep_then)(i, 10) for i in range(2))
    assert time.monotonic() - start < 8
