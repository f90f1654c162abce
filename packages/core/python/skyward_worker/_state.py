"""Per-thread / per-process task context (which task a thread is running)."""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .task import TaskContext

_local = threading.local()
# In a slot child process only one task runs at a time, so the context is also published
# process-wide: output from threads the task starts is attributed to the task as well.
_process_ctx: Optional["TaskContext"] = None
# Set by the slot child's SIGTERM handler: the runner then lets SystemExit propagate.
terminating = False


def current_context() -> Optional["TaskContext"]:
    """The context of the task running on this thread (or in this slot process), if any."""
    ctx = getattr(_local, "ctx", None)
    return ctx if ctx is not None else _process_ctx


def enter(ctx: "TaskContext", process_wide: bool) -> None:
    """Mark ``ctx`` as the running task of this thread (and process when ``process_wide``)."""
    global _process_ctx
    _local.ctx = ctx
    _local.slot = ctx.slot
    if process_wide:
        _process_ctx = ctx


def leave(process_wide: bool) -> None:
    """Clear the running task of this thread (and process)."""
    global _process_ctx
    _local.ctx = None
    if process_wide:
        _process_ctx = None


def set_thread_slot(slot: int) -> None:
    """Record the slot a worker thread serves (thread executor)."""
    _local.slot = slot


def current_slot() -> Optional[int]:
    """The slot index the calling task runs on, or ``None`` outside the Skyward worker.

    Exact in both executors: thread slots record it thread-locally, slot processes carry it
    in ``SKYWARD_SLOT``.
    """
    slot = getattr(_local, "slot", None)
    if slot is not None:
        return int(slot)
    value = os.environ.get("SKYWARD_SLOT")
    return int(value) if value is not None and value.isdigit() else None
