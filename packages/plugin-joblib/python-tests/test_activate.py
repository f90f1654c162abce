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
    return _run_argv(["-c", code])


def _run_argv(argv: list[str]) -> subprocess.CompletedProcess:
    """``python *argv`` with this package importable and no pool (no bridge in the environment)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SKYWARD_BRIDGE", "SKYWARD_TOKEN")}
    env["PYTHONPATH"] = os.pathsep.join(PYTHON_DIRS + [p for p in [os.environ.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, timeout=60)


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


# What the CLI's launcher does (apps/cli, client-script.ts), in short: `python -c` imports the
# activation module, then runs the script with runpy.
LAUNCHER = ("import importlib, runpy, sys\n"
            "importlib.import_module('skyward_joblib.activate')\n"
            "sys.argv = sys.argv[1:]\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n")
FAILING_SCRIPT = "def fail():\n    raise ValueError('the script failed')\n\n\nfail()\n"


def test_a_script_run_by_the_launcher_prints_the_traceback_python_prints(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(FAILING_SCRIPT)
    launched = _run_argv(["-c", LAUNCHER, str(script)])
    plain = _run_argv([str(script)])
    assert launched.returncode == plain.returncode == 1
    # no `File "<string>"` frame of the launcher, no runpy frames: exactly what Python prints
    assert launched.stderr == plain.stderr
    assert plain.stderr.startswith(f'Traceback (most recent call last):\n  File "{script}", line 5')


def test_code_given_with_python_c_keeps_its_own_frames() -> None:
    done = _run("import skyward_joblib.activate\ndef fail():\n    raise ValueError('mine')\nfail()\n")
    assert done.returncode == 1
    assert 'File "<string>", line 4, in <module>' in done.stderr
    assert 'File "<string>", line 3, in fail' in done.stderr

