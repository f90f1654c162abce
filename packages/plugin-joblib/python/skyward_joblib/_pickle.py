"""cloudpickle, with third-party warning classes made safe to load where they are missing, and
large buffers (numpy arrays and the like) taken out of band as content-addressed blobs."""
from __future__ import annotations

import hashlib
import io
import sys
import threading
import types
import weakref
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import cloudpickle

from ._warnings import warning_category_reducer

_Base: Any = getattr(cloudpickle, "Pickler", None) or getattr(cloudpickle, "CloudPickler")

BLOB_THRESHOLD = 1 << 20
"""Pickle buffers of at least this many bytes travel as blobs: sent to each node once."""


class BlobRef(NamedTuple):
    """One out-of-band buffer of a payload: its content hash and its bytes (a view, not a copy)."""

    hash: str
    data: memoryview


class ByName:
    """The classes and functions cloudpickle pickled by name (to be imported where they land) during
    one joblib call. Asking cloudpickle again costs several microseconds per object, for about ten
    objects per batch; the answer cannot change within a call. Holds each object until :meth:`clear`,
    so an id is never reused while it is known."""

    def __init__(self) -> None:
        self.known: Dict[int, Any] = {}

    def clear(self) -> None:
        self.known.clear()


class _Pickler(_Base):  # type: ignore[misc, valid-type]
    by_name: Optional[ByName] = None

    def reducer_override(self, obj: Any) -> Any:
        by_name = self.by_name
        if by_name is not None and by_name.known.get(id(obj)) is obj:
            return NotImplemented
        reduced = warning_category_reducer(obj)
        if reduced is not None:
            return reduced
        reduced = super().reducer_override(obj)
        if reduced is NotImplemented and by_name is not None and isinstance(obj, (type, types.FunctionType)):
            by_name.known[id(obj)] = obj
        return reduced


def dumps(obj: Any) -> bytes:
    """``cloudpickle.dumps(obj)`` with the warning-category safety net."""
    with io.BytesIO() as buffer:
        _Pickler(buffer, protocol=cloudpickle.DEFAULT_PROTOCOL).dump(obj)
        return buffer.getvalue()


def dumps_with_blobs(obj: Any, hashes: "BlobHashes",
                     by_name: Optional[ByName] = None) -> Tuple[bytes, List[BlobRef]]:
    """Pickles ``obj`` with protocol 5: buffers of at least :data:`BLOB_THRESHOLD` bytes are left
    out of the payload and returned as blobs, in the order ``loads(payload, buffers=...)`` wants.
    ``by_name``: what the earlier pickles of the same joblib call learned (see :class:`ByName`)."""
    blobs: List[BlobRef] = []

    def out_of_band(buffer: Any) -> bool:
        view = buffer.raw()  # flat bytes; fails for non-contiguous buffers, which pickle copies
        if view.nbytes < BLOB_THRESHOLD:
            return True  # in band
        blobs.append(BlobRef(hashes.hash_of(view), view))
        return False

    with io.BytesIO() as buffer:
        pickler = _Pickler(buffer, protocol=5, buffer_callback=out_of_band)
        pickler.by_name = by_name
        pickler.dump(obj)
        return buffer.getvalue(), blobs


loads = cloudpickle.loads


def _owner(obj: Any) -> Any:
    """The object that owns a numpy view's memory (the end of its ``.base`` chain of arrays)."""
    while True:
        base = getattr(obj, "base", None)
        if base is None or not hasattr(base, "base"):
            return obj
        obj = base


def _address(view: memoryview) -> Optional[int]:
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return None
    return int(numpy.frombuffer(view, dtype=numpy.uint8).__array_interface__["data"][0])


class BlobHashes:
    """SHA-256 of large buffers, each computed once per joblib call (as loky does for its memmaps).

    Within a call, a buffer is known by its address and size while the array that owns that
    memory is alive; :meth:`clear` (at every call's start and end) forgets them all, so an array
    changed between two calls is hashed, and sent, again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: Dict[Tuple[int, int], Tuple[Any, str]] = {}

    def clear(self) -> None:
        with self._lock:
            self._known.clear()

    def hash_of(self, view: memoryview) -> str:
        key: Optional[Tuple[int, int]] = None
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
            if known is not None and known[0]() is not None:
                return known[1]
        digest = hashlib.sha256(view).hexdigest()
        if key is not None:
            with self._lock:
                self._known[key] = (owner_ref, digest)
        return digest
