"""The pool API with the real engine (apps/cli/dist/bin.js): JoblibPool and ScikitLearnPool on 2 local
nodes x 2 slots match plain joblib, run in other processes and leave nothing behind; connect() attaches
to a pool started with `skyward up --name`.

The workers are pinned to this interpreter's versions, as conftest's pool is, so every pool here
reuses the cached environment (.cache/test) instead of building one.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_support import CLI, POOL_VARIABLES, REPO, pins
from joblib import Parallel, delayed, parallel_config
from joblib.parallel import get_active_backend
from tasks import square, whoami

from skyward_joblib import EngineError, EngineUsageError, JoblibPool, Local, ScikitLearnPool, connect, disconnect
from skyward_joblib._engine import ENV_CLI

HERE = Path(__file__).resolve().parent
NODES = 2
CONCURRENCY = 2
STOP_TIMEOUT = 60.0

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not CLI.exists(), reason="the CLI is not built (apps/cli: pnpm build)"),
]



@pytest.fixture(autouse=True)
def engine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_CLI, str(CLI))
    if not os.environ.get("XDG_CACHE_HOME"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(REPO / ".cache" / "test"))
    # the workers get the pinned Image, not a mirror of whatever virtual environment is active
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    for variable in POOL_VARIABLES:  # conftest's pool (when a test before opened it) is not this one
        monkeypatch.delenv(variable, raising=False)


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` (its nodes' agents, their workers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def assert_gone(pids: set[int]) -> None:
    deadline = time.monotonic() + 10  # an agent's own workers may take a moment after it
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in pids if alive(pid)] == []


def open_pool(cls: type[JoblibPool] = JoblibPool) -> JoblibPool:
    return cls(provider=Local(), nodes=NODES, concurrency=CONCURRENCY, pip=pins(), workdir=False, python=False)


def test_joblib_pool_runs_parallel_on_every_slot_and_leaves_nothing() -> None:
    expected = Parallel(n_jobs=2)(delayed(square)(x) for x in range(40))
    with open_pool() as pool:
        assert pool.total_slots == NODES * CONCURRENCY
        assert type(get_active_backend()[0]).__name__ == "SkywardBackend"
        assert pool.pid is not None
        engine, below = pool.pid, descendants(pool.pid)
        assert Parallel(n_jobs=-1)(delayed(square)(x) for x in range(40)) == expected
        where = Parallel(n_jobs=-1, batch_size=1)(delayed(whoami)(0.2) for _ in range(8))
    assert {node for node, _ in where} == {"0", "1"}
    assert os.getpid() not in {pid for _, pid in where}
    assert type(get_active_backend()[0]).__name__ != "SkywardBackend"
    assert below, "the engine had no child processes (its nodes)"
    assert_gone({engine, *below})


def test_an_exception_in_the_block_closes_the_pool() -> None:
    with pytest.raises(RuntimeError, match="in the block"):
        with open_pool() as pool:
            assert pool.pid is not None
            engine, below = pool.pid, descendants(pool.pid)
            raise RuntimeError("in the block")
    assert_gone({engine, *below})


def test_what_the_engine_refuses_is_a_usage_error_with_its_message() -> None:
    with pytest.raises(EngineUsageError, match=r"^unknown option --bogus") as refused:
        with JoblibPool(extra_args=["--bogus"]):
            pass  # never reached
    assert refused.value.exit_code == 2
    with pytest.raises(EngineError, match="no pool named nowhere-to-be-found is up"):
        connect("nowhere-to-be-found")


def _grid_search():  # type: ignore[no-untyped-def]
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC

    X, y = load_iris(return_X_y=True)
    return GridSearchCV(SVC(), {"C": [0.1, 1, 10], "gamma": ["scale", 0.01]}, cv=3, n_jobs=-1).fit(X, y)


def test_scikit_learn_pool_grid_search_matches_loky() -> None:
    with parallel_config(backend="loky", n_jobs=2):
        local = _grid_search()
    with open_pool(ScikitLearnPool) as pool:
        assert pool.total_slots == NODES * CONCURRENCY
        remote = _grid_search()
    assert remote.best_params_ == local.best_params_
    assert remote.best_score_ == local.best_score_


@pytest.fixture
def named_pool() -> Iterator[str]:
    """A pool started as a person would in a terminal: `skyward up --name NAME` (background), closed
    with `skyward down NAME`."""
    name = f"pytest-api-{os.getpid()}"
    up = [str(CLI), "up", "--name", name, "--nodes", str(NODES), "--concurrency", str(CONCURRENCY),
          "--plugin", "joblib", "--no-workdir", "--quiet"]
    for pin in pins():
        up += ["--pip", pin]
    # files, not pipes: the pool's background process may keep the descriptors it was given
    with tempfile.TemporaryFile() as out:
        try:
            started = subprocess.run(up, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=240)
            out.seek(0)
            assert started.returncode == 0, out.read().decode(errors="replace")
            yield name
        finally:
            disconnect()
            subprocess.run([str(CLI), "down", name], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                           timeout=STOP_TIMEOUT)


def test_connect_attaches_to_a_named_pool(named_pool: str) -> None:
    pool = connect(named_pool)
    try:
        assert pool.total_slots == NODES * CONCURRENCY
        where = Parallel(n_jobs=-1, batch_size=1)(delayed(whoami)(0.2) for _ in range(8))
        assert {node for node, _ in where} == {"0", "1"}
    finally:
        disconnect()
    assert type(get_active_backend()[0]).__name__ != "SkywardBackend"
