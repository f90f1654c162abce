"""A task whose worker process dies: the caller gets WorkerLostError, never a hang (runs last)."""
from __future__ import annotations

import pytest
from joblib import Parallel, delayed, parallel_config
from joblib.externals.loky.process_executor import TerminatedWorkerError
from tasks import die, square

from skyward_joblib import WorkerLostError

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("pool")]


def test_a_dying_worker_process_raises_worker_lost() -> None:
    with parallel_config(backend="loky"), pytest.raises(TerminatedWorkerError):
        Parallel(n_jobs=2, batch_size=1)(delayed(die)() for _ in range(2))
    # also loky's class for a worker that died: `except TerminatedWorkerError` written for loky works
    with parallel_config(backend="skyward"), pytest.raises(TerminatedWorkerError) as info:
        Parallel(n_jobs=2, batch_size=1)(delayed(die)() for _ in range(2))
    assert isinstance(info.value, WorkerLostError)
    # the pool still works afterwards
    with parallel_config(backend="skyward"):
        assert Parallel(n_jobs=-1)(delayed(square)(i) for i in range(8)) == [i * i for i in range(8)]
