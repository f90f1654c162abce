"""10,000 no-op joblib tasks: skyward (a pool started by serve-pool.mjs) vs loky n_jobs=4.

    node test/fixtures/serve-pool.mjs --joblib 1.5.2 ... | (read line; ...)
Run through `python bench/noop.py` after exporting the env serve-pool prints, or let this script
start serve-pool itself (default).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PACKAGE / "python"), str(PACKAGE.parent / "codec" / "python")]

from joblib import Parallel, delayed, parallel_config  # noqa: E402


def noop(x: int) -> int:
    return x


def bench(backend: str, n: int, n_jobs: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        with parallel_config(backend=backend):
            start = time.perf_counter()
            out = Parallel(n_jobs=n_jobs)(delayed(noop)(i) for i in range(n))
            best = min(best, time.perf_counter() - start)
        assert out == list(range(n))
    return n / best


def main() -> None:
    import cloudpickle
    import joblib

    proc = subprocess.Popen(
        ["node", str(PACKAGE / "test" / "fixtures" / "serve-pool.mjs"), "--nodes", "2",
         "--concurrency", "2", "--joblib", joblib.__version__,
         "--pip", f"cloudpickle=={cloudpickle.__version__}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(PACKAGE))
    try:
        info = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        os.environ.update(info["env"])
        import skyward_joblib

        skyward_joblib.register()
        n = 10_000
        bench("skyward", 100, -1, 1)  # warm up the slots
        bench("loky", 100, 4, 1)
        sky = bench("skyward", n, -1)
        loky = bench("loky", n, 4)
        print(f"10,000 no-op tasks, 2 nodes x 2 slots: skyward {sky:,.0f} tasks/s; "
              f"loky n_jobs=4: {loky:,.0f} tasks/s")
    finally:
        skyward_joblib_close = sys.modules.get("skyward_joblib")
        if skyward_joblib_close is not None:
            skyward_joblib_close.close_client()
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
