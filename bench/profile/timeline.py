"""Runs `skyward run --json ...` and turns its pool events into a timeline of the busiest window.

    python bench/profile/timeline.py -- node apps/cli/dist/bin.js run --json ... bench/cases/b1_latency.py --backend skyward ...

Each event line on stderr is stamped when read. Reports, for the last `Parallel` burst (tasks
queued after the warm-up): batches, queued->started and done->next-queued latencies, slot
occupancy, and the tail (last queued -> last done).
"""
import json
import statistics
import subprocess
import sys
import time


def main():
    cmd = sys.argv[sys.argv.index("--") + 1:]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, bufsize=1)
    events = []
    for line in proc.stderr:
        t = time.perf_counter()
        if line.startswith("{"):
            try:
                events.append((t, json.loads(line)))
            except ValueError:
                pass
    proc.wait()
    tasks = {}
    for t, e in events:
        tag = e.get("_tag")
        if tag in ("TaskQueued", "TaskStarted", "TaskDone"):
            tasks.setdefault(e["task"], {})[tag] = t
            if tag == "TaskDone":
                tasks[e["task"]]["seconds"] = e.get("seconds", 0)
    ids = sorted(tasks)
    # the timed burst: tasks after the largest gap in queue times (the warm-up comes first)
    q = [tasks[i].get("TaskQueued", 0) for i in ids]
    gaps = [(q[k + 1] - q[k], k + 1) for k in range(len(q) - 1)]
    start = max(gaps)[1] if gaps else 0
    burst = [tasks[i] for i in ids[start:]]
    t0 = min(b["TaskQueued"] for b in burst)
    t_end = max(b["TaskDone"] for b in burst)
    wait = [b["TaskStarted"] - b["TaskQueued"] for b in burst if "TaskStarted" in b]
    run = [b["TaskDone"] - b["TaskStarted"] for b in burst if "TaskStarted" in b]
    agent_sec = [b["seconds"] for b in burst]
    dones = sorted(b["TaskDone"] for b in burst)
    queues = sorted(b["TaskQueued"] for b in burst)
    # done -> the next queued (how fast the client refills after a result)
    refill = []
    j = 0
    for d in dones:
        while j < len(queues) and queues[j] < d:
            j += 1
        if j < len(queues):
            refill.append(queues[j] - d)
    busy = sum(run)
    print(f"timeline: {len(burst)} batches in {t_end - t0:.3f}s (burst from first queued to last done)")
    print(f"  batches seconds on agent: median {statistics.median(agent_sec) * 1000:.1f} ms, sum {sum(agent_sec):.2f}s")
    print(f"  queued->started: median {statistics.median(wait) * 1000:.2f} ms, p90 {sorted(wait)[int(0.9 * len(wait))] * 1000:.2f} ms")
    print(f"  started->done seen by node: median {statistics.median(run) * 1000:.2f} ms (agent-reported {statistics.median(agent_sec) * 1000:.2f} ms)")
    if refill:
        print(f"  done->next queued (client refill): median {statistics.median(refill) * 1000:.2f} ms")
    print(f"  first batch queued after t0+{(queues[0] - t0) * 1000:.1f} ms; last queued at +{(queues[-1] - t0):.3f}s; "
          f"last done at +{t_end - t0:.3f}s (tail {t_end - queues[-1]:.3f}s)")
    print(f"  slot-seconds busy (node view) {busy:.2f}s over burst {(t_end - t0):.3f}s")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
