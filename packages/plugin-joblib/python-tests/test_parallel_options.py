"""``Parallel``'s own options under loky and under skyward (a real pool, 2 local nodes x 2 slots),
the same call in the same test: ``return_as``, a ``Parallel`` used as a context manager,
``batch_size``, ``pre_dispatch``, ``timeout``, ``n_jobs`` as the most batches running at once, and
what ``verbose`` prints."""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import TimeoutError as JoblibTimeoutError
from typing import Any

import joblib
import pytest
from joblib import Parallel, delayed, parallel_config
from tasks import fail_at, remember, sleep_then, square, square_and_pid, times_remembered

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("pool"),
              pytest.mark.joblib_matrix]

BACKENDS = ("loky", "skyward")
JOBLIB = tuple(int(part) for part in joblib.__version__.split(".")[:2])
# long enough that no task of a call finishes before the call has dispatched what it dispatches
# up front, short enough to keep the file quick
SLOW = 0.25


@pytest.fixture(scope="module", autouse=True)
def _warm_loky() -> None:
    # loky starts its workers on the first call: a timing assertion must not measure that
    Parallel(n_jobs=2, backend="loky")(delayed(square)(i) for i in range(2))


def _both(call: Callable[[str], Any]) -> dict[str, Any]:
    return {backend: call(backend) for backend in BACKENDS}


# -- return_as -------------------------------------------------------------------------------------


def test_return_as_generator_yields_in_order_as_under_loky() -> None:
    def call(backend: str) -> tuple[bool, list[int]]:
        out = Parallel(n_jobs=2, backend=backend, return_as="generator")(
            delayed(sleep_then)(i, 0.2 if i == 0 else 0.0) for i in range(5))
        return isinstance(out, Iterator) and not isinstance(out, list), list(out)

    got = _both(call)
    assert got["skyward"] == got["loky"] == (True, list(range(5)))


@pytest.mark.skipif(JOBLIB < (1, 4), reason='return_as="generator_unordered" is new in joblib 1.4')
def test_return_as_generator_unordered_yields_the_fastest_first_as_under_loky() -> None:
    delays = [2 * SLOW, 0.0, 0.0]  # the first dispatched finishes last

    def call(backend: str) -> list[int]:
        out = Parallel(n_jobs=2, batch_size=1, backend=backend, return_as="generator_unordered")(
            delayed(sleep_then)(i, delay) for i, delay in enumerate(delays))
        return list(out)

    got = _both(call)
    assert got["skyward"] == got["loky"] == [1, 2, 0]


# -- batch_size and pre_dispatch ---------------------------------------------------------------------


@dataclass
class Batches:
    results: list[int]
    batches: int
    tasks: int
    one_process_per_batch: bool


def test_an_int_batch_size_sends_that_many_calls_per_batch_as_under_loky() -> None:
    # joblib takes batch_size x n_jobs inputs at a time and splits them in n_jobs batches (fewer
    # inputs: smaller batches); with every input taken up front, 12 make 4 batches of 3
    size, n = 3, 12

    def call(backend: str) -> Batches:
        with Parallel(n_jobs=2, batch_size=size, pre_dispatch="all", backend=backend) as parallel:
            out = parallel(delayed(square_and_pid)(i) for i in range(n))
            pids = [pid for _, pid in out]
            # a batch's calls run one after another in one process
            together = all(len(set(pids[i:i + size])) == 1 for i in range(0, n, size))
            return Batches([sq for sq, _ in out], parallel.n_dispatched_batches,
                           parallel.n_dispatched_tasks, together)

    got = _both(call)
    assert got["skyward"] == got["loky"] == Batches([i * i for i in range(n)], n // size, n, True)


def test_auto_batch_size_keeps_slow_calls_apart_and_groups_tiny_ones_as_under_loky() -> None:
    def call(backend: str) -> tuple[Batches, bool]:
        with Parallel(n_jobs=2, batch_size="auto", backend=backend) as parallel:
            slow = parallel(delayed(sleep_then)(i, SLOW) for i in range(4))
            slow_batches = Batches(slow, parallel.n_dispatched_batches, parallel.n_dispatched_tasks, True)
            tiny = parallel(delayed(square)(i) for i in range(2000))
            grouped = tiny == [i * i for i in range(2000)] and parallel.n_dispatched_batches < 2000 // 4
        return slow_batches, grouped

    got = _both(call)
    # calls of SLOW seconds exceed joblib's ideal batch duration: one call per batch
    assert got["skyward"] == got["loky"] == (Batches(list(range(4)), 4, 4, True), True)


@pytest.mark.parametrize("pre_dispatch, expected", [(2, 2), ("2*n_jobs", 4), ("all", 6)])
def test_pre_dispatch_takes_that_many_inputs_up_front_as_under_loky(pre_dispatch: int | str,
                                                                    expected: int) -> None:
    n = 6

    def call(backend: str) -> tuple[int, list[int], int]:
        taken: list[int] = []

        def inputs() -> Iterator[Any]:
            for i in range(n):
                taken.append(i)
                # the first (running) calls last until the call has returned; the others wait
                yield delayed(sleep_then)(i, 2 * SLOW if i < 2 else 0.0)

        out = Parallel(n_jobs=2, batch_size=1, pre_dispatch=pre_dispatch, backend=backend,
                       return_as="generator")(inputs())
        up_front = len(taken)  # no call has finished yet
        return up_front, list(out), len(taken)

    got = _both(call)
    assert got["skyward"] == got["loky"] == (expected, list(range(n)), n)


# -- n_jobs: the most batches running at once --------------------------------------------------------


def test_n_jobs_is_the_most_calls_running_at_once_as_under_loky() -> None:
    # 4 calls of SLOW seconds, 2 at a time: two rounds, though the pool has 4 slots
    def call(backend: str) -> float:
        start = time.monotonic()
        Parallel(n_jobs=2, batch_size=1, pre_dispatch="all", backend=backend)(
            delayed(sleep_then)(i, 2 * SLOW) for i in range(4))
        return time.monotonic() - start

    got = _both(call)
    assert all(4 * SLOW <= seconds < 8 * SLOW for seconds in got.values()), got


# -- verbose -----------------------------------------------------------------------------------------


def _normalized(printed: str) -> list[str]:
    lines = [line for line in printed.splitlines() if line.startswith("[Parallel(")]
    lines = [re.sub(r"\b(Loky|Skyward)Backend\b", "<Backend>", line) for line in lines]
    # timings: "elapsed: 0.1s", "remaining: 1.2min", "remaining:    0.0s", ...
    return [re.sub(r"(elapsed|remaining):\s*[\d.]+\s*\w+", r"\1: T", line) for line in lines]


# some lines (joblib's filter; the total unknown), every line (the total known)
@pytest.mark.parametrize("source, verbose", [("generator", 5), ("list", 100)])
def test_verbose_prints_the_lines_loky_prints(capsys: pytest.CaptureFixture[str], source: str,
                                              verbose: int) -> None:
    n = 6

    def call(backend: str) -> list[str]:
        capsys.readouterr()
        calls = [delayed(sleep_then)(i, SLOW / 4) for i in range(n)]
        Parallel(n_jobs=2, batch_size=1, verbose=verbose, backend=backend)(
            calls if source == "list" else iter(calls))
        captured = capsys.readouterr()
        return _normalized(captured.err + captured.out)

    got = _both(call)
    assert got["skyward"] == got["loky"]
    assert got["loky"][0] == "[Parallel(n_jobs=2)]: Using backend <Backend> with 2 concurrent workers."
    assert re.fullmatch(rf"\[Parallel\(n_jobs=2\)\]: Done +{n} out of +{n} \| elapsed: T finished",
                        got["loky"][-1]), got


def test_a_call_within_the_timeout_returns_as_under_loky() -> None:
    got = _both(lambda backend: Parallel(n_jobs=2, timeout=10 * SLOW, backend=backend)(
        delayed(sleep_then)(i, SLOW / 4) for i in range(4)))
    assert got["skyward"] == got["loky"] == list(range(4))


# -- initializer= -----------------------------------------------------------------------------------


@pytest.mark.skipif(JOBLIB < (1, 5), reason="initializer= is new in joblib 1.5")
@pytest.mark.parametrize("where", ["Parallel", "parallel_config"])
def test_the_initializer_runs_once_in_each_worker_before_its_tasks_as_under_loky(where: str) -> None:
    def call(backend: str) -> list[int]:
        value = uuid.uuid4().hex  # this set-up's own: a worker that ran another set-up's counts 0
        options: dict[str, Any] = {"initializer": remember, "initargs": (value,)}
        calls = [delayed(times_remembered)(value) for _ in range(8)]
        if where == "Parallel":
            out: list[int] = Parallel(n_jobs=2, batch_size=1, backend=backend, **options)(calls)
            return out
        with parallel_config(backend=backend, n_jobs=2, **options):
            return list(Parallel(batch_size=1)(calls))

    got = _both(call)
    assert got["skyward"] == got["loky"] == [1] * 8


# -- what aborts a call (loky then starts new workers: last, to keep the file quick) ------------------


def test_a_generator_dropped_early_warns_and_cancels_as_under_loky() -> None:
    def call(backend: str) -> tuple[int, list[str]]:
        with pytest.warns(UserWarning) as caught:
            out = Parallel(n_jobs=2, batch_size=1, backend=backend, return_as="generator")(
                delayed(sleep_then)(i, 0.0 if i == 0 else 5.0) for i in range(4))
            first = next(out)
            start = time.monotonic()
            del out  # not consumed: joblib aborts the rest
            assert time.monotonic() - start < 3.0, f"{backend}: waited for the tasks left"
        return first, [re.sub(r"\d+", "N", str(w.message)) for w in caught]

    got = _both(call)
    assert got["skyward"] == got["loky"]
    assert got["loky"][0] == 0 and got["loky"][1], got


# -- a Parallel used as a context manager ------------------------------------------------------------


@dataclass
class ManagedCalls:
    first: list[int]
    generated: list[int]
    error: type[BaseException]
    after_error: list[int]
    same_backend: bool


def test_a_managed_parallel_serves_several_calls_as_under_loky() -> None:
    def call(backend: str) -> ManagedCalls:
        with Parallel(n_jobs=2, backend=backend) as parallel:
            used = parallel._backend
            first = parallel(delayed(square)(i) for i in range(6))
            parallel.return_generator = True  # what return_as="generator" sets
            generated = list(parallel(delayed(square)(i) for i in range(3)))
            parallel.return_generator = False
            with pytest.raises(BaseException) as info:
                parallel(delayed(fail_at)(i, 2) for i in range(4))
            after_error = parallel(delayed(square)(i) for i in range(4))
            return ManagedCalls(first, generated, info.type, after_error, parallel._backend is used)

    got = _both(call)
    assert got["skyward"] == got["loky"] == ManagedCalls(
        [0, 1, 4, 9, 16, 25], [0, 1, 4], ValueError, [0, 1, 4, 9], True)


# -- timeout -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("return_as", ["list", "generator", "generator_unordered"])
def test_a_call_over_the_timeout_raises_what_loky_raises_without_waiting(return_as: str) -> None:
    if return_as == "generator_unordered" and JOBLIB < (1, 5):
        # 1.4 has generator_unordered but checks timeout= only while waiting for results in order
        pytest.skip('timeout= applies to return_as="generator_unordered" from joblib 1.5')
    task_seconds = 10.0

    def call(backend: str) -> tuple[type[BaseException], bool]:
        start = time.monotonic()
        with pytest.raises(BaseException) as info:
            list(Parallel(n_jobs=2, batch_size=1, timeout=SLOW, backend=backend, return_as=return_as)(
                delayed(sleep_then)(i, 0.0 if i == 0 else task_seconds) for i in range(3)))
        return info.type, time.monotonic() - start < task_seconds / 2

    got = _both(call)
    assert got["skyward"] == got["loky"] == (JoblibTimeoutError, True)
