"""B10 (issue 27): pool start-up against node count, run by harness.py.

Time to a ready pool (every agent said hello) over 1, 4 and 16 network-namespace SSH hosts, warm and
cold, through the public API (`ComputePool.use` with the `ssh` provider: bench/node/b10_startup.mjs).
B10 makes its own 16 hosts with bench/node/ssh_hosts.mjs (harness.SshHosts) and tears them down after,
also on failure or Ctrl-C. A pool over N hosts takes the first N of them.

- warm: the hosts' environments exist (`~/.cache/skyward` on each host holds the venv, the modules and
  the file store): connect, probe, ship the working directory (examples/project, 8 files), start agents.
- cold: b10_startup.mjs first removes `~/.cache/skyward` on each of the N hosts (over SSH, not timed):
  every host gets the wheelhouse uploaded, its venv made and installed from it, the modules and the
  working directory sent. The client's cache (SKYWARD_CACHE_DIR: the wheelhouse and pip's compiled
  runner) stays warm: one unmeasured cold run over all 16 hosts builds it before any measurement, so
  cold measures the hosts, not PyPI.

The image is the default one (the agent's cloudpickle, cbor2, lz4): what every pool installs. Where the
machine allows it (root, a cpuacct or cgroup v2 hierarchy), the hosts' sshd (and so every session,
pip and agent they start) run in a cgroup of their own, and each run's CPU-seconds on the hosts are
reported: N hosts on this machine's cores cannot be ready sooner than N x (CPU per host) / cores.
"""
from __future__ import annotations

import os
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

BENCH = Path(__file__).resolve().parent
SCRIPT = BENCH / "node" / "b10_startup.mjs"

CASE_ID = "B10"
COUNTS = (1, 4, 16)
MODES = ("warm", "cold")
TARGET_RATIO = 1.5  # 16 hosts ready in at most 1.5x the time of 1 host


class Hosts(Protocol):
    """harness.SshHosts, as B10 uses it."""
    info: dict[str, Any] | None

    def start(self, count: int, timeout: float = ...) -> str | None: ...

    def stop(self, timeout: float = ...) -> dict[str, Any] | None: ...


RunProcess = Callable[[list[str], dict[str, str], float, Path], dict[str, Any]]


@dataclass
class CpuMeter:
    """CPU-seconds used by the hosts' processes: their sshd moved into a cgroup of its own (cgroup v1
    cpuacct, else v2), whose counter also holds every descendant, ended or not. `why` says why there is
    none (then `seconds` gives None)."""
    name: str
    folder: Path | None = None
    why: str | None = None
    moved: list[int] = field(default_factory=list)

    def start(self, namespaces: list[str]) -> None:
        v1, v2 = Path("/sys/fs/cgroup/cpuacct"), Path("/sys/fs/cgroup")
        base = v1 if (v1 / "cpuacct.usage").exists() else v2 if (v2 / "cgroup.controllers").exists() else None
        if base is None:
            self.why = "no cpuacct or cgroup v2 hierarchy"
            return
        try:
            folder = base / self.name
            folder.mkdir()
            self.folder = folder
            for ns in namespaces:
                listed = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=True)
                for pid in listed.stdout.split():
                    (folder / "cgroup.procs").write_text(pid)
                    self.moved.append(int(pid))
        except (OSError, subprocess.CalledProcessError) as exc:
            self.why = f"cannot use a cgroup here: {exc}"
            self.close()

    def counter(self) -> Path | None:
        """The cgroup's CPU counter file: cpuacct.usage (ns) or cpu.stat (usage_usec), for b10_startup.mjs."""
        if self.folder is None or self.why is not None:
            return None
        v1 = self.folder / "cpuacct.usage"
        return v1 if v1.exists() else self.folder / "cpu.stat"

    def seconds(self) -> float | None:
        counter = self.counter()
        if counter is None:
            return None
        try:
            if counter.name == "cpuacct.usage":
                return int(counter.read_text()) / 1e9
            for line in counter.read_text().splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
        except (OSError, ValueError):
            return None
        return None

    def close(self) -> None:
        """Moves what is left back to the root cgroup and removes this one (idempotent)."""
        folder, self.folder = self.folder, None
        if folder is None:
            return
        try:
            for pid in (folder / "cgroup.procs").read_text().split():
                try:
                    (folder.parent / "cgroup.procs").write_text(pid)
                except OSError:
                    pass  # ended meanwhile
            folder.rmdir()
        except OSError:
            pass


def command(info: dict[str, Any], count: int, mode: str, counter: Path | None = None) -> list[str]:
    """b10_startup.mjs over the first `count` hosts of `info` (SshHosts.info); with `counter` (CpuMeter.counter)
    it also reports the hosts' CPU to ready."""
    return ["node", str(SCRIPT), "--hosts", ",".join(info["hosts"][:count]), "--identity", info["identity"],
            "--known-hosts", info["known_hosts"], "--mode", mode] + (
                [] if counter is None else ["--cpu-counter", str(counter)])


def _measured(run: RunProcess, cmd: list[str], env: dict[str, str], timeout: float, log: Path,
              meter: CpuMeter) -> dict[str, Any]:
    before = meter.seconds()
    res = run(cmd, env, timeout, log)
    after = meter.seconds()
    if before is not None and after is not None:
        res["host_cpu_seconds"] = after - before  # bootstrap, agents and their stop at the pool's close
    return res


def run_case(reps: int, env: dict[str, str], timeout: float, log: Path, run: RunProcess,
             make_hosts: Callable[[Path], Hosts]) -> dict[str, Any]:
    """Makes 16 hosts, builds the client's cache and every host's environment once (unmeasured), then
    runs each (mode, count) `reps` times, in an order rotated every repetition; tears the hosts down."""
    out: dict[str, Any] = {"counts": list(COUNTS), "runs": {f"{m} {n}": [] for m in MODES for n in COUNTS},
                           "cores": os.cpu_count()}
    hosts = make_hosts(log)
    print(f"bench: {CASE_ID}: making {max(COUNTS)} network-namespace SSH hosts...", flush=True)
    why = hosts.start(max(COUNTS))
    if why is not None:
        print(f"bench: {CASE_ID} skipped: {why}", flush=True)
        return {"skipped": why}
    assert hosts.info is not None
    info = hosts.info
    out["create_seconds"] = info.get("create_seconds")
    meter = CpuMeter(f"sky-bench-b10-{os.getpid()}")
    try:
        meter.start(list(info.get("namespaces") or []))
        out["cpu_meter"] = meter.why or "cgroup"
        print(f"bench: {CASE_ID}: a first cold start of all {max(COUNTS)} hosts (the client's cache, the hosts' "
              "environments)...", flush=True)
        prep = _measured(run, command(info, max(COUNTS), "cold", meter.counter()), env, timeout, log, meter)
        out["prepare"] = prep
        if "error" in prep:
            print(f"bench: {CASE_ID}: preparation failed: {prep['error']}", flush=True)
            return out
        order = [(m, n) for n in COUNTS for m in MODES]
        for rep in range(reps):
            shift = rep % len(order)
            for mode, n in order[shift:] + order[:shift]:
                res = _measured(run, command(info, n, mode, meter.counter()), env, timeout, log, meter)
                res["rep"] = rep
                out["runs"][f"{mode} {n}"].append(res)
                shown = res["error"] if "error" in res else f"{res['ready_seconds']:.2f} s"
                cpu = ""
                if "host_cpu_to_ready_seconds" in res and "host_cpu_seconds" in res:
                    cpu = (f", hosts' CPU {res['host_cpu_to_ready_seconds']:.1f} s to ready, "
                           f"{res['host_cpu_seconds']:.1f} s in all")
                print(f"bench: {CASE_ID} {mode} {n:2d} host(s) rep {rep + 1}/{reps}: {shown}{cpu}", flush=True)
    finally:
        print(f"bench: {CASE_ID}: tearing down the SSH hosts...", flush=True)
        out["teardown"] = hosts.stop()
        meter.close()
    return out


def _median(b10: dict[str, Any], mode: str, n: int, key: str) -> float | None:
    vals = [r[key] for r in b10.get("runs", {}).get(f"{mode} {n}", []) if "error" not in r and key in r]
    return statistics.median(vals) if vals else None


def _cpu_per_host(b10: dict[str, Any], mode: str, n: int) -> float | None:
    """The hosts' CPU-seconds from the pool's start to ready, per host (median run)."""
    cpu = _median(b10, mode, n, "host_cpu_to_ready_seconds")
    return None if cpu is None else cpu / n


def _s(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} s"


def target_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 27's targets: 16 hosts ready in <= 1.5x the time of 1 host, warm and cold."""
    b10 = data.get("b10") or {}
    if not b10.get("runs"):
        return []
    rows = []
    top, cores = max(COUNTS), b10.get("cores") or 1
    for mode in MODES:
        times = {n: _median(b10, mode, n, "ready_seconds") for n in COUNTS}
        one, many = times[1], times[top]
        r = many / one if many is not None and one else None
        per_host = _cpu_per_host(b10, mode, top)
        client = _median(b10, mode, top, "client_cpu_to_ready_seconds") or 0.0
        floor = "" if per_host is None else (f"; CPU to ready: hosts {per_host:.2f} CPU-s each, client {client:.2f}: "
                                             f"({top} x {per_host:.2f} + {client:.2f}) / {cores} cores = "
                                             f"{(top * per_host + client) / cores:.1f} s at the least here")
        rows.append({"case": CASE_ID, "target": f"{mode} start: {top} SSH hosts <= {TARGET_RATIO}x 1 host", "value": r,
                     "unit": "x", "compare": ", ".join(f"{n}: {_s(t)}" for n, t in times.items()) + floor,
                     "met": None if r is None else r <= TARGET_RATIO})
    return rows


def report_lines(data: dict[str, Any]) -> list[str]:
    """The report's B10 section: times per count and mode, the hosts' CPU, and what 16 hosts cost at least."""
    b10 = data.get("b10")
    if not b10:
        return []
    if b10.get("skipped"):
        return ["", f"B10 (start-up against node count) skipped: {b10['skipped']}.", ""]
    cores = b10.get("cores") or 1
    lines = ["", "## B10: start-up against node count", "",
             "Time to a ready pool (`ComputePool.use`, `ssh` provider, every agent's hello) over the first N of 16 "
             "network-namespace SSH hosts of this machine; default image, examples/project as working directory. "
             "warm: the hosts' environments exist. cold: each host's `~/.cache/skyward` removed first (the wheelhouse "
             "uploaded, a venv made from it, modules and files sent); the client's wheelhouse cache warm. "
             "Hosts' CPU: what every process of the hosts' sshd (sessions, pip, agents) used from the pool's start to "
             f"ready, over N. All {cores} cores of this machine are shared by the client, every host and other "
             "sessions.", "",
             "| mode | 1 host | 4 hosts | 16 hosts | 16 / 1 | hosts' CPU to ready per host (1 / 4 / 16) "
             "| client's CPU to ready (1 / 4 / 16) | (16 x host + client CPU) / cores |",
             "|---|---|---|---|---|---|---|---|"]
    for mode in MODES:
        times = [_median(b10, mode, n, "ready_seconds") for n in COUNTS]
        cpu = [_cpu_per_host(b10, mode, n) for n in COUNTS]
        client = [_median(b10, mode, n, "client_cpu_to_ready_seconds") for n in COUNTS]
        r = times[-1] / times[0] if times[-1] is not None and times[0] else None
        floor = "n/a" if cpu[-1] is None else f"{(COUNTS[-1] * cpu[-1] + (client[-1] or 0.0)) / cores:.1f} s"
        shown = [" / ".join("n/a" if c is None else f"{c:.2f}" for c in values) for values in (cpu, client)]
        lines.append(f"| {mode} | {' | '.join(_s(t) for t in times)} | {'n/a' if r is None else f'{r:.2f}x'} | "
                     f"{shown[0]} CPU-s | {shown[1]} CPU-s | {floor} |")
    errors = [r["error"] for rs in b10.get("runs", {}).values() for r in rs if "error" in r]
    if errors:
        lines += ["", f"{len(errors)} B10 run(s) failed; the first: {errors[0][:200]}"]
    if b10.get("cpu_meter") not in (None, "cgroup"):
        lines += ["", f"Hosts' CPU not measured: {b10['cpu_meter']}."]
    prep = b10.get("prepare") or {}
    if "ready_seconds" in prep:
        lines += ["", f"Before any measurement, the first cold start of all 16 hosts (client cache included) took "
                      f"{_s(prep['ready_seconds'])}."]
    return lines
