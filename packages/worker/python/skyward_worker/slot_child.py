"""The body of one slot process (process executor).

Kept small and import-light: the forkserver preloads it, so every slot starts with
cloudpickle and the wire codec already imported.

Messages to the agent are ``conn.send_bytes(tag + frame)`` where tag is one byte:
``I`` ready, ``F`` hook failure (utf-8 text follows), ``L`` a log frame, ``R`` the final
result/error frame of the current task. The agent forwards frames without decoding them.

Tasks are served one at a time, in the order they arrive: the agent sends a slot its next task
once the slot has answered the last one.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection
from types import FrameType

from skyward_wire import Log, encode_frame

from . import _state
from .cli import Config
from .errors import HookError
from .executor import TAG_FAILED, TAG_LOG, TAG_READY, TAG_RESULT, TaskRequest
from .exit_codes import EXIT_HOOK
from .hooks import enter_app_hooks, load_task_hooks
from .interrupts import raise_in_main_thread_task
from .process_groups import end_own_group, kill_group, lead_new_group
from .search_path import put_first
from .task import TaskRunner, install_output_capture
from .volume_writeback import write_back_for


def _watch_lifeline(fd: int, own_group: bool) -> None:
    """Exit as soon as the agent is gone (the lifeline's write end lives only in the agent), taking
    along what the slot's tasks left running (its process group, this process included)."""
    while True:
        try:
            data = os.read(fd, 1)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            if own_group:
                kill_group(os.getpid())
            os._exit(0)


_closing = False  # the serve loop ended: app hooks are being exited, let them finish


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Shutdown: interrupt the running task (or the wait for one) unless already closing."""
    _state.terminating = True
    if not _closing:
        raise SystemExit(0)


def slot_main(slot: int, conn: Connection, lifeline: Connection, config: Config) -> None:
    """Serve tasks from ``conn`` until it closes, SIGTERM, or the agent dies."""
    global _closing
    os.environ["SKYWARD_SLOT"] = str(slot)
    os.environ["SKYWARD_NODE_INDEX"] = str(config.node_index)
    os.environ["SKYWARD_NODE_COUNT"] = str(config.node_count)
    # multiprocessing hands the agent's sys.path over already; this holds for any start method
    put_first(config.sys_path)
    # what this slot's tasks start joins its group: the agent kills the group when the slot ends
    own_group = lead_new_group()
    signal.signal(signal.SIGINT, raise_in_main_thread_task)  # a task's own SIGINT: KeyboardInterrupt in it
    signal.signal(signal.SIGTERM, _on_sigterm)
    threading.Thread(target=_watch_lifeline, args=(lifeline.fileno(), own_group),
                     name="skyward-lifeline", daemon=True).start()
    install_output_capture()

    send_lock = threading.Lock()

    def emit(message: Log) -> None:
        frame = TAG_LOG + encode_frame(message)
        with send_lock:
            conn.send_bytes(frame)

    if config.mounts:  # before the hooks: they may read a volume too
        from .volume_redirect import install

        install(config.mounts)
    writeback = write_back_for(config.mounts, config.node_index, slot, emit)
    stack = contextlib.ExitStack()
    try:
        hooks = load_task_hooks(config.task_hooks)
        enter_app_hooks(config.app_hooks, stack)
    except HookError as exc:
        try:
            conn.send_bytes(TAG_FAILED + str(exc).encode("utf-8", "replace"))
        finally:
            os._exit(EXIT_HOOK)
    runner = TaskRunner(node=config.node_index, slot=slot, emit=emit, task_hooks=hooks,
                        isolated=True, process_wide=True)
    try:
        with stack:
            conn.send_bytes(TAG_READY)
            recv = conn.recv
            while True:
                try:
                    req = TaskRequest._make(recv())  # the agent sends it as a plain tuple
                except (EOFError, OSError):
                    _closing = True
                    break
                frame = TAG_RESULT + runner.run(req)
                if writeback is not None:  # before the answer: whoever reads S3 after it sees the files
                    writeback.after_task(req.task_id)
                with send_lock:
                    conn.send_bytes(frame)
    except (SystemExit, OSError):  # SIGTERM, or the agent closed the pipe mid-send
        pass
    finally:
        if own_group:
            end_own_group()  # the agent may be gone (its pipe closed): it cannot kill the group
        try:
            sys.__stderr__.flush()  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001
            pass
