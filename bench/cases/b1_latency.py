"""B1 latency-bound: `tasks` x time.sleep(duration) on `slots` slots. Efficiency = ideal / wall."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def sleeper(seconds):
    time.sleep(seconds)
    return seconds


def bare_threads_efficiency(tasks, duration, slots):
    """The same sleeps on `slots` plain threads of this process, no scheduler and no IPC: the best
    efficiency this machine allows B1 right now (timer wake-ups, and 2,000 tasks not dividing by 32)."""
    counts = [tasks // slots + (1 if i < tasks % slots else 0) for i in range(slots)]

    def sleep_n(n):
        for _ in range(n):
            time.sleep(duration)

    threads = [threading.Thread(target=sleep_n, args=(n,)) for n in counts]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tasks * duration / slots / (time.perf_counter() - t0)


def main():
    p = _common.base_parser(__doc__)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--duration", type=float, default=0.01)
    p.add_argument("--case-id", default="B1", help="the case this run is (B7 runs this script too)")
    p.add_argument("--bare-threads", action="store_true",
                   help="also time the same sleeps on `slots` plain threads (B1 reports it; the sweep does not)")
    args = p.parse_args()
    from joblib import Parallel, delayed

    with _common.backend(args) as (n_jobs, info):
        info["warmup_seconds"] = _common.warm_up(n_jobs, args.slots, args.backend)
        t0 = time.perf_counter()
        out = Parallel(n_jobs=n_jobs)(delayed(sleeper)(args.duration) for _ in range(args.tasks))
        wall = time.perf_counter() - t0
    assert len(out) == args.tasks and abs(sum(out) - args.tasks * args.duration) < 1e-6
    ideal = args.tasks * args.duration / args.slots
    info.update(case=args.case_id, tasks=args.tasks, duration=args.duration, wall=wall, ideal=ideal,
                efficiency=ideal / wall)
    if args.bare_threads:
        info["bare_threads_efficiency"] = bare_threads_efficiency(args.tasks, args.duration, args.slots)
    _common.emit(info)


if __name__ == "__main__":
    main()
