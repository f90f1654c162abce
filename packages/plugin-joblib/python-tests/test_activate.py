"""``import skyward_joblib.activate`` (what ``skyward run`` imports before the user's script)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON_DIRS = [str(HERE.parent / "python"), str(HERE.parents[2] / "packages" / "codec" / "python")]

# sys.modules[name] = None makes `import name` fail as if it were not installed
WITHOUT_JOBLIB = "import sys; sys.modules['joblib'] = None\n"


def _run(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SKYWARD_BRIDGE", "SKYWARD_TOKEN")}
    env["PYTHONPATH"] = os.pathsep.join(PYTHON_DIRS + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_activation_makes_skyward_the_default_backend() -> None:
    done = _run("import skyward_joblib.activate\n"
                "from joblib.parallel import get_active_backend\n"
                "print(type(get_active_backend()[0]).__name__)\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SkywardBackend"


def test_activation_does_nothing_where_joblib_is_not_installed() -> None:
    done = _run(WITHOUT_JOBLIB + "import skyward_joblib.activate, skyward_joblib\n"
                "assert skyward_joblib._active is None\n"
                "print('the script runs')\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "the script runs"
