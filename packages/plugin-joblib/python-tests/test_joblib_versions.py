"""The backend under the other joblib versions it supports (1.3 to 1.6; requirements.txt pins the
one this whole suite runs with): the suite's `joblib_matrix` tests again, once per version listed
in requirements-joblib-matrix.txt, each in a subprocess with that joblib (installed by
.ci/setup.sh into .cache/joblib-matrix/<version>/) first on PYTHONPATH and its own pool, whose
workers run the same joblib (conftest.py pins it in the Image, as `skyward run` does)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
VERSIONS = REPO / "requirements-joblib-matrix.txt"
INSTALLED = REPO / ".cache" / "joblib-matrix"


def _versions() -> list[str]:
    return re.findall(r"^joblib==(\S+)", VERSIONS.read_text(), flags=re.M)


@pytest.mark.timeout(400)
@pytest.mark.parametrize("version", _versions())
def test_the_backend_under_joblib(version: str) -> None:
    target = INSTALLED / version
    if not (target / ".ready").exists():
        pytest.fail(f"joblib {version} is not installed in {target}: run `bash .ci/setup.sh`")
    env = {k: v for k, v in os.environ.items()
           if k not in ("SKYWARD_BRIDGE", "SKYWARD_TOKEN")}  # this process's pool is not theirs
    env["PYTHONPATH"] = os.pathsep.join([str(target), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["SKYWARD_TEST_JOBLIB"] = version
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "joblib_matrix", "-p", "no:cacheprovider",
         "test_backend.py", "test_failures.py", "test_n_jobs.py", "test_loky_fidelity.py",
         "test_parallel_options.py"],
        cwd=str(HERE), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=380,
    )
    summary = proc.stdout.strip().splitlines()[-1:] or [""]
    print(f"\njoblib {version}: {summary[0]} ({time.monotonic() - start:.0f}s)")
    assert proc.returncode == 0, f"under joblib {version}:\n{proc.stdout[-8000:]}"
    assert " passed" in summary[0] and "failed" not in summary[0]
