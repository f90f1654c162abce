"""skyward_joblib: a joblib backend ("skyward") that runs ``Parallel`` batches on a Skyward pool.

The pool (Node, ``@skyward/plugin-joblib``) exports ``SKYWARD_BRIDGE`` (a Unix socket) and
``SKYWARD_TOKEN`` to the client process; this package connects to it on first use::

    import skyward_joblib
    skyward_joblib.register()
    with joblib.parallel_config(backend="skyward"):
        Parallel(n_jobs=-1)(delayed(f)(x) for x in xs)   # n_jobs=-1: every slot of the pool

``skyward run`` imports :mod:`skyward_joblib.activate` before the user's script; that import calls
:func:`activate_backend`, which makes "skyward" joblib's default backend for the whole process.
"""
from __future__ import annotations

from typing import Any

from ._bridge import BridgeClient, close_client, configured, get_client
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

BACKEND_NAME = "skyward"

__all__ = [
    "BACKEND_NAME",
    "BridgeClient",
    "BridgeError",
    "ProtocolError",
    "RemoteTaskError",
    "SkywardBackend",
    "SkywardError",
    "TaskCancelledError",
    "TaskPicklingError",
    "TaskTimeoutError",
    "WorkerLostError",
    "activate_backend",
    "close_client",
    "configured",
    "deactivate_backend",
    "get_client",
    "register",
    "sanitize_warning_filters",
    "total_slots",
]


def __getattr__(name: str) -> Any:
    # SkywardBackend imports joblib: only when asked (workers import this package without it).
    if name == "SkywardBackend":
        from ._backend import SkywardBackend

        return SkywardBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
