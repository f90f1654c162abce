"""Thread executor: ``concurrency`` long-lived threads in the agent process.

Threads cannot be killed: a cancelled or timed-out running task is answered at once and
its eventual result is dropped.
"""
from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from typing import Any

from skyward_wire import Log

from . import _state
from .errors import HookError
from .executor import Executor, Host, TaskRequest, cancelled_message, timeout_message
from .exit_codes import EXIT_HOOK
from .hooks import TaskHook, enter_app_hooks, load_task_hooks
from .task import (
    TaskRunner,
    install_output_capture,
    install_thread_warning_capture,
)

_QUEUED = -1  # slot value of a task that has not started yet


class ThreadExecutor(Executor):
    """Slots as threads sharing the agent process (hooks entered once, in the agent)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.config = host.config
        self.node = host.config.node_index
        self._q: queue.SimpleQueue[tuple[TaskRequest, float | None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._tasks: dict[int, int] = {}  # id -> slot (or _QUEUED)
        self._deadlines: dict[int, tuple[float, float, int]] = {}  # id -> (deadline, timeout, slot)
        self._stack = contextlib.ExitStack()
        self._threads: list[threading.Thread] = []
        self._limiter: Any = None
        self._closing = False

    def start(self) -> None:
        """Load hooks and start the slot threads in the background."""
        threading.Thread(target=self._init, name="skyward-init", daemon=True).start()

    def _init(self) -> None:
        try:
            hooks = load_task_hooks(self.config.task_hooks)
            enter_app_hooks(self.config.app_hooks, self._stack)
        except HookError as exc:
            text = str(exc)
            self.host.call_soon(lambda: self.host.fatal(text, EXIT_HOOK))
            return
        try:  # BLAS already loaded (e.g. by an app hook) gets its cap here; env vars cover later loads
            from threadpoolctl import threadpool_limits

            self._limiter = threadpool_limits(limits=self.config.blas_threads)
        except Exception:  # noqa: BLE001 - threadpoolctl is optional
            self._limiter = None
        install_output_capture()
        install_thread_warning_capture()
        for slot in range(self.config.concurrency):
            t = threading.Thread(target=self._worker, args=(slot, hooks),
                                 name=f"skyward-slot-{slot}", daemon=True)
            self._threads.append(t)
            t.start()
        self.host.log(f"{self.config.concurrency} thread slots ready")

    def _emit(self, message: Log) -> None:
        channel = self.host.channel
        channel.send(message)
        try:
            channel.flush()
        except OSError:
            pass

    def _worker(self, slot: int, hooks: list[TaskHook]) -> None:
        _state.set_thread_slot(slot)
        runner = TaskRunner(node=self.node, slot=slot, emit=self._emit, task_hooks=hooks,
                            isolated=False, process_wide=False)
        channel = self.host.channel
        lock, tasks, deadlines = self._lock, self._tasks, self._deadlines
        pid, node, slot_text = os.getpid(), self.node, str(slot)
        get = self._q.get
        while True:
            item = get()
            if item is None:
                return
            req, timeout = item
            tid = req.task_id
            with lock:
                if tasks.get(tid) != _QUEUED:
                    continue  # cancelled while queued
                tasks[tid] = slot
                if timeout:
                    deadlines[tid] = (time.monotonic() + timeout, timeout, slot)
                channel.send({"type": "started", "id": tid, "slot": slot, "pid": pid, "node": node})
            if os.environ.get("SKYWARD_SLOT") != slot_text:
                os.environ["SKYWARD_SLOT"] = slot_text  # best effort: shared by all threads
            try:
                channel.flush()
                frame = runner.run(req)
                with lock:
                    if tasks.pop(tid, None) is None:
                        continue  # cancelled or timed out while running: drop the result
                    deadlines.pop(tid, None)
                    channel.send_raw(frame)
                channel.flush()
            except OSError:
                return  # the frame stream is gone; the agent is exiting

    def submit(self, req: TaskRequest, timeout: float | None) -> None:
        """Queue for the next free thread."""
        with self._lock:
            self._tasks[req.task_id] = _QUEUED
        self._q.put((req, timeout))

    def cancel(self, task_id: int, only_queued: bool = False) -> None:
        """Answer ``cancelled`` now; a running task's result will be dropped."""
        with self._lock:
            if only_queued and self._tasks.get(task_id) != _QUEUED:
                return
            slot = self._tasks.pop(task_id, None)
            if slot is None:
                return
            self._deadlines.pop(task_id, None)
            self.host.channel.send(cancelled_message(task_id, self.node,
                                                     None if slot == _QUEUED else slot))

    def expire(self, now: float) -> float | None:
        """Answer ``timeout`` for tasks past their deadline; return the next deadline."""
        if not self._deadlines:
            return None
        nearest: float | None = None
        with self._lock:
            for tid, (deadline, timeout, slot) in list(self._deadlines.items()):
                if deadline <= now:
                    del self._deadlines[tid]
                    self._tasks.pop(tid, None)
                    self.host.channel.send(timeout_message(tid, timeout, self.node, slot))
                elif nearest is None or deadline < nearest:
                    nearest = deadline
        return nearest

    def shutdown(self) -> None:
        """Stop taking tasks and exit the app hooks; running threads are abandoned."""
        self._closing = True
        for _ in self._threads:
            self._q.put(None)
        try:
            self._stack.close()
        except BaseException as exc:  # noqa: BLE001
            self.host.log(f"app hook failed while closing: {type(exc).__name__}: {exc}")
