"""A small real project: one joblib task per store, each reading data/sales.csv by a relative path.

Run it on this machine's cores with ``python main.py``, or unchanged on a pool with
``skyward run main.py`` (the folder, its modules and data, and the active virtual environment
travel to the workers). Both print the same ``result:`` lines.
"""
import json
import os

from joblib import Parallel, delayed
from storenames import canonical

from stores.helpers import store_summary

STORES = ["north-east", "south_west", "harbour", "old town", "airport", "station"]


def summarize(store):
    """One store's figures, and where the task ran (process, Skyward node)."""
    summary = store_summary(store)
    return canonical(store), summary, os.getpid(), os.environ.get("SKYWARD_NODE_INDEX")


if __name__ == "__main__":
    results = Parallel(n_jobs=-1)(delayed(summarize)(store) for store in STORES)
    for name, summary, _pid, _node in sorted(results):
        print(f"result: {name}: {json.dumps(summary, sort_keys=True)}")
    # where the tasks ran: the test suite checks that none ran in this (the client's) process
    print("where:", json.dumps({"client": os.getpid(), "tasks": [[pid, node] for _, _, pid, node in results]}))
