"""Thread executor: ``concurrency`` long-lived threads in the agent process, one per slot.

A Python thread cannot be stopped. A running task that times out or is cancelled is answered at
once; its thread is *given up*: it runs on, its eventual result is dropped, and it ends when that
task does. Its slot gets a fresh thread at once, so the slot Node counts as free is free. Given-up
threads still use CPU and memory, and only the end of the process stops them: when more of them
than the node has slots are *stuck* (still running :data:`STUCK_AFTER` seconds after they were
given up), the agent stops with :data:`EXIT_STUCK`, saying why (Node reports the node lost with that
reason; its tasks go to other nodes). See the README, "Thread slots".
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
from .exit_codes import EXIT_HOOK, EXIT_STUCK
from .hooks import TaskHook, enter_app_hooks, load_task_hooks
from .task import (
    TaskRunner,
    install_output_capture,
    install_thread_warning_capture,
)
from .volume_writeback import write_back_for

_QUEUED = -1  # slot value of a task that has not started yet
# Seconds a given-up thread may run on before it counts as stuck: a cancelled task that is about to
# end anyway (joblib cancels what still runs when a call fails) is not.
STUCK_AFTER = 5.0


class _SlotThread:
    """The thread serving a slot; ``given_up`` once the task it runs is answered without it."""

    __slots__ = ("slot", "task", "given_up")

    def __init__(self, slot: int) -> None:
        self.slot = slot
        self.task: int | None = None
        self.given_up = False


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
        self._serving: dict[int, _SlotThread] = {}  # slot -> the thread taking its next task
        self._given_up: dict[_SlotThread, float] = {}  # threads still running a task nobody waits for -> since
        self._hooks: list[TaskHook] = []
        self._stack = contextlib.ExitStack()
        self._limiter: Any = None
        self._closing = False

    def start(self) -> None:
        """Load hooks and start the slot threads in the background."""
        threading.Thread(target=self._init, name="skyward-init", daemon=True).start()

    def _init(self) -> None:
        if self.config.mounts:  # before the hooks: they may read a volume too
            from .volume_redirect import install

            install(self.config.mounts)
        try:
            self._hooks = load_task_hooks(self.config.task_hooks)
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
        with self._lock:
            for slot in range(self.config.concurrency):
                self._start_thread(slot)
        self.host.log(f"{self.config.concurrency} thread slots ready")

    def _start_thread(self, slot: int) -> None:
        """A new thread serves ``slot`` (called with the lock held)."""
        worker = _SlotThread(slot)
        self._serving[slot] = worker
        threading.Thread(target=self._worker, args=(worker,), name=f"skyward-slot-{slot}", daemon=True).start()

    def _emit(self, message: Log) -> None:
        channel = self.host.channel
        channel.send(message)
        try:
            channel.flush()
        except OSError:
            pass

    def _worker(self, worker: _SlotThread) -> None:
        slot = worker.slot
        _state.set_thread_slot(slot)
        runner = TaskRunner(node=self.node, slot=slot, emit=self._emit, task_hooks=self._hooks,
                            isolated=False, process_wide=False)
        writeback = write_back_for(self.config.mounts, self.node, slot, self._emit)
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
                worker.task = tid
                if timeout:
                    deadlines[tid] = (time.monotonic() + timeout, timeout, slot)
                channel.send({"type": "started", "id": tid, "slot": slot, "pid": pid, "node": node})
            if os.environ.get("SKYWARD_SLOT") != slot_text:
                os.environ["SKYWARD_SLOT"] = slot_text  # best effort: shared by all threads
            try:
                channel.flush()
                frame = runner.run(req)
                if writeback is not None:  # before the answer: whoever reads S3 after it sees the files
                    writeback.after_task(tid)
                with lock:
                    worker.task = None
                    if worker.given_up:
                        self._given_up.pop(worker, None)
                        return  # its slot has another thread now; the result is dropped
                    if tasks.pop(tid, None) is None:
                        continue  # answered already (the agent is stopping): drop the result
                    deadlines.pop(tid, None)
                    channel.send_raw(frame)
                channel.flush()
            except OSError:
                return  # the frame stream is gone; the agent is exiting

    def _give_up(self, tid: int, slot: int, why: str) -> None:
        """The task ``tid`` running on ``slot`` was answered without it: its thread runs on, given up,
        and the slot gets a fresh thread (called with the lock held)."""
        worker = self._serving.get(slot)
        if worker is None or worker.task != tid or self._closing:
            return
        worker.given_up = True
        self._given_up[worker] = time.monotonic()
        self._start_thread(slot)
        text = (f"slot {slot}: task {tid} {why}, but a Python thread cannot be stopped: it runs on "
                f"(its result will be dropped) and the slot continues on a new thread; the agent stops "
                f"when more than {self.config.concurrency} such threads run on for {STUCK_AFTER:g} s")
        self.host.log(text)
        self.host.channel.send({"type": "log", "stream": "agent", "level": "warning", "line": text,
                                "node": self.node})

    def _check_stuck(self, now: float) -> float | None:
        """Stop the agent when more given-up threads are stuck than the node has slots; otherwise
        return when the next one would count as stuck (called with the lock held)."""
        stuck = sum(1 for since in self._given_up.values() if now - since >= STUCK_AFTER)
        if stuck > self.config.concurrency and not self._closing:
            self._closing = True
            text = (f"{stuck} tasks that timed out or were cancelled still run on the threads of node "
                    f"{self.node} (a Python thread cannot be stopped): the agent exits to end them; "
                    "tasks that may need stopping belong on the process executor")
            self.host.call_soon(lambda: self.host.fatal(text, EXIT_STUCK))
            return None
        pending = [since + STUCK_AFTER for since in self._given_up.values() if now - since < STUCK_AFTER]
        return min(pending) if pending else None

    def submit(self, req: TaskRequest, timeout: float | None) -> None:
        """Queue for the next free thread."""
        with self._lock:
            self._tasks[req.task_id] = _QUEUED
        self._q.put((req, timeout))

    def cancel(self, task_id: int, only_queued: bool = False) -> None:
        """Answer ``cancelled`` now; a running task's thread is given up."""
        with self._lock:
            if only_queued and self._tasks.get(task_id) != _QUEUED:
                return
            slot = self._tasks.pop(task_id, None)
            if slot is None:
                return
            self._deadlines.pop(task_id, None)
            self.host.channel.send(cancelled_message(task_id, self.node,
                                                     None if slot == _QUEUED else slot))
            if slot != _QUEUED:
                self._give_up(task_id, slot, "was cancelled")

    def expire(self, now: float) -> float | None:
        """Answer ``timeout`` for tasks past their deadline (their threads are given up) and watch the
        given-up threads; return when to look again."""
        if not self._deadlines and not self._given_up:
            return None
        nearest: float | None = None
        with self._lock:
            for tid, (deadline, timeout, slot) in list(self._deadlines.items()):
                if deadline <= now:
                    del self._deadlines[tid]
                    self._tasks.pop(tid, None)
                    self.host.channel.send(timeout_message(tid, timeout, self.node, slot))
                    self._give_up(tid, slot, f"timed out after {timeout:g} s")
                elif nearest is None or deadline < nearest:
                    nearest = deadline
            stuck_at = self._check_stuck(now) if self._given_up else None
        return stuck_at if nearest is None else nearest if stuck_at is None else min(nearest, stuck_at)

    def shutdown(self) -> None:
        """Stop taking tasks and exit the app hooks; running threads are abandoned."""
        with self._lock:
            self._closing = True
            serving = len(self._serving)
        for _ in range(serving):
            self._q.put(None)
        try:
            self._stack.close()
        except BaseException as exc:  # noqa: BLE001
            self.host.log(f"app hook failed while closing: {type(exc).__name__}: {exc}")
