"""Pickling of batches: what one joblib call learns about pickling by name is reused, and forgotten."""
from __future__ import annotations

import sys
import types
from typing import Iterator

import cloudpickle
import pytest
from joblib import delayed
from joblib._parallel_backends import SequentialBackend
from joblib.parallel import BatchedCalls

from skyward_joblib._pickle import BlobHashes, ByName, dumps_with_blobs, loads


@pytest.fixture()
def module() -> Iterator[types.ModuleType]:
    """A module importable here, whose function ``double`` pickles by name."""
    mod = types.ModuleType("skyward_pickle_probe")
    exec("def double(x):\n    return 2 * x\n", mod.__dict__)
    sys.modules[mod.__name__] = mod
    try:
        yield mod
    finally:
        sys.modules.pop(mod.__name__, None)
        try:
            cloudpickle.unregister_pickle_by_value(mod)
        except ValueError:
            pass


def _batch(func: object, n: int) -> BatchedCalls:
    return BatchedCalls([delayed(func)(i) for i in range(n)], SequentialBackend(nesting_level=1), None, {})


def test_a_batch_pickles_to_the_same_bytes_with_or_without_the_memo(module: types.ModuleType) -> None:
    by_name, hashes = ByName(), BlobHashes()
    for func in (module.double, abs, lambda x: x + 1):
        plain = dumps_with_blobs(_batch(func, 5), hashes)[0]
        first = dumps_with_blobs(_batch(func, 5), hashes, by_name)[0]
        again = dumps_with_blobs(_batch(func, 5), hashes, by_name)[0]
        assert plain == first == again
        assert loads(again)() == [func(i) for i in range(5)]  # type: ignore[operator]
    assert module.double in by_name.known.values()


def test_a_module_registered_by_value_travels_by_value_once_the_memo_is_cleared(module: types.ModuleType) -> None:
    by_name, hashes = ByName(), BlobHashes()
    by_ref = dumps_with_blobs(module.double, hashes, by_name)[0]
    cloudpickle.register_pickle_by_value(module)
    assert dumps_with_blobs(module.double, hashes, by_name)[0] == by_ref  # within one call: as first seen
    by_name.clear()  # what the backend does when a call starts and ends
    by_value = dumps_with_blobs(module.double, hashes, by_name)[0]
    assert by_value != by_ref
    del sys.modules[module.__name__]  # where the module cannot be imported, only the by-value copy loads
    assert loads(by_value)(4) == 8
    with pytest.raises(ModuleNotFoundError):
        loads(by_ref)
