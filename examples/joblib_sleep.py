"""joblib.Parallel over sleeping tasks: `python joblib_sleep.py [tasks] [seconds]`.

Ideal wall time is tasks x seconds / workers; the script prints the efficiency it reached.
"""
import sys
import time

from joblib import Parallel, delayed, effective_n_jobs


def slow_task(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x * 2


tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 200
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
workers = effective_n_jobs(-1)
start = time.perf_counter()
results = Parallel(n_jobs=-1)(delayed(slow_task)(i, seconds) for i in range(tasks))
wall = time.perf_counter() - start

assert results == [i * 2 for i in range(tasks)]
print(f"{tasks} tasks of {seconds}s on {workers} workers in {wall:.2f}s "
      f"(efficiency {tasks * seconds / workers / wall:.0%})")
print("result: sum", sum(results))
