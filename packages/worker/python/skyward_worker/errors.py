"""Error helpers: names, remote tracebacks, exception pickling, error messages.

The kinds of an ``error`` message, their ``excType`` and the wording of the fixed ones come from
``skyward_wire`` (generated from the codec's ``schema/messages.json``).
"""
from __future__ import annotations

import signal
import traceback
from types import TracebackType
from typing import Any

from skyward_wire import ErrorKind, ErrorMessage


class AgentError(Exception):
    """Base of the agent's own errors."""


class HookError(AgentError):
    """A ``--task-hook`` / ``--app-hook`` could not be imported or applied."""


def qualified_name(tp: type) -> str:
    """``"<module>.<qualname>"`` of a type, e.g. ``"builtins.ValueError"``."""
    module = getattr(tp, "__module__", None) or "builtins"
    name = getattr(tp, "__qualname__", None) or getattr(tp, "__name__", repr(tp))
    return f"{module}.{name}"


def safe_str(value: Any) -> str:
    """``str(value)`` that never raises."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break error reporting
        try:
            return repr(value)
        except Exception:  # noqa: BLE001
            return f"<unprintable {type(value).__name__}>"


def format_remote_traceback(exc: BaseException, skip_files: tuple[str, ...] = ()) -> str:
    """Format ``exc`` with its traceback, leaving out leading frames from ``skip_files``.

    The agent's own frames (the task runner) are noise to a user reading a remote error;
    chained exceptions (``__cause__`` / ``__context__``) are kept.
    """
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename in skip_files:
        tb = tb.tb_next
    try:
        return "".join(traceback.format_exception(type(exc), exc, tb))
    except Exception:  # noqa: BLE001
        return f"{qualified_name(type(exc))}: {safe_str(exc)}\n"


def pickle_exception(exc: BaseException) -> bytes | None:
    """cloudpickle ``exc`` if it round-trips (dumps then loads); ``None`` otherwise."""
    import cloudpickle

    try:
        data: bytes = cloudpickle.dumps(exc)
        cloudpickle.loads(data)
    except BaseException:  # noqa: BLE001 - anything at all means "not picklable"
        return None
    return data


def describe_exit(exitcode: int | None) -> str:
    """Human text for how a slot process ended: a signal name or an exit code."""
    if exitcode is None:
        return "an unknown status"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return name
    return f"exit code {exitcode}"


def lost_message(exitcode: int | None) -> str:
    """The ``message`` of a ``lost`` error for a slot process that ended with ``exitcode``."""
    text = f"worker process died with {describe_exit(exitcode)} while running the task"
    if exitcode is not None and exitcode == -signal.SIGKILL:
        text += " (SIGKILL often means the machine ran out of memory and the OOM killer ended it)"
    return text


def error_message(
    task_id: int,
    kind: ErrorKind,
    exc_type: str,
    message: str,
    traceback_text: str = "",
    *,
    payload: bytes | None = None,
    node: int | None = None,
    slot: int | None = None,
) -> ErrorMessage:
    """An ``error`` wire message; the optional fields given as None are left out."""
    msg: ErrorMessage = {
        "type": "error",
        "id": task_id,
        "kind": kind,
        "excType": exc_type,
        "message": message,
        "traceback": traceback_text,
    }
    if payload is not None:
        msg["payload"] = payload
    if node is not None:
        msg["node"] = node
    if slot is not None:
        msg["slot"] = slot
    return msg
