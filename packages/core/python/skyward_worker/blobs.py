"""Content-addressed blobs sent ahead of tasks (``blob {hash, data}``), kept in an LRU."""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional


class BlobStore:
    """A dict of ``hash -> bytes`` bounded by total bytes; least recently used goes first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.total_bytes = 0
        self._blobs: "OrderedDict[str, bytes]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._blobs)

    def __contains__(self, key: object) -> bool:
        return key in self._blobs

    def put(self, key: str, data: bytes) -> bool:
        """Store ``data`` under ``key``; ``False`` if it alone exceeds the budget."""
        old = self._blobs.pop(key, None)
        if old is not None:
            self.total_bytes -= len(old)
        if len(data) > self.max_bytes:
            return False
        self._blobs[key] = data
        self.total_bytes += len(data)
        while self.total_bytes > self.max_bytes:
            _, evicted = self._blobs.popitem(last=False)
            self.total_bytes -= len(evicted)
        return True

    def get(self, key: str) -> Optional[bytes]:
        """The blob stored under ``key`` (marking it recently used), or ``None``."""
        data = self._blobs.get(key)
        if data is not None:
            self._blobs.move_to_end(key)
        return data
