"""Process executor: one dedicated child process per slot, driven from the agent's loop.

The loop thread owns all slot state. A helper thread (the *spawner*) does the slow,
blocking work: starting slot processes, and reaping dead or killed ones.

Per task: the loop pickles its :class:`TaskRequest` to an idle slot and sends
``started``; the slot answers with one already-encoded frame that the loop forwards
untouched. Children never outlive the agent: each holds the read end of a *lifeline* pipe
whose write end exists only in the agent, and exits when it reads EOF. Each leads a process group,
which holds whatever its tasks start: the group is killed when the slot ends, however it ends.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import selectors
import threading
import time
from collections import deque
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler as _ForkingPickler
from typing import Any, NamedTuple, Union

from skyward_wire import LOST_EXC_TYPE

from .errors import error_message, lost_message, qualified_name
from .executor import (
    TAG_FAILED,
    TAG_LOG,
    TAG_READY,
    TAG_RESULT,
    Executor,
    Host,
    TaskRequest,
    cancelled_message,
    timeout_message,
)
from .exit_codes import EXIT_HOOK, EXIT_INTERNAL
from .process_groups import kill_group

_TAG_READY = TAG_READY[0]
_TAG_FAILED = TAG_FAILED[0]
_TAG_LOG = TAG_LOG[0]
_TAG_RESULT = TAG_RESULT[0]

# A forkserver child starts with the slot code, cloudpickle and the codec already imported (its
# preload), where a spawned one imports them all again; spawn where forkserver is unavailable.
DEFAULT_START_METHOD = "forkserver"
RESPAWN_BACKOFF = 0.5  # seconds before restarting a slot that died before it was ready
TERMINATE_GRACE = 1.0  # seconds between SIGTERM and SIGKILL at shutdown


class _Queued(NamedTuple):
    """A task waiting for a free slot."""

    request: TaskRequest
    timeout: float | None


class _Spawn(NamedTuple):
    """Spawner job: start the process of ``slot`` after ``delay`` seconds."""

    slot: int
    delay: float


class _Reap(NamedTuple):
    """Spawner job: wait for the dead or killed process of ``slot``, report the task it was running
    (if any) lost, then start a replacement after ``delay`` seconds."""

    proc: BaseProcess
    slot: int
    task_id: int | None
    delay: float


_SpawnerJob = Union[_Spawn, _Reap]


def _slot_entry(*args: Any) -> None:
    """Process target; imports the slot body only in the child (keeps the agent lean)."""
    from .slot_child import slot_main

    slot_main(*args)


def choose_start_method(requested: str | None) -> str:
    """The multiprocessing start method for slots (never ``fork``)."""
    available = multiprocessing.get_all_start_methods()
    method = requested or DEFAULT_START_METHOD
    return method if method in available else "spawn"


class _Slot:
    """One slot process as tracked by the loop."""

    __slots__ = ("index", "proc", "conn", "pid", "ready", "task", "timeout", "deadline")

    def __init__(self, index: int, proc: BaseProcess, conn: Connection) -> None:
        self.index = index
        self.proc = proc
        self.conn = conn
        self.pid: int = proc.pid or 0  # set: the process has started
        self.ready = False
        self.task: int | None = None
        self.timeout: float | None = None
        self.deadline: float | None = None


class ProcessExecutor(Executor):
    """Slots as child processes started with forkserver (or spawn)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.config = host.config
        self.node = host.config.node_index
        self.start_method = choose_start_method(host.config.start_method)
        self._ctx = multiprocessing.get_context(self.start_method)
        n = host.config.concurrency
        self._slots: list[_Slot | None] = [None] * n
        self._idle: deque[_Slot] = deque()
        self._order: deque[int] = deque()  # queued ids in arrival order (may hold stale ids)
        self._queued: dict[int, _Queued] = {}
        self._running: dict[int, _Slot] = {}
        self._dying: set[int] = set()  # tasks whose slot died; "lost" follows once reaped
        self._timed = 0  # running tasks with a deadline
        self._spawn_q: queue.SimpleQueue[_SpawnerJob | None] = queue.SimpleQueue()
        self._procs: set[BaseProcess] = set()
        self._procs_lock = threading.Lock()
        self._closing = False
        self._ready_count = 0
        self._started_at = time.monotonic()
        self._all_ready_logged = False
        lifeline_r, self._lifeline_w = os.pipe()
        self._lifeline = Connection(lifeline_r, writable=False)
        self._spawner = threading.Thread(target=self._spawner_main, name="skyward-spawner",
                                         daemon=True)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the spawner and ask it for every slot."""
        if self.start_method == "forkserver":
            self._ctx.set_forkserver_preload(["skyward_worker.slots_process",
                                              "skyward_worker.slot_child"])
        self._started_at = time.monotonic()
        self._spawner.start()
        for index in range(len(self._slots)):
            self._spawn_q.put(_Spawn(index, 0.0))

    def _spawner_main(self) -> None:
        while True:
            job = self._spawn_q.get()
            if job is None or self._closing:
                return
            try:
                if isinstance(job, _Spawn):
                    self._spawn(job.slot, job.delay)
                else:
                    self._reap(job.proc, job.slot, job.task_id, job.delay)
            except BaseException as exc:  # noqa: BLE001
                if self._closing:
                    return
                text = f"could not start slot process: {type(exc).__name__}: {exc}"
                self.host.call_soon(partial(self.host.fatal, text, EXIT_INTERNAL))
                return

    def _spawn(self, index: int, delay: float) -> None:
        if delay:
            time.sleep(delay)
        if self._closing:
            return
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(  # type: ignore[attr-defined]  # every concrete context has Process
            target=_slot_entry, args=(index, child, self._lifeline, self.config), name=f"skyward-slot-{index}")
        with self._procs_lock:
            if self._closing:
                return
            proc.start()
            self._procs.add(proc)
        child.close()
        self.host.call_soon(partial(self._on_spawned, index, proc, parent))

    def _reap(self, proc: BaseProcess, index: int, task_id: int | None, delay: float) -> None:
        """Wait for a dead or killed slot process, end what its tasks left running, report a lost task,
        start a replacement."""
        proc.join(timeout=2.0)
        exitcode = proc.exitcode
        if exitcode is None:  # still alive after a kill? make sure
            proc.kill()
            proc.join(timeout=1.0)
            exitcode = proc.exitcode
        kill_group(proc.pid or 0)
        with self._procs_lock:
            self._procs.discard(proc)
        try:
            proc.close()
        except Exception:  # noqa: BLE001
            pass
        if task_id is not None:
            self.host.call_soon(partial(self._report_lost, task_id, index, exitcode))
        self._spawn(index, delay)

    def shutdown(self) -> None:
        """Close every slot: SIGTERM, then SIGKILL after :data:`TERMINATE_GRACE` seconds."""
        self._closing = True
        self._spawn_q.put(None)
        for slot in self._slots:
            if slot is not None:
                self._drop_conn(slot)
        with self._procs_lock:  # waits for a start in progress; none begins after this
            procs = list(self._procs)
        for proc in procs:
            try:
                proc.terminate()
            except Exception:  # noqa: BLE001
                pass
        deadline = time.monotonic() + TERMINATE_GRACE
        for proc in procs:
            try:
                proc.join(max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001
                pass
        for proc in procs:
            try:
                if proc.exitcode is None:
                    proc.kill()
                    proc.join(0.5)
            except Exception:  # noqa: BLE001
                pass
            try:
                pid = proc.pid
            except ValueError:  # closed meanwhile by its reaper, which killed its group first
                continue
            kill_group(pid or 0)  # what its tasks started, still holding the agent's stderr
        try:
            os.close(self._lifeline_w)
        except OSError:
            pass

    # -- loop side -----------------------------------------------------------------------

    def _on_spawned(self, index: int, proc: BaseProcess, conn: Connection) -> None:
        if self._closing:
            proc.kill()
            return
        slot = _Slot(index, proc, conn)
        self._slots[index] = slot
        self.host.selector.register(conn, selectors.EVENT_READ, partial(self._on_readable, slot))

    def _drop_conn(self, slot: _Slot) -> None:
        try:
            self.host.selector.unregister(slot.conn)
        except (KeyError, ValueError, OSError):  # not registered, or closed already
            pass
        try:
            slot.conn.close()
        except OSError:
            pass

    def _on_readable(self, slot: _Slot) -> None:
        if self._slots[slot.index] is not slot:
            return  # killed by an earlier event of the same select() batch (a cancel from Node)
        try:
            data = slot.conn.recv_bytes()
        except (EOFError, OSError):
            self._on_slot_died(slot)
            return
        tag = data[0]
        if tag == _TAG_RESULT:
            if self._clear_task(slot) is not None:
                self.host.channel.send_raw(memoryview(data)[1:])
            self._run_next(slot)
        elif tag == _TAG_LOG:
            self.host.channel.send_raw(memoryview(data)[1:])
        elif tag == _TAG_READY:
            slot.ready = True
            self._ready_count += 1
            if not self._all_ready_logged and self._ready_count >= len(self._slots):
                self._all_ready_logged = True
                self.host.log(f"{len(self._slots)} {self.start_method} slots ready after "
                              f"{time.monotonic() - self._started_at:.3f} s")
            self._run_next(slot)
        elif tag == _TAG_FAILED:
            self.host.fatal(bytes(data[1:]).decode("utf-8", "replace"), EXIT_HOOK)

    def _forget(self, slot: _Slot) -> int | None:
        """Take a dead or killed slot out of service; return the task it was running."""
        self._drop_conn(slot)
        if self._slots[slot.index] is slot:
            self._slots[slot.index] = None
        try:
            self._idle.remove(slot)
        except ValueError:
            pass
        return self._clear_task(slot)

    def _clear_task(self, slot: _Slot) -> int | None:
        """Forget the task ``slot`` was running (and its deadline); return its id."""
        tid = slot.task
        slot.task = None
        if tid is not None:
            self._running.pop(tid, None)
        if slot.deadline is not None:
            slot.deadline = None
            self._timed -= 1
        return tid

    def _on_slot_died(self, slot: _Slot) -> None:
        """EOF from a slot: it exited or was killed. Reap it off-loop, then respawn."""
        tid = self._forget(slot)
        if tid is not None:
            self._dying.add(tid)
        if self._closing:
            return
        if not slot.ready:
            self.host.log(f"slot {slot.index} process exited before it was ready; restarting")
            self._spawn_q.put(_Reap(slot.proc, slot.index, None, RESPAWN_BACKOFF))
            return
        self._spawn_q.put(_Reap(slot.proc, slot.index, tid, 0.0))

    def _report_lost(self, tid: int, index: int, exitcode: int | None) -> None:
        if tid in self._dying:
            self._dying.discard(tid)
            self.host.channel.send(error_message(
                tid, "lost", LOST_EXC_TYPE, lost_message(exitcode),
                node=self.node, slot=index))

    def _kill(self, slot: _Slot) -> None:
        """Kill a busy slot's process and what its tasks started (cancel / timeout); start a replacement."""
        self._forget(slot)
        kill_group(slot.pid)
        try:
            slot.proc.kill()
        except Exception:  # noqa: BLE001
            pass
        self._spawn_q.put(_Reap(slot.proc, slot.index, None, 0.0))

    # -- dispatch ------------------------------------------------------------------------

    def _pop_queued(self) -> _Queued | None:
        order, queued = self._order, self._queued
        while order:
            item = queued.pop(order.popleft(), None)
            if item is not None:
                return item
        return None

    def _run_next(self, slot: _Slot) -> None:
        """Give ``slot`` (now idle) the next queued task, or park it.

        One task per slot at a time: sending a second one ahead would save a round trip
        for tiny tasks but can leave it stuck behind a long task while other slots idle.
        """
        while True:
            item = self._pop_queued()
            if item is None:
                self._idle.append(slot)
                return
            sent = self._send(slot, item.request)
            if sent:
                self._begin(slot, item.request, item.timeout)
            elif sent is not None:
                self._requeue_front(item)
            else:
                continue  # that task was answered with an error; the slot is still free
            return

    def _requeue_front(self, item: _Queued) -> None:
        tid = item.request.task_id
        self._queued[tid] = item
        self._order.appendleft(tid)

    def _send(self, slot: _Slot, req: TaskRequest) -> bool | None:
        """Hand ``req`` to ``slot``: True when sent, False when the slot died under us (its EOF
        path respawns it; the task waits for another slot), None when the request itself cannot
        be pickled for a slot process (e.g. a CBOR ``undefined`` in ``args``): the task is
        answered with an error and the agent carries on."""
        try:
            # a plain tuple: as a TaskRequest every pickle would also name its class, a cost on the agent's
            # busiest path (the slot makes it a TaskRequest again)
            data = _ForkingPickler.dumps(tuple(req))
        except Exception as exc:  # noqa: BLE001 - whatever the arguments hold
            self.host.channel.send(error_message(
                req.task_id, "pickle", qualified_name(type(exc)),
                f"the task's arguments cannot be handed to a worker process: {exc}",
                node=self.node, slot=slot.index))
            return None
        try:
            slot.conn.send_bytes(data)
            return True
        except (OSError, ValueError):
            return False  # the slot died under us; its EOF path respawns it

    def _begin(self, slot: _Slot, req: TaskRequest, timeout: float | None) -> None:
        """Record that ``req`` runs on ``slot`` now and announce ``started``."""
        tid = req.task_id
        slot.task = tid
        self._running[tid] = slot
        if timeout:
            slot.timeout = timeout
            slot.deadline = time.monotonic() + timeout
            self._timed += 1
        self.host.channel.send({"type": "started", "id": tid, "slot": slot.index,
                                "pid": slot.pid, "node": self.node})

    def submit(self, req: TaskRequest, timeout: float | None) -> None:
        """Run on an idle slot now, or queue."""
        idle = self._idle
        if idle and not self._order:
            slot = idle.popleft()
            sent = self._send(slot, req)
            if sent:
                self._begin(slot, req, timeout)
                return
            if sent is None:  # answered with an error
                idle.appendleft(slot)
                return
        self._queued[req.task_id] = _Queued(req, timeout)
        self._order.append(req.task_id)
        while idle and self._order:
            self._run_next(idle.popleft())

    def cancel(self, task_id: int, only_queued: bool = False) -> None:
        """Drop a queued task, or kill the slot running it; answer ``cancelled`` either way."""
        if self._queued.pop(task_id, None) is not None:
            self.host.channel.send(cancelled_message(task_id, self.node, None))
            return
        if only_queued:
            return
        slot = self._running.get(task_id)
        if slot is not None:
            index = slot.index
            self._kill(slot)
            self.host.channel.send(cancelled_message(task_id, self.node, index))
            return
        if task_id in self._dying:  # its slot just died; the cancel wins over "lost"
            self._dying.discard(task_id)
            self.host.channel.send(cancelled_message(task_id, self.node, None))

    def expire(self, now: float) -> float | None:
        """Kill slots whose task ran past its timeout; return the next deadline."""
        if not self._timed:
            return None
        nearest: float | None = None
        for slot in self._slots:
            if slot is None or slot.deadline is None:
                continue
            if slot.deadline <= now:
                tid, timeout, index = slot.task, slot.timeout or 0.0, slot.index
                self._kill(slot)
                if tid is not None:
                    self.host.channel.send(timeout_message(tid, timeout, self.node, index))
            elif nearest is None or slot.deadline < nearest:
                nearest = slot.deadline
        return nearest
