"""The backend under the other joblib versions it supports (1.3 to 1.6; requirements.txt pins the
one this whole suite runs with): the suite's `joblib_matrix` tests again, once per version listed
in requirements-joblib-matrix.txt, each in a subprocess with that joblib (installed by
.ci/setup.sh into .cache/joblib-matrix/<version>/) first on PYTHONPATH and its own pool, whose
workers run the same joblib (conftest.py pins it in the Image, as `skyward run` does).

The versions' subprocesses run at the same time, alongside the rest of this suite: conftest.py
starts those of the selected tests (`start_matrix`) once the session has collected them, each
test here waits for its version's, and the session's end stops any still running
(`stop_matrix`). Most of a subprocess's time is its pool starting, stopping and waiting on tasks,
so on 2 cores they overlap instead of queueing."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
VERSIONS = REPO / "requirements-joblib-matrix.txt"
INSTALLED = REPO / ".cache" / "joblib-matrix"
SUBPROCESS_TIMEOUT = 380

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_runs: dict[str, Future[tuple[int, str, float]]] = {}
_procs: list[subprocess.Popen[str]] = []


def _versions() -> list[str]:
    return re.findall(r"^joblib==(\S+)", VERSIONS.read_text(), flags=re.M)


def _run_matrix(version: str) -> tuple[int, str, float]:
    """The `joblib_matrix` tests in a subprocess with joblib `version` first on PYTHONPATH: its
    exit code, output and seconds (stopped after SUBPROCESS_TIMEOUT)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SKYWARD_BRIDGE", "SKYWARD_TOKEN")}  # this process's pool is not theirs
    env["PYTHONPATH"] = os.pathsep.join([str(INSTALLED / version),
                                         *filter(None, [os.environ.get("PYTHONPATH")])])
    env["SKYWARD_TEST_JOBLIB"] = version
    start = time.monotonic()
    with _lock:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-m", "joblib_matrix", "-p", "no:cacheprovider",
             "test_backend.py", "test_failures.py", "test_n_jobs.py", "test_loky_fidelity.py",
             "test_parallel_options.py"],
            cwd=str(HERE), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        _procs.append(proc)
    try:
        output, _ = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        _stop(proc)
        output, _ = proc.communicate()
        return -1, f"{output}\n(stopped after {SUBPROCESS_TIMEOUT}s)", time.monotonic() - start
    return proc.returncode, output, time.monotonic() - start


def _stop(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C to a running subprocess (its pytest then closes its pool), SIGKILL if it is still
    there 30 s later."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_matrix(versions: list[str]) -> dict[str, Future[tuple[int, str, float]]]:
    """Starts the subprocess of each of `versions` (installed, not started yet); the runs by version."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=max(1, len(_versions())))
    for version in versions:
        if version not in _runs and (INSTALLED / version / ".ready").exists():
            _runs[version] = _executor.submit(_run_matrix, version)
    return _runs


def stop_matrix() -> None:
    """Stops the subprocesses still running (a session that ended before their tests) and waits
    for their threads."""
    if _executor is None:
        return
    with _lock:
        procs = list(_procs)
    for proc in procs:
        _stop(proc)
    _executor.shutdown(wait=True)


@pytest.mark.timeout(400)
@pytest.mark.parametrize("version", _versions())
def test_the_backend_under_joblib(version: str) -> None:
    target = INSTALLED / version
    if not (target / ".ready").exists():
        pytest.fail(f"joblib {version} is not installed in {target}: run `bash .ci/setup.sh`")
    code, output, seconds = start_matrix([version])[version].result()
    summary = output.strip().splitlines()[-1:] or [""]
    print(f"\njoblib {version}: {summary[0]} ({seconds:.0f}s)")
    assert code == 0, f"under joblib {version}:\n{output[-8000:]}"
    assert " passed" in summary[0] and "failed" not in summary[0]
