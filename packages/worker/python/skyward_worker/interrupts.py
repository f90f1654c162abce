"""SIGINT inside a task: a ``KeyboardInterrupt`` in that task, as in a loky worker; never in the agent's own code.

A task that sends SIGINT to its own process (``os.kill(os.getpid(), SIGINT)``, ``signal.raise_signal``,
``_thread.interrupt_main()``) gets a ``KeyboardInterrupt`` raised in its own code, which fails it like
any exception it raises. Only the task's own code is interrupted: between tasks, and in the runner's
bookkeeping around a task, SIGINT is ignored, so a slot never dies of it.

- A slot process runs its task on its main thread, where Python runs signal handlers:
  :func:`raise_in_main_thread_task` raises there.
- Thread slots run tasks off the main thread: :func:`interrupt_running_tasks` (the agent's SIGINT
  handler) raises asynchronously in every thread running a task's own code.
"""
from __future__ import annotations

import threading
from types import FrameType
from typing import Any, Callable

# Threads running a task's own code now. An interrupt takes a thread out of it (one per task run).
_running: set[int] = set()
# Held while an interrupt is raised in another thread, and while a task thread leaves its own code:
# an interrupt never lands in a thread that has just left it. Reentrant: a signal handler may
# interrupt the main thread while it holds it.
_lock = threading.RLock()
_raised_in_threads = False  # set once: from then on, a task leaving its code drops a late interrupt


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> None:
    import ctypes

    # None clears what is pending; no argtypes, so None is passed as NULL
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                               None if exc is None else ctypes.py_object(exc))


def call_interruptible(fn: Callable[..., Any], args: list[Any] | None) -> Any:
    """Call the task's own code, ``fn(*args)``, where SIGINT raises ``KeyboardInterrupt``."""
    ident = threading.get_ident()
    try:
        _running.add(ident)
        return fn(*args) if args else fn()
    finally:
        with _lock:
            _running.discard(ident)
            if _raised_in_threads:
                _set_async_exc(ident, None)


def _take(ident: int) -> bool:
    """Take ``ident`` out of the running set; True when it was running a task's own code."""
    try:
        _running.remove(ident)  # one atomic step: a signal handler cannot split it
    except KeyError:
        return False
    return True


def raise_in_main_thread_task(signum: int, frame: FrameType | None) -> None:
    """SIGINT handler of a slot process: interrupt its task, if one runs; ignore it otherwise."""
    if _take(threading.get_ident()):
        raise KeyboardInterrupt


def interrupt_running_tasks() -> int:
    """Raise ``KeyboardInterrupt`` in every thread running a task's own code; how many there were."""
    global _raised_in_threads
    with _lock:
        idents = list(_running)
        if idents:
            _raised_in_threads = True
        for ident in idents:
            if _take(ident):
                _set_async_exc(ident, KeyboardInterrupt)
        return len(idents)
