"""Top functions by self time in a Node .cpuprofile (from `node --cpu-prof`).

    python bench/profile/cpuprof_top.py FILE.cpuprofile [N]
"""
import collections
import json
import sys

prof = json.load(open(sys.argv[1]))
n = int(sys.argv[2]) if len(sys.argv) > 2 else 25
nodes = {x["id"]: x for x in prof["nodes"]}
dt = collections.Counter()
deltas = prof["timeDeltas"]
for sid, d in zip(prof["samples"], deltas):
    dt[sid] += d
self_time = collections.Counter()
for nid, t in dt.items():
    cf = nodes[nid]["callFrame"]
    url = cf["url"].split("/node_modules/")[-1].split("/packages/")[-1]
    self_time[(cf["functionName"] or "(anonymous)", url, cf["lineNumber"] + 1)] += t
total = sum(self_time.values())
print(f"total sampled {total / 1e6:.2f}s")
for (fn, url, line), t in self_time.most_common(n):
    print(f"{t / 1e6:8.2f}s {100 * t / total:5.1f}%  {fn}  {url}:{line}")
