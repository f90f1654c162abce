"""Shared by the case drivers: backend selection, process measurements, the result line.

Every case is one process per (case, backend, repetition). For ``--backend skyward`` the script is
started by ``skyward run``, which already made "skyward" joblib's default backend: the script then
only uses plain ``Parallel(n_jobs=-1)``. For the peers the script picks the backend itself.

Only the standard library and joblib are imported here (the Skyward client environment has no psutil).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

BACKENDS = ("skyward", "loky", "threading", "dask", "ray")
DASK_CONNECT_SECONDS = 60  # a running scheduler (--dask-address) answers at once, unless 2 busy cores delay it
DASK_WORKERS_SECONDS = 300  # 10 `dask worker` processes importing dask on 2 shared cores: up to minutes
RESULT_PREFIX = "BENCH_RESULT "

try:  # tasks defined here travel by value: workers cannot import this folder
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
except Exception:  # noqa: BLE001
    pass


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend", choices=BACKENDS, required=True)
    p.add_argument("--slots", type=int, required=True, help="total task slots, the same for every backend")
    p.add_argument("--workers", type=int, default=1,
                   help="dask: worker processes (slots are split evenly over them as threads)")
    p.add_argument("--dask-processes", type=int, default=1, help="dask: 1 = worker processes, 0 = threads in the client")
    p.add_argument("--dask-address", default=None,
                   help="dask: a running scheduler (bench/dask_hosts.py) instead of a LocalCluster; "
                        "waits for --workers worker processes")
    return p


def emit(result: Dict[str, Any]) -> None:
    """Prints the one result line the harness reads."""
    sys.stdout.flush()
    sys.stdout.write(RESULT_PREFIX + json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- /proc helpers (Linux) -------------------------------------------------------------------

def _ppid_map() -> Dict[int, int]:
    out: Dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
            out[int(name)] = ppid
        except (OSError, ValueError, IndexError):
            continue
    return out


def descendants(pid: int) -> List[int]:
    parents = _ppid_map()
    children: Dict[int, List[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    out: List[int] = []
    todo = list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def children_of(pid: int) -> List[int]:
    return [c for c, p in _ppid_map().items() if p == pid]


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def rchar(pid: int) -> Optional[int]:
    """Bytes this process got from read()-like calls (pipes, sockets, files): /proc/<pid>/io."""
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def skyward_agents() -> List[int]:
    """The pool's agent processes: siblings of this script under `skyward run` (node) running skyward_worker."""
    return sorted(p for p in children_of(os.getppid()) if p != os.getpid() and "skyward_worker" in cmdline(p))


class ReadMeter:
    """Bytes read by the processes that do the work, between `start` and `stop`.

    skyward: per agent process (one per node): its stdin carries every frame the node receives
    (the slot children read from the agent, not from Node, so they are not added again).
    peers: every descendant process of this script (loky workers, dask nanny/workers, raylet and
    Ray workers), summed; memory-mapped or shared-memory transfers (loky's memmapping of large
    arrays, Ray's plasma store) do not show up as reads.
    """

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.before: Dict[int, int] = {}

    def _pids(self) -> List[int]:
        return skyward_agents() if self.backend == "skyward" else descendants(os.getpid())

    def start(self) -> None:
        self.before = {p: rchar(p) or 0 for p in self._pids()}

    def stop(self) -> Dict[str, Any]:
        after = {p: rchar(p) for p in self._pids()}
        deltas = {p: (v - self.before.get(p, 0)) for p, v in after.items() if v is not None}
        if self.backend == "skyward":
            per_node = [deltas[p] for p in sorted(deltas)]
            return {"bytes_read_per_node": per_node, "bytes_read_total": sum(per_node)}
        return {"bytes_read_workers_total": sum(deltas.values()), "worker_processes": len(deltas)}


# -- backends --------------------------------------------------------------------------------

@contextlib.contextmanager
def backend(args: argparse.Namespace) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """Activates the backend; yields (n_jobs to pass to Parallel, info). Set-up time is in info."""
    import joblib

    t0 = time.perf_counter()
    info: Dict[str, Any] = {"backend": args.backend, "slots": args.slots}
    name = args.backend
    if name == "skyward":
        # `skyward run` made skyward the default backend; n_jobs=-1 is the pool's slot count
        from joblib import effective_n_jobs

        info["effective_n_jobs"] = effective_n_jobs(-1)
        info["setup_seconds"] = time.perf_counter() - t0
        yield -1, info
        return
    if name in ("loky", "threading"):
        # n_jobs=-1 would be this machine's 2 cores: ask for the case's slot count explicitly
        with joblib.parallel_config(backend=name):
            info["setup_seconds"] = time.perf_counter() - t0
            yield args.slots, info
        return
    if name == "dask":
        from dask.distributed import Client, LocalCluster

        cluster = None
        if args.dask_address:
            # the workers run elsewhere (namespace hosts): wait for all, so the warm-up and timed calls find them
            client = Client(args.dask_address, timeout=DASK_CONNECT_SECONDS)
            client.wait_for_workers(args.workers, timeout=DASK_WORKERS_SECONDS)
            threads = sum(client.nthreads().values())
            info["dask_layout"] = f"{args.workers} workers, {threads} threads at {args.dask_address}"
        else:
            workers = max(1, args.workers)
            threads = max(1, args.slots // workers)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=threads, processes=bool(args.dask_processes),
                                   dashboard_address=None, host="127.0.0.1", silence_logs=50)
            client = Client(cluster)
            info["dask_layout"] = f"{workers} workers x {threads} threads"
        try:
            with joblib.parallel_config(backend="dask"):
                info["setup_seconds"] = time.perf_counter() - t0
                yield -1, info
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    if name == "ray":
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import ray
        from ray.util.joblib import register_ray

        ray.init(num_cpus=args.slots, include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False, configure_logging=True, logging_level="ERROR")
        register_ray()
        try:
            with joblib.parallel_config(backend="ray"):
                info["setup_seconds"] = time.perf_counter() - t0
                yield -1, info
        finally:
            ray.shutdown()
        return
    raise ValueError(name)


def warm_up(n_jobs: int, slots: int, backend: str) -> float:
    """Parallel calls until every worker is up, so the timed call finds them (start-up is B5's).

    loky starts its `slots` worker processes at once, but on 2 cores they take seconds to import;
    a plain warm-up call can finish on the first few while the rest still boot (and then steal
    CPU from the timed call). So: repeat a call of short sleeps until `slots` distinct workers
    (pid, thread) answered, or 30 s. Not for ray: ray.util.joblib starts a fresh pool of `n_jobs`
    actors in every Parallel call and stops it at the end, so nothing would stay warm.
    """
    from joblib import Parallel, delayed

    if backend == "ray":
        return 0.0
    t0 = time.perf_counter()
    seen = set()
    while time.perf_counter() - t0 < 30:
        seen.update(Parallel(n_jobs=n_jobs, batch_size=1)(delayed(_whoami)(0.05) for _ in range(2 * slots)))
        if len(seen) >= slots:
            break
    time.sleep(0.5)  # let the last imports settle
    return time.perf_counter() - t0


def _whoami(pause: float) -> Any:
    import threading

    time.sleep(pause)
    return (os.getpid(), threading.get_ident())


def _noop(x: Any = None) -> Any:
    return x
