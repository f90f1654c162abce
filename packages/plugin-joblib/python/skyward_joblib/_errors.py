"""Errors the skyward joblib backend raises in the caller."""
from __future__ import annotations

import pickle
import sys
import threading
from typing import Any


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


def _terminated_worker_class() -> type[Exception]:
    """loky's ``TerminatedWorkerError`` (what loky raises when a worker process dies) where joblib is
    installed; else the standard library's ``BrokenProcessPool`` it derives from."""
    try:
        from joblib.externals.loky.process_executor import TerminatedWorkerError
    except Exception:  # noqa: BLE001 - no joblib (a script that does not use it), or no loky in it
        from concurrent.futures.process import BrokenProcessPool

        return BrokenProcessPool
    found: type[Exception] = TerminatedWorkerError
    return found


class WorkerLostError(SkywardError, _terminated_worker_class()):  # type: ignore[misc]  # chosen at import
    """The node (or worker process) running the task was lost, on every attempt.

    Also loky's ``TerminatedWorkerError`` (its class for a worker that died), so code written for
    loky that catches it keeps working.
    """


class TaskCancelledError(SkywardError):
    """The task was cancelled before it finished."""


class TaskTimeoutError(SkywardError, TimeoutError):
    """The pool's per-task timeout expired."""


class TaskPicklingError(SkywardError, pickle.PicklingError):
    """A task, its arguments or its result could not be (un)pickled.

    Where loky raises another class, the error is also of that class (see :func:`pickling_error`):
    a result holding a lock raises a ``TaskPicklingError`` that is also the ``TypeError`` pickling
    raised, as loky raises that ``TypeError``; so ``except TypeError`` written for loky still works.
    """


class ProtocolError(SkywardError):
    """The bridge answered something this client does not understand."""


_combined_lock = threading.Lock()
_combined: dict[tuple[type[BaseException], ...], type[TaskPicklingError]] = {}


def _extra_bases(kinds: tuple[type[BaseException] | None, ...]) -> tuple[type[BaseException], ...]:
    """The exception types a pickling error must also be, in order: without ``None``, without what
    ``TaskPicklingError`` already is (``PicklingError``, ``Exception``), without what is not an
    ``Exception`` (``KeyboardInterrupt``, ...), and without a type another one already derives from."""
    wanted = [kind for kind in dict.fromkeys(kinds)
              if kind is not None and issubclass(kind, Exception) and not issubclass(TaskPicklingError, kind)]
    return tuple(kind for kind in wanted
                 if not any(other is not kind and issubclass(other, kind) for other in wanted))


def _combine(bases: tuple[type[BaseException], ...]) -> type[TaskPicklingError] | None:
    try:
        made = type(TaskPicklingError.__name__, (TaskPicklingError, *bases), {
            "__module__": TaskPicklingError.__module__,
            "__qualname__": TaskPicklingError.__qualname__,
            "__doc__": "A TaskPicklingError that is also a "
                       + " and a ".join(base.__qualname__ for base in bases) + ".",
            # the message as given: KeyError's own __str__ would show it quoted
            "__str__": BaseException.__str__,
            "__reduce__": _reduce_combined,
        })
    except TypeError:  # e.g. "multiple bases have instance lay-out conflict"
        return None
    return made


def pickling_error_class(*kinds: type[BaseException] | None) -> type[TaskPicklingError]:
    """``TaskPicklingError``, also deriving from each of ``kinds`` (the exception pickling raised,
    the class loky raises) where Python can combine them: a C layout conflict or a final class
    drops the later kinds, then the first one too."""
    bases = _extra_bases(kinds)
    if not bases:
        return TaskPicklingError
    with _combined_lock:
        known = _combined.get(bases)
        if known is None:
            known = _combine(bases) or _combine(bases[:1]) or TaskPicklingError
            _combined[bases] = known
        return known


def pickling_error(message: str, *kinds: type[BaseException] | None) -> TaskPicklingError:
    """A :class:`TaskPicklingError` with ``message`` that is also each of ``kinds`` where possible
    (see :func:`pickling_error_class`)."""
    cls = pickling_error_class(*kinds)
    try:
        return cls(message)
    except Exception:  # noqa: BLE001 - a type whose constructor wants other arguments
        return TaskPicklingError(message)


def _reduce_combined(self: TaskPicklingError) -> tuple[Any, ...]:
    # the combined class is made at run time (not importable by name): rebuild it from its bases
    kinds = tuple(base for base in type(self).__bases__ if base is not TaskPicklingError)
    return (_rebuild_combined, (kinds, str(self.args[0]) if self.args else ""))


def _rebuild_combined(kinds: tuple[type[BaseException], ...], message: str) -> TaskPicklingError:
    return pickling_error(message, *kinds)


def exception_class(qualified: str) -> type[BaseException] | None:
    """The exception class named ``"<module>.<qualname>"`` (as the workers name it) if its module is
    already imported here, else ``None``: nothing is imported on a worker's say-so."""
    parts = qualified.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:split]))
        if module is None:
            continue
        found: Any = module
        for name in parts[split:]:
            found = getattr(found, name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found
        return None
    return None
