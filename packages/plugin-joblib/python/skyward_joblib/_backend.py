"""``SkywardBackend``: a joblib backend whose batches run on the slots of a Skyward pool."""
from __future__ import annotations

import itertools
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from joblib._parallel_backends import AutoBatchingMixin, ParallelBackendBase

from skyward_wire import ErrorMessage, Result, cancelled_text

from . import _bridge, _hints
from ._bridge import CallShare
from ._errors import (
    BridgeError,
    ProtocolError,
    RemoteTaskError,
    TaskCancelledError,
    TaskPicklingError,
    TaskTimeoutError,
    WorkerLostError,
    exception_class,
    pickling_error,
)
from ._initializer import Initializer
from ._limits import MAX_TASK_BYTES, arguments_too_large, culprit, payload_too_large
from ._nested import SlotBackend, rebuild_slot_backend
from ._pickle import BlobHashes, BlobRef, CallMemo, blobs_of, buffer_bytes, dumps_with_buffers, loads
from ._warnings import reemit, sanitize_warning_filters

try:  # the same cause type loky attaches, so tracebacks read the same
    from joblib.externals.loky.process_executor import _RemoteTraceback
except Exception:  # noqa: BLE001 - joblib without loky

    class _RemoteTraceback(Exception):  # type: ignore[no-redef]
        def __init__(self, tb: str) -> None:
            self.tb = f'\n"""\n{tb}"""'

        def __str__(self) -> str:
            return self.tb


try:  # the class loky raises when a task or a result cannot be unpickled
    from joblib.externals.loky.process_executor import BrokenProcessPool
except Exception:  # noqa: BLE001 - joblib without loky
    from concurrent.futures.process import BrokenProcessPool

# How the agent's message for a task it could not unpickle begins (skyward_worker/task.py): loky
# raises BrokenProcessPool there, and for a result that was pickled but cannot be unpickled here.
TASK_UNPICKLE_TEXT = "could not unpickle the task"


def _remote_cause(traceback: str) -> BaseException:
    # loky's class adds the '"""' lines around the text itself (as our stand-in does)
    cause: BaseException = _RemoteTraceback(traceback)
    return cause


def _load_warnings(message: Result | ErrorMessage) -> list[Any]:
    records = []
    for data in message.get("warnings") or ():
        try:
            records.append(loads(data))
        except Exception:  # noqa: BLE001 - a warning whose class is missing here is dropped
            continue
    return records


def error_from_message(message: ErrorMessage) -> BaseException:
    """The exception to raise in the caller for an ``error`` message."""
    kind = message.get("kind")
    exc_type = str(message.get("excType", ""))
    text = str(message.get("message", ""))
    traceback = str(message.get("traceback", ""))
    node = message.get("node")
    exc: BaseException
    if kind == "user":
        exc = RemoteTaskError(exc_type, text, traceback, node)
        payload = message.get("payload")
        if payload is not None:
            try:
                loaded = loads(payload)
                if isinstance(loaded, BaseException):
                    exc = loaded
            except Exception:  # noqa: BLE001 - not loadable here: keep the RemoteTaskError
                pass
        if traceback:
            exc.__cause__ = _remote_cause(traceback)
        _hints.explain(exc, exc_type, text)  # a module or file the client has: why not there
        return exc
    if kind == "pickle":
        # also what loky raises: the exception pickling the result raised, as it is; BrokenProcessPool
        # for a task that cannot be unpickled on the worker
        broken = BrokenProcessPool if text.startswith(TASK_UNPICKLE_TEXT) else None
        exc = pickling_error(f"{exc_type}: {text}" if exc_type else text, exception_class(exc_type), broken)
        if traceback:
            exc.__cause__ = _remote_cause(traceback)
        _hints.explain(exc, exc_type, text)  # e.g. the task refers to a module the workers lack
        return exc
    if kind == "timeout":
        return TaskTimeoutError(text)
    if kind == "cancelled":
        return TaskCancelledError(text)
    if kind == "lost":
        if exc_type == _bridge.BRIDGE_CLOSED_EXC_TYPE:
            return BridgeError(text)
        return WorkerLostError(text if node is None else f"{text} (node {node})")
    return ProtocolError(f"{kind}: {text}")


# What the backend reports at least, unless the caller asked for n_jobs=1: joblib runs every call
# in the caller when the backend says 1 (see SkywardBackend.effective_n_jobs).
MIN_POOL_N_JOBS = 2

# joblib's (and scikit-learn's) default pre_dispatch, spaces removed
DEFAULT_PRE_DISPATCH = "2*n_jobs"

# n_jobs values that mean "every slot": no cap on the batches running at once, so that the call
# also uses nodes that join while it runs
ALL_SLOTS_N_JOBS = (None, -1)

_CALL_NUMBERS = itertools.count(1)
"""The number of each joblib call this process makes, for progress."""


@dataclass
class _Queued:
    """A pickled batch waiting for one of its call's ``n_jobs`` running batches to finish."""

    payload: bytes
    future: BatchFuture
    blobs: list[BlobRef]
    share: CallShare | None


class _Deferred:
    """Runs callbacks on a helper thread: failures found in ``submit`` must not call joblib back
    from inside ``submit`` (it holds its dispatch lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._queue: list[Callable[[], object]] = []
        self._wake = threading.Condition(self._lock)

    def call(self, fn: Callable[[], object]) -> None:
        with self._lock:
            self._queue.append(fn)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="skyward-deferred",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    if not self._wake.wait(timeout=5.0) and not self._queue:
                        self._thread = None
                        return
                    continue
                fn = self._queue.pop(0)
            try:
                fn()
            except BaseException:  # noqa: BLE001
                pass


_deferred = _Deferred()


# The run time (on its slot) of the batch whose callbacks run on this thread now, if known.
_completing = threading.local()


class BatchFuture:
    """The future-like object ``submit`` returns for one batch.

    Its done-callbacks run exactly once, when the batch's ``result`` / ``error`` arrives, when it is
    cancelled locally, or when the bridge closes, whichever comes first.
    """

    __slots__ = ("task_id", "_lock", "_event", "_message", "_exception", "_callbacks", "_backend",
                 "_consumed")

    def __init__(self, backend: SkywardBackend) -> None:
        self.task_id = 0
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._message: Result | ErrorMessage | None = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[BatchFuture], Any]] = []
        self._backend: SkywardBackend | None = backend
        self._consumed = False

    # -- TaskHandle ----------------------------------------------------------------------

    def finish(self, message: Result | ErrorMessage) -> None:
        self._settle(message, None)

    # -- future-like ---------------------------------------------------------------------

    def add_done_callback(self, fn: Callable[[BatchFuture], Any]) -> None:
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(fn)
                return
        fn(self)

    def done(self) -> bool:
        return self._event.is_set()

    def fail(self, exc: BaseException, deferred: bool = False) -> bool:
        """Settles the batch with ``exc`` (now, or on a helper thread)."""
        if deferred:
            _deferred.call(lambda: self._settle(None, exc))
            return True
        return self._settle(None, exc)

    def result(self, timeout: float | None = None) -> Any:
        """The batch's results; raises the task's exception (original type, remote cause)."""
        if not self._event.wait(timeout):
            raise TimeoutError(f"the batch did not finish within {timeout}s")
        if self._exception is not None:
            raise self._exception
        message = self._message
        assert message is not None  # settled without an exception: by its answer
        first = not self._consumed
        self._consumed = True
        if first:
            reemit(_load_warnings(message))
        if message["type"] == "result":
            try:
                return loads(message.get("payload") or b"")
            except Exception as exc:
                # also what unpickling raised, and loky's class for a result that fails to un-serialize
                raise pickling_error(f"could not unpickle the result here: {exc!r}", type(exc),
                                     BrokenProcessPool) from exc
        raise error_from_message(message)

    get = result  # joblib's non-callback retrieval path (older joblib)

    # -- internals -----------------------------------------------------------------------

    def _settle(self, message: Result | ErrorMessage | None, exc: BaseException | None) -> bool:
        with self._lock:
            if self._event.is_set():
                return False
            self._message = message
            self._exception = exc
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
            backend, self._backend = self._backend, None
        if backend is not None:
            backend._forget(self)
            # joblib's callback calls batch_completed on this thread: it learns the batch's own run time
            _completing.run_seconds = (message.get("duration") if message is not None and message["type"] == "result"
                                       else None)
        for fn in callbacks:
            try:
                fn(self)
            except BaseException as error:  # noqa: BLE001 - joblib's callback must not kill us
                import sys

                (sys.__stderr__ or sys.stderr).write(f"skyward_joblib: joblib's batch callback failed: {error!r}\n")
        return True


class SkywardBackend(AutoBatchingMixin, ParallelBackendBase):  # type: ignore[misc]  # joblib is untyped
    """Runs joblib batches on a Skyward pool, through the client bridge.

    ``n_jobs`` against the pool's live slot count (nodes x concurrency), on every supported joblib:

    - ``None`` (joblib's and scikit-learn's default) and ``-1``: every slot, as the Python Skyward's
      ``parallel_backend("skyward")`` does; ``-k``: ``slots + 1 - k``; ``k``: ``min(k, slots)``.
    - ``1`` (asked for explicitly): joblib's meaning, the calls run in the caller.
    - Whenever that comes to 1 but the caller did not ask for exactly 1 (``n_jobs=-1`` or ``None`` on
      a 1-slot pool, ``n_jobs=-2`` on 2 slots, ...), the backend reports
      :data:`MIN_POOL_N_JOBS` (2): joblib runs every call in the caller when told 1, which would
      put the work on the client without the pool's timeout and retries. With 2 the batches go to
      the pool, where they queue and run one at a time on its slot.

    Batches are sized by joblib's auto-batching, pickled with cloudpickle and sent as opaque bytes.
    """

    supports_retrieve_callback = True
    supports_return_generator = True
    supports_timeout = True
    supports_sharedmem = False
    supports_inner_max_num_threads = False
    uses_threads = False
    # Parallel(n_jobs=None) becomes default_n_jobs before the backend is asked: -1 (every slot) keeps
    # it apart from an explicit n_jobs=1 (joblib's own backends say 1, and would run in the caller)
    default_n_jobs = -1
    # joblib grows a batch at most 2-fold per completed batch: ~11 round trips, each through Node
    # and an agent, before thousands of tiny tasks share a batch. When the last batch's own run
    # time (measured on its slot, without the round trip) says its tasks take less than
    # TINY_TASK_SECONDS each, a batch may grow this much per step instead (still at most twice
    # joblib's ideal size for its measured run time); longer tasks keep joblib's pace, which
    # balances them better. Large, so that tiny tasks reach their batch size in a round trip or two.
    BATCH_GROWTH = 64
    TINY_TASK_SECONDS = 0.001
    # AutoBatchingMixin's state (set in its __init__), for the type checker
    _effective_batch_size: int
    _smoothed_batch_duration: float

    def __init__(self, nesting_level: int | None = None,
                 inner_max_num_threads: int | None = None, *,
                 task_timeout: float | None = None, **backend_kwargs: Any) -> None:
        # Our own keyword arguments (parallel_config(backend="skyward", task_timeout=...)) are taken
        # here and nothing else goes up: joblib < 1.5 hands extra keywords on to object.__init__
        # (a TypeError); the rest is kept as joblib >= 1.5 keeps it, in ``backend_kwargs``.
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads)
        self.backend_kwargs = dict(backend_kwargs)
        self.parallel: Any = None
        self._futures_lock = threading.Lock()
        self._futures: dict[int, BatchFuture] = {}  # the batches on the pool now
        # loky runs at most n_jobs batches at once, whatever joblib pre-dispatches: so does this
        # backend (the rest wait here, pickled); None: every slot, no cap
        self._max_running: int | None = None
        self._waiting: deque[_Queued] = deque()
        self._timeout: float | None = task_timeout
        self._hashes = BlobHashes()
        self._memo = CallMemo()
        self._call: int | None = None  # this process's number of the running joblib call
        # initializer= / initargs= (joblib 1.5+): run once per slot process and set-up (configure)
        self._initializer: Initializer | None = None
        self._tiny_tasks = False
        # joblib's pre_dispatch while a call on an elastic pool replaced it (see start_call)
        self._pre_dispatch_replaced: str | None = None

    # -- sizing --------------------------------------------------------------------------

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        """Workers a call gets: see the class docstring (never 1 unless ``n_jobs`` is 1)."""
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs == 1:
            return 1  # asked for: joblib runs the calls in the caller, as with any backend
        slots = max(_bridge.get_client().slots, 1)
        if n_jobs is None:
            wanted = slots
        elif n_jobs < 0:
            wanted = max(slots + 1 + int(n_jobs), 1)
        else:
            wanted = max(min(int(n_jobs), slots), 1)
        # joblib runs the whole call in the caller when told 1: on the client, with no timeout or
        # retries (on EC2, on the laptop). 2 sends it to the pool, where it queues on the one slot.
        return max(wanted, MIN_POOL_N_JOBS)

    def configure(self, n_jobs: int | None = 1, parallel: Any = None, prefer: Any = None,
                  require: Any = None, **backend_kwargs: Any) -> int:
        self.parallel = parallel
        self._forget_call()
        n = self.effective_n_jobs(n_jobs)
        self._max_running = self._running_cap(n_jobs, n)
        options = {**self.backend_kwargs, **backend_kwargs}  # parallel_config's, then Parallel's
        initializer = options.get("initializer")
        self._initializer = None if initializer is None else Initializer(
            initializer, tuple(options.get("initargs") or ()), uuid.uuid4().hex)
        return n

    @staticmethod
    def _running_cap(n_jobs: int | None, effective: int) -> int | None:
        """The most batches of a call on the pool at once: ``n_jobs`` asked for (more than the
        pool's slots too: nodes may join), what ``-k`` comes to, no cap for every slot."""
        if n_jobs in ALL_SLOTS_N_JOBS:
            return None
        assert n_jobs is not None  # in ALL_SLOTS_N_JOBS
        return max(effective, int(n_jobs)) if n_jobs > 0 else effective

    def start_call(self) -> None:
        self._forget_call()
        self._call = next(_CALL_NUMBERS)
        self._send_whole_call_to_elastic_pool()

    def stop_call(self) -> None:
        self._forget_call()
        if self._pre_dispatch_replaced is not None:
            self.parallel.pre_dispatch = self._pre_dispatch_replaced
            self._pre_dispatch_replaced = None

    def _send_whole_call_to_elastic_pool(self) -> None:
        """An elastic pool grows with its queue: joblib's default pre-dispatch (twice the slots there
        are now, the rest held back in the caller) would hide the call's backlog from it, so the
        call's batches go to the pool at once. A ``pre_dispatch`` the script set is kept."""
        self._pre_dispatch_replaced = None
        parallel = self.parallel
        if parallel is None or _bridge.get_client().max_slots is None:
            return
        if str(getattr(parallel, "pre_dispatch", "")).replace(" ", "") == DEFAULT_PRE_DISPATCH:
            self._pre_dispatch_replaced = parallel.pre_dispatch
            parallel.pre_dispatch = "all"

    def _forget_call(self) -> None:
        # an array may have changed since the last call (hash it again), a module may now pickle by value
        self._hashes.clear()
        self._memo.clear()

    def compute_batch_size(self) -> int:
        """joblib's auto-batching (aim for batches of ``MIN_IDEAL_BATCH_DURATION``), with batches
        of tiny tasks growing up to :attr:`BATCH_GROWTH`-fold per step instead of 2-fold."""
        old = self._effective_batch_size
        duration = self._smoothed_batch_duration
        if not (self._tiny_tasks and 0 < duration < self.MIN_IDEAL_BATCH_DURATION):
            return int(super().compute_batch_size())
        size = max(1, min(self.BATCH_GROWTH * old, 2 * int(old * self.MIN_IDEAL_BATCH_DURATION / duration)))
        if size != old:
            self._effective_batch_size = size
            self._smoothed_batch_duration = self._DEFAULT_SMOOTHED_BATCH_DURATION
        return size

    def batch_completed(self, batch_size: int, duration: float) -> None:
        run_seconds = getattr(_completing, "run_seconds", None)
        self._tiny_tasks = run_seconds is not None and run_seconds < batch_size * self.TINY_TASK_SECONDS
        super().batch_completed(batch_size, duration)

    def reset_batch_stats(self) -> None:
        super().reset_batch_stats()
        self._tiny_tasks = False

    # -- running -------------------------------------------------------------------------

    def submit(self, func: Any, callback: Callable[[Any], Any] | None = None) -> BatchFuture:
        future = BatchFuture(self)
        if callback is not None:
            future.add_done_callback(callback)
        try:
            sanitize_warning_filters()
            payload, buffers = dumps_with_buffers(self._with_initializer(func), self._memo)
        except Exception as exc:  # noqa: BLE001 - reported through the batch, like loky does
            error = TaskPicklingError(f"could not pickle {culprit(func)} to send it to the workers: {exc!r}")
            error.__cause__ = exc
            future.fail(error, deferred=True)
            return future
        if len(payload) > MAX_TASK_BYTES:
            # the bridge would refuse the frame and drop the connection (and every other pending batch)
            size, payload = len(payload), b""  # free it before looking for the culprit
            future.fail(payload_too_large(func, size), deferred=True)
            return future
        try:
            client = _bridge.get_client()
            # checked before the buffers are hashed or sent: the bridge would refuse them, the agents not keep them
            carried = buffer_bytes(buffers)
            if client.max_blob_bytes is not None and carried > client.max_blob_bytes:
                future.fail(arguments_too_large(func, carried, client.max_blob_bytes), deferred=True)
                return future
            blobs = blobs_of(buffers, self._hashes)
            with self._futures_lock:
                share = self._share_of(func)
                if self._max_running is not None and len(self._futures) >= self._max_running:
                    self._waiting.append(_Queued(payload, future, list(blobs), share))
                    return future
                self._send(client, _Queued(payload, future, list(blobs), share))
        except BridgeError as exc:
            future.fail(exc, deferred=True)
        return future

    def _with_initializer(self, func: Any) -> Any:
        """``func``, or ``func`` run after this set-up's initializer (see :mod:`._initializer`)."""
        if self._initializer is None:
            return func
        return self._initializer.wrap(func)

    def _share_of(self, func: Any) -> CallShare | None:
        """What progress counts for a batch: a joblib batch is several of the script's calls."""
        if not hasattr(func, "__len__"):
            return None
        total = getattr(self.parallel, "n_tasks", None)  # joblib >= 1.5, when the input has a length
        return CallShare(len(func), self._call, total if isinstance(total, int) else None)

    def _send(self, client: _bridge.BridgeClient, batch: _Queued) -> None:
        """Sends ``batch`` to the pool (the caller holds ``_futures_lock``)."""
        client.submit(batch.payload, batch.future, self._timeout, batch.blobs, batch.share)
        if not batch.future.done():
            self._futures[batch.future.task_id] = batch.future

    def apply_async(self, func: Any, callback: Callable[[Any], Any] | None = None) -> BatchFuture:
        """What joblib < 1.5 calls instead of :meth:`submit`: looks ``submit`` up on the instance,
        so a subclass's (or a wrapped) ``submit`` is the one used on every joblib version."""
        return self.submit(func, callback)

    def retrieve_result_callback(self, out: BatchFuture) -> Any:
        return out.result()

    def _forget(self, future: BatchFuture) -> None:
        """A batch settled: the next waiting one (if any) takes its place on the pool."""
        with self._futures_lock:
            if self._futures.pop(future.task_id, None) is None or not self._waiting:
                return
            batch = self._waiting.popleft()
            # not get_client(): a bridge that closed is not reconnected to for a call it failed
            client = _bridge._client
            try:
                if client is None or client.closed:
                    raise BridgeError("the skyward bridge closed before this batch was sent")
                self._send(client, batch)
            except BridgeError as exc:
                batch.future.fail(exc, deferred=True)

    def abort_everything(self, ensure_ready: bool = True) -> None:
        """Cancels every batch of this backend still queued or running."""
        with self._futures_lock:
            futures = list(self._futures.values())
            self._futures.clear()
            waiting = [batch.future for batch in self._waiting]
            self._waiting.clear()
        client = _bridge._client
        for future in futures:
            if client is not None and not client.closed:
                client.forget(future.task_id)
                client.cancel(future.task_id)
        for future in futures + waiting:
            future.fail(TaskCancelledError(cancelled_text("another task of the Parallel call failed")))

    def terminate(self) -> None:
        if self._futures or self._waiting:
            self.abort_everything(ensure_ready=False)
        self.reset_batch_stats()

    def get_nested_backend(self) -> Any:
        """Nested ``Parallel`` calls inside a task run sequentially on its slot (see
        :mod:`._nested`): no thread or process explosion, no deadlock on the pool's slots, and
        "skyward" named inside the task means the same."""
        level = (self.nesting_level or 0) + 1
        return SlotBackend(nesting_level=level), None

    def __reduce__(self) -> Any:
        # A backend that travels (e.g. captured in a task) arrives as the slot-local one.
        return rebuild_slot_backend, (self.nesting_level,)
