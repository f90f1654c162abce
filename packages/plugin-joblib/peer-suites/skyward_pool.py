"""A real pool for the peer suites and for ``python-tests/conftest.py``: ``test/fixtures/serve-pool.mjs``
(local nodes, the built packages) with the joblib plugin, its bridge's variables put in this
process's environment for as long as the pool is open."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent
REPO = PACKAGE.parent.parent
SERVE = PACKAGE / "test" / "fixtures" / "serve-pool.mjs"
PYTHON_PATHS = [str(PACKAGE / "python"), str(REPO / "packages" / "codec" / "python")]

NODES = 2
CONCURRENCY = 2
TOTAL_SLOTS = NODES * CONCURRENCY
START_TIMEOUT = 900.0  # the first run builds the workers' environment
STOP_TIMEOUT = 60.0
# environments of their own: the main suite's cache (.cache/test) is shared with other runs
CACHE_HOME = REPO / ".cache" / "peer-suites"


# what the workers get besides joblib, at this interpreter's versions: what the tasks and the test
# modules they come from import; the suites' modules (joblib.test.test_parallel, ...) import pytest,
# and functions defined there travel by reference
WORKER_PACKAGES = ("scikit-learn", "numpy", "scipy", "cloudpickle", "threadpoolctl", "pytest")


@dataclass(frozen=True)
class PoolInfo:
    env: dict[str, str]
    total_slots: int


def worker_pins() -> list[str]:
    """serve-pool's arguments pinning the workers to this interpreter's versions (as ``skyward run``
    does with a mirrored environment): what the tasks and the test modules they come from import."""
    pins = ["--joblib", version("joblib")]
    for name in WORKER_PACKAGES:
        pins += ["--pip", f"{name}=={version(name)}"]
    return pins


@contextmanager
def serve_pool(nodes: int = NODES, concurrency: int = CONCURRENCY, pins: list[str] | None = None,
               cache_home: Path = CACHE_HOME) -> Iterator[PoolInfo]:
    """Opens the pool (workers pinned by ``pins``, default :func:`worker_pins`; environments under
    ``cache_home`` unless XDG_CACHE_HOME is set), exports its bridge's variables here, and closes it
    on exit (also when starting it failed, or the body raised)."""
    for path in reversed(PYTHON_PATHS):
        if path not in sys.path:
            sys.path.insert(0, path)
    env = dict(os.environ)
    env.setdefault("XDG_CACHE_HOME", str(cache_home))
    stderr = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        ["node", str(SERVE), "--nodes", str(nodes), "--concurrency", str(concurrency),
         *(worker_pins() if pins is None else pins)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
        cwd=str(PACKAGE),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline() if proc.stdout else ""),
                     daemon=True).start()
    saved: dict[str, str | None] = {}
    try:
        try:
            line = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            line = ""
        if not line:
            stderr.seek(0)
            raise RuntimeError(f"serve-pool did not start:\n{stderr.read()[-4000:]}")
        info = json.loads(line)
        saved = {key: os.environ.get(key) for key in info["env"]}
        os.environ.update(info["env"])
        yield PoolInfo(env=dict(info["env"]), total_slots=int(info["totalSlots"]))
    finally:
        if "skyward_joblib" in sys.modules:
            sys.modules["skyward_joblib"].close_client()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        try:
            if proc.stdin:
                proc.stdin.close()  # serve-pool closes the pool when its stdin closes
            proc.wait(timeout=STOP_TIMEOUT)
        except Exception:  # noqa: BLE001 - it did not stop: kill it
            proc.kill()
            proc.wait()
        stderr.close()
