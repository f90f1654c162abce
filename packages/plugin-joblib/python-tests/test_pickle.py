"""Pickling of batches: what one joblib call learns (what pickles by name, the pickles of functions that
travel by value) is reused by its later batches, and forgotten when the call ends."""
from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Iterator
from typing import Any, Callable

import cloudpickle
import numpy as np
import pytest
from joblib import delayed
from joblib._parallel_backends import SequentialBackend
from joblib.parallel import BatchedCalls

from skyward_joblib._pickle import BLOB_THRESHOLD, BlobHashes, CallMemo, dumps_with_blobs, loads


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


def test_a_batch_of_functions_pickled_by_name_pickles_to_the_same_bytes_with_the_memo(module: types.ModuleType) -> None:
    memo, hashes = CallMemo(), BlobHashes()
    for func in (module.double, abs):
        plain = dumps_with_blobs(_batch(func, 5), hashes)[0]
        first = dumps_with_blobs(_batch(func, 5), hashes, memo)[0]
        again = dumps_with_blobs(_batch(func, 5), hashes, memo)[0]
        assert plain == first == again
        assert loads(again)() == [func(i) for i in range(5)]
    assert module.double in memo.by_name.values()
    assert not memo.by_value


def _closure(offset: int) -> Callable[[int], int]:
    def shifted(x: int) -> int:
        return x + offset

    return shifted


def test_a_function_pickled_by_value_is_pickled_once_per_call_and_runs_the_same() -> None:
    memo, hashes = CallMemo(), BlobHashes()
    for func in (lambda x: x + 1, _closure(10)):
        first = dumps_with_blobs(_batch(func, 5), hashes, memo)[0]
        again = dumps_with_blobs(_batch(func, 5), hashes, memo)[0]
        assert first == again
        assert loads(again)() == [func(i) for i in range(5)]
        assert memo.by_value[id(func)][0] is func
    memo.clear()
    assert not memo.by_value and not memo.by_name


SCALE = 2


def _scaled(x: int) -> int:
    return SCALE * x


def test_within_a_call_a_function_travels_as_first_pickled_and_the_next_call_sees_changes() -> None:
    global SCALE
    memo, hashes = CallMemo(), BlobHashes()
    # pickled by value like a function of the user's script (this test module is importable here)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        first = dumps_with_blobs(_batch(_scaled, 3), hashes, memo)[0]
        SCALE = 3
        within = dumps_with_blobs(_batch(_scaled, 3), hashes, memo)[0]
        memo.clear()  # what the backend does when a call starts and ends
        next_call = dumps_with_blobs(_batch(_scaled, 3), hashes, memo)[0]
    finally:
        SCALE = 2
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert loads(first)() == loads(within)() == [0, 2, 4]
    assert loads(next_call)() == [0, 3, 6]


def test_a_large_array_a_function_refers_to_still_travels_as_a_blob() -> None:
    memo, hashes = CallMemo(), BlobHashes()
    table = np.arange(BLOB_THRESHOLD // 8 * 2, dtype=np.float64)

    def lookup(i: int) -> float:
        return float(table[i])

    for _ in range(2):
        payload, blobs = dumps_with_blobs(_batch(lookup, 3), hashes, memo)
        assert len(blobs) == 1 and blobs[0].data.nbytes == table.nbytes
        assert len(payload) < 10_000
        assert loads(payload, buffers=[blob.data for blob in blobs])() == [0.0, 1.0, 2.0]
    assert memo.by_value[id(lookup)].reduced is None  # not kept: its pickle would hold the array


def _checks_identity(marker: object) -> Callable[[object], bool]:
    def is_marker(obj: object) -> bool:
        return obj is marker

    return is_marker


def _calls(*calls: tuple[Callable[..., Any], tuple[Any, ...]]) -> BatchedCalls:
    return BatchedCalls([delayed(func)(*args) for func, args in calls], SequentialBackend(nesting_level=1), None, {})


def test_an_object_in_a_function_and_its_arguments_stays_one_object_as_in_one_cloudpickle_dumps() -> None:
    """scikit-learn's test_cross_val_score_fit_params: a callback's closure and the fit params
    hold the same object, compared with ``is`` where the task runs."""
    memo, hashes = CallMemo(), BlobHashes()
    marker, other = object(), object()
    check = _checks_identity(marker)
    # the first batch passes another object (the function's pickle is kept), the next ones the same
    for arg, expected in ((other, False), (marker, True), (marker, True), ([marker], False)):
        payload = dumps_with_blobs(_calls((check, (arg,))), hashes, memo)[0]
        assert loads(payload)() == [expected] == [check(arg)]
        assert loads(payload)() == cloudpickle.loads(cloudpickle.dumps(_calls((check, (arg,)))))()
    # two kept functions holding the same object, in one batch
    memo.clear()
    first, second = _checks_identity(marker), _checks_identity(marker)
    for func in (first, second):
        dumps_with_blobs(_calls((func, (other,))), hashes, memo)
    both = loads(dumps_with_blobs(_calls((first, (marker,)), (second, (marker,))), hashes, memo)[0])()
    assert both == [True, True]


def test_functions_without_shared_objects_keep_their_pickle() -> None:
    memo, hashes = CallMemo(), BlobHashes()
    table = {"a": 1}
    lookup = _lookup_in(table)
    for _ in range(3):
        payload = dumps_with_blobs(_calls((lookup, ("a",)), (lookup, ("a",))), hashes, memo)[0]
        assert loads(payload)() == [1, 1]
    assert memo.by_value[id(lookup)].reduced is not None


def _lookup_in(table: dict[str, int]) -> Callable[[str], int]:
    def lookup(key: str) -> int:
        return table[key]

    return lookup


_LOAD_AND_RUN = "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read())())"


def test_methods_and_classes_pickled_by_value_run_where_their_module_is_missing(module: types.ModuleType) -> None:
    exec("class Base:\n    def value(self, i):\n        return i\n"
         "class Child(Base):\n    def value(self, i):\n        return super().value(i) + 1\n"
         "def run(i):\n    return Child().value(i) * 10\n",
         module.__dict__)
    cloudpickle.register_pickle_by_value(module)
    memo, hashes = CallMemo(), BlobHashes()
    payloads = [dumps_with_blobs(_batch(func, 2), hashes, memo)[0]
                for func in (module.Child().value, module.run, module.Child().value, module.run)]
    assert memo.by_value  # the functions' pickles were kept and reused
    del sys.modules[module.__name__]
    outputs = [subprocess.run([sys.executable, "-c", _LOAD_AND_RUN], input=payload, capture_output=True,
                              timeout=60, check=True).stdout.decode().strip() for payload in payloads]
    assert outputs == ["[1, 2]", "[10, 20]", "[1, 2]", "[10, 20]"]


def test_a_module_registered_by_value_travels_by_value_once_the_memo_is_cleared(module: types.ModuleType) -> None:
    memo, hashes = CallMemo(), BlobHashes()
    by_ref = dumps_with_blobs(module.double, hashes, memo)[0]
    cloudpickle.register_pickle_by_value(module)
    assert dumps_with_blobs(module.double, hashes, memo)[0] == by_ref  # within one call: as first seen
    memo.clear()  # what the backend does when a call starts and ends
    by_value = dumps_with_blobs(module.double, hashes, memo)[0]
    assert by_value != by_ref
    del sys.modules[module.__name__]  # where the module cannot be imported, only the by-value copy loads
    assert loads(by_value)(4) == 8
    with pytest.raises(ModuleNotFoundError):
        loads(by_ref)
