"""B2 overhead-bound: `tasks` no-op tasks on `slots` slots. Tasks per second."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def noop(x):
    return x


def main():
    p = _common.base_parser(__doc__)
    p.add_argument("--tasks", type=int, default=20000)
    args = p.parse_args()
    from joblib import Parallel, delayed

    with _common.backend(args) as (n_jobs, info):
        info["warmup_seconds"] = _common.warm_up(n_jobs, args.slots, args.backend)
        t0 = time.perf_counter()
        out = Parallel(n_jobs=n_jobs)(delayed(noop)(i) for i in range(args.tasks))
        wall = time.perf_counter() - t0
    assert out == list(range(args.tasks))
    info.update(case="B2", tasks=args.tasks, wall=wall, tasks_per_second=args.tasks / wall)
    _common.emit(info)


if __name__ == "__main__":
    main()
