"""Skyward's benchmark harness (issue 7): every case, every backend, one run, same slot count.

    bash bench/run.sh [--reps N] [--quick] [--only B1,B2] [--backends skyward,loky]

Runs each (case, backend, repetition) as its own process (Skyward through the real `skyward run`
CLI, the peers from bench/.venv), reads the one `BENCH_RESULT {json}` line each prints, and writes
bench/results/latest.{md,json} and bench/results/efficiency.svg.

Backend "skyward-ssh" (B1 with its sweep, B2, B3): the same case scripts and layouts as "skyward",
through `skyward run --provider ssh` to network-namespace SSH hosts of this machine (real sshd,
own users, veth links) that bench/node/ssh_hosts.mjs makes once for the whole run and tears down at
the end (also on failure or Ctrl-C); skipped, with the reason in the report, where namespaces or
sshd are unavailable. The report's "Network path cost" compares it with "skyward" (local).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import dask_hosts
import latency
import startup
import svg_chart

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CASES_DIR = BENCH / "cases"
RESULTS = BENCH / "results"
VENV_PY = BENCH / ".venv" / "bin" / "python"
CLI = ROOT / "apps" / "cli" / "dist" / "bin.js"
SKYWARD_CACHE = BENCH / ".cache" / "skyward"

PEERS = ("loky", "threading", "dask", "ray")
SSH = "skyward-ssh"  # Skyward over the SSH transport to network-namespace hosts (cases marked ssh=True)
DASK_HOSTS = dask_hosts.BACKEND  # B9: `dask worker`s on the same namespace hosts (bench/dask_hosts.py)
BACKENDS = ("skyward", SSH) + PEERS + (DASK_HOSTS,)
SSH_HOSTS_JS = BENCH / "node" / "ssh_hosts.mjs"

# The Skyward pool runs exactly the peers' versions (bench/requirements.txt): one cached environment for all cases.
SKYWARD_PIP = ["joblib==1.5.2", "scikit-learn==1.7.2", "numpy==2.3.4", "scipy==1.16.3", "cloudpickle==3.1.2",
               "threadpoolctl==3.6.0"]


def case_table(quick: bool) -> Dict[str, Dict[str, Any]]:
    """Case id -> how to run it. `sky`: Skyward's nodes x concurrency x executor (local and, for ssh=True
    cases, over SSH hosts too); dask: worker processes."""
    q = quick
    return {
        "B1": dict(script="b1_latency.py", slots=32, args=["--tasks", "500" if q else "2000", "--duration", "0.01", "--bare-threads"],
                   sky=(4, 8, "thread"), dask_workers=4, ssh=True, noisy=True, title="B1 latency: sleep(10 ms) tasks, 32 slots",
                   metric="efficiency", unit="", higher=True),
        "B1-1ms": dict(script="b1_latency.py", slots=32, args=["--tasks", "500" if q else "2000", "--duration", "0.001"],
                       sky=(4, 8, "thread"), dask_workers=4, sweep=True, ssh=True, title="B1 sweep: sleep(1 ms) tasks, 32 slots",
                       metric="efficiency", unit="", higher=True),
        "B1-100ms": dict(script="b1_latency.py", slots=32, args=["--tasks", "96" if q else "320", "--duration", "0.1"],
                         sky=(4, 8, "thread"), dask_workers=4, sweep=True, ssh=True, title="B1 sweep: sleep(100 ms) tasks, 32 slots",
                         metric="efficiency", unit="", higher=True),
        "B2": dict(script="b2_overhead.py", slots=4, args=["--tasks", "5000" if q else "20000"], sky=(2, 2, "process"),
                   dask_workers=2, ssh=True, noisy=True, title="B2 overhead: no-op tasks, 4 slots", metric="tasks_per_second", unit="tasks/s",
                   higher=True),
        "B3": dict(script="b3_cpu.py", slots=2, args=[], sky=(1, 2, "process"), dask_workers=2, ssh=True, noisy=True,
                   title="B3 CPU: examples/grid_search.py (160 fits), 2 slots", metric="wall", unit="s", higher=False),
        "B4": dict(script="b4_data.py", slots=2, args=["--rows", "100000" if q else "400000"], sky=(2, 1, "process"),
                   dask_workers=2, heavy=True, sky_events=True, title="B4 data: GridSearchCV(Ridge) 40 fits + 2nd Parallel over X, 2 slots",
                   metric="wall", unit="s", higher=False),
        # the seeds' headline (2,000 x sleep(5), 10 nodes x 10) scaled to 0.5 s; loky (100 processes) and ray left out
        "B7": dict(script="b1_latency.py", slots=100,
                   args=["--tasks", "1000" if q else "2000", "--duration", "0.5", "--case-id", "B7"],
                   sky=(10, 10, "thread"), dask_workers=10, ssh=True,
                   backends=("skyward", SSH, "threading", "dask", DASK_HOSTS),
                   title="B7 headline: sleep(0.5 s) tasks, 10 nodes x 10 thread slots", metric="efficiency", unit="",
                   higher=True),
        "B8": latency.case_entry(q),  # RTT x task length through latency proxies to 4 SSH hosts (bench/latency.py)
    }


# -- running ---------------------------------------------------------------------------------

def parse_result(stdout: str) -> Optional[Dict[str, Any]]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("BENCH_RESULT "):
            return json.loads(line[len("BENCH_RESULT "):])
    return None


def steal_seconds() -> float:
    """CPU time the hypervisor gave to other guests so far (the `steal` column of /proc/stat), summed over
    this machine's CPUs; 0 where it is not known."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_process(cmd: List[str], env: Dict[str, str], timeout: float, log: Path) -> Dict[str, Any]:
    load_before = os.getloadavg()[0]
    steal_before = steal_seconds()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)
        out, err, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = (exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")) + \
            f"\nTIMEOUT after {timeout}s"
        code = -9
    elapsed = time.perf_counter() - t0
    steal = round(steal_seconds() - steal_before, 2)  # CPU-s taken from this guest while it ran
    with log.open("a") as f:
        f.write(f"\n$ {' '.join(cmd)}\n# exit {code} after {elapsed:.1f}s\n--- stdout\n{out[-4000:]}\n--- stderr\n{err[-4000:]}\n")
    result = parse_result(out) if code == 0 else None
    if result is None:
        return {"error": f"exit {code}: " + (err.strip().splitlines() or ["no output"])[-1][:300],
                "process_seconds": elapsed, "loadavg_1min_before": load_before, "steal_seconds": steal}
    result["process_seconds"] = elapsed
    result["loadavg_1min_before"] = load_before
    result["steal_seconds"] = steal
    if "--json" in cmd:  # the pool's events: which blobs (large arguments) went to which node
        result["blobs_sent"] = [{"node": e["node"], "bytes": e["bytes"]} for e in map(json.loads, (
            line for line in err.splitlines() if line.startswith('{"_tag":"BlobSent"')))]  # this machine is shared: a busy one skews a run
    return result


def base_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_DISABLE_DOCKER_CPU_WARNING="1", DASK_DISTRIBUTED__DIAGNOSTICS__NVML="False",
               SKYWARD_CACHE_DIR=str(SKYWARD_CACHE), PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)
    return env


def skyward_cmd(layout, script: Path, extra: List[str], events: bool = False,
                ssh: Optional[Dict[str, Any]] = None) -> List[str]:
    """`skyward run` of a case script; with `ssh` (SshHosts.info) on the namespace hosts instead of local
    processes (the provider takes the first `nodes` of the list)."""
    nodes, conc, executor = layout
    cmd = ["node", str(CLI), "run"]
    if ssh is not None:
        cmd += ["--provider", "ssh", "--hosts", ",".join(ssh["hosts"]), "--identity", ssh["identity"],
                "--known-hosts", ssh["known_hosts"]]
    cmd += ["--nodes", str(nodes), "--concurrency", str(conc), "--executor", executor,
            "--plugin", "sklearn", "--json" if events else "--quiet"]
    for spec in SKYWARD_PIP:
        cmd += ["--pip", spec]
    return cmd + [str(script)] + extra


def python_case_cmd(case: Dict[str, Any], backend: str, ssh: Optional[Dict[str, Any]] = None) -> List[str]:
    script = CASES_DIR / case["script"]
    # under `skyward run` the script is the same for both transports: it only calls Parallel(n_jobs=-1)
    as_backend = "skyward" if backend == SSH else backend
    extra = ["--backend", as_backend, "--slots", str(case["slots"]), "--workers", str(case["dask_workers"])] + case["args"]
    if backend == "skyward":
        return skyward_cmd(case["sky"], script, extra, events=case.get("sky_events", False))
    if backend == SSH:
        return skyward_cmd(case["sky"], script, extra, ssh=ssh)
    return [str(VENV_PY), str(script)] + extra


def prepare_skyward(log: Path, ssh: Optional[Dict[str, Any]] = None) -> float:
    """Builds (once) the Skyward pool environment so no measured run pays for it. With `ssh`: a cold
    bootstrap of every namespace host (the wheelhouse is built on this machine and uploaded to each).
    Returns the seconds it took."""
    probe = BENCH / ".cache" / "probe.py"
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text("from joblib import Parallel, delayed\nprint(Parallel(n_jobs=-1)(delayed(abs)(-1) for _ in range(2)))\n")
    layout = (len(ssh["hosts"]), 1, "process") if ssh else (1, 1, "process")
    what = f"{len(ssh['hosts'])} SSH hosts' environments" if ssh else "skyward environment"
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(skyward_cmd(layout, probe, [], ssh=ssh), cwd=ROOT, env=base_env(), capture_output=True,
                              text=True, timeout=1800)
        code, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired:
        code, out, err = -9, "", "TIMEOUT after 1800s"
    seconds = time.perf_counter() - t0
    with log.open("a") as f:
        f.write(f"\n# prepare {what}: exit {code} in {seconds:.1f}s\n{out[-2000:]}\n{err[-4000:]}\n")
    if code != 0:
        raise SystemExit(f"bench: could not prepare the {what} (see {log})")
    return seconds


class SshHosts:
    """Network-namespace SSH hosts for the whole bench run: bench/node/ssh_hosts.mjs, kept alive through
    its stdin. `start` returns None (hosts up, `info` set) or why they cannot be made here; `stop` (idempotent)
    closes its stdin, so it tears everything down, and returns what it reported left behind. If this
    harness dies, the pipe closes and the hosts go too."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: Optional[subprocess.Popen] = None
        self.info: Optional[Dict[str, Any]] = None
        self.teardown: Optional[Dict[str, Any]] = None

    def start(self, count: int, timeout: float = 120) -> Optional[str]:
        with self.log.open("a") as f:
            f.write(f"\n$ node {SSH_HOSTS_JS} --hosts {count}\n")
        err = self.log.open("a")
        try:
            # own session: a Ctrl-C reaches only the harness, whose `finally` stops the hosts in order
            self.proc = subprocess.Popen(["node", str(SSH_HOSTS_JS), "--hosts", str(count)], cwd=ROOT,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                                         start_new_session=True)
        except OSError as exc:
            return f"cannot start {SSH_HOSTS_JS.name}: {exc}"
        finally:
            err.close()
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        try:
            reply = json.loads(line)
        except ValueError:
            self.stop()
            return f"{SSH_HOSTS_JS.name} gave no answer in {timeout:.0f}s (exit {self.proc.returncode}; see latest.log)"
        if not reply.get("ok"):
            self.stop()
            return reply.get("unavailable", "unknown reason")
        self.info = reply
        return None

    def stop(self, timeout: float = 90) -> Optional[Dict[str, Any]]:
        proc = self.proc
        if proc is None or self.teardown is not None:
            return self.teardown
        rest = ""
        try:
            # communicate() closes its stdin first: the program tears the hosts down when its stdin closes
            rest, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # also tears down
            try:
                rest, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                rest, _ = proc.communicate()
        report: Dict[str, Any] = {"exit": proc.returncode}
        for line in (rest or "").splitlines():
            try:
                report.update(json.loads(line))
            except ValueError:
                pass
        self.teardown = report
        with self.log.open("a") as f:
            f.write(f"\n# ssh hosts torn down: {json.dumps(report)}\n")
        return report


# -- aggregation -----------------------------------------------------------------------------

def x_sends_per_node(run: Dict[str, Any]) -> float:
    """Bytes of X (the one blob of exactly X's size) sent to the busiest node, over X's size."""
    per_node: Dict[int, int] = {}
    for sent in run.get("blobs_sent", []):
        if sent["bytes"] == run["x_bytes"]:
            per_node[sent["node"]] = per_node.get(sent["node"], 0) + sent["bytes"]
    return max(per_node.values(), default=0) / run["x_bytes"]


def summary(values: List[float]) -> Dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "median": statistics.median(values), "min": min(values), "max": max(values)}


def med(runs: List[Dict[str, Any]], key: str) -> Optional[float]:
    vals = [r[key] for r in runs if "error" not in r and isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else None


def fmt(v: Optional[float], unit: str = "") -> str:
    if v is None:
        return "n/a"
    if unit == "%":
        return f"{100 * v:.1f}%"
    if unit == "tasks/s":
        return f"{v:,.0f}"
    if unit == "s":
        return f"{v:.2f} s" if v < 100 else f"{v:.0f} s"
    if unit == "B":
        return f"{v / 1e6:,.1f} MB"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b not in (None, 0) else None


def evaluate(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per target of issues 7 and 27: measured value, what it is compared with, met or not."""
    rows: List[Dict[str, Any]] = []
    runs = data["runs"]

    def sky(case: str, key: str) -> Optional[float]:
        return med(runs.get(case, {}).get("skyward", []), key)

    def peer(case: str, backend: str, key: str) -> Optional[float]:
        return med(runs.get(case, {}).get(backend, []), key)

    def row(case, target, value, unit, compare, met):
        rows.append({"case": case, "target": target, "value": value, "unit": unit, "compare": compare,
                     "met": None if met is None else bool(met)})

    if "B1" in runs:
        e = sky("B1", "efficiency")
        # issue 27: a ratio to the in-process threading backend of the same run (no IPC at all: the local
        # ceiling), not an absolute 90% that the noise of a 2-core machine decided
        te = peer("B1", "threading", "efficiency")
        r = ratio(e, te)
        row("B1", "efficiency >= 0.97x threading's", r, "x", f"skyward {fmt(e, '%')} vs threading {fmt(te, '%')}",
            None if r is None else r >= 0.97)
        ceiling = med([r for rs in runs["B1"].values() for r in rs], "bare_threads_efficiency")
        row("B1", "the same sleeps on 32 bare threads (no target)", ceiling, "%",
            "no scheduler, no IPC: what this machine allows B1 (measured after every B1 run, all backends)", None)
        for b in ("dask", "ray"):
            pe = peer("B1", b, "efficiency")
            r = ratio(e, pe)
            row("B1", f"efficiency >= 3x {b}'s", r, "x", f"{b} {fmt(pe, '%')}", None if r is None else r >= 3)
    if "B2" in runs:
        t = sky("B2", "tasks_per_second")
        for b, k in (("ray", 10), ("dask", 3), ("loky", 1 / 3)):
            pt = peer("B2", b, "tasks_per_second")
            r = ratio(t, pt)
            label = f">= {k:g}x {b}'s tasks/s" if k >= 1 else f">= 1/3 of {b}'s tasks/s"
            row("B2", label, r, "x", f"skyward {fmt(t, 'tasks/s')} vs {b} {fmt(pt, 'tasks/s')}", None if r is None else r >= k)
    if "B3" in runs:
        w, lw = sky("B3", "wall"), peer("B3", "loky", "wall")
        r = ratio(w, lw)
        row("B3", "wall <= 1.10x loky's", r, "x", f"skyward {fmt(w, 's')} vs loky {fmt(lw, 's')}",
            None if r is None else r <= 1.10)
    if "B4" in runs:
        sk = [r for r in runs["B4"].get("skyward", []) if "error" not in r]
        if sk:
            x_per_node = statistics.median([x_sends_per_node(r) for r in sk])
            read = statistics.median([max(r["bytes_read_per_node"]) / r["x_bytes"] for r in sk])
            row("B4", "each node receives X once (<= 1.1x X per node, both calls)", x_per_node, "x",
                f"X's bytes sent to the busiest node / X ({fmt(sk[0]['x_bytes'], 'B')}), from the pool's BlobSent events; "
                f"all bytes a node read (X, y, the CV folds' indices, payloads): {read:.2f}x X", x_per_node <= 1.1)
            rss = statistics.median([r["client_peak_rss"] / r["x_bytes"] for r in sk])
            grew = statistics.median([(r["client_peak_rss"] - r["client_rss_before"]) / r["x_bytes"] for r in sk])
            loky = [r for r in runs["B4"].get("loky", []) if "error" not in r]
            loky_grew = (f"; loky's grew {statistics.median([(r['client_peak_rss'] - r['client_rss_before']) / r['x_bytes'] for r in loky]):.2f}x X"
                         if loky else "")
            row("B4", "client peak RSS <= 2x X", rss, "x",
                f"peak RSS {fmt(med(sk, 'client_peak_rss'), 'B')} (Python, numpy, sklearn and X before the first call: "
                f"{statistics.median([r['client_rss_before'] / r['x_bytes'] for r in sk]):.2f}x X); "
                f"growth during the calls {grew:.2f}x X{loky_grew}", rss <= 2)
        w, lw = sky("B4", "wall"), peer("B4", "loky", "wall")
        r = ratio(w, lw)
        row("B4", "wall <= 1.5x loky's", r, "x", f"skyward {fmt(w, 's')} vs loky {fmt(lw, 's')}",
            None if r is None else r <= 1.5)
    if "B5" in runs:
        warm = med(runs["B5"].get("warm", []), "ready_seconds")
        row("B5", "warm start <= 0.5 s (4 local nodes)", warm, "s", "", None if warm is None else warm <= 0.5)
        cold = med(runs["B5"].get("cold", []), "ready_seconds")
        row("B5", "cold start (no target)", cold, "s", "fresh XDG_CACHE_HOME: venv + pip from PyPI", None)
        cli = med(runs["B5"].get("cli", []), "start_seconds")
        row("B5", "CLI start: `skyward --version` (no target)", cli, "s",
            "Node loading the CLI's modules, paid once per `skyward run` before the pool starts", None)
    if "B6" in runs:
        d = med(runs["B6"].get("node", []), "dispatches_per_second")
        b6 = (runs["B6"].get("node") or [{}])[0]
        row("B6", ">= 200,000 dispatches/s", d, "/s", f"{b6.get('nodes')} nodes x {b6.get('slots_per_node')} slots, {b6.get('tasks', 0):,} tasks queued first",
            None if d is None else d >= 200_000)
        m = med(runs["B6"].get("node", []), "heap_bytes_per_queued_task")
        row("B6", "<= 500 heap bytes per queued task", m, "B/task", f"{b6.get('tasks', 0):,} queued, no nodes, after gc",
            None if m is None else m <= 500)
    if "B7" in runs:
        b7_target = 0.99
        # the seeds' Python Skyward: 2,000 x sleep(5) on 10 nodes x concurrency 10, 102.57 s against an ideal 100 s
        seeds = "the seeds' Python Skyward: 97.5% (2,000 x sleep(5 s), 10 x 10, 102.57 s vs ideal 100 s)"
        for b, where in (("skyward", "local nodes"), (SSH, "10 SSH namespace hosts")):
            e = peer("B7", b, "efficiency")
            wall, ideal = peer("B7", b, "wall"), peer("B7", b, "ideal")
            row("B7", f"efficiency >= 99% on {where} ({b})", e, "%",
                f"{seeds}; here {fmt(wall, 's')} vs ideal {fmt(ideal, 's')}", None if e is None else e >= b7_target)
    rows.extend(dask_hosts.target_rows(runs))  # B9: skyward-ssh against dask-hosts on the same hosts
    rows.extend(latency.target_rows(data))  # B8: 100 ms and 1 s tasks at 10 ms RTT
    rows.extend(startup.target_rows(data))  # B10: 16 SSH hosts ready in <= 1.5x the time of 1, warm and cold
    return rows


def network_path(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    """skyward-ssh / skyward (local), per case both ran: what the SSH transport's network path costs."""
    rows: List[Dict[str, Any]] = []
    for cid, case in data["cases"].items():
        runs = data["runs"].get(cid, {})
        if not case.get("ssh") or SSH not in runs or "skyward" not in runs:
            continue
        metric = case["metric"]
        local, over_ssh = med(runs["skyward"], metric), med(runs[SSH], metric)
        rows.append({"case": cid, "metric": metric, "unit": "%" if metric == "efficiency" else case["unit"],
                     "higher": case["higher"], "skyward": local, SSH: over_ssh, "ratio": ratio(over_ssh, local),
                     "wall_skyward": med(runs["skyward"], "wall"), "wall_ssh": med(runs[SSH], "wall")})
    return rows


def write_markdown(data: Dict[str, Any], targets: List[Dict[str, Any]], path: Path) -> None:
    cases = data["cases"]
    noisy = ", ".join(cid for cid, case in cases.items() if case.get("noisy"))
    lines = [f"# `pnpm bench` results ({data['started']})", "",
             f"Machine: {data['machine']}. Repetitions: {data['reps']} ({noisy}: {data.get('noisy_reps', data['reps'])}; "
             f"heavy cases: {data['heavy_reps']})"
             f"{', QUICK (smaller sizes)' if data['quick'] else ''}. Median [min–max] per backend; each run is a fresh process; "
             "backends interleaved in each repetition, their order rotated and, every other repetition, reversed. "
             f"CPU time the hypervisor gave to other guests during the run (steal): {data.get('steal_seconds', 0):.0f} CPU-s "
             f"in {data.get('total_seconds', 0) / 60:.0f} min.",
             "", "## Targets (issues 7 and 27)", "", "| case | target | measured | compared with | met |", "|---|---|---|---|---|"]
    for t in targets:
        v = t["value"]
        shown = "n/a" if v is None else (fmt(v, "%") if t["unit"] == "%" else
                                         f"{v:.2f}x" if t["unit"] == "x" else f"{fmt(v)} {t['unit']}".strip())
        met = "n/a" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(f"| {t['case']} | {t['target']} | {shown} | {t['compare']} | {met} |")
    lines += [""]
    ssh = data.get("ssh") or {}
    if ssh.get("skipped"):
        lines += [f"skyward-ssh (B1–B3 over the SSH transport) skipped: {ssh['skipped']}.", ""]
    lines += ["## All measurements", "", "| case | backend | median | min–max | vs skyward | vs target/peer | notes |",
              "|---|---|---|---|---|---|---|"]
    for cid, case in cases.items():
        if cid not in data["runs"] or case.get("kind") == "node":
            continue
        metric, unit = case["metric"], case["unit"]
        show_unit = "%" if metric == "efficiency" else unit
        sky_med = med(data["runs"][cid].get("skyward", []), metric)
        for b in BACKENDS:
            rs = data["runs"][cid].get(b)
            if rs is None:
                continue
            vals = [r[metric] for r in rs if "error" not in r]
            errs = [r["error"] for r in rs if "error" in r]
            s = summary(vals)
            m = s.get("median")
            rel = ratio(sky_med, m) if b != "skyward" else None
            if rel is not None and not case["higher"]:
                rel = 1 / rel  # always "how many times better skyward is" (>1 = skyward ahead)
            vs = "" if rel is None else f"skyward {rel:.2f}x {'better' if rel >= 1 else 'worse'}"
            notes = []
            if cid.startswith(("B1", "B7")) and vals:
                notes.append(f"wall {fmt(med(rs, 'wall'), 's')} (ideal {fmt(rs[0].get('ideal'), 's')})")
            if cid == "B2" and vals:
                notes.append(f"wall {fmt(med(rs, 'wall'), 's')}")
            if cid == "B4" and vals:
                good = [r for r in rs if "error" not in r]
                notes.append(f"grid {fmt(med(good, 'wall_grid'), 's')} + 2nd {fmt(med(good, 'wall_second'), 's')}; "
                             f"client peak RSS {fmt(med(good, 'client_peak_rss'), 'B')}")
                if b == "skyward":
                    per = [max(r["bytes_read_per_node"]) for r in good]
                    notes.append(f"read per node {fmt(statistics.median(per), 'B')} (X = {fmt(good[0]['x_bytes'], 'B')})")
                else:
                    notes.append(f"worker reads total {fmt(med(good, 'bytes_read_workers_total'), 'B')}")
            if errs:
                notes.append(f"{len(errs)} failed: {errs[0][:120]}")
            rng = f"{fmt(s['min'], show_unit)}–{fmt(s['max'], show_unit)}" if s["n"] else "n/a"
            lines.append(f"| {cid} | {b} | {fmt(m, show_unit)} | {rng} | {vs} |  | {'; '.join(notes)} |")
    for cid, key, label, unit in (("B5", "warm", "warm ready", "s"), ("B5", "cold", "cold ready", "s")):
        rs = data["runs"].get(cid, {}).get(key)
        if rs:
            vals = [r["ready_seconds"] for r in rs if "error" not in r]
            s = summary(vals)
            tgt = "target 0.5 s: " + ("met" if s.get("median", 9) <= 0.5 else "gap " + fmt(s["median"] - 0.5, "s")) \
                if key == "warm" and vals else ""
            lines.append(f"| B5 | skyward ({label}, 4 nodes) | {fmt(s.get('median'), 's')} | "
                         f"{fmt(s.get('min'), 's')}–{fmt(s.get('max'), 's')} |  | {tgt} | "
                         f"first pool of a fresh node process; import of @skyward/core {fmt(med(rs, 'import_seconds'), 's')} not included |")
            again = [r["second_pool_ready_seconds"] for r in rs if "second_pool_ready_seconds" in r]
            if again:
                s2 = summary(again)
                lines.append(f"| B5 | skyward ({label}, 4 nodes, 2nd pool in the same process) | {fmt(s2['median'], 's')} | "
                             f"{fmt(s2['min'], 's')}–{fmt(s2['max'], 's')} |  | {'met' if s2['median'] <= 0.5 else 'not met'} | "
                             "code loaded and JIT warm: what a long-lived program pays per pool |")
    rs = data["runs"].get("B6", {}).get("node")
    if rs:
        for key, label, unit, tgt in (("dispatches_per_second", "dispatches/s", "", 200_000),
                                      ("heap_bytes_per_queued_task", "heap bytes per queued task", "", 500)):
            vals = [r[key] for r in rs if "error" not in r]
            s = summary(vals)
            ok = s.get("median") is not None and (s["median"] >= tgt if key.startswith("dispatch") else s["median"] <= tgt)
            lines.append(f"| B6 | skyward scheduler ({label}) | {fmt(s.get('median'))} | {fmt(s.get('min'))}–{fmt(s.get('max'))} |"
                         f"  | target {tgt:,}: {'met' if ok else 'not met'} | {rs[0].get('tasks', 0):,} tasks, "
                         f"{rs[0].get('nodes')} nodes x {rs[0].get('slots_per_node')} slots |")
        extra = [r for r in rs if "error" not in r]
        if extra:
            lines.append(f"| B6 | (streamed submits, nodes present) | {fmt(med([r['streamed'] for r in extra], 'dispatches_per_second'))} |"
                         " | | | submit + dispatch + complete interleaved |")
            lines.append(f"| B6 | (with an event listener, as `skyward run`) | "
                         f"{fmt(med([r['with_event_listener'] for r in extra], 'dispatches_per_second'))} | | | | |")
            lines.append(f"| B6 | (bytes/queued task incl. the caller's spec + callbacks) | "
                         f"{fmt(med(extra, 'heap_bytes_per_queued_task_with_caller_objects'))} | | | | what a bridge client costs |")
    net = network_path(data)
    if net:
        lines += ["", "## Network path cost", "",
                  f"The same cases, scripts and layouts through `skyward run --provider ssh` to {len(ssh.get('hosts', []))} "
                  "network-namespace SSH hosts of this machine (a real sshd per host, its own user and home, reached over a "
                  "veth pair; the provider takes the first `nodes` hosts): the cost of the SSH transport's path (encryption, "
                  "sshd and the kernel's network stack, on the same 2 cores) with no real wire latency. "
                  "Ratio = skyward-ssh / skyward (local): below 1 for efficiency and tasks/s, above 1 for wall, means SSH is slower.",
                  "", "| case | metric | skyward (local) | skyward-ssh | ssh / local | wall local → ssh |", "|---|---|---|---|---|---|"]
        for r in net:
            q = r["ratio"]
            lines.append(f"| {r['case']} | {r['metric'].replace('_', ' ')} | {fmt(r['skyward'], r['unit'])} | "
                         f"{fmt(r[SSH], r['unit'])} | {'n/a' if q is None else f'{q:.2f}x'} | "
                         f"{fmt(r['wall_skyward'], 's')} → {fmt(r['wall_ssh'], 's')} |")
        if ssh.get("prepare_seconds") is not None:
            lines += ["", f"Hosts made in {fmt(ssh.get('create_seconds'), 's')}; their cold bootstrap (wheelhouse built here, "
                          f"uploaded to each, venv installed from it) took {fmt(ssh['prepare_seconds'], 's')} before any "
                          "measurement, and is in no number above."]
    lines += dask_hosts.report_lines(data)  # B9: skyward-ssh beside dask-hosts, same hosts and slots
    lines += latency.markdown(data)  # B8: efficiency per round trip x task length
    lines += startup.report_lines(data)  # B10: start-up over 1, 4 and 16 SSH hosts, warm and cold
    lines += ["", "Layouts (same slot count for every backend in a case):", ""]
    for cid, case in cases.items():
        if case.get("kind") in ("node", latency.KIND):  # B8's layout is in its own section
            continue
        n, c, e = case["sky"]
        lines.append(f"- {cid}: {case['title']}; skyward {n} node(s) x {c} {e} slot(s)"
                     f"{' (skyward-ssh: the same on the first ' + str(n) + ' SSH host(s))' if case.get('ssh') else ''}; loky/threading n_jobs={case['slots']}; "
                     f"dask LocalCluster {case['dask_workers']} worker process(es) x {case['slots'] // case['dask_workers']} thread(s); "
                     f"ray num_cpus={case['slots']}.")
    lines += ["", "Efficiency against task duration: [efficiency.svg](efficiency.svg). Raw runs: latest.json.", ""]
    path.write_text("\n".join(lines))


def chart(data: Dict[str, Any], path: Path) -> None:
    points = {"B1-1ms": 0.001, "B1": 0.01, "B1-100ms": 0.1}
    series: Dict[str, List[tuple]] = {}
    for cid, dur in points.items():
        for b, rs in data["runs"].get(cid, {}).items():
            e = med(rs, "efficiency")
            if e is not None:
                series.setdefault(b, []).append((dur, e))
    svg_chart.write_efficiency_chart(path, series, title="Efficiency vs task duration (32 slots, ideal = tasks x duration / 32)",
                                     subtitle=f"pnpm bench {data['started']}{' (quick)' if data['quick'] else ''}, medians")


# -- main ------------------------------------------------------------------------------------

def _interrupted(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="repetitions per (case, backend) (default 3)")
    ap.add_argument("--heavy-reps", type=int, default=None,
                    help="repetitions of B4 and the B1 duration sweep (default 1, or --reps with --quick)")
    ap.add_argument("--noisy-reps", type=int, default=5,
                    help="repetitions of B1, B2 and B3, whose target is a ratio within the swing of one run on a "
                         "shared machine (default 5, or --reps with --quick)")
    ap.add_argument("--quick", action="store_true", help="1 repetition, smaller sizes: a smoke run")
    ap.add_argument("--only", default="", help="comma-separated case ids (B1,B2,...; B1 includes its duration sweep)")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run before it is killed")
    ap.add_argument("--report", metavar="JSON", help="only re-render latest.md and the chart from a latest.json")
    args = ap.parse_args()
    if args.report:
        data = json.loads(Path(args.report).read_text())
        out = Path(args.out)
        data["targets"] = evaluate(data)
        write_markdown(data, data["targets"], out / "latest.md")
        chart(data, out / "efficiency.svg")
        if (data.get("latency") or {}).get("runs"):
            latency.chart(data, out / "latency.svg")
        print((out / "latest.md").read_text())
        return
    reps = 1 if args.quick else args.reps
    heavy_reps = args.heavy_reps if args.heavy_reps is not None else (reps if args.quick else 1)
    noisy_reps = reps if args.quick else max(args.noisy_reps, reps)
    backends = [b for b in args.backends.split(",") if b]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        ap.error(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    only = {c.strip().upper() for c in args.only.split(",") if c.strip()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "latest.log"
    log.write_text(f"# pnpm bench log {_dt.datetime.now().isoformat()}\n")

    table = case_table(args.quick)
    cases: Dict[str, Dict[str, Any]] = {}
    for cid, case in table.items():
        if not only or cid.split("-")[0] in only:
            cases[cid] = case
    for cid in ("B5", "B6"):
        if not only or cid in only:
            cases[cid] = {"kind": "node"}
    if not only or startup.CASE_ID in only:
        cases[startup.CASE_ID] = {"kind": "node"}  # B10 makes and tears down its own 16 SSH hosts (bench/startup.py)

    started = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    data: Dict[str, Any] = {
        "started": started, "quick": args.quick, "reps": reps, "heavy_reps": heavy_reps, "noisy_reps": noisy_reps,
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}, "
                   f"node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}",
        "cases": {k: {kk: vv for kk, vv in v.items()} for k, v in cases.items()},
        "runs": {},
    }
    t_all = time.perf_counter()
    steal_at_start = steal_seconds()
    env = base_env()
    ssh_cases = [c for c in cases.values() if c.get("ssh")]
    hosts: Optional[SshHosts] = None
    # a SIGTERM (as from a CI's cancel) unwinds like Ctrl-C, so the `finally` below tears the SSH hosts down
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        if {SSH, DASK_HOSTS} & set(backends) and ssh_cases:
            count = max(c["sky"][0] for c in ssh_cases)
            print(f"bench: making {count} network-namespace SSH hosts for {SSH}/{DASK_HOSTS}...", flush=True)
            hosts = SshHosts(log)
            why = hosts.start(count)
            if why is not None:
                print(f"bench: {SSH} and {DASK_HOSTS} skipped: {why}", flush=True)
                data["ssh"] = {"skipped": why}
                backends = [b for b in backends if b not in (SSH, DASK_HOSTS)]
                hosts = None
            else:
                assert hosts.info is not None
                data["ssh"] = {k: hosts.info.get(k) for k in ("hosts", "create_seconds")}
        if {"skyward", SSH} & set(backends) and any(c.get("kind") != "node" for c in cases.values()):
            print("bench: preparing the Skyward environment (once)...", flush=True)
            prepare_skyward(log)
        if hosts is not None and hosts.info is not None and SSH in backends:
            print(f"bench: preparing the {len(hosts.info['hosts'])} SSH hosts' environments (cold bootstrap, once)...",
                  flush=True)
            data["ssh"]["prepare_seconds"] = prepare_skyward(log, ssh=hosts.info)

        for cid, case in cases.items():
            if case.get("kind") == latency.KIND:  # B8: one run per round trip, each through a fresh latency proxy
                data["latency"] = latency.run_case(
                    hosts.info if hosts is not None and SSH in backends else None, heavy_reps,
                    command=lambda ssh, case=case: python_case_cmd(case, SSH, ssh=ssh),
                    run=lambda cmd: run_process(cmd, env, args.timeout, log), log=log,
                    skipped=(data.get("ssh") or {}).get("skipped"))
                continue
            if case.get("kind") == "node":
                continue
            n = heavy_reps if case.get("heavy") or case.get("sweep") else noisy_reps if case.get("noisy") else reps
            case_backends = [b for b in backends if (b != SSH or case.get("ssh"))
                             and (b != DASK_HOSTS or cid in dask_hosts.CASES) and b in case.get("backends", BACKENDS)]
            if not case_backends:
                continue
            data["runs"][cid] = {b: [] for b in case_backends}
            for rep in range(n):
                # backends interleaved per repetition, so slow drift of the machine hits all of them alike; their
                # order rotated, and reversed every other repetition (a rotation alone keeps each backend's
                # predecessor), so no backend always runs first or right after the same peer's exit
                order = case_backends if rep % 2 == 0 else case_backends[::-1]
                shift = (rep // 2) % len(order)
                for b in order[shift:] + order[:shift]:
                    if b == DASK_HOSTS and hosts is not None and hosts.info is not None:
                        # a fresh scheduler here and `dask worker`s in the namespaces, stopped after the run
                        res = dask_hosts.run_case(case, hosts.info, env, args.timeout, log, run_process)
                    else:
                        cmd = python_case_cmd(case, b, ssh=hosts.info if hosts is not None else None)
                        res = run_process(cmd, env, args.timeout, log)
                    res["rep"] = rep
                    data["runs"][cid][b].append(res)
                    m = res.get(case["metric"])
                    shown = res["error"] if "error" in res else fmt(m, "%" if case["metric"] == "efficiency" else case["unit"])
                    print(f"bench: {cid:8s} {b:11s} rep {rep + 1}/{n}: {shown}  ({res['process_seconds']:.1f}s)", flush=True)
    finally:
        if hosts is not None:
            print("bench: tearing down the SSH hosts...", flush=True)
            torn = hosts.stop()
            if "ssh" in data and torn is not None:
                data["ssh"]["teardown"] = torn
            left = (torn or {}).get("leftovers")
            if left or (torn or {}).get("exit") not in (0, None):
                print(f"bench: WARNING: the SSH hosts' teardown reported {torn}", flush=True)

    if "B5" in cases and "skyward" in backends:
        data["runs"]["B5"] = {"warm": [], "cold": [], "cli": []}
        for rep in range(reps):
            t0 = time.perf_counter()
            proc = subprocess.run(["node", str(CLI), "--version"], cwd=ROOT, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            data["runs"]["B5"]["cli"].append({"start_seconds": seconds} if proc.returncode == 0 else
                                             {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"})
            print(f"bench: B5 CLI start rep {rep + 1}/{reps}: {seconds:.2f} s", flush=True)
        script = str(BENCH / "node" / "b5_startup.mjs")
        run_process(["node", script, "--mode", "warm"], env, args.timeout, log)  # make sure the env is cached
        for rep in range(reps):
            res = run_process(["node", script, "--mode", "warm"], env, args.timeout, log)
            data["runs"]["B5"]["warm"].append(res)
            print(f"bench: B5 warm rep {rep + 1}/{reps}: {res.get('ready_seconds', res.get('error'))}", flush=True)
        for rep in range(heavy_reps):
            fresh = tempfile.mkdtemp(prefix="skyward-bench-cold-")
            cold_env = dict(env, XDG_CACHE_HOME=fresh)
            cold_env.pop("SKYWARD_CACHE_DIR", None)
            cold_env.pop("PIP_CACHE_DIR", None)
            try:
                res = run_process(["node", script, "--mode", "cold"], cold_env, args.timeout, log)
            finally:
                shutil.rmtree(fresh, ignore_errors=True)
            data["runs"]["B5"]["cold"].append(res)
            print(f"bench: B5 cold rep {rep + 1}/{heavy_reps}: {res.get('ready_seconds', res.get('error'))}", flush=True)

    if "B6" in cases and "skyward" in backends:
        data["runs"]["B6"] = {"node": []}
        script = str(BENCH / "node" / "b6_scheduler.mjs")
        size = ["--tasks", "200000", "--nodes", "100"] if args.quick else ["--tasks", "1000000", "--nodes", "1000"]
        for rep in range(reps):
            res = run_process(["node", "--expose-gc", "--max-old-space-size=8192", script] + size, env, args.timeout, log)
            data["runs"]["B6"]["node"].append(res)
            print(f"bench: B6 rep {rep + 1}/{reps}: {res.get('dispatches_per_second', res.get('error'))} dispatches/s, "
                  f"{res.get('heap_bytes_per_queued_task')} B/task", flush=True)

    if startup.CASE_ID in cases and SSH in backends:
        data["b10"] = startup.run_case(reps, env, args.timeout, log, run_process, SshHosts)

    data["total_seconds"] = time.perf_counter() - t_all
    data["steal_seconds"] = round(steal_seconds() - steal_at_start, 1)
    targets = evaluate(data)
    data["targets"] = targets
    data["network_path"] = network_path(data)
    (out / "latest.json").write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    write_markdown(data, targets, out / "latest.md")
    if any(c in data["runs"] for c in ("B1", "B1-1ms", "B1-100ms")):
        chart(data, out / "efficiency.svg")
    if (data.get("latency") or {}).get("runs"):
        latency.chart(data, out / "latency.svg")
    print(f"bench: done in {data['total_seconds'] / 60:.1f} min -> {out / 'latest.md'}", flush=True)
    print((out / "latest.md").read_text())


if __name__ == "__main__":
    # every process of the run puts its temporary files here (Ray's session folder, Dask's scratch
    # space, tsx's cache), and they go with it; as open as /tmp itself for the SSH hosts' users
    scratch = tempfile.mkdtemp(prefix="sky-bench-")
    os.chmod(scratch, 0o1777)
    os.environ["TMPDIR"] = scratch
    try:
        main()
    except KeyboardInterrupt:
        print("bench: interrupted (the SSH hosts, if any, were torn down)", file=sys.stderr, flush=True)
        sys.exit(130)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
