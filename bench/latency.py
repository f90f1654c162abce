"""B8 (issue 27): a network path with latency, run by harness.py.

Every task goes from the client to a node and back, so a laptop 20-80 ms from its cloud region pays
that round trip between a slot's tasks unless the pool hides it. This kernel has no `netem`: B8 puts
bench/node/latency_proxy.mjs (one process per round trip, one listener on 127.0.0.1 per host, each
direction held RTT/2, byte order kept) between `skyward run --provider ssh` and each network-namespace
host's sshd, and sweeps round trip x task length on 4 hosts x 8 thread slots. One `skyward run` per
round trip; its script (cases/b8_network.py) times one Parallel call per task length in the same
pool, after a warm-up, so pool start-up is in no cell. Efficiency = tasks x length / 32 / wall.

Before each run, one TCP round trip per host is timed through the proxy (the SSH version exchange:
our identification out, the server's first key-exchange packet back), so the report shows the delay
was real. The proxy stops after each run, also on failure or Ctrl-C, and its ports are checked closed.
"""
from __future__ import annotations

import json
import select
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypedDict

import svg_chart

if TYPE_CHECKING:  # the case script reports its cells in this shape
    from cases.b8_network import Cell

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PROXY_JS = BENCH / "node" / "latency_proxy.mjs"

CASE_ID = "B8"
KIND = "latency"  # case_table's marker: harness.main hands the case to run_case, not to its per-backend loop
BACKEND = "skyward-ssh"  # the one backend B8 measures: Skyward's pool over the SSH transport
RTTS_MS = (0, 2, 10, 50)
DURATIONS = (0.01, 0.1, 1.0)  # task lengths, seconds
LAYOUT = (4, 8, "thread")  # nodes, slots per node, executor
SLOTS = LAYOUT[0] * LAYOUT[1]
IDEAL_SECONDS = 4.0  # each length's call: whole waves of 32 tasks adding up to about this ideal wall
QUICK_IDEAL_SECONDS = 1.0
MIN_WAVES = 2  # at least two tasks per slot: one wave alone would time only the first dispatch
PROXY_START_TIMEOUT = 30.0
PROXY_STOP_TIMEOUT = 10.0
PROBE_TIMEOUT = 10.0
PROBE_SAMPLES_PER_HOST = 3  # sshd's own answer time varies by a few ms: the minimum of a few is the wire's share
PROBE_IDENT = b"SSH-2.0-skyward-bench-rtt-probe\r\n"
# B8's tasks need no files: not shipping the repository keeps its runs short to start and clear of other
# sessions' edits to it ("changed while it was being sent")
NO_WORKDIR = "--no-workdir"


@dataclass(frozen=True)
class Target:
    """Issue 27's target for one cell."""
    rtt_ms: int
    duration: float
    efficiency: float


TARGETS = (Target(rtt_ms=10, duration=0.1, efficiency=0.90), Target(rtt_ms=10, duration=1.0, efficiency=0.98))


@dataclass(frozen=True)
class SshHost:
    """One entry of ssh_hosts.mjs's `hosts`: `user@address:port`."""
    user: str
    address: str
    port: int

    @staticmethod
    def parse(spec: str) -> SshHost:
        user, _, rest = spec.partition("@")
        address, _, port = rest.rpartition(":")
        return SshHost(user=user, address=address, port=int(port))

    @property
    def known_hosts_name(self) -> str:
        """How known_hosts names this host (OpenSSH's rule, as the transport reads it)."""
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"


class Listener(TypedDict):
    port: int
    target: str


class Probe(TypedDict):
    """TCP round trips through the proxy to the hosts' sshd, in ms (None: the probe failed, `error` says why).
    Each includes sshd's time to answer (the 0 ms row's value)."""
    samples_ms: list[float]
    min_ms: float | None
    median_ms: float | None
    error: str | None


class ProxyStop(TypedDict):
    exit: int | None
    connections: int | None
    still_listening: list[int]


class CellSummary(TypedDict):
    """One (round trip, task length) cell over the repetitions."""
    rtt_ms: int
    duration: float
    n: int
    efficiency: float | None
    efficiency_min: float | None
    efficiency_max: float | None
    tasks: int | None
    wall: float | None
    probe_ms: float | None  # the runs' fastest round trip through the proxy (median over repetitions)
    probe_median_ms: float | None


def case_entry(quick: bool) -> dict[str, Any]:
    """B8's row of harness.case_table (the harness builds its `skyward run` command like any case's)."""
    ideal = QUICK_IDEAL_SECONDS if quick else IDEAL_SECONDS
    return dict(kind=KIND, script="b8_network.py", slots=SLOTS, sky=LAYOUT, dask_workers=LAYOUT[0], ssh=True,
                heavy=True, args=["--durations", ",".join(f"{d:g}" for d in DURATIONS), "--ideal-seconds",
                                  f"{ideal:g}", "--min-waves", str(MIN_WAVES)],
                title=f"B8 network latency: sleep tasks through a latency proxy, {LAYOUT[0]} SSH hosts x {LAYOUT[1]} "
                      "thread slots", metric="efficiency", unit="", higher=True)


# -- the proxy -------------------------------------------------------------------------------

@dataclass
class Proxied:
    """The SSH hosts as seen through one latency proxy; `stop` is filled in when the proxy is gone."""
    rtt_ms: int
    ssh: dict[str, Any]  # like SshHosts.info: hosts (user@127.0.0.1:port), identity, known_hosts
    listeners: list[Listener]
    stop: ProxyStop | None = field(default=None)


def derived_known_hosts(original: Path, hosts: Sequence[SshHost], listeners: Sequence[Listener], out: Path) -> None:
    """known_hosts listing each host's own key under `[127.0.0.1]:<its proxy port>`: the client checks the key of
    the sshd behind the proxy, under the name it dials."""
    keys: dict[str, list[str]] = {}
    for line in original.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#"):
            keys.setdefault(fields[0], []).append(" ".join(fields[1:3]))
    lines: list[str] = []
    for host, listener in zip(hosts, listeners):
        found = keys.get(host.known_hosts_name)
        if not found:
            raise RuntimeError(f"no key for {host.known_hosts_name} in {original}")
        lines += [f"[127.0.0.1]:{listener['port']} {key}" for key in found]
    out.write_text("".join(f"{line}\n" for line in lines))


def _still_listening(ports: Sequence[int]) -> list[int]:
    """The ports something still accepts connections on (none, once the proxy is gone)."""
    left: list[int] = []
    for port in ports:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                left.append(port)
        except OSError:
            pass
    return left


def _stop_proxy(proc: subprocess.Popen[str], ports: Sequence[int], log: Path) -> ProxyStop:
    out = ""
    try:
        out, _ = proc.communicate(timeout=PROXY_STOP_TIMEOUT)  # closes its stdin: the proxy stops
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=PROXY_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    connections: int | None = None
    for line in (out or "").splitlines():
        try:
            connections = json.loads(line).get("connections", connections)
        except ValueError:
            pass
    stop = ProxyStop(exit=proc.returncode, connections=connections, still_listening=_still_listening(ports))
    with log.open("a") as f:
        f.write(f"\n# latency proxy stopped: {json.dumps(stop)}\n")
    return stop


@contextmanager
def proxied(rtt_ms: int, ssh_info: dict[str, Any], log: Path) -> Iterator[Proxied]:
    """A latency proxy in front of every SSH host for the `with` block, then stopped (also on failure or Ctrl-C)."""
    hosts = [SshHost.parse(h) for h in ssh_info["hosts"]][:LAYOUT[0]]
    cmd = ["node", str(PROXY_JS), "--rtt-ms", str(rtt_ms)]
    for host in hosts:
        cmd += ["--to", f"{host.address}:{host.port}"]
    with log.open("a") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
    workdir = Path(tempfile.mkdtemp(prefix="sky-bench-b8-"))
    err = log.open("a")
    try:
        # own session: a Ctrl-C reaches only the harness, which stops the proxy in order; its stdin is our pipe,
        # so if the harness dies the proxy goes too
        proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                                start_new_session=True)
    finally:
        err.close()
    listeners: list[Listener] = []
    through: Proxied | None = None
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], PROXY_START_TIMEOUT)
        line = proc.stdout.readline() if ready else ""
        try:
            reply = json.loads(line)
        except ValueError:
            reply = {"ok": False, "error": f"no answer in {PROXY_START_TIMEOUT:.0f}s"}
        if not reply.get("ok"):
            raise RuntimeError(f"latency proxy did not start: {reply.get('error')}")
        listeners = reply["listeners"]
        known_hosts = workdir / "known_hosts"
        derived_known_hosts(Path(ssh_info["known_hosts"]), hosts, listeners, known_hosts)
        ssh = dict(ssh_info, known_hosts=str(known_hosts),
                   hosts=[f"{h.user}@127.0.0.1:{lst['port']}" for h, lst in zip(hosts, listeners)])
        through = Proxied(rtt_ms=rtt_ms, ssh=ssh, listeners=listeners)
        yield through
    finally:
        stop = _stop_proxy(proc, [lst["port"] for lst in listeners], log)
        if through is not None:
            through.stop = stop
        shutil.rmtree(workdir, ignore_errors=True)


def probe_round_trip(port: int) -> float:
    """One TCP round trip through the proxy to a host's sshd, in ms: after the server's version line, our
    identification goes out and the server answers with its first key-exchange packet (OpenSSH sends it only
    once it has the client's version)."""
    with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        banner = b""
        while b"\n" not in banner:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("sshd closed before its version line")
            banner += chunk
        if banner.split(b"\n", 1)[1]:
            raise RuntimeError("sshd sent more than its version line before ours: no round trip to time")
        t0 = time.perf_counter()
        s.sendall(PROBE_IDENT)
        if not s.recv(4096):
            raise RuntimeError("sshd closed instead of answering")
        return (time.perf_counter() - t0) * 1000


def probe(through: Proxied) -> Probe:
    try:
        samples = [probe_round_trip(lst["port"]) for lst in through.listeners for _ in range(PROBE_SAMPLES_PER_HOST)]
    except (OSError, RuntimeError) as exc:
        return Probe(samples_ms=[], min_ms=None, median_ms=None, error=str(exc))
    return Probe(samples_ms=[round(s, 3) for s in samples], min_ms=round(min(samples), 3),
                 median_ms=round(statistics.median(samples), 3), error=None)


# -- the case --------------------------------------------------------------------------------

def run_case(ssh_info: dict[str, Any] | None, reps: int, command: Callable[[dict[str, Any]], list[str]],
             run: Callable[[list[str]], dict[str, Any]], log: Path, skipped: str | None = None) -> dict[str, Any]:
    """B8's runs: for each repetition, one `skyward run` per round trip (order reversed every other repetition)
    through a fresh proxy. `command(ssh)` is the harness's `skyward run` of the case on those hosts; `run(cmd)`
    its run_process. Returns data["latency"] of latest.json."""
    base: dict[str, Any] = {"rtts_ms": list(RTTS_MS), "durations": list(DURATIONS), "slots": SLOTS,
                            "layout": list(LAYOUT), "reps": reps, "runs": []}
    if ssh_info is None:
        base["skipped"] = skipped or f"needs the {BACKEND} backend's hosts"
        print(f"bench: {CASE_ID} skipped: {base['skipped']}", flush=True)
        return base
    for rep in range(reps):
        order = list(RTTS_MS) if rep % 2 == 0 else list(RTTS_MS)[::-1]
        for rtt in order:
            try:
                with proxied(rtt, ssh_info, log) as through:
                    measured = probe(through)
                    cmd = command(through.ssh)
                    cmd.insert(cmd.index("run") + 1, NO_WORKDIR)
                    res = run(cmd)
            except (OSError, RuntimeError) as exc:  # the proxy could not start: this round trip has no run
                measured = Probe(samples_ms=[], min_ms=None, median_ms=None, error=str(exc))
                res, through = {"error": str(exc)}, None
            res.update(rtt_ms=rtt, rep=rep, probe=measured, proxy=through.stop if through is not None else None)
            base["runs"].append(res)
            print(f"bench: {CASE_ID} rtt {rtt:2d} ms rep {rep + 1}/{reps}: {_shown(res)}  "
                  f"({res.get('process_seconds', 0):.1f}s)", flush=True)
    return base


def _shown(res: dict[str, Any]) -> str:
    if "error" in res:
        return res["error"]
    p = res["probe"]
    cells = ", ".join(f"{_length(c['duration'])} {100 * c['efficiency']:.1f}%" for c in res["cells"])
    measured = "n/a" if p["min_ms"] is None else f"{p['min_ms']:.1f} ms (median {p['median_ms']:.1f} ms)"
    return f"{cells}; measured RTT {measured}"


def _length(duration: float) -> str:
    return f"{duration:g} s" if duration >= 1 else f"{duration * 1000:g} ms"


def summarize(latency: dict[str, Any]) -> list[CellSummary]:
    """One summary per (round trip, task length), medians over the repetitions that succeeded."""
    out: list[CellSummary] = []
    for rtt in latency.get("rtts_ms", []):
        runs = [r for r in latency.get("runs", []) if r.get("rtt_ms") == rtt and "error" not in r]
        probes = [r["probe"] for r in runs if r["probe"].get("min_ms") is not None]
        for duration in latency.get("durations", []):
            cells: list[Cell] = [c for r in runs for c in r["cells"] if abs(c["duration"] - duration) < 1e-9]
            effs = [c["efficiency"] for c in cells]
            out.append(CellSummary(
                rtt_ms=rtt, duration=duration, n=len(effs),
                efficiency=statistics.median(effs) if effs else None,
                efficiency_min=min(effs) if effs else None, efficiency_max=max(effs) if effs else None,
                tasks=cells[0]["tasks"] if cells else None,
                wall=statistics.median(c["wall"] for c in cells) if cells else None,
                probe_ms=statistics.median(p["min_ms"] for p in probes) if probes else None,
                probe_median_ms=statistics.median(p["median_ms"] for p in probes) if probes else None))
    return out


def _cell(cells: Sequence[CellSummary], rtt_ms: int, duration: float) -> CellSummary | None:
    return next((c for c in cells if c["rtt_ms"] == rtt_ms and abs(c["duration"] - duration) < 1e-9), None)


def target_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """harness.evaluate's rows for issue 27's targets."""
    latency = data.get("latency")
    if not latency:
        return []
    cells = summarize(latency)
    rows: list[dict[str, Any]] = []
    for t in TARGETS:
        c = _cell(cells, t.rtt_ms, t.duration)
        value = c["efficiency"] if c else None
        compare = (f"{c['tasks']:,} x {_length(t.duration)} tasks on {SLOTS} slots in {c['wall']:.2f} s; RTT "
                   f"through the proxy measured {c['probe_ms']:.1f} ms"
                   if c and value is not None and c["probe_ms"] is not None else latency.get("skipped", ""))
        rows.append({"case": CASE_ID, "target": f"{_length(t.duration)} tasks at {t.rtt_ms} ms RTT: efficiency >= "
                                                f"{100 * t.efficiency:g}%", "value": value, "unit": "%",
                     "compare": compare, "met": None if value is None else value >= t.efficiency})
    return rows


def markdown(data: dict[str, Any]) -> list[str]:
    """The report's B8 section: efficiency per (round trip, task length)."""
    latency = data.get("latency")
    if not latency:
        return []
    lines = ["", f"## {CASE_ID} network path with latency (issue 27)", ""]
    if latency.get("skipped"):
        return lines + [f"Skipped: {latency['skipped']}.", ""]
    durations = latency["durations"]
    cells = summarize(latency)
    lines += [f"`skyward run --provider ssh`, {LAYOUT[0]} network-namespace SSH hosts x {LAYOUT[1]} thread slots, "
              "through bench/node/latency_proxy.mjs (each direction held RTT/2; the 0 ms row goes through it too). "
              "One run per round trip, one pool per run; each task length is one timed Parallel call after a warm-up. "
              f"Efficiency = tasks x length / {SLOTS} / wall; median over {latency['reps']} repetition(s). "
              f"Measured RTT: TCP round trips through the proxy to each host's sshd ({PROBE_SAMPLES_PER_HOST} per "
              "host, SSH version exchange), fastest (median); they include sshd's own time to answer, which is the "
              "0 ms row's value.", "",
              "| RTT | measured RTT | " + " | ".join(f"{_length(d)} tasks" for d in durations) + " |",
              "|---|---|" + "---|" * len(durations)]
    for rtt in latency["rtts_ms"]:
        row = [c for c in (_cell(cells, rtt, d) for d in durations) if c is not None]
        probe_ms = row[0]["probe_ms"] if row else None
        probe_median_ms = row[0]["probe_median_ms"] if row else None
        shown = []
        for c in row:
            if c["efficiency"] is None:
                shown.append("n/a")
                continue
            spread = (f" [{100 * (c['efficiency_min'] or 0):.1f}–{100 * (c['efficiency_max'] or 0):.1f}%]"
                      if c["n"] > 1 else "")
            shown.append(f"{100 * c['efficiency']:.1f}%{spread} ({c['tasks']:,} tasks, {c['wall']:.2f} s)")
        measured = "n/a" if probe_ms is None else f"{probe_ms:.1f} ms ({probe_median_ms:.1f} ms)"
        lines.append(f"| {rtt} ms | {measured} | " + " | ".join(shown) + " |")
    errors = [r for r in latency["runs"] if "error" in r]
    for r in errors:
        lines.append(f"\nRTT {r['rtt_ms']} ms, repetition {r['rep'] + 1} failed: {r['error'][:300]}")
    left = [p for r in latency["runs"] for p in ((r.get("proxy") or {}).get("still_listening") or [])]
    lines += ["", "Proxy stopped after every run, nothing left listening." if not left else
              f"WARNING: ports still listening after the proxy stopped: {left}.",
              "Chart: [latency.svg](latency.svg).", ""]
    return lines


RTT_COLORS = ("#2ca02c", "#1f77b4", "#ff7f0e", "#d62728")  # one per round trip, in RTTS_MS order


def chart(data: dict[str, Any], path: Path) -> None:
    latency = data.get("latency") or {}
    series: dict[str, list[tuple[float, float]]] = {}
    colors: dict[str, str] = {}
    for i, rtt in enumerate(latency.get("rtts_ms", [])):
        name = f"RTT {rtt} ms"
        colors[name] = RTT_COLORS[i % len(RTT_COLORS)]
        series[name] = [(c["duration"], c["efficiency"]) for c in summarize(latency)
                        if c["rtt_ms"] == rtt and c["efficiency"] is not None]
    markers = [svg_chart.Marker(x=t.duration, y=t.efficiency, label=f"target at {t.rtt_ms} ms RTT: "
                                f"{100 * t.efficiency:g}%") for t in TARGETS]
    svg_chart.write_efficiency_chart(
        path, series, title=f"{CASE_ID}: efficiency vs task length through a latency proxy ({SLOTS} SSH slots)",
        subtitle=f"pnpm bench {data['started']}{' (quick)' if data['quick'] else ''}, medians; diamonds: targets",
        colors=colors, reference_lines=(), markers=markers, x_label="task length (time.sleep per task, log scale)",
        marker_legend=f"target ({TARGETS[0].rtt_ms} ms RTT)")

