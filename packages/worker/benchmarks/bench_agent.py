"""Measure agent start-up and no-op task throughput from a Python client.

    python packages/worker/benchmarks/bench_agent.py [--tasks 20000]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER_PY = HERE.parent / "python"
CODEC_PY = HERE.parents[2] / "packages" / "codec" / "python"
sys.path[:0] = [str(WORKER_PY), str(CODEC_PY)]

import cloudpickle  # noqa: E402

from skyward_wire import FrameDecoder, encode_frame, encode_frames  # noqa: E402


def start(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(WORKER_PY), str(CODEC_PY)])
    return subprocess.Popen([sys.executable, "-m", "skyward_worker", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def startup(method: str, slots: int = 8) -> tuple[float, float, float | None]:
    """(hello latency, time until `slots` sleeping tasks have all started, agent's own figure)."""
    t0 = time.perf_counter()
    p = start(["--concurrency", str(slots), "--start-method", method])
    dec = FrameDecoder()
    fd = p.stdout.fileno()
    hello_at = None
    started = 0
    sent = False
    while started < slots:
        for m in dec.feed(os.read(fd, 65536)):
            if m["type"] == "hello":
                hello_at = time.perf_counter() - t0
                if not sent:
                    sleeper = cloudpickle.dumps(lambda: time.sleep(2))
                    p.stdin.write(encode_frames([{"type": "submit", "id": i + 1, "kind": "pickle",
                                                  "payload": sleeper} for i in range(slots)]))
                    p.stdin.flush()
                    sent = True
            elif m["type"] == "started":
                started += 1
    ready_at = time.perf_counter() - t0
    p.stdin.close()
    p.wait(5)
    err = p.stderr.read().decode()
    match = re.search(r"slots ready after ([0-9.]+) s", err)
    return hello_at or 0.0, ready_at, float(match.group(1)) if match else None


def throughput(args: list[str], n: int) -> float:
    """No-op pickle tasks per second, all submitted up front (pipelined)."""
    p = start(args)
    dec = FrameDecoder()
    fd = p.stdout.fileno()
    payload = cloudpickle.dumps(lambda: None)
    # warm up: wait for every slot to run a task
    warm = [{"type": "submit", "id": 10_000_000 + i, "kind": "pickle", "payload": payload}
            for i in range(64)]
    p.stdin.write(encode_frames(warm))
    p.stdin.flush()
    done = 0
    while done < len(warm):
        done += sum(1 for m in dec.feed(os.read(fd, 1 << 20)) if m["type"] in ("result", "error"))
    frames = [encode_frame({"type": "submit", "id": i + 1, "kind": "pickle", "payload": payload})
              for i in range(n)]

    def writer() -> None:
        for i in range(0, n, 500):
            p.stdin.write(b"".join(frames[i:i + 500]))
        p.stdin.flush()

    t0 = time.perf_counter()
    threading.Thread(target=writer, daemon=True).start()
    done = 0
    errors = 0
    while done < n:
        for m in dec.feed(os.read(fd, 1 << 20)):
            if m["type"] == "result":
                done += 1
            elif m["type"] == "error":
                done += 1
                errors += 1
    elapsed = time.perf_counter() - t0
    p.stdin.close()
    p.wait(5)
    assert errors == 0
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ns = ap.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for method in ("forkserver", "spawn"):
        rows = [startup(method) for _ in range(ns.rounds)]
        for hello, ready, own in rows:
            print(f"start-up 8 process slots ({method}): hello {hello * 1000:.0f} ms, "
                  f"8 tasks started {ready * 1000:.0f} ms, agent says all ready after "
                  f"{(own or 0) * 1000:.0f} ms")
    for label, args in (("2 process slots", ["--concurrency", "2"]),
                        ("8 thread slots", ["--executor", "thread", "--concurrency", "8"]),
                        ("1 process slot", ["--concurrency", "1"]),
                        ("2 thread slots", ["--executor", "thread", "--concurrency", "2"])):
        rates = [throughput(args, ns.tasks) for _ in range(ns.rounds)]
        print(f"no-op pickle tasks, {label}: " + ", ".join(f"{r:,.0f}/s" for r in rates))


if __name__ == "__main__":
    main()
