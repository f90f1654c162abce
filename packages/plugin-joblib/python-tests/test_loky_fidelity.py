"""The same call under loky and under skyward (a real pool, 2 local nodes x 2 slots), in the same
test: nested ``Parallel`` calls inside a task give the same results, and a failure raises an
exception of the class loky raises (so ``except`` clauses written for loky keep working)."""
from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import joblib
import pytest
from joblib import Parallel, delayed, parallel_config
from tasks import (
    PicklesButCannotLoad,
    cannot_load_result,
    fail_at,
    generator_result,
    identity,
    lock_result,
    nested_fail,
    nested_loop,
    nested_under_config,
    nesting_level_under,
    refuses_pickling_result,
)

from skyward_joblib import TaskPicklingError

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("pool"),
              pytest.mark.joblib_matrix]

SQUARES = [0, 1, 4]


def _under(backend: str, call: Callable[[], Any]) -> Any:
    with parallel_config(backend=backend):
        return call()


def _raised(backend: str, call: Callable[[], Any]) -> BaseException:
    with parallel_config(backend=backend), pytest.raises(BaseException) as info:
        call()
    return info.value


# -- nested Parallel ------------------------------------------------------------------------------


@pytest.mark.parametrize("inner", [None, "threading", "sequential"])
def test_a_nested_call_gives_what_it_gives_under_loky(inner: str | None) -> None:
    def call() -> Any:
        return Parallel(n_jobs=2)(delayed(nested_loop)(inner) for _ in range(4))

    under_loky = _under("loky", call)
    under_skyward = _under("skyward", call)
    assert [r["squares"] for r in under_skyward] == [r["squares"] for r in under_loky] == [SQUARES] * 4
    assert [r["nesting_level"] for r in under_skyward] == [r["nesting_level"] for r in under_loky] == [1] * 4


def test_a_nested_call_naming_skyward_runs_on_the_tasks_slot() -> None:
    # joblib's own test_nested_loop with skyward inside; under loky the same code names loky
    under_loky = Parallel(n_jobs=2, backend="loky")(delayed(nested_loop)("loky") for _ in range(4))
    under_skyward = Parallel(n_jobs=2, backend="skyward")(delayed(nested_loop)("skyward") for _ in range(4))
    assert [r["squares"] for r in under_skyward] == [r["squares"] for r in under_loky] == [SQUARES] * 4
    assert [r["nesting_level"] for r in under_skyward] == [r["nesting_level"] for r in under_loky] == [1] * 4
    # not sent back to the pool: each nested task ran in its task's process, on its slot
    assert all(r["in_this_process"] for r in under_skyward)


def test_parallel_config_naming_skyward_inside_a_task_works() -> None:
    under_loky = _under("loky", lambda: Parallel(n_jobs=2)(delayed(nested_under_config)("loky", 3)
                                                          for _ in range(2)))
    under_skyward = _under("skyward", lambda: Parallel(n_jobs=2)(delayed(nested_under_config)("skyward", 3)
                                                                for _ in range(2)))
    assert under_skyward == under_loky == [SQUARES] * 2


def test_a_backend_named_inside_a_task_is_one_level_down_as_under_loky() -> None:
    # joblib's test_backend_nesting_level, with each backend naming itself inside its tasks
    under_loky = Parallel(n_jobs=2, backend="loky")(delayed(nesting_level_under)("loky") for _ in range(4))
    under_skyward = Parallel(n_jobs=2, backend="skyward")(delayed(nesting_level_under)("skyward")
                                                           for _ in range(4))
    assert under_skyward == under_loky == [1] * 4


@pytest.mark.parametrize("inner", [None, "skyward"])
def test_a_failure_in_a_nested_call_raises_its_class_in_the_caller(inner: str | None) -> None:
    under_loky = _raised("loky", lambda: Parallel(n_jobs=2)(delayed(nested_fail)(None) for _ in range(2)))
    under_skyward = _raised("skyward", lambda: Parallel(n_jobs=2)(delayed(nested_fail)(inner)
                                                                   for _ in range(2)))
    assert type(under_skyward) is type(under_loky) is ValueError
    assert str(under_skyward) == str(under_loky) == "task 1 is bad"


# -- results and tasks that do not travel ---------------------------------------------------------


@pytest.mark.parametrize("task", [lock_result, generator_result, refuses_pickling_result],
                         ids=["lock", "generator", "PicklingError"])
def test_a_result_that_cannot_be_pickled_raises_the_class_loky_raises(task: Callable[[], object]) -> None:
    def call() -> Any:
        return Parallel(n_jobs=2)(delayed(task)() for _ in range(2))

    under_loky = _raised("loky", call)
    under_skyward = _raised("skyward", call)
    assert type(under_loky) in (TypeError, pickle.PicklingError)
    # also the class loky raises (TypeError for a lock), and still a TaskPicklingError
    assert isinstance(under_skyward, type(under_loky))
    assert isinstance(under_skyward, TaskPicklingError)
    assert str(under_loky) in str(under_skyward)


def test_except_type_error_written_for_loky_catches_an_unpicklable_result() -> None:
    for backend in ("loky", "skyward"):
        with parallel_config(backend=backend):
            try:
                Parallel(n_jobs=2)(delayed(lock_result)() for _ in range(2))
                raise AssertionError(f"{backend}: no exception")
            except TypeError as exc:
                assert "cannot pickle '_thread.lock' object" in str(exc)


def test_the_error_for_an_unpicklable_result_pickles_as_itself() -> None:
    # e.g. kept by a library, or sent on by an outer Parallel: it arrives with the same classes
    raised = _raised("skyward", lambda: Parallel(n_jobs=2)(delayed(lock_result)() for _ in range(2)))
    again = pickle.loads(pickle.dumps(raised))
    assert type(again) is type(raised)
    assert isinstance(again, TypeError) and isinstance(again, TaskPicklingError)
    assert str(again) == str(raised)


@pytest.mark.parametrize("where", ["result", "argument"])
def test_what_cannot_be_unpickled_raises_broken_process_pool_as_under_loky(where: str) -> None:
    def call() -> Any:
        if where == "result":
            return Parallel(n_jobs=2)(delayed(cannot_load_result)() for _ in range(2))
        return Parallel(n_jobs=2)(delayed(identity)(PicklesButCannotLoad()) for _ in range(2))

    under_loky = _raised("loky", call)
    under_skyward = _raised("skyward", call)
    assert isinstance(under_loky, BrokenProcessPool)
    assert isinstance(under_skyward, type(under_loky))  # loky's own BrokenProcessPool
    # and what unpickling raised, with Skyward's message
    assert isinstance(under_skyward, ValueError) and isinstance(under_skyward, TaskPicklingError)
    assert "cannot be rebuilt" in str(under_skyward)


def test_an_unpicklable_argument_raises_a_pickling_error_as_under_loky() -> None:
    lock = __import__("threading").Lock()

    def call() -> Any:
        return Parallel(n_jobs=2)(delayed(identity)(lock) for _ in range(2))

    under_loky = _raised("loky", call)
    under_skyward = _raised("skyward", call)
    assert type(under_loky) is pickle.PicklingError
    assert isinstance(under_skyward, pickle.PicklingError)


# -- remote tracebacks ------------------------------------------------------------------------------


def _printed(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def test_a_remote_traceback_prints_as_lokys_does() -> None:
    def call() -> Any:
        return Parallel(n_jobs=2)(delayed(fail_at)(i, 1) for i in range(3))

    under_loky = _printed(_raised("loky", call))
    under_skyward = _printed(_raised("skyward", call))
    for printed in (under_loky, under_skyward):
        remote = printed.split("The above exception was the direct cause")[0]
        # one quoted block: the remote traceback, the way loky's _RemoteTraceback shows it
        assert remote.count('"""') == 2, printed
        assert remote.startswith(f"{joblib.externals.loky.process_executor.__name__}._RemoteTraceback: \n"
                                 '"""\nTraceback (most recent call last):\n'), printed
        assert 'in fail_at\n    raise ValueError(f"task {x} is bad")' in remote
        assert remote.rstrip().endswith('ValueError: task 1 is bad\n"""'), printed
    # none of the engine's frames: no agent, no runpy, no `python -c`
    for frame in ("skyward_worker", "runpy", 'File "<string>"'):
        assert frame not in under_skyward, under_skyward


SCRIPT = "def fail_in_script(x):\n    raise ValueError(f'the script failed on {x}')\n"


def test_a_function_of_the_script_shows_its_file_and_lines_as_under_loky(tmp_path: Path) -> None:
    # a function of the script travels by value (as a __main__ function does), with its file name
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(SCRIPT, str(script), "exec"), namespace)
    fail_in_script = namespace["fail_in_script"]
    frame = f'File "{script}", line 2, in fail_in_script\n    raise ValueError(f\'the script failed on {{x}}\')\n'

    def call() -> Any:
        return Parallel(n_jobs=2)(delayed(fail_in_script)(i) for i in range(1))

    assert frame in _printed(_raised("loky", call))
    assert frame in _printed(_raised("skyward", call))


# -- object identity ------------------------------------------------------------------------------


def test_an_object_in_a_callbacks_closure_and_in_the_arguments_is_one_object_as_under_loky() -> None:
    """scikit-learn's test_cross_val_score_fit_params: a callback's closure and the fit params
    hold the same object, which the task compares with ``is``."""
    marker = object()

    def is_marker(obj: object) -> bool:
        return obj is marker

    def call() -> Any:
        # batch_size=1: the later batches reuse what the first one learned about is_marker
        return Parallel(n_jobs=2, batch_size=1)(
            delayed(is_marker)(arg) for arg in [object(), marker, marker, [marker]])

    assert _under("loky", call) == _under("skyward", call) == [False, True, True, False]
