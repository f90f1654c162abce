"""B8 a network path with latency: sleep tasks of several lengths, one pool, one Parallel call per length.

Run by the harness under `skyward run --provider ssh` through latency-injecting proxies (one run per
round trip): the pool starts once, before this script, and each length's call is timed on its own
after one warm-up, so start-up is in no efficiency. Efficiency = tasks x length / slots / wall.
"""
from __future__ import annotations

import os
import sys
import time
from typing import TypedDict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common


class Cell(TypedDict):
    """One task length's timed call."""
    duration: float
    tasks: int
    wall: float
    ideal: float
    efficiency: float


def sleeper(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def waves_for(duration: float, ideal_seconds: float, min_waves: int) -> int:
    """Whole waves of `slots` tasks: a part-filled last wave would cap efficiency below 100% by itself."""
    return max(min_waves, round(ideal_seconds / duration))


def main() -> None:
    p = _common.base_parser(__doc__)
    p.add_argument("--durations", default="0.01,0.1,1", help="task lengths in seconds, comma-separated")
    p.add_argument("--ideal-seconds", type=float, default=4.0,
                   help="each length's call is sized to about this ideal wall (tasks x length / slots)")
    p.add_argument("--min-waves", type=int, default=2,
                   help="at least this many tasks per slot, so a call measures refills and not only the first dispatch")
    args = p.parse_args()
    from joblib import Parallel, delayed

    durations = [float(d) for d in args.durations.split(",") if d]
    cells: list[Cell] = []
    with _common.backend(args) as (n_jobs, info):
        info["warmup_seconds"] = _common.warm_up(n_jobs, args.slots, args.backend)
        for duration in durations:
            tasks = waves_for(duration, args.ideal_seconds, args.min_waves) * args.slots
            t0 = time.perf_counter()
            out = Parallel(n_jobs=n_jobs)(delayed(sleeper)(duration) for _ in range(tasks))
            wall = time.perf_counter() - t0
            assert len(out) == tasks and abs(sum(out) - tasks * duration) < 1e-6
            ideal = tasks * duration / args.slots
            cells.append(Cell(duration=duration, tasks=tasks, wall=wall, ideal=ideal, efficiency=ideal / wall))
    info.update(case="B8", cells=cells)
    _common.emit(info)


if __name__ == "__main__":
    main()
