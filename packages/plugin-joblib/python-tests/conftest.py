"""A real pool for the tests: `test/fixtures/serve-pool.mjs` (2 local nodes x 2 slots, the built
packages) with the joblib plugin; its bridge env is put in this process's environment."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent
REPO = PACKAGE.parent.parent
SERVE = PACKAGE / "test" / "fixtures" / "serve-pool.mjs"

sys.path[:0] = [str(PACKAGE / "python"), str(REPO / "packages" / "codec" / "python")]

NODES = 2
CONCURRENCY = 2
START_TIMEOUT = 900.0  # the first run builds the workers' environment
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
    env = dict(os.environ)
    env.setdefault("XDG_CACHE_HOME", str(REPO / ".cache" / "test"))
    stderr = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        ["node", str(SERVE), "--nodes", str(NODES), "--concurrency", str(CONCURRENCY), *_versions()],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
        cwd=str(PACKAGE),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline() if proc.stdout else ""),
                     daemon=True).start()

    def stop() -> None:
        import skyward_joblib

        skyward_joblib.close_client()
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=60)
        except Exception:  # noqa: BLE001
            proc.kill()
            proc.wait()

    try:
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            line = ""
        if not line:
            stderr.seek(0)
            raise RuntimeError(f"serve-pool did not start:\n{stderr.read()[-4000:]}")
        info = json.loads(line)
        saved = {k: os.environ.get(k) for k in info["env"]}
        os.environ.update(info["env"])
        import skyward_joblib

        skyward_joblib.register()
        yield info
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    finally:
        stop()
        stderr.close()


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
