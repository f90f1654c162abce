"""A real pool for the tests: `test/fixtures/serve-pool.mjs` (2 local nodes x 2 slots, the built
packages) with the joblib plugin (opened by peer-suites/skyward_pool.py, as for the peer suites);
its bridge env is put in this process's environment."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent
REPO = PACKAGE.parent.parent

sys.path[:0] = [str(PACKAGE / "python"), str(REPO / "packages" / "codec" / "python"), str(PACKAGE / "peer-suites")]

from skyward_pool import serve_pool  # noqa: E402 - found through the sys.path entry above

NODES = 2
CONCURRENCY = 2
# Set by test_joblib_versions.py: the joblib version this run must import (from the directory it
# put first on PYTHONPATH); the workers get the same one, and only what the agent and the
# `joblib_matrix` tests need (no scikit-learn or numpy: a small environment, quick to build).
MATRIX_JOBLIB = os.environ.get("SKYWARD_TEST_JOBLIB")


def _versions() -> list:
    """Pin the workers to this interpreter's versions, as `skyward run` does by construction."""
    import cloudpickle
    import joblib

    if MATRIX_JOBLIB:
        return ["--joblib", joblib.__version__, "--pip", f"cloudpickle=={cloudpickle.__version__}"]
    import numpy
    import scipy
    import sklearn

    # the five pins of the CLI's and plugin-sklearn's test pools: one cached environment for all
    return ["--joblib", joblib.__version__,
            "--pip", f"scikit-learn=={sklearn.__version__}",
            "--pip", f"numpy=={numpy.__version__}",
            "--pip", f"scipy=={scipy.__version__}",
            "--pip", f"cloudpickle=={cloudpickle.__version__}"]


@pytest.fixture(scope="session")
def pool() -> Iterator[dict[str, Any]]:
    with serve_pool(NODES, CONCURRENCY, pins=_versions(), cache_home=REPO / ".cache" / "test") as info:
        import skyward_joblib

        skyward_joblib.register()
        yield {"env": info.env, "totalSlots": info.total_slots}


@pytest.fixture(scope="session", autouse=True)
def _tasks_by_value() -> None:
    import cloudpickle
    import joblib

    if MATRIX_JOBLIB and joblib.__version__ != MATRIX_JOBLIB:
        raise RuntimeError(f"expected joblib {MATRIX_JOBLIB} first on sys.path, imported "
                           f"{joblib.__version__} from {joblib.__file__}")

    import tasks

    import skyward_joblib

    cloudpickle.register_pickle_by_value(tasks)
    skyward_joblib.register()


_matrix_module: Any = None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Starts the subprocesses of test_joblib_versions.py's selected tests (one per joblib version,
    each with its own pool) as soon as the session is collected: they run alongside the other tests."""
    global _matrix_module
    if MATRIX_JOBLIB or session.config.option.collectonly:
        return
    matrix = [item for item in session.items
              if isinstance(item, pytest.Function) and item.path.name == "test_joblib_versions.py"]
    if matrix:
        _matrix_module = matrix[0].module
        _matrix_module.start_matrix([item.callspec.params["version"] for item in matrix])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stops test_joblib_versions.py's subprocesses that still run (a session ended before their tests)."""
    if _matrix_module is not None:
        _matrix_module.stop_matrix()
