"""``initializer=`` / ``initargs=`` (joblib 1.5+, ``Parallel(...)`` or ``parallel_config(...)``):
loky runs the initializer once in each worker process before its first task; on the pool each
batch carries it, and a slot process runs it before the first batch of that ``Parallel`` set-up
that reaches it (unpickled on the workers: this module ships with the package)."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

_lock = threading.Lock()
_done: set[str] = set()  # the set-ups whose initializer ran in this process


@dataclass(frozen=True)
class Initializer:
    """One set-up's initializer (``key``: new at each ``configure``, as loky starts new workers)."""

    fn: Callable[..., object]
    args: tuple[Any, ...]
    key: str

    def wrap(self, batch: Callable[[], Any]) -> InitializedBatch:
        return InitializedBatch(batch, self.fn, self.args, self.key)


@dataclass
class InitializedBatch:
    """A joblib batch run after its set-up's initializer (once per process and set-up ``key``)."""

    batch: Callable[[], Any]
    initializer: Callable[..., object]
    initargs: tuple[Any, ...]
    key: str

    def __call__(self) -> Any:
        with _lock:  # a slot that runs tasks on threads runs the initializer once too
            if self.key not in _done:
                self.initializer(*self.initargs)
                _done.add(self.key)
        return self.batch()

    def __len__(self) -> int:
        return len(self.batch)  # type: ignore[arg-type]  # a BatchedCalls: its calls
