"""Per-thread / per-process task context (which task a thread is running)."""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover - for the annotations only: importing this module stays cheap
    from skyward_wire import Log, LogStream

Emit = Callable[["Log"], None]
"""Sends one ``log`` message on its way to Node."""

# Longer partial lines are sent as they are rather than buffered further.
_MAX_PARTIAL_LINE = 64 * 1024


class TaskContext:
    """A running task as seen by the output streams and the warning recorder."""

    __slots__ = ("task_id", "slot", "node", "emit", "warnings", "_partial", "_lock")

    def __init__(self, task_id: int, slot: int, node: int, emit: Emit) -> None:
        self.task_id = task_id
        self.slot = slot
        self.node = node
        self.emit = emit
        self.warnings: list[Any] = []
        self._partial: dict[LogStream, str] = {}
        self._lock = threading.Lock()

    def _line(self, stream: LogStream, line: str) -> None:
        self.emit({"type": "log", "stream": stream, "line": line,
                   "id": self.task_id, "node": self.node, "slot": self.slot})

    def write(self, stream: LogStream, text: str) -> None:
        """Buffer ``text``; every completed line becomes a ``log`` message."""
        with self._lock:
            buf = self._partial.get(stream, "") + text
            if "\n" in buf:
                *lines, buf = buf.split("\n")
                for line in lines:
                    self._line(stream, line)
            if len(buf) > _MAX_PARTIAL_LINE:
                self._line(stream, buf)
                buf = ""
            self._partial[stream] = buf

    def close(self) -> None:
        """Flush partial lines (the task ended)."""
        with self._lock:
            for stream, buf in self._partial.items():
                if buf:
                    self._line(stream, buf)
            self._partial.clear()


_local = threading.local()
# In a slot child process only one task runs at a time, so the context is also published
# process-wide: output from threads the task starts is attributed to the task as well.
_process_ctx: TaskContext | None = None
# Set by the slot child's SIGTERM handler: the runner then lets SystemExit propagate.
terminating = False


def current_context() -> TaskContext | None:
    """The context of the task running on this thread (or in this slot process), if any."""
    ctx = getattr(_local, "ctx", None)
    return ctx if ctx is not None else _process_ctx


def enter(ctx: TaskContext, process_wide: bool) -> None:
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


def current_slot() -> int | None:
    """The slot index the calling task runs on, or ``None`` outside the Skyward worker.

    Exact in both executors: thread slots record it thread-locally, slot processes carry it
    in ``SKYWARD_SLOT``.
    """
    slot = getattr(_local, "slot", None)
    if slot is not None:
        return int(slot)
    value = os.environ.get("SKYWARD_SLOT")
    return int(value) if value is not None and value.isdigit() else None
