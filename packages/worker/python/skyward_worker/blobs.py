"""Blobs: large pickle buffers sent ahead of the tasks that refer to them (``blob`` frames).

The agent keeps each blob as a file in a private folder, least recently used out beyond a byte
budget. Tasks get the blobs' paths; whoever unpickles a task (a slot process, or a thread of the
agent) maps the files read-only, so a blob is in memory once per machine however many slots
use it, and numpy arrays built on it are read-only (as with loky's memmapped arguments).
"""
from __future__ import annotations

import mmap
import os
import re
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from typing import BinaryIO, NamedTuple

from skyward_wire import BLOB_EXC_TYPE, ErrorMessage, blob_text

from .errors import error_message

_NAME = re.compile(r"^[0-9a-f]{16,128}$")
_FOLDER_PREFIX = "skyward-blobs-"


class _Partial(NamedTuple):
    """A blob whose chunks are still arriving."""

    file: BinaryIO  # the ``.part`` file they are written to
    received: int  # bytes so far
    total: int  # bytes of the whole blob


class BlobMissing(LookupError):
    """A task refers to a blob this node does not hold (never sent, or dropped to stay in budget)."""

    def error(self, task_id: int, node: int, slot: int | None = None) -> ErrorMessage:
        """The task's ``error`` of kind ``blob``: Node sends the blob again, then the task."""
        return error_message(task_id, "blob", BLOB_EXC_TYPE, blob_text("this node", str(self)),
                             node=node, slot=slot)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_orphans(parent: str) -> None:
    """Removes blob folders of agents that died without cleaning up (their pid is in the name)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if not name.startswith(_FOLDER_PREFIX):
            continue
        pid = name[len(_FOLDER_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


class BlobStore:
    """Files named by content hash, bounded by total bytes; least recently used goes first."""

    def __init__(self, max_bytes: int, parent: str | None = None) -> None:
        self.max_bytes = max_bytes
        self.total_bytes = 0
        self._parent = parent
        self._folder: str | None = None
        self._sizes: OrderedDict[str, int] = OrderedDict()
        self._partial: dict[str, _Partial] = {}

    def __len__(self) -> int:
        return len(self._sizes)

    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def put(self, key: str, data: bytes, offset: int = 0, total: int | None = None) -> str | None:
        """Stores ``data`` (the part at ``offset`` of a blob of ``total`` bytes) under ``key``.

        Returns ``None`` when accepted, otherwise why it was dropped.
        """
        total = len(data) if total is None else total
        if not _NAME.match(key):
            return f"blob name {key[:80]!r} is not a content hash"
        if total > self.max_bytes:
            self._abandon(key)
            return f"blob {key} ({total} bytes) exceeds --max-blob-bytes ({self.max_bytes})"
        if offset + len(data) > total:
            self._abandon(key)
            return f"chunk of blob {key} at {offset}+{len(data)} is outside its {total} bytes"
        entry = self._partial.get(key)
        if entry is None or offset == 0:
            self._abandon(key)
            entry = _Partial(open(self._path(key) + ".part", "wb"), 0, total)
        file, received, _ = entry
        file.seek(offset)
        file.write(data)
        received += len(data)
        if received < total:
            self._partial[key] = _Partial(file, received, total)
            return None
        self._partial.pop(key, None)
        file.close()
        os.replace(self._path(key) + ".part", self._path(key))
        old = self._sizes.pop(key, None)
        self.total_bytes += total - (old or 0)
        self._sizes[key] = total
        self._evict(keep=key)
        return None

    def path(self, key: str) -> str:
        """The file of blob ``key`` (marking it recently used); :class:`BlobMissing` if absent."""
        if key not in self._sizes:
            raise BlobMissing(key)
        self._sizes.move_to_end(key)
        return self._path(key)

    def paths(self, keys: Sequence[str]) -> tuple[str, ...]:
        """:meth:`path` of each key; :class:`BlobMissing` names the first one absent."""
        return tuple(self.path(key) for key in keys)

    def close(self) -> None:
        """Removes every blob and the folder."""
        for key in list(self._partial):
            self._abandon(key)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._sizes.clear()
        self.total_bytes = 0

    def _path(self, key: str) -> str:
        if self._folder is None:
            parent = self._parent or tempfile.gettempdir()
            _sweep_orphans(parent)
            self._folder = tempfile.mkdtemp(prefix=f"{_FOLDER_PREFIX}{os.getpid()}-", dir=parent)
        return os.path.join(self._folder, key)

    def _abandon(self, key: str) -> None:
        entry = self._partial.pop(key, None)
        if entry is not None:
            entry.file.close()
            try:
                os.unlink(self._path(key) + ".part")
            except OSError:
                pass

    def _evict(self, keep: str) -> None:
        for key in list(self._sizes):
            if self.total_bytes <= self.max_bytes:
                return
            if key == keep:
                continue
            self.total_bytes -= self._sizes.pop(key)
            try:  # a process that mapped it keeps its mapping
                os.unlink(self._path(key))
            except OSError:
                pass


class MappedBlobs:
    """Read-only maps of blob files, kept for reuse by later tasks of this process (bounded)."""

    def __init__(self, max_maps: int = 16) -> None:
        self._max_maps = max_maps
        self._maps: OrderedDict[str, memoryview] = OrderedDict()

    def buffers(self, paths: Sequence[str]) -> list[memoryview]:
        """A read-only view of each file; :class:`BlobMissing` if one was dropped meanwhile."""
        return [self._view(path) for path in paths]

    def _view(self, path: str) -> memoryview:
        view = self._maps.get(path)
        if view is not None:
            self._maps.move_to_end(path)
            return view
        try:
            with open(path, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                view = memoryview(mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ)) if size else memoryview(b"")
        except FileNotFoundError:
            raise BlobMissing(os.path.basename(path)) from None
        self._maps[path] = view
        while len(self._maps) > self._max_maps:
            self._maps.popitem(last=False)  # arrays still using a map keep it alive
        return view
