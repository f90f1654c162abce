"""cloudpickle, with third-party warning classes made safe to load where they are missing, and
large buffers (numpy arrays and the like) taken out of band as content-addressed blobs."""
from __future__ import annotations

import hashlib
import io
import sys
import threading
import types
import weakref
from collections import ChainMap
from typing import Any, NamedTuple

import cloudpickle

from ._warnings import warning_category_reducer

_Base: Any = getattr(cloudpickle, "Pickler", None) or cloudpickle.CloudPickler

BLOB_THRESHOLD = 1 << 20
"""Pickle buffers of at least this many bytes travel as blobs: sent to each node once."""


class BlobRef(NamedTuple):
    """One out-of-band buffer of a payload: its content hash and its bytes (a view, not a copy)."""

    hash: str
    data: memoryview


class _PickledByValue(NamedTuple):
    """A function cloudpickle pickled by value, and what rebuilds it from that pickle (None when the
    pickle is not kept)."""

    func: object  # held, so that its id is not reused while it is known
    reduced: Any
    inner: dict[int, object]
    """The objects its pickle holds whose identity can be shared (by id; held, for the same reason)."""


_IDENTITY_FREE = (str, bytes, int, float, complex, bool, type(None), tuple, frozenset, range,
                  types.CodeType, types.ModuleType, type, types.BuiltinFunctionType)
"""Objects whose identity nothing can observe across pickles: immutable values, and what is
rebuilt by import (modules, builtins, classes, which cloudpickle also tracks when by value)."""


def _identity_bearing(memo: Any, skip: object = None) -> dict[int, object]:
    """The objects of a pickler's memo whose identity is observable, by id (``skip`` left out)."""
    return {key: obj for key, (_, obj) in memo.copy().items()
            if obj is not skip and not isinstance(obj, _IDENTITY_FREE)}


class CallMemo:
    """What the pickles of one joblib call learned, reused by its later batches. Cleared when a call
    starts and ends (:meth:`clear`); holds each object it knows until then, so an id is never reused
    while it is known.

    - ``by_name``: the classes and functions cloudpickle pickled by name (imported where they land).
      Asking cloudpickle again costs several microseconds per object, for about ten objects per batch.
    - ``by_value``: the functions cloudpickle pickled by value (defined in ``__main__``, lambdas,
      closures), each with its pickle. Later batches embed those bytes instead of walking the
      function's code and globals again (about half the cost of pickling a small batch). As with
      Dask, which pickles a function once per call, a function travels as it was when the call's
      first batch that uses it was pickled.
    """

    MAX_BY_VALUE = 1024
    """At most this many functions pickled by value are kept per call (one per task is possible)."""

    def __init__(self) -> None:
        self.by_name: dict[int, Any] = {}
        self.by_value: dict[int, _PickledByValue] = {}

    def clear(self) -> None:
        self.by_name.clear()
        self.by_value.clear()

    def pickled_by_value(self, func: types.FunctionType) -> Any:
        """The reduction that rebuilds ``func`` from its pickle of this call, made on first use;
        None for a function whose pickle is not kept (see :func:`_pickle_alone`)."""
        seen = self.by_value.get(id(func))
        if seen is not None and seen.func is func:
            return seen.reduced
        if len(self.by_value) >= self.MAX_BY_VALUE:
            return None
        alone = _pickle_alone(func)
        if alone is None:
            self.forget_pickle(func)
        else:
            self.by_value[id(func)] = _PickledByValue(func, (loads, (alone.data,)), alone.inner)
        return self.by_value[id(func)].reduced

    def forget_pickle(self, func: object) -> None:
        """From now on ``func`` is pickled with each batch, not from its kept pickle."""
        self.by_value[id(func)] = _PickledByValue(func, None, {})


class _HasLargeBuffer(Exception):
    """A pickle of a function met a buffer that must travel as a blob."""


class _Alone(NamedTuple):
    data: bytes
    inner: dict[int, object]


def _pickle_alone(func: types.FunctionType) -> _Alone | None:
    """``func`` pickled on its own, with the identity-bearing objects that pickle holds; None if it
    refers to a large buffer (an array in its globals or closure): that buffer must stay out of
    band, sent once per node as a blob."""

    def in_band(buffer: Any) -> bool:
        if buffer.raw().nbytes >= BLOB_THRESHOLD:
            raise _HasLargeBuffer
        return True

    with io.BytesIO() as out:
        pickler = _Pickler(out, protocol=5, buffer_callback=in_band)
        try:
            pickler.dump(func)
        except _HasLargeBuffer:
            return None
        return _Alone(out.getvalue(), _identity_bearing(pickler.memo, skip=func))


DYNAMIC_CODE_FILENAME = "<dynamic-code>"
"""What cloudpickle 3.1.3+ writes as the file name of a function it pickles by value."""

_base_code_reduce: Any = getattr(_Base, "dispatch_table", {}).get(types.CodeType)


def _reduce_code_keeping_filename(code: types.CodeType) -> Any:
    """cloudpickle's reduction of a code object, with the code's own file name kept: with
    ``<dynamic-code>`` a task's traceback shows neither the script's file nor its lines (loky's,
    whose cloudpickle keeps the name, shows both)."""
    rebuild, args = _base_code_reduce(code)
    return rebuild, tuple(code.co_filename if isinstance(arg, str) and arg == DYNAMIC_CODE_FILENAME else arg
                          for arg in args)


class _Pickler(_Base):  # type: ignore[misc]  # cloudpickle is untyped
    memo_of_call: CallMemo | None = None
    kept_pickles_used: dict[int, _PickledByValue] | None = None
    """The kept pickles this pickler embedded whose objects can share identity with others."""
    if _base_code_reduce is not None:
        dispatch_table = ChainMap({types.CodeType: _reduce_code_keeping_filename}, _Base.dispatch_table)

    def reducer_override(self, obj: Any) -> Any:
        memo = self.memo_of_call
        if memo is not None:
            if memo.by_name.get(id(obj)) is obj:
                return NotImplemented
            kept = memo.by_value.get(id(obj))
            if kept is not None and kept.func is obj and kept.reduced is not None:
                self._note_kept_pickle(kept)
                return kept.reduced
        reduced = warning_category_reducer(obj)
        if reduced is not None:
            return reduced
        reduced = super().reducer_override(obj)
        if memo is not None and isinstance(obj, (type, types.FunctionType)):
            if reduced is NotImplemented:
                memo.by_name[id(obj)] = obj
            elif type(obj) is types.FunctionType:
                kept_reduced = memo.pickled_by_value(obj)
                if kept_reduced is not None:
                    self._note_kept_pickle(memo.by_value[id(obj)])
                    reduced = kept_reduced
        return reduced

    def _note_kept_pickle(self, kept: _PickledByValue) -> None:
        if kept.inner:
            if self.kept_pickles_used is None:
                self.kept_pickles_used = {}
            self.kept_pickles_used[id(kept.func)] = kept

    def shared_identities(self) -> list[_PickledByValue]:
        """The kept pickles embedded in this pickle that hold an object the rest of it (or another
        of them) holds too: loaded, that object would come back as two objects."""
        used = self.kept_pickles_used
        if not used:
            return []
        seen = set(_identity_bearing(self.memo))
        clashing = []
        for kept in used.values():
            if not seen.isdisjoint(kept.inner):
                clashing.append(kept)
            seen.update(kept.inner)
        return clashing


def dumps(obj: Any) -> bytes:
    """``cloudpickle.dumps(obj)`` with the warning-category safety net."""
    with io.BytesIO() as buffer:
        _Pickler(buffer, protocol=cloudpickle.DEFAULT_PROTOCOL).dump(obj)
        return buffer.getvalue()


def dumps_with_buffers(obj: Any, memo: CallMemo | None = None) -> tuple[bytes, list[memoryview]]:
    """Pickles ``obj`` with protocol 5: buffers of at least :data:`BLOB_THRESHOLD` bytes are left
    out of the payload and returned (views, not copies, not hashed yet), in the order
    ``loads(payload, buffers=...)`` wants. ``memo``: what the earlier pickles of the same joblib
    call learned (see :class:`CallMemo`)."""
    buffers: list[memoryview] = []

    def out_of_band(buffer: Any) -> bool:
        view = buffer.raw()  # flat bytes; fails for non-contiguous buffers, which pickle copies
        if view.nbytes < BLOB_THRESHOLD:
            return True  # in band
        buffers.append(view)
        return False

    with io.BytesIO() as out:
        pickler = _Pickler(out, protocol=5, buffer_callback=out_of_band)
        pickler.memo_of_call = memo
        pickler.dump(obj)
        clashing = pickler.shared_identities()
        if memo is None or not clashing:
            return out.getvalue(), buffers
    # a kept function pickle holds an object the arguments also hold: pickle those functions
    # with each batch, as one cloudpickle.dumps of the batch would, so the object stays one object
    for kept in clashing:
        memo.forget_pickle(kept.func)
    return dumps_with_buffers(obj, memo)


def blobs_of(buffers: list[memoryview], hashes: BlobHashes) -> list[BlobRef]:
    """The blobs of out-of-band ``buffers``: each with its content hash."""
    return [BlobRef(hashes.hash_of(view), view) for view in buffers]


def dumps_with_blobs(obj: Any, hashes: BlobHashes,
                     memo: CallMemo | None = None) -> tuple[bytes, list[BlobRef]]:
    """:func:`dumps_with_buffers`, with each buffer hashed into a :class:`BlobRef`."""
    payload, buffers = dumps_with_buffers(obj, memo)
    return payload, blobs_of(buffers, hashes)


def buffer_bytes(buffers: list[memoryview]) -> int:
    """Bytes of ``buffers``, each memory counted once (two views of one array travel as one blob)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for view in buffers:
        try:
            address = _address(view)
        except (TypeError, ValueError):
            address = None
        key = (id(view.obj) if address is None else address, view.nbytes)
        if key not in seen:
            seen.add(key)
            total += view.nbytes
    return total


class _Discard:
    """A file that forgets what is written to it."""

    def write(self, data: Any) -> int:
        return len(memoryview(data))


def out_of_band_bytes(obj: Any) -> int:
    """Bytes of the large buffers pickling ``obj`` would send beside it, measured without copying them."""
    buffers: list[memoryview] = []

    def measure(buffer: Any) -> bool:
        view = buffer.raw()
        if view.nbytes < BLOB_THRESHOLD:
            return True
        buffers.append(view)
        return False

    _Pickler(_Discard(), protocol=5, buffer_callback=measure).dump(obj)
    return buffer_bytes(buffers)


loads = cloudpickle.loads


def _owner(obj: Any) -> Any:
    """The object that owns a numpy view's memory (the end of its ``.base`` chain of arrays)."""
    while True:
        base = getattr(obj, "base", None)
        if base is None or not hasattr(base, "base"):
            return obj
        obj = base


def _address(view: memoryview) -> int | None:
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return None
    return int(numpy.frombuffer(view, dtype=numpy.uint8).__array_interface__["data"][0])


class _KnownHash(NamedTuple):
    """The hash of a large buffer, good while the array that owns its memory is alive."""

    owner: weakref.ref[Any]
    digest: str


class BlobHashes:
    """SHA-256 of large buffers, each computed once per joblib call (as loky does for its memmaps).

    Within a call, a buffer is known by its address and size while the array that owns that
    memory is alive; :meth:`clear` (at every call's start and end) forgets them all, so an array
    changed between two calls is hashed, and sent, again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[int, int], _KnownHash] = {}  # (address, size) -> its hash

    def clear(self) -> None:
        with self._lock:
            self._known.clear()

    def hash_of(self, view: memoryview) -> str:
        key: tuple[int, int] | None = None
        owner_ref: Any = None
        try:
            address = _address(view)
            if address is not None:
                key = (address, view.nbytes)
                owner_ref = weakref.ref(_owner(view.obj))
        except (TypeError, ValueError):
            key = None
        if key is not None:
            with self._lock:
                known = self._known.get(key)
            if known is not None and known.owner() is not None:
                return known.digest
        digest = hashlib.sha256(view).hexdigest()
        if key is not None:
            with self._lock:
                self._known[key] = _KnownHash(owner_ref, digest)
        return digest
