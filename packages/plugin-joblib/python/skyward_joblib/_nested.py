"""Nested ``Parallel`` calls inside a task: they run on the task's own slot, one call after another.

A task's batch carries the backend joblib gives its nested calls (``get_nested_backend``): a
:class:`SlotBackend`. Unpickling it on the worker also registers the name "skyward" there, for the
same local backend, so that a task whose code names the backend (``Parallel(backend="skyward")``,
``parallel_config("skyward")``: a library written for Skyward, or joblib's own ``test_nested_loop``)
runs its nested call on its slot instead of failing with ``ValueError: Invalid backend: skyward``.

Nested calls do not go back to the pool: a worker cannot reach the client's bridge, and a task
waiting for tasks queued behind it on a full pool could wait forever.
"""
from __future__ import annotations

from typing import Any

from joblib import register_parallel_backend
from joblib._parallel_backends import SequentialBackend
from joblib.parallel import BACKENDS

BACKEND_NAME = "skyward"
"""The joblib backend name (the same as :data:`skyward_joblib.BACKEND_NAME`)."""


class SlotBackend(SequentialBackend):  # type: ignore[misc]  # joblib is untyped
    """What the "skyward" backend means inside a task: the calls run sequentially in the task,
    on its slot (each slot is already one of the pool's parallel workers: threads or processes
    under it would compete with the other slots of the node for the same cores).

    Takes the keyword arguments ``SkywardBackend`` takes (``task_timeout``, ...) and ignores them,
    so that code written for the client runs unchanged in a task.
    """

    def __init__(self, nesting_level: int | None = None, inner_max_num_threads: int | None = None,
                 *, task_timeout: float | None = None, **backend_kwargs: Any) -> None:
        # joblib < 1.5 hands extra keywords on to object.__init__ (a TypeError): keep them here
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads)
        self.backend_kwargs = dict(backend_kwargs)

    def __reduce__(self) -> Any:
        return rebuild_slot_backend, (self.nesting_level,)


def register_here() -> None:
    """Registers "skyward" as :class:`SlotBackend` in this process unless the name is taken (in the
    client it is the pool's ``SkywardBackend``, which stays)."""
    if BACKEND_NAME not in BACKENDS:
        register_parallel_backend(BACKEND_NAME, SlotBackend)


def rebuild_slot_backend(nesting_level: int | None) -> SlotBackend:
    """Unpickles a :class:`SlotBackend` (in a task on a worker), registering its name first."""
    register_here()
    return SlotBackend(nesting_level=nesting_level)
