"""Errors the skyward joblib backend raises in the caller."""
from __future__ import annotations

import pickle


class SkywardError(Exception):
    """Base class of the backend's own errors."""


class BridgeError(SkywardError, ConnectionError):
    """The client bridge is unavailable: not configured, refused us, or closed."""


class RemoteTaskError(SkywardError):
    """A task raised an exception that could not be pickled back to the caller.

    Carries the remote exception's qualified type name, its message and the remote traceback
    (also attached as ``__cause__``).
    """

    def __init__(self, exc_type: str, message: str, traceback: str = "",
                 node: int | None = None) -> None:
        super().__init__(exc_type, message, traceback, node)
        self.exc_type = exc_type
        self.message = message
        self.traceback = traceback
        self.node = node

    def __str__(self) -> str:
        where = "" if self.node is None else f" (on node {self.node})"
        return f"{self.exc_type}: {self.message}{where}"


class WorkerLostError(SkywardError):
    """The node (or worker process) running the task was lost, on every attempt."""


class TaskCancelledError(SkywardError):
    """The task was cancelled before it finished."""


class TaskTimeoutError(SkywardError, TimeoutError):
    """The pool's per-task timeout expired."""


class TaskPicklingError(SkywardError, pickle.PicklingError):
    """A task, its arguments or its result could not be (un)pickled."""


class ProtocolError(SkywardError):
    """The bridge answered something this client does not understand."""
