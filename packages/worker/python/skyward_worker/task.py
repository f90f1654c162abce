"""Run one task: hooks, output capture, warnings, and the result / error frame."""
from __future__ import annotations

import importlib
import io
import pickle
import sys
import warnings
from collections.abc import Sequence
from time import perf_counter
from typing import Any, BinaryIO, Callable, TextIO

import cloudpickle

from skyward_wire import DEFAULT_MAX_FRAME_BYTES, ErrorKind, ErrorMessage, LogStream, Result, encode_frame

from . import _state
from ._state import Emit, TaskContext
from .blobs import BlobMissing, MappedBlobs
from .errors import (
    error_message,
    format_remote_traceback,
    pickle_exception,
    qualified_name,
    safe_str,
)
from .executor import TaskRequest
from .hooks import TaskHook, wrap
from .interrupts import call_interruptible

_SKIP_FILES = (__file__, call_interruptible.__code__.co_filename)
# Results of these exact types need no cloudpickle machinery (same bytes, less overhead).
_PLAIN = frozenset((type(None), bool, int, float, str, bytes))
_pickle_dumps = pickle.dumps
_mapped = MappedBlobs()  # per process: slot processes and the agent's threads map blobs once
# Node refuses frames over DEFAULT_MAX_FRAME_BYTES (decompressed); keep room for the rest of one.
_MAX_ANSWER_BYTES = DEFAULT_MAX_FRAME_BYTES - (1 << 20)


class _TooLarge(Exception):
    """A task's answer would not fit in one frame."""


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def _check_answer_size(size: int) -> None:
    if size > _MAX_ANSWER_BYTES:
        raise _TooLarge(f"the task's answer is {_mib(size)} pickled; one answer can carry at most "
                        f"{_mib(_MAX_ANSWER_BYTES)} back. Return less (a summary, or a path to a file "
                        "the caller can read)")


class TaskOutput(io.TextIOBase):
    """Replacement for ``sys.stdout`` / ``sys.stderr``: task output goes back as ``log`` lines.

    Writes from outside any task go to ``fallback`` (the agent's stderr), so they can never
    reach the frame stream.
    """

    def __init__(self, stream: LogStream, fallback: TextIO) -> None:
        super().__init__()
        self._stream: LogStream = stream
        self._fallback = fallback

    @property
    def encoding(self) -> str:  # type: ignore[override]
        encoding: str | None = getattr(self._fallback, "encoding", None)
        return encoding or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        errors: str | None = getattr(self._fallback, "errors", None)
        return errors

    @property
    def buffer(self) -> BinaryIO:
        """Byte-level writes bypass capture and land on the agent's stderr."""
        return self._fallback.buffer

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fallback.fileno()

    def write(self, text: str) -> int:
        ctx = _state.current_context()
        if ctx is None:
            return self._fallback.write(text)
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        ctx.write(self._stream, text)
        return len(text)

    def flush(self) -> None:
        if _state.current_context() is None:
            try:
                self._fallback.flush()
            except Exception:  # noqa: BLE001
                pass


def install_output_capture() -> None:
    """Route ``sys.stdout`` / ``sys.stderr`` of task code to ``log`` messages (idempotent)."""
    if isinstance(sys.stdout, TaskOutput):
        return
    fallback = sys.__stderr__ if sys.__stderr__ is not None else sys.stderr
    sys.stdout = TaskOutput("stdout", fallback)
    sys.stderr = TaskOutput("stderr", fallback)


def install_thread_warning_capture() -> None:
    """Thread executor: record warnings per task thread (``catch_warnings`` is process-global).

    Warnings are always shown (``simplefilter("always")``) and routed to the running task's
    context; outside a task they are printed as usual.
    """
    original = warnings.showwarning

    def showwarning(message: Any, category: Any, filename: str, lineno: int,
                    file: Any = None, line: str | None = None) -> None:
        ctx = _state.current_context()
        if ctx is None:
            original(message, category, filename, lineno, file, line)
            return
        ctx.warnings.append(warnings.WarningMessage(message, category, filename, lineno, file, line))

    warnings.simplefilter("always")
    warnings.showwarning = showwarning


def pickle_warnings(records: Sequence[Any]) -> list[bytes]:
    """``cloudpickle((message, category, filename, lineno))`` per warning.

    The message object is sent when it round-trips, its text otherwise.
    """
    out: list[bytes] = []
    for w in records:
        try:
            data = cloudpickle.dumps((w.message, w.category, w.filename, w.lineno))
            cloudpickle.loads(data)
        except BaseException:  # noqa: BLE001
            try:
                data = cloudpickle.dumps((safe_str(w.message), w.category, w.filename, w.lineno))
            except BaseException:  # noqa: BLE001
                data = cloudpickle.dumps((safe_str(w.message), UserWarning,
                                          safe_str(w.filename), int(w.lineno or 0)))
        out.append(data)
    return out


def show_warnings(ctx: TaskContext, records: Sequence[Any]) -> None:
    """Write ``records`` on the task's stderr as Python shows warnings.

    A ``"module:function"`` call's caller is not Python (the TypeScript API): nobody would replay
    the pickled warnings, so its tasks' warnings are output lines too.
    """
    for w in records:
        try:
            text = warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
        except Exception:  # noqa: BLE001 - a warning that cannot be shown must not fail the task
            text = f"{safe_str(w.message)}\n"
        ctx.write("stderr", text)


class _Failed(Exception):
    """Internal: carries an already-built error message out of the call stage."""

    def __init__(self, message: ErrorMessage) -> None:
        super().__init__(message["message"])
        self.message = message


class TaskRunner:
    """Runs tasks for one slot and turns each into exactly one encoded result/error frame.

    ``isolated``: wrap every task in ``warnings.catch_warnings(record=True)`` (process slots);
    otherwise warnings are routed by :func:`install_thread_warning_capture` (thread slots).
    ``process_wide``: the task context is also visible to threads the task starts.
    """

    def __init__(self, *, node: int, slot: int, emit: Emit, task_hooks: Sequence[TaskHook],
                 isolated: bool, process_wide: bool) -> None:
        self.node = node
        self.slot = slot
        self.emit = emit
        self.task_hooks = list(task_hooks)
        self.isolated = isolated
        self.process_wide = process_wide
        self._functions: dict[str, Callable[..., Any]] = {}

    # -- loading -------------------------------------------------------------------------

    def _import_function(self, name: str) -> Callable[..., Any]:
        fn = self._functions.get(name)
        if fn is None:
            module_name, sep, attr = name.partition(":")
            if not sep:
                raise ValueError(f"fn must be 'module:function', got {name!r}")
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
            fn = obj
            self._functions[name] = fn
        return fn

    def _load(self, req: TaskRequest) -> Callable[..., Any]:
        tid = req.task_id
        if req.kind == "pickle":
            try:
                buffers = _mapped.buffers(req.blob_paths) if req.blob_paths else None
                fn = cloudpickle.loads(req.payload, buffers=buffers)
            except BlobMissing as exc:  # dropped since the agent looked: Node sends it again
                raise _Failed(exc.error(tid, self.node, self.slot)) from None
            except BaseException as exc:  # whatever unpickling raises is the task's error
                if _state.terminating:
                    raise
                raise _Failed(self._error(tid, "pickle", exc,
                                          f"could not unpickle the task: {safe_str(exc)}")) from None
            if not callable(fn):
                raise _Failed(error_message(
                    tid, "pickle", "builtins.TypeError",
                    f"task payload is a {qualified_name(type(fn))}, not a callable",
                    node=self.node, slot=self.slot))
        else:
            try:
                fn = self._import_function(req.fn or "")
            except BaseException as exc:  # whatever the import raises is the task's error
                if _state.terminating:
                    raise
                raise _Failed(self._error(tid, "user", exc, None)) from None
        return wrap(fn, self.task_hooks) if self.task_hooks else fn

    def _error(self, tid: int, kind: ErrorKind, exc: BaseException, message: str | None,
               with_payload: bool = True) -> ErrorMessage:
        return error_message(
            tid, kind, qualified_name(type(exc)),
            safe_str(exc) if message is None else message,
            format_remote_traceback(exc, _SKIP_FILES),
            payload=pickle_exception(exc) if with_payload else None,
            node=self.node, slot=self.slot,
        )

    # -- running -------------------------------------------------------------------------

    def _call(self, req: TaskRequest) -> Any:
        fn = self._load(req)
        try:
            return call_interruptible(fn, req.args)
        except BaseException as exc:  # user code may raise anything (KeyboardInterrupt and SystemExit too, as in loky)
            if _state.terminating:
                raise
            raise _Failed(self._error(req.task_id, "user", exc, None)) from None

    def run(self, req: TaskRequest) -> bytes:
        """Run ``req`` and return the encoded ``result`` or ``error`` frame for it."""
        tid = req.task_id
        ctx = TaskContext(tid, self.slot, self.node, self.emit)
        _state.enter(ctx, self.process_wide)
        failed: ErrorMessage | None = None
        value: Any = None
        records: list[Any] = []
        start = perf_counter()
        try:
            if self.isolated:
                with warnings.catch_warnings(record=True) as records:
                    warnings.simplefilter("always")
                    try:
                        value = self._call(req)
                    except _Failed as f:
                        failed = f.message
            else:
                records = ctx.warnings
                try:
                    value = self._call(req)
                except _Failed as f:
                    failed = f.message
            duration = perf_counter() - start
            if failed is None:
                result: Result = {"type": "result", "id": tid, "node": self.node,
                                  "slot": self.slot, "duration": duration}
                if req.kind == "pickle":
                    try:
                        result["payload"] = (_pickle_dumps(value, 5) if type(value) in _PLAIN
                                             else cloudpickle.dumps(value))
                    except BaseException as exc:  # whatever pickling raises is the task's error
                        if _state.terminating:
                            raise
                        failed = self._error(
                            tid, "pickle", exc,
                            f"could not pickle the result of type {qualified_name(type(value))}: "
                            f"{safe_str(exc)}", with_payload=False)
                else:
                    result["value"] = value
        finally:
            if req.kind == "call" and records:
                show_warnings(ctx, records)
            ctx.close()
            _state.leave(self.process_wide)
        answer: Result | ErrorMessage = failed.copy() if failed is not None else result
        if records:
            answer["warnings"] = pickle_warnings(records)
        try:
            # Node would refuse a larger frame and take this node for lost: say what happened instead.
            # A pickled payload is checked before it is encoded (and compressed) for nothing.
            _check_answer_size(len(answer.get("payload") or b""))
            frame = encode_frame(answer)
            _check_answer_size(len(frame))
            return frame
        except BaseException as exc:  # e.g. a call result CBOR cannot encode
            if _state.terminating:
                raise
            if isinstance(exc, _TooLarge):
                bad = error_message(tid, "pickle", "skyward.ResultTooLarge", str(exc), "",
                                    node=self.node, slot=self.slot)
            elif answer["type"] == "result":
                bad = self._error(
                    tid, "pickle", exc,
                    f"could not encode the result of type {qualified_name(type(value))} "
                    f"as CBOR: {safe_str(exc)}", with_payload=False)
            else:
                bad = error_message(tid, answer["kind"], answer["excType"], safe_str(answer["message"]),
                                    safe_str(answer["traceback"]), node=self.node, slot=self.slot)
            if "warnings" in answer:
                bad["warnings"] = answer["warnings"]
            return encode_frame(bad)
