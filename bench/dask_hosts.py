"""B9: Dask on the same network-namespace hosts as `skyward-ssh` (backend "dask-hosts", issue 27).

For each run of a case (B1, B2, B3, B7): a `dask scheduler` on this machine, listening on every
address (0.0.0.0) so each namespace reaches it at the host side of its own veth pair, and one
`dask worker` per namespace host, run inside that namespace (`ip netns exec`), with Skyward's
layout of the case: thread slots -> one worker process with `concurrency` threads, process slots
-> `--nworkers concurrency --nthreads 1`. The case script connects with `Client(address)` and
waits for every worker before its warm-up call, so, as Skyward's pool, the cluster is up before
the timed part. Scheduler and workers are stopped after each run (also on failure, Ctrl-C or a
timeout), and the run records any process of theirs still alive afterwards (none expected).
"""
from __future__ import annotations

import ctypes
import ipaddress
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict

BACKEND = "dask-hosts"
CASES = ("B1", "B2", "B3", "B7")  # B9 compares these with skyward-ssh on the same hosts
SSH_BACKEND = "skyward-ssh"

BENCH = Path(__file__).resolve().parent
VENV_PY = BENCH / ".venv" / "bin" / "python"
DASK = BENCH / ".venv" / "bin" / "dask"
CASES_DIR = BENCH / "cases"

SCHEDULER_READY_SECONDS = 60  # it writes its file once listening; importing dask on 2 busy cores takes a while
STOP_GRACE_SECONDS = 15  # SIGTERM lets nannies close their workers; then SIGKILL
WORKER_DEATH_TIMEOUT = "60s"  # a worker whose scheduler is gone exits by itself (if this harness was SIGKILLed)
LOG_TAIL_CHARS = 3000
PR_SET_PDEATHSIG = 1  # prctl(2): signal this process when its parent (the harness) dies
DASK_ENV = {"DASK_DISTRIBUTED__DIAGNOSTICS__NVML": "False", "PYTHONUNBUFFERED": "1"}
# below this efficiency Dask is "far behind": the B9 target is then 3x Dask's, else simply ahead of it
FAR_BEHIND_EFFICIENCY = 0.33
EFFICIENCY_FACTOR = 3.0
TASKS_PER_SECOND_FACTOR = 3.0


@dataclass(frozen=True)
class NamespaceHost:
    """One namespace host of bench/node/ssh_hosts.mjs, as the Dask worker in it sees this machine."""
    namespace: str
    address: str  # the host's own address in its namespace (10.231.x.y)
    gateway: str  # the host side of its veth pair: where it reaches the scheduler


@dataclass(frozen=True)
class WorkerLayout:
    """Skyward's slots of one node, as `dask worker` options."""
    processes: int
    threads: int

    @classmethod
    def from_sky(cls, concurrency: int, executor: str) -> WorkerLayout:
        return cls(processes=1, threads=concurrency) if executor == "thread" else cls(processes=concurrency, threads=1)

    def options(self) -> list[str]:
        # one process needs no nanny (a nanny per host would be one more Python process on the 2 cores);
        # --nworkers > 1 requires one
        nanny = ["--no-nanny"] if self.processes == 1 else ["--nanny", "--nworkers", str(self.processes)]
        return ["--nthreads", str(self.threads), *nanny]


class ClusterError(Exception):
    """The scheduler did not come up: the run is recorded as failed, the next one goes on."""


class TargetRow(TypedDict):
    case: str
    target: str
    value: float | None
    unit: str
    compare: str
    met: bool | None


def namespace_hosts(info: dict[str, Any]) -> list[NamespaceHost]:
    """The hosts of ssh_hosts.mjs's JSON line (`hosts` "user@addr:port", `namespaces`), with each one's gateway."""
    names = info.get("namespaces") or []
    if len(names) != len(info["hosts"]) or not all(names):
        raise ClusterError("ssh_hosts.mjs did not report each host's namespace")
    ours = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True).stdout
    out: list[NamespaceHost] = []
    for spec, namespace in zip(info["hosts"], names):
        address = spec.split("@", 1)[1].rsplit(":", 1)[0]
        # hosts.ts links each namespace by a /30: the host's side is its first address, the namespace's the second
        gateway = str(ipaddress.ip_interface(f"{address}/30").network.network_address + 1)
        if f"inet {gateway}/" not in ours:
            raise ClusterError(f"no address {gateway} on this machine for namespace {namespace} ({address})")
        out.append(NamespaceHost(namespace=namespace, address=address, gateway=gateway))
    return out


def _die_with_parent() -> None:
    """preexec_fn: the process gets SIGTERM if the harness dies without its `finally` (SIGKILL)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _session_members(sessions: set[int]) -> list[int]:
    """Live (non-zombie) processes whose session is one of `sessions` (each started process leads its own)."""
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()  # after "(comm)": state ppid pgrp session ...
        if fields[0] != b"Z" and int(fields[3]) in sessions:
            found.append(int(name))
    return found


class DaskHostsCluster:
    """One scheduler here and one `dask worker` per namespace host, for one run. `start` returns the address the
    client connects to; `stop` (idempotent) ends every process of theirs and returns the pids still alive (none)."""

    def __init__(self, hosts: list[NamespaceHost], layout: WorkerLayout, env: dict[str, str]) -> None:
        self.hosts = hosts
        self.layout = layout
        # PYTHONPATH: the scheduler unpickles the task graph, which names the case scripts' `_common` module (a
        # LocalCluster's scheduler runs in the client and its workers inherit the client's sys.path: the same here)
        self.env = {**env, **DASK_ENV, "PYTHONPATH": str(CASES_DIR)}
        # the logs and scheduler file, under the harness's private TMPDIR (tempfile's default was fixed before it)
        self.dir = Path(tempfile.mkdtemp(prefix="dask-hosts-", dir=env.get("TMPDIR")))
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        self.started_seconds: float | None = None

    def _spawn(self, cmd: list[str], log_name: str) -> subprocess.Popen:
        log = self.dir / log_name
        self.logs.append(log)
        with log.open("w") as out:
            # own session: stopped as a group, and found again by its session id if anything survives
            return subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_die_with_parent)

    def start(self) -> str:
        t0 = time.perf_counter()
        info_file = self.dir / "scheduler.json"
        self.scheduler = self._spawn([str(DASK), "scheduler", "--host", "0.0.0.0", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(info_file)], "scheduler.log")
        while not info_file.exists() or not info_file.read_text().strip():
            if self.scheduler.poll() is not None or time.perf_counter() - t0 > SCHEDULER_READY_SECONDS:
                raise ClusterError(f"dask scheduler not ready (exit {self.scheduler.returncode}): {self.tail(0)}")
            time.sleep(0.1)
        port = int(json.loads(info_file.read_text())["address"].rsplit(":", 1)[1])
        for index, host in enumerate(self.hosts):
            self.workers.append(self._spawn(
                ["ip", "netns", "exec", host.namespace, str(DASK), "worker", f"tcp://{host.gateway}:{port}",
                 "--host", host.address, "--name", f"host{index}", "--no-dashboard",
                 "--death-timeout", WORKER_DEATH_TIMEOUT, *self.layout.options()], f"worker{index}.log"))
        self.started_seconds = time.perf_counter() - t0
        return f"tcp://127.0.0.1:{port}"

    def tail(self, index: int) -> str:
        try:
            return self.logs[index].read_text()[-LOG_TAIL_CHARS:]
        except (OSError, IndexError):
            return ""

    def stop(self) -> list[int]:
        procs = [*self.workers, *([self.scheduler] if self.scheduler else [])]
        sessions = {p.pid for p in procs}
        # workers first, so they do not keep reconnecting to a closing scheduler
        for group in (self.workers, [self.scheduler] if self.scheduler else []):
            for p in group:
                if p.poll() is None:
                    _signal_group(p.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for p in group:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for pid in sessions:  # whatever is left of a session (a nanny's workers too): SIGKILL
            _signal_group(pid, signal.SIGKILL)
        for p in procs:
            try:
                p.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        left = _session_members(sessions)
        while left and time.monotonic() < deadline:  # SIGKILLed processes take a moment to go
            time.sleep(0.1)
            left = _session_members(sessions)
        self.workers, self.scheduler = [], None
        return left

    def remove_files(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


RunProcess = Callable[[list[str], dict[str, str], float, Path], dict[str, Any]]


def run_case(case: dict[str, Any], info: dict[str, Any], env: dict[str, str], timeout: float, log: Path,
             run_process: RunProcess) -> dict[str, Any]:
    """One run of `case` on a fresh Dask cluster over the first `nodes` namespace hosts of `info`
    (ssh_hosts.mjs's JSON line); `run_process` is the harness's (command -> result dict)."""
    nodes, concurrency, executor = case["sky"]
    layout = WorkerLayout.from_sky(concurrency, executor)
    cluster: DaskHostsCluster | None = None
    result: dict[str, Any] | None = None
    try:
        hosts = namespace_hosts(info)
        if len(hosts) < nodes:
            raise ClusterError(f"{nodes} hosts needed, {len(hosts)} made")
        cluster = DaskHostsCluster(hosts[:nodes], layout, env)
        address = cluster.start()
        cmd = [str(VENV_PY), str(CASES_DIR / case["script"]), "--backend", "dask", "--slots", str(case["slots"]),
               "--workers", str(nodes * layout.processes), "--dask-address", address, *case["args"]]
        result = run_process(cmd, env, timeout, log)
    except ClusterError as exc:
        result = {"error": f"dask cluster: {exc}", "process_seconds": 0.0}
    finally:
        left = cluster.stop() if cluster is not None else []
        if cluster is not None:
            failed = result is None or "error" in result
            with log.open("a") as f:
                f.write(f"\n# {BACKEND}: {nodes} worker(s) {asdict(layout)}, leftovers {left}\n")
                for index in range(len(cluster.logs) if failed else 0):  # the cluster's own output when a run failed
                    f.write(f"--- {cluster.logs[index].name}\n{cluster.tail(index)}\n")
            cluster.remove_files()
    result["dask_hosts"] = {"nodes": nodes, **asdict(layout),
                            "start_seconds": cluster.started_seconds if cluster else None}
    if left:
        result["dask_hosts_leftovers"] = left
        print(f"bench: WARNING: {BACKEND} left processes {left}", flush=True)
    return result


def layout_text(case: dict[str, Any]) -> str:
    nodes, concurrency, executor = case["sky"]
    layout = WorkerLayout.from_sky(concurrency, executor)
    per_host = (f"1 worker process x {layout.threads} thread(s)" if layout.processes == 1
                else f"{layout.processes} worker processes x 1 thread (nanny)")
    return f"{nodes} namespace host(s), each `dask worker` with {per_host}"


# -- evaluation ------------------------------------------------------------------------------

def _median(runs: dict[str, Any], case: str, backend: str, key: str) -> float | None:
    vals = [r[key] for r in runs.get(case, {}).get(backend, [])
            if "error" not in r and isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else None


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def target_rows(runs: dict[str, Any]) -> list[TargetRow]:
    """B9's targets: skyward-ssh against dask-hosts, on the same hosts, same layouts."""
    rows: list[TargetRow] = []
    for case in ("B1", "B7"):
        ours, theirs = (_median(runs, case, b, "efficiency") for b in (SSH_BACKEND, BACKEND))
        if ours is None and theirs is None:
            continue
        far_behind = theirs is not None and theirs < FAR_BEHIND_EFFICIENCY
        r = ours / theirs if ours is not None and theirs else None
        target = (f"efficiency >= {EFFICIENCY_FACTOR:g}x {BACKEND}'" if far_behind
                  else f"efficiency ahead of {BACKEND}'")
        met = None if r is None else (r >= EFFICIENCY_FACTOR if far_behind else r > 1)
        rows.append(TargetRow(case=f"B9 ({case})", target=target, value=r, unit="x",
                              compare=f"{SSH_BACKEND} {_pct(ours)} vs {BACKEND} {_pct(theirs)}", met=met))
    ours, theirs = (_median(runs, "B2", b, "tasks_per_second") for b in (SSH_BACKEND, BACKEND))
    if ours is not None or theirs is not None:
        r = ours / theirs if ours is not None and theirs else None
        rows.append(TargetRow(case="B9 (B2)", target=f">= {TASKS_PER_SECOND_FACTOR:g}x {BACKEND}' tasks/s", value=r,
                              unit="x", compare=f"{SSH_BACKEND} {_num(ours)} vs {BACKEND} {_num(theirs)} tasks/s",
                              met=None if r is None else r >= TASKS_PER_SECOND_FACTOR))
    ours, theirs = (_median(runs, "B3", b, "wall") for b in (SSH_BACKEND, BACKEND))
    if ours is not None or theirs is not None:
        r = theirs / ours if theirs is not None and ours else None
        rows.append(TargetRow(case="B9 (B3)", target=f"{BACKEND}' wall / {SSH_BACKEND}'s (no target)", value=r,
                              unit="x", compare=f"{SSH_BACKEND} {_secs(ours)} vs {BACKEND} {_secs(theirs)}", met=None))
    return rows


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def _secs(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} s"


def report_lines(data: dict[str, Any]) -> list[str]:
    """The report's B9 section: per case, skyward-ssh beside dask-hosts (empty when dask-hosts did not run)."""
    runs, cases = data["runs"], data["cases"]
    ran = [cid for cid in CASES if BACKEND in runs.get(cid, {})]
    if not ran:
        return []
    lines = ["", "## Dask on the same hosts (B9)", "",
             "Dask workers (`dask worker`, one per network-namespace host, run in its namespace) against a "
             "`dask scheduler` on this machine, through joblib's dask backend (`Client(address)`), beside Skyward "
             "over SSH to the same hosts (the first `nodes` of them) with the same slots. Both are up before the timed "
             "part (warm-up call first). "
             "Ratio: how many times better skyward-ssh is (efficiency and tasks/s: ssh / dask; wall: dask / ssh).", "",
             f"| case | metric | {SSH_BACKEND} | {BACKEND} | ratio | dask layout |", "|---|---|---|---|---|---|"]
    for cid in ran:
        case = cases[cid]
        metric = case["metric"]
        ours, theirs = (_median(runs, cid, b, metric) for b in (SSH_BACKEND, BACKEND))
        show = _pct if metric == "efficiency" else _secs if metric == "wall" else _num
        better = (theirs / ours if case["higher"] is False else ours / theirs) if ours and theirs else None
        lines.append(f"| {cid} | {metric.replace('_', ' ')} | {show(ours)} | {show(theirs)} | "
                     f"{'n/a' if better is None else f'{better:.2f}x'} | {layout_text(case)} |")
    return lines
