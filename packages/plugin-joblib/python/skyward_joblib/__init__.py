"""skyward_joblib: a joblib backend ("skyward") that runs ``Parallel`` batches on a Skyward pool.

From Python, open a pool for a block (the ``skyward`` command does the provisioning)::

    from skyward_joblib import JoblibPool, Local
    with JoblibPool(provider=Local(), nodes=2, concurrency=2) as pool:
        Parallel(n_jobs=-1)(delayed(f)(x) for x in xs)   # pool.total_slots == 4

or attach to one started with ``skyward up --name NAME``: ``connect("NAME")`` (docs/python-api.md).

Under ``skyward run`` the pool (Node, ``@skyward/plugin-joblib``) exports ``SKYWARD_BRIDGE`` (a Unix
socket) and ``SKYWARD_TOKEN`` to the client process; this package connects to it on first use::

    import skyward_joblib
    skyward_joblib.register()
    with joblib.parallel_config(backend="skyward"):
        Parallel(n_jobs=-1)(delayed(f)(x) for x in xs)   # n_jobs=-1: every slot of the pool

``skyward run`` imports :mod:`skyward_joblib.activate` before the user's script; that import calls
:func:`activate_backend`, which makes "skyward" joblib's default backend for the whole process.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._bridge import BridgeAddress, BridgeClient, close_client, configured, current_bridge, get_client, use_bridge
from ._errors import (
    BridgeError,
    ProtocolError,
    RemoteTaskError,
    SkywardError,
    TaskCancelledError,
    TaskPicklingError,
    TaskTimeoutError,
    WorkerLostError,
)
from ._warnings import sanitize_warning_filters

if TYPE_CHECKING:
    from ._api import JoblibPool, PoolConnection, ScikitLearnPool, connect, disconnect, sklearn_backend
    from ._backend import SkywardBackend
    from ._engine import EngineError, EngineNotFoundError, EngineUsageError, PoolInfo
    from ._providers import AWS, SSH, Local
    from ._volumes import LocalVolume, S3Volume

BACKEND_NAME = "skyward"

# The pool API, imported on first use: workers import this package without joblib (and need none of it).
_LAZY = {
    "JoblibPool": "._api", "ScikitLearnPool": "._api", "PoolConnection": "._api", "connect": "._api",
    "disconnect": "._api", "sklearn_backend": "._api",
    "Local": "._providers", "SSH": "._providers", "AWS": "._providers",
    "S3Volume": "._volumes", "LocalVolume": "._volumes",
    "EngineError": "._engine", "EngineNotFoundError": "._engine", "EngineUsageError": "._engine",
    "PoolInfo": "._engine",
    "SkywardBackend": "._backend",  # imports joblib
}

__all__ = [
    "AWS",
    "BACKEND_NAME",
    "SSH",
    "BridgeAddress",
    "BridgeClient",
    "BridgeError",
    "EngineError",
    "EngineNotFoundError",
    "EngineUsageError",
    "JoblibPool",
    "Local",
    "LocalVolume",
    "PoolConnection",
    "PoolInfo",
    "ProtocolError",
    "RemoteTaskError",
    "S3Volume",
    "ScikitLearnPool",
    "SkywardBackend",
    "SkywardError",
    "TaskCancelledError",
    "TaskPicklingError",
    "TaskTimeoutError",
    "WorkerLostError",
    "activate_backend",
    "close_client",
    "configured",
    "connect",
    "current_bridge",
    "deactivate_backend",
    "disconnect",
    "get_client",
    "register",
    "sanitize_warning_filters",
    "sklearn_backend",
    "total_slots",
    "use_bridge",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def register(make_default: bool = False) -> None:
    """Registers the "skyward" joblib backend (idempotent)."""
    from joblib import register_parallel_backend

    from ._backend import SkywardBackend

    register_parallel_backend(BACKEND_NAME, SkywardBackend, make_default=make_default)


def total_slots() -> int:
    """The pool's live slot count (what ``n_jobs=-1`` resolves to)."""
    return get_client().slots


_active: Any | None = None


def activate_backend() -> None:
    """Makes "skyward" joblib's backend for the whole process (idempotent).

    Registers it as joblib's default backend (every thread) and enters
    ``parallel_config(backend="skyward")`` (``parallel_backend`` on joblib < 1.3) in the calling
    thread, as the Python Skyward does; also drops non-stdlib warning filters.
    """
    global _active
    register(make_default=True)
    sanitize_warning_filters()
    if _active is not None:
        return
    try:
        from joblib import parallel_config as config
    except ImportError:  # joblib < 1.3
        from joblib import parallel_backend as config
    context = config(backend=BACKEND_NAME)
    context.__enter__()
    _active = context


def deactivate_backend() -> None:
    """Undoes :func:`activate_backend` in this thread (joblib's default becomes loky again)."""
    global _active
    context, _active = _active, None
    if context is not None:
        context.__exit__(None, None, None)
    from joblib import parallel as _parallel

    if getattr(_parallel, "DEFAULT_BACKEND", None) == BACKEND_NAME:
        _parallel.DEFAULT_BACKEND = "loky" if "loky" in _parallel.BACKENDS else "threading"
