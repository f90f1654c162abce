"""Error helpers: names, remote tracebacks, exception pickling, error messages."""
from __future__ import annotations

import signal
import traceback
from types import TracebackType
from typing import Any, Dict, Optional


class AgentError(Exception):
    """Base of the agent's own errors."""


class HookError(AgentError):
    """A ``--task-hook`` / ``--app-hook`` could not be imported or applied."""


class TaskCancelled(AgentError):
    """The task was cancelled (``error.kind == "cancelled"``)."""


class TaskTimeout(AgentError):
    """The task ran longer than its ``timeout`` (``error.kind == "timeout"``)."""


class WorkerLost(AgentError):
    """The slot process died while running the task (``error.kind == "lost"``)."""


class ProtocolError(AgentError):
    """A well-formed frame asked for something the agent cannot do (``kind == "protocol"``)."""


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


def format_remote_traceback(exc: BaseException, skip_files: tuple = ()) -> str:
    """Format ``exc`` with its traceback, leaving out leading frames from ``skip_files``.

    The agent's own frames (the task runner) are noise to a user reading a remote error;
    chained exceptions (``__cause__`` / ``__context__``) are kept.
    """
    tb: Optional[TracebackType] = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename in skip_files:
        tb = tb.tb_next
    try:
        return "".join(traceback.format_exception(type(exc), exc, tb))
    except Exception:  # noqa: BLE001
        return f"{qualified_name(type(exc))}: {safe_str(exc)}\n"


def pickle_exception(exc: BaseException) -> Optional[bytes]:
    """cloudpickle ``exc`` if it round-trips (dumps then loads); ``None`` otherwise."""
    import cloudpickle

    try:
        data = cloudpickle.dumps(exc)
        cloudpickle.loads(data)
    except BaseException:  # noqa: BLE001 - anything at all means "not picklable"
        return None
    return data


def describe_exit(exitcode: Optional[int]) -> str:
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


def lost_message(exitcode: Optional[int]) -> str:
    """The ``message`` of a ``lost`` error for a slot process that ended with ``exitcode``."""
    text = f"worker process died with {describe_exit(exitcode)} while running the task"
    if exitcode is not None and exitcode == -signal.SIGKILL:
        text += " (SIGKILL often means the machine ran out of memory and the OOM killer ended it)"
    return text


def error_message(
    task_id: int,
    kind: str,
    exc_type: str,
    message: str,
    traceback_text: str = "",
    **extra: Any,
) -> Dict[str, Any]:
    """An ``error`` wire message; ``extra`` adds optional fields whose value is not None."""
    msg: Dict[str, Any] = {
        "type": "error",
        "id": task_id,
        "kind": kind,
        "excType": exc_type,
        "message": message,
        "traceback": traceback_text,
    }
    for key, value in extra.items():
        if value is not None:
            msg[key] = value
    return msg
