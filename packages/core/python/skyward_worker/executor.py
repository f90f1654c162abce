"""What the agent's loop offers an executor (:class:`Host`) and what an executor offers it."""
from __future__ import annotations

import selectors
from typing import Any, Callable, Dict, Optional, Tuple

from .channel import Channel
from .cli import Config
from .errors import TaskCancelled, TaskTimeout, error_message, qualified_name

# (id, kind, payload, fn, args, blob paths): what the agent hands to a slot (cheap to pickle).
TaskRequest = Tuple[int, str, Optional[bytes], Optional[str], Optional[list], Optional[Tuple[str, ...]]]

# Slot process -> agent messages are ``tag + bytes`` (see slot_child).
TAG_READY = b"I"  # the slot is ready for tasks
TAG_FAILED = b"F"  # a hook failed to load: utf-8 text follows
TAG_LOG = b"L"  # an encoded log frame follows
TAG_RESULT = b"R"  # the encoded result/error frame of the current task follows

try:  # Python 3.8+
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore[assignment,misc]


class Host(Protocol):
    """The agent, as seen by executors. Everything except ``call_soon``/``wake`` is loop-only."""

    config: Config
    channel: Channel
    selector: selectors.BaseSelector

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop thread soon (thread-safe)."""

    def wake(self) -> None:
        """Interrupt the loop's wait (thread-safe)."""

    def fatal(self, text: str, code: int) -> None:
        """Report ``text`` (stderr + ``log {stream: agent, level: error}``) and exit ``code``."""

    def log(self, text: str) -> None:
        """Agent diagnostics to stderr."""


class Executor:
    """Runs submitted tasks on ``concurrency`` slots and answers each exactly once."""

    def start(self) -> None:
        """Start slots in the background (returns at once)."""
        raise NotImplementedError

    def submit(self, req: TaskRequest, timeout: Optional[float]) -> None:
        """Queue a task; it runs when a slot is free."""
        raise NotImplementedError

    def cancel(self, task_id: int, only_queued: bool = False) -> None:
        """Cancel a queued or running task; unknown or finished ids are ignored. With
        ``only_queued`` a task that has started is left to run (and answer) as usual."""
        raise NotImplementedError

    def expire(self, now: float) -> Optional[float]:
        """Time out tasks whose deadline passed; return the next deadline, if any."""
        return None

    def shutdown(self) -> None:
        """Stop all slots now (running tasks are abandoned)."""
        raise NotImplementedError


def cancelled_message(task_id: int, node: int, slot: Optional[int]) -> Dict[str, Any]:
    """``error {kind: "cancelled"}`` for ``task_id``."""
    return error_message(task_id, "cancelled", qualified_name(TaskCancelled),
                         "the task was cancelled", node=node, slot=slot)


def timeout_message(task_id: int, timeout: float, node: int, slot: Optional[int]) -> Dict[str, Any]:
    """``error {kind: "timeout"}`` for ``task_id``."""
    return error_message(task_id, "timeout", qualified_name(TaskTimeout),
                         f"the task did not finish within its timeout of {timeout:g} s",
                         node=node, slot=slot)
