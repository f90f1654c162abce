"""The Python API: :class:`JoblibPool` and :class:`ScikitLearnPool` open a pool for a ``with`` block
(joblib's backend is "skyward" inside it), :func:`connect` attaches to a pool started with
``skyward up --name NAME``, :func:`sklearn_backend` makes an open pool joblib's backend.

The pool itself is the engine (``skyward up --foreground --json``, see :mod:`._engine`), a child
process that closes the pool when this process closes its stdin, or exits.
"""
from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any, ClassVar

from . import BACKEND_NAME, _bridge, activate_backend, deactivate_backend, register, sanitize_warning_filters
from ._bridge import BridgeAddress
from ._engine import EngineProcess, PoolInfo, attach, engine_env, find_cli
from ._hints import ENV_REPORT
from ._options import Duration, NodeCount, PoolOptions, WorkdirOption, pool_options, version_pins
from ._providers import PathLike, Provider
from ._volumes import VolumeOption


def _backend_config() -> AbstractContextManager[Any]:
    """joblib's ``parallel_config(backend="skyward")`` (``parallel_backend`` on joblib < 1.3), with
    the backend registered and the warning filters a worker could not unpickle dropped."""
    register()
    sanitize_warning_filters()
    try:
        from joblib import parallel_config as config
    except ImportError:  # joblib < 1.3
        from joblib import parallel_backend as config
    context: AbstractContextManager[Any] = config(backend=BACKEND_NAME)
    return context


def _export_report(info: PoolInfo) -> str | None:
    """Puts the pool's working-directory report (:data:`ENV_REPORT`, not a secret) in this process's
    environment, where the backend's hints for a missing module or file read it; returns the value
    it replaces, for :func:`_restore_report`. The bridge's own variables are never put there."""
    before = os.environ.get(ENV_REPORT)
    report = info.env.get(ENV_REPORT)
    if report:
        os.environ[ENV_REPORT] = report
    return before


def _restore_report(info: PoolInfo, before: str | None) -> None:
    if os.environ.get(ENV_REPORT) != info.env.get(ENV_REPORT):
        return  # someone else's since
    if before is None:
        os.environ.pop(ENV_REPORT, None)
    else:
        os.environ[ENV_REPORT] = before


def _release_bridge(address: BridgeAddress, previous: BridgeAddress | None) -> None:
    """Stops using ``address`` if it is still the process's bridge (:func:`use_bridge` closes the
    connection to it unless ``previous`` is the same bridge)."""
    if _bridge.current_bridge() == address:
        _bridge.use_bridge(previous)


def _live_slots(address: BridgeAddress | None, opened: PoolInfo | None) -> int:
    if opened is None or address is None:
        raise RuntimeError("the pool is not open")
    if _bridge.current_bridge() == address:
        return _bridge.get_client().slots
    return opened.total_slots


class JoblibPool:
    """A pool for joblib's ``Parallel``: ``with JoblibPool(...) as pool:`` starts the engine,
    waits for every node and makes "skyward" joblib's backend inside the block, so
    ``Parallel(n_jobs=-1)`` runs on all ``pool.total_slots`` slots; the block's end closes the pool.

    ``provider``: :class:`Local` (default), :class:`SSH` or :class:`AWS`. ``nodes``: how many (None:
    1, or one per host with SSH), or ``(min, max)`` for an elastic pool that grows while tasks wait
    and removes nodes idle for ``scale_down_after`` (default 2 minutes). ``concurrency``: task
    slots per node (None: the node's CPU count).
    See docs/python-api.md for every parameter; ``image``, ``accelerator``, ``cpu`` and ``memory``
    (the Python Skyward's) are refused with a TypeError saying what to use instead.
    """

    plugin: ClassVar[str] = "joblib"

    def __init__(self, provider: Provider | None = None, nodes: NodeCount | None = None,
                 concurrency: int | None = None, *, machine: str | None = None, image: Any = None,
                 accelerator: Any = None, cpu: Any = None, memory: Any = None,
                 allocation: str | None = None, timeout: float | None = None,
                 joblib_version: str | None = None, executor: str | None = None,
                 pip: str | Sequence[str] = (), env: Mapping[str, str] | None = None,
                 workdir: WorkdirOption = None, python: PathLike | bool | None = None,
                 plugins: str | Sequence[str] = (), name: str | None = None, idle: Duration | None = None,
                 scale_down_after: Duration | None = None, volume: VolumeOption | Sequence[VolumeOption] | None = None,
                 quiet: bool = False, start_timeout: float | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        self.options: PoolOptions = pool_options(
            provider=provider, nodes=nodes, concurrency=concurrency, plugin=self.plugin,
            requirements=self._requirements(joblib_version), machine=machine, image=image,
            accelerator=accelerator, cpu=cpu, memory=memory, allocation=allocation, timeout=timeout,
            executor=executor, pip=pip, env=env, workdir=workdir, python=python, plugins=plugins, name=name,
            idle=idle, scale_down_after=scale_down_after, volume=volume, quiet=quiet, extra_args=extra_args)
        if start_timeout is not None and start_timeout <= 0:
            raise ValueError(f"start_timeout must be more than 0 seconds; got {start_timeout!r}")
        self.start_timeout = start_timeout
        self._engine: EngineProcess | None = None
        self._info: PoolInfo | None = None
        self._previous: BridgeAddress | None = None
        self._report_before: str | None = None
        self._backends: list[AbstractContextManager[Any]] = []
        self._lock = threading.Lock()

    def _requirements(self, joblib_version: str | None) -> tuple[str, ...]:
        return version_pins(joblib_version=joblib_version)

    # -- the engine's command ---------------------------------------------------------------

    def command(self) -> list[str]:
        """The engine's command line (``skyward up --foreground --json ...``); no secret is on it."""
        return [*find_cli(), "up", "--foreground", "--json", *self.options.flags()]

    # -- open / close -----------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._engine is not None

    def open(self) -> JoblibPool:
        """Starts the engine, waits for the pool (its progress goes to ``sys.stderr``) and connects to
        its bridge, without changing joblib's backend (:func:`sklearn_backend` does that)."""
        with self._lock:
            if self._engine is not None:
                raise RuntimeError("the pool is already open")
            engine = EngineProcess(self.command(), engine_env(self.options.env))
            info = engine.wait_ready(self.start_timeout)  # stops the engine when it fails
            try:
                self._previous = _bridge.use_bridge(info.bridge)
                _bridge.get_client()  # connect now: a bridge that refuses us fails here, not in Parallel
            except BaseException:
                _release_bridge(info.bridge, self._previous)
                engine.stop()
                raise
            self._engine, self._info = engine, info
            self._report_before = _export_report(info)
            _open_pools.add(self)
            return self

    def close(self) -> None:
        """Leaves the backend, closes the bridge connection and the pool (waits for the engine to exit;
        kills it if it does not). Safe to call twice."""
        with self._lock:
            while self._backends:
                self._backends.pop().__exit__(None, None, None)
            engine, info, self._engine = self._engine, self._info, None
            if engine is None or info is None:
                return
            _open_pools.discard(self)
            _restore_report(info, self._report_before)
            try:
                _release_bridge(info.bridge, self._previous)
            finally:
                engine.stop()

    def __enter__(self) -> JoblibPool:
        self.open()
        try:
            context = _backend_config()
            context.__enter__()
            self._backends.append(context)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- what it is -------------------------------------------------------------------------

    @property
    def total_slots(self) -> int:
        """The pool's live slot count (what ``n_jobs=-1`` resolves to)."""
        return _live_slots(self.bridge if self._info else None, self._info)

    @property
    def name(self) -> str | None:
        """The pool's name (the engine's when none was given), once open."""
        return self._info.name if self._info is not None else self.options.name

    @property
    def pid(self) -> int | None:
        """The engine process's id while the pool is open."""
        return self._engine.pid if self._engine is not None else None

    @property
    def info(self) -> PoolInfo:
        """What the engine said when the pool was ready."""
        if self._info is None:
            raise RuntimeError("the pool is not open")
        return self._info

    @property
    def bridge(self) -> BridgeAddress:
        """The pool's bridge (socket and token), while it is open."""
        if self._info is None or self._engine is None:
            raise RuntimeError("the pool is not open")
        return self._info.bridge

    def __repr__(self) -> str:
        state = f"open, {self._info.total_slots} slots" if self._info and self._engine else "closed"
        return f"{type(self).__name__}({self.options.provider!r}, nodes={self.options.nodes}, " \
               f"concurrency={self.options.concurrency}, {state})"

    def __reduce__(self) -> Any:
        raise TypeError(f"a {type(self).__name__} cannot be pickled: a task must not refer to the pool")


class ScikitLearnPool(JoblibPool):
    """A :class:`JoblibPool` for scikit-learn (``GridSearchCV(n_jobs=-1)``, ``cross_val_score``...):
    the workers get scikit-learn too (``--plugin sklearn``), at ``sklearn_version`` when given."""

    plugin: ClassVar[str] = "sklearn"

    def __init__(self, provider: Provider | None = None, nodes: NodeCount | None = None,
                 concurrency: int | None = None, *, machine: str | None = None, image: Any = None,
                 accelerator: Any = None, cpu: Any = None, memory: Any = None,
                 allocation: str | None = None, timeout: float | None = None,
                 joblib_version: str | None = None, sklearn_version: str | None = None,
                 executor: str | None = None, pip: str | Sequence[str] = (),
                 env: Mapping[str, str] | None = None, workdir: WorkdirOption = None,
                 python: PathLike | bool | None = None, plugins: str | Sequence[str] = (), name: str | None = None,
                 idle: Duration | None = None, scale_down_after: Duration | None = None,
                 volume: VolumeOption | Sequence[VolumeOption] | None = None, quiet: bool = False,
                 start_timeout: float | None = None, extra_args: Sequence[str] = ()) -> None:
        self._sklearn_version = sklearn_version
        super().__init__(provider, nodes, concurrency, machine=machine, image=image, accelerator=accelerator,
                         cpu=cpu, memory=memory, allocation=allocation, timeout=timeout,
                         joblib_version=joblib_version, executor=executor, pip=pip, env=env, workdir=workdir,
                         python=python, plugins=plugins, name=name, idle=idle,
                         scale_down_after=scale_down_after, volume=volume, quiet=quiet,
                         start_timeout=start_timeout, extra_args=extra_args)

    def _requirements(self, joblib_version: str | None) -> tuple[str, ...]:
        return version_pins(joblib_version=joblib_version, sklearn_version=self._sklearn_version)


# -- pools started elsewhere ----------------------------------------------------------------------

class PoolConnection:
    """This process's connection to a pool started elsewhere (``skyward up --name NAME``), made by
    :func:`connect`. "skyward" is joblib's backend for the whole process until :meth:`close` (or
    :func:`disconnect`); as a context manager, until the block ends. Closing it leaves the pool
    running (``skyward down NAME`` stops it)."""

    def __init__(self, info: PoolInfo) -> None:
        self._info: PoolInfo | None = info
        self._previous: BridgeAddress | None = None
        self._report_before: str | None = None
        self._active = False

    def _activate(self) -> None:
        assert self._info is not None
        self._previous = _bridge.use_bridge(self._info.bridge)
        try:
            _bridge.get_client()
            activate_backend()
        except BaseException:
            _release_bridge(self._info.bridge, self._previous)
            raise
        self._report_before = _export_report(self._info)
        self._active = True

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def info(self) -> PoolInfo:
        if self._info is None:
            raise RuntimeError("the connection is closed")
        return self._info

    @property
    def bridge(self) -> BridgeAddress:
        return self.info.bridge

    @property
    def total_slots(self) -> int:
        """The pool's live slot count (what ``n_jobs=-1`` resolves to)."""
        return _live_slots(self.bridge if self._info else None, self._info)

    @property
    def closed(self) -> bool:
        return self._info is None

    def close(self) -> None:
        """Makes loky joblib's backend again and closes the connection (not the pool)."""
        global _connection
        info, self._info = self._info, None
        if info is None:
            return
        if _connection is self:
            _connection = None
        if self._active:
            deactivate_backend()
            _restore_report(info, self._report_before)
        _release_bridge(info.bridge, self._previous)

    def __enter__(self) -> PoolConnection:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PoolConnection({self._info.name!r})" if self._info else "PoolConnection(closed)"

    def __reduce__(self) -> Any:
        raise TypeError("a PoolConnection cannot be pickled: a task must not refer to the pool")


_connection: PoolConnection | None = None


def connect(name: str) -> PoolConnection:
    """Attaches to the running pool ``name`` (``skyward up --name NAME``) and makes "skyward" joblib's
    backend for this process (a notebook: until :func:`disconnect` or the kernel ends; ``with
    connect(name):``: for the block). A previous connection is closed first."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"connect() needs the pool's name; got {name!r}")
    info = attach(name)
    disconnect()
    connection = PoolConnection(info)
    connection._activate()
    global _connection
    _connection = connection
    return connection


def disconnect() -> None:
    """Closes the connection :func:`connect` made, if any (the pool keeps running)."""
    if _connection is not None:
        _connection.close()


@contextmanager
def sklearn_backend(pool: JoblibPool | PoolConnection) -> Iterator[None]:
    """Makes the open ``pool`` joblib's backend inside the block (for a pool opened with
    :meth:`JoblibPool.open`, or to switch between pools); the bridge used before is used again after."""
    address = pool.bridge
    previous = _bridge.use_bridge(address)
    try:
        with _backend_config():
            yield
    finally:
        if _bridge.current_bridge() == address and previous != address:
            _bridge.use_bridge(previous)


_open_pools: weakref.WeakSet[JoblibPool] = weakref.WeakSet()


@atexit.register
def _close_open_pools() -> None:
    """At exit, close what is still open (the engine would close it when our stdin closes, but
    after we are gone)."""
    for pool in list(_open_pools):
        try:
            pool.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
    disconnect()
