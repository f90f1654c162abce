"""B3 CPU-bound: examples/grid_search.py (160 fits, n_jobs=-1), unchanged, on `slots` slots. Wall time.

The example runs as __main__ inside the backend context; its own output is captured and its
scores are put in the result so the harness can check every backend found the same model.
"""
import contextlib
import io
import os
import runpy
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _common  # noqa: E402

EXAMPLE = os.path.join(HERE, "..", "..", "examples", "grid_search.py")


def main():
    p = _common.base_parser(__doc__)
    p.add_argument("--script", default=EXAMPLE)
    args = p.parse_args()
    with _common.backend(args) as (n_jobs, info):
        info["warmup_seconds"] = _common.warm_up(n_jobs, args.slots, args.backend)
        out = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out):
            runpy.run_path(os.path.abspath(args.script), run_name="__main__")
        wall = time.perf_counter() - t0
    lines = [l for l in out.getvalue().splitlines() if l.startswith(("result: best_params", "result: best_cv_score", "n_jobs="))]
    info.update(case="B3", wall=wall, output=lines)
    _common.emit(info)


if __name__ == "__main__":
    main()
