"""What the agent's loop offers an executor (:class:`Host`) and what an executor offers it."""
from __future__ import annotations

import selectors
from typing import Any, Callable, NamedTuple, Protocol

from skyward_wire import (
    CANCELLED_EXC_TYPE,
    TIMEOUT_EXC_TYPE,
    ErrorMessage,
    SubmitKind,
    cancelled_text,
    timeout_text,
)

from .channel import Channel
from .cli import Config
from .errors import error_message


class TaskRequest(NamedTuple):
    """One task as the agent hands it to a slot (to a slot process as a plain tuple, see ``_send``)."""

    task_id: int
    kind: SubmitKind
    payload: bytes | None  # kind "pickle"
    fn: str | None  # kind "call": "module:function"
    args: list[Any] | None  # kind "call"
    blob_paths: tuple[str, ...] | None  # the files of the blobs the payload refers to


# Slot process -> agent messages are ``tag + bytes`` (see slot_child).
TAG_READY = b"I"  # the slot is ready for tasks
TAG_FAILED = b"F"  # a hook failed to load: utf-8 text follows
TAG_LOG = b"L"  # an encoded log frame follows
TAG_RESULT = b"R"  # the encoded result/error frame of the current task follows


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

    def submit(self, req: TaskRequest, timeout: float | None) -> None:
        """Queue a task; it runs when a slot is free."""
        raise NotImplementedError

    def cancel(self, task_id: int, only_queued: bool = False) -> None:
        """Cancel a queued or running task; unknown or finished ids are ignored. With
        ``only_queued`` a task that has started is left to run (and answer) as usual."""
        raise NotImplementedError

    def expire(self, now: float) -> float | None:
        """Time out tasks whose deadline passed; return the next deadline, if any."""
        return None

    def shutdown(self) -> None:
        """Stop all slots now (running tasks are abandoned)."""
        raise NotImplementedError


# Why the agent cancels a task: only ever because a ``cancel`` message asked it to.
CANCEL_REASON = "on request"


def cancelled_message(task_id: int, node: int, slot: int | None) -> ErrorMessage:
    """``error {kind: "cancelled"}`` for ``task_id``."""
    return error_message(task_id, "cancelled", CANCELLED_EXC_TYPE, cancelled_text(CANCEL_REASON),
                         node=node, slot=slot)


def timeout_message(task_id: int, timeout: float, node: int, slot: int | None) -> ErrorMessage:
    """``error {kind: "timeout"}`` for ``task_id`` (worded as Node words the timeouts it enforces)."""
    return error_message(task_id, "timeout", TIMEOUT_EXC_TYPE, timeout_text(timeout),
                         node=node, slot=slot)
