"""Functions the tests run on the workers (pickled by value: this module is not installed there)."""
from __future__ import annotations

import os
import time
import warnings
from typing import Any


def square(x: int) -> int:
    return x * x


def noop(x: int) -> int:
    return x


def whoami(delay: float) -> tuple[str, int]:
    time.sleep(delay)
    return os.environ.get("SKYWARD_NODE_INDEX", "?"), os.getpid()


def joblib_version() -> str:
    import joblib

    return joblib.__version__


def sleep_then(x: int, delay: float) -> int:
    time.sleep(delay)
    return x


def fail_at(x: int, bad: int) -> int:
    if x == bad:
        raise ValueError(f"task {x} is bad")
    time.sleep(0.05)
    return x


class Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = __import__("threading").Lock()


def raise_unpicklable() -> None:
    raise Unpicklable("cannot travel")


def nested(n: int) -> list[int]:
    from joblib import Parallel, delayed

    return Parallel(n_jobs=2)(delayed(square)(i) for i in range(n))


def warn(message: str) -> int:
    warnings.warn(message, UserWarning, stacklevel=1)
    return 1


def shout(text: str) -> str:
    print(text)
    return text


def config_value(key: str) -> Any:
    import sklearn

    return sklearn.get_config()[key]


def sklearn_config() -> dict[str, Any]:
    import sklearn

    return dict(sklearn.get_config())


def die() -> None:
    os._exit(3)


# -- nested calls (test_loky_fidelity.py) ---------------------------------------------------------


def nested_loop(backend: str | None, n: int = 3) -> dict[str, Any]:
    """A task that runs its own ``Parallel`` (on ``backend``, or the one joblib gives nested calls):
    what it returned, and where its nested tasks ran."""
    from joblib import Parallel, delayed

    kwargs = {} if backend is None else {"backend": backend}
    parallel = Parallel(n_jobs=2, **kwargs)
    out = parallel(delayed(square_and_pid)(i) for i in range(n))
    return {"squares": [square for square, _ in out],
            "in_this_process": all(pid == os.getpid() for _, pid in out),
            "nesting_level": parallel._backend.nesting_level}


def square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def nested_under_config(backend: str, n: int) -> list[int]:
    """A task whose code selects a backend by name, as code written for the client would."""
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend=backend, n_jobs=-1):
        out: list[int] = Parallel()(delayed(square)(i) for i in range(n))
    return out


def nesting_level_under(backend: str) -> int:
    """joblib's own ``check_nesting_level``: the level a backend named inside a task gets."""
    from joblib import parallel_config

    with parallel_config(backend) as config:
        level: int = config["backend"].nesting_level
    return level


def nested_fail(backend: str | None) -> list[int]:
    """A task whose nested call fails in one of its tasks."""
    from joblib import Parallel, delayed

    kwargs = {} if backend is None else {"backend": backend}
    out: list[int] = Parallel(n_jobs=2, **kwargs)(delayed(fail_at)(i, 1) for i in range(3))
    return out


# -- results that do not travel (test_loky_fidelity.py) -------------------------------------------


def lock_result() -> object:
    return __import__("threading").Lock()


def generator_result() -> object:
    return (i for i in range(2))


class RefusesPickling:
    def __reduce__(self) -> Any:
        raise __import__("pickle").PicklingError("RefusesPickling never travels")


def refuses_pickling_result() -> object:
    return RefusesPickling()


def _cannot_rebuild() -> None:
    raise ValueError("cannot be rebuilt")


class PicklesButCannotLoad:
    """Pickles anywhere; unpickling it fails (wherever that is)."""

    def __reduce__(self) -> Any:
        return _cannot_rebuild, ()


def cannot_load_result() -> object:
    return PicklesButCannotLoad()


def identity(x: object) -> object:
    return x


# -- initializer= (test_parallel_options.py) --------------------------------------------------------

INITIALIZED = "SKYWARD_TEST_INITIALIZED"  # process-wide: by-value globals do not outlive one pickle


def remember(value: str) -> None:
    """An ``initializer=`` for joblib: records ``value`` in this (worker) process."""
    os.environ[INITIALIZED] = f"{os.environ.get(INITIALIZED, '')}|{value}"


def times_remembered(value: str) -> int:
    """How many times :func:`remember` ran with ``value`` in this process."""
    return os.environ.get(INITIALIZED, "").split("|").count(value)
