"""Runs a command and reports the CPU seconds (user+sys) each process of its tree used, by role.

    python bench/profile/cpu_tree.py -- node apps/cli/dist/bin.js run ... bench/cases/b2_overhead.py --backend skyward ...

`--each` (before `--`) also lists every process. Polls /proc every 50 ms and keeps each process's last reading (a process's final few ms are lost).
Roles: node (the CLI), client (the user's script), agent (skyward_worker), slot (the agent's children).
"""
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def snapshot():
    procs = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                st = f.read()
            rest = st[st.rindex(b")") + 2:].split()
            ppid, utime, stime = int(rest[1]), int(rest[11]), int(rest[12])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            procs[int(name)] = (ppid, (utime + stime) / TICK, cmd)
        except (OSError, ValueError, IndexError):
            continue
    return procs


def role(pid, procs, root):
    ppid, _, cmd = procs[pid]
    if pid == root:
        return "node (CLI)" if "bin.js" in cmd else "root"
    if "skyward_worker" in cmd:
        return "agent"
    parent_cmd = procs.get(ppid, (0, 0, ""))[2]
    if "skyward_worker" in parent_cmd or "multiprocessing" in cmd or "forkserver" in cmd:
        return "slot/child of agent"
    if "python" in cmd and "-c" in cmd:
        return "client (script)"
    return cmd.split(" ")[0].rsplit("/", 1)[-1]


def main():
    cmd = sys.argv[sys.argv.index("--") + 1:]
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd)
    seen = {}
    while child.poll() is None:
        procs = snapshot()
        tree = {child.pid}
        changed = True
        while changed:
            changed = False
            for pid, (ppid, _, _) in procs.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    changed = True
        for pid in tree:
            if pid in procs:
                seen[pid] = (role(pid, procs, child.pid), procs[pid][1], procs[pid][2])
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    by_role = {}
    for pid, (r, cpu, _) in seen.items():
        n, c = by_role.get(r, (0, 0.0))
        by_role[r] = (n + 1, c + cpu)
    print(f"\ncpu_tree: wall {wall:.2f}s; CPU seconds by role (2 cores = {2 * wall:.1f} CPU-s available):", file=sys.stderr)
    for r, (n, c) in sorted(by_role.items(), key=lambda kv: -kv[1][1]):
        print(f"  {r:24s} {n:3d} proc  {c:7.2f} CPU-s", file=sys.stderr)
    if "--each" in sys.argv[:sys.argv.index("--")]:
        for pid, (r, cpu, cmdline) in sorted(seen.items(), key=lambda kv: -kv[1][1]):
            print(f"    {pid:7d} {cpu:7.2f} CPU-s  {r:20s} {cmdline[:100]}", file=sys.stderr)
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()
