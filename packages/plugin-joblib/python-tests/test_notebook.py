"""examples/notebook.ipynb, executed by a real kernel (this venv's ipykernel, through nbclient) against
a pool started with `skyward up --name NAME`: connect() in the first cell, a GridSearchCV on the pool,
and the tasks' print() and warnings.warn() shown in the cell that ran them. The pool, the kernel and
the Jupyter folders are gone afterwards."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_support import CLI, POOL_VARIABLES, REPO, pins

HERE = Path(__file__).resolve().parent
NOTEBOOK = REPO / "examples" / "notebook.ipynb"
PYTHON_DIRS = [str(HERE.parent / "python"), str(REPO / "packages" / "codec" / "python")]
KERNEL = "skyward-test-venv"
CELL_TIMEOUT = 120
STOP_TIMEOUT = 60

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

pytestmark = [
    pytest.mark.timeout(400),
    pytest.mark.skipif(not CLI.exists(), reason="the CLI is not built (apps/cli: pnpm build)"),
]



@pytest.fixture
def jupyter(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A kernelspec for this very Python, and Jupyter's and IPython's folders, in a temporary folder
    (removed after): the kernel is this venv's Python whatever kernels the machine has."""
    with tempfile.TemporaryDirectory(prefix="skyward-jupyter-") as folder:
        spec = Path(folder) / "data" / "kernels" / KERNEL
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python (skyward tests)", "language": "python"}))
        monkeypatch.setenv("JUPYTER_PATH", str(Path(folder) / "data"))
        monkeypatch.setenv("JUPYTER_DATA_DIR", str(Path(folder) / "data"))
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(Path(folder) / "runtime"))
        monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(Path(folder) / "config"))
        monkeypatch.setenv("IPYTHONDIR", str(Path(folder) / "ipython"))
        for variable in POOL_VARIABLES:  # conftest's pool (when a test before opened it) is not this one
            monkeypatch.delenv(variable, raising=False)
        yield KERNEL


@pytest.fixture
def named_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`skyward up --name NAME --plugin sklearn` in the background, `skyward down NAME` after."""
    name = f"pytest-notebook-{os.getpid()}"
    env = {**os.environ}
    env.setdefault("XDG_CACHE_HOME", str(REPO / ".cache" / "test"))
    env.pop("VIRTUAL_ENV", None)  # the pinned Image, not a mirror
    up = [str(CLI), "up", "--name", name, "--nodes", "2", "--concurrency", "2", "--plugin", "sklearn",
          "--no-workdir", "--quiet"]
    for pin in pins():
        up += ["--pip", pin]
    # the kernel finds skyward_joblib (not installed in this venv) and the CLI through its environment
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([*PYTHON_DIRS, *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.setenv("SKYWARD_CLI", str(CLI))
    monkeypatch.setenv("SKYWARD_POOL", name)
    with tempfile.TemporaryFile() as out:  # not a pipe: the pool's background process may keep it
        try:
            started = subprocess.run(up, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     env=env, timeout=240)
            out.seek(0)
            assert started.returncode == 0, out.read().decode(errors="replace")
            yield name
        finally:
            subprocess.run([str(CLI), "down", name], stdin=subprocess.DEVNULL, stdout=out,
                           stderr=subprocess.STDOUT, env=env, timeout=STOP_TIMEOUT)


def local_best_params() -> dict[str, Any]:
    """The notebook's grid search, here, in one process."""
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    X, y = load_iris(return_X_y=True)
    grid = GridSearchCV(SVC(), {"C": [0.1, 1, 10], "gamma": ["scale", 0.01]}, cv=3, n_jobs=1).fit(X, y)
    best: dict[str, Any] = grid.best_params_
    return best


def text(cell: Any, stream: str) -> str:
    return "".join(out.get("text", "") for out in cell.outputs
                   if out.get("output_type") == "stream" and out.get("name") == stream)


def test_the_notebook_runs_on_a_named_pool(jupyter: str, named_pool: str) -> None:
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=jupyter, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(REPO / "examples")}})
    client.execute()  # starts the kernel, runs every cell, shuts the kernel down (also on failure)
    cells = {cell.get("id"): cell for cell in nb.cells}
    assert f"connected to {named_pool}: 4 slots" in text(cells["connect"], "stdout")
    assert f"best params: {local_best_params()}" in text(cells["grid-search"], "stdout")
    task_out, task_err = text(cells["task-output"], "stdout"), text(cells["task-output"], "stderr")
    for x in range(4):
        assert f"task {x} says hello" in task_out
        assert f"UserWarning: task {x} warns" in task_err
    assert "[node " in task_out  # from the pool's nodes, not this process
    result = [out for out in cells["task-output"].outputs if out.get("output_type") == "execute_result"]
    assert result and result[0]["data"]["text/plain"] == "[0, 1, 4, 9]"
    assert not any(out.get("output_type") == "error" for cell in nb.cells for out in cell.get("outputs", []))
