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
