"""Worker half of the task-timing plugin: a task hook that times every task.

The plugin names ``skyward_task_timing:timed`` as its ``python.task`` hook, so the agent wraps
every task in it. Each task appends one line, ``node<TAB>slot<TAB>seconds``, to a file of its own
process in ``$SKYWARD_TASK_TIMING_DIR`` (set by the plugin's Image hook). The client side reads
those files when the pool closes.
"""
from __future__ import annotations

import functools
import os
import time
from typing import Any, Callable, Optional

__all__ = ["timed", "record"]

ENV_DIR = "SKYWARD_TASK_TIMING_DIR"


def _slot() -> int:
    try:  # exact in both executors; the agent is always importable on a worker
        from skyward_worker import current_slot

        slot: Optional[int] = current_slot()
    except ImportError:  # pragma: no cover - outside a worker
        slot = None
    if slot is None:
        slot = int(os.environ.get("SKYWARD_SLOT", "-1") or -1)
    return slot


def record(seconds: float) -> None:
    """Append one timing line; never fails the task (timing is best effort)."""
    directory = os.environ.get(ENV_DIR)
    if not directory:
        return
    node = os.environ.get("SKYWARD_NODE_INDEX", "0")
    line = f"{node}\t{_slot()}\t{seconds:.6f}\n"
    try:
        os.makedirs(directory, exist_ok=True)
        # one file per process: no two writers ever share a file
        with open(os.path.join(directory, f"node{node}-pid{os.getpid()}.tsv"), "a", encoding="utf-8") as out:
            out.write(line)
    except OSError:
        pass


def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Task hook: run ``fn`` and record its wall time, also when it raises."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            record(time.perf_counter() - start)

    return wrapper
