"""Writable S3 volumes: what a task wrote goes back under the prefix when the task ends."""
from __future__ import annotations

from collections.abc import Sequence

from ._state import Emit
from .volume_spec import Mount, VolumeError


class WriteBack:
    """Puts back, after each task (success or failure, before its answer), the files of the writable S3
    volumes that changed since they were fetched or last put back; one ``log`` line per volume says what."""

    def __init__(self, mounts: Sequence[Mount], node: int, slot: int, emit: Emit) -> None:
        self.mounts = tuple(m for m in mounts if m.writable and m.cache is not None)
        self.node = node
        self.slot = slot
        self.emit = emit

    def _say(self, task_id: int, line: str, level: str) -> None:
        self.emit({"type": "log", "stream": "agent", "level": level, "line": line, "id": task_id,
                   "node": self.node, "slot": self.slot})

    def after_task(self, task_id: int) -> None:
        """Put back what changed; a failure is reported (level error), never raised."""
        from .volume_s3 import format_bytes, put_back

        for mount in self.mounts:
            try:
                summary = put_back(mount)
            except VolumeError as exc:
                self._say(task_id, f"{exc}; the task's files stay on this node only", "error")
                continue
            if summary.files:
                self._say(task_id, f"volume {mount.path}: put back {summary.files} files "
                                   f"({format_bytes(summary.bytes)}) to {mount.source}", "info")


def write_back_for(mounts: Sequence[Mount], node: int, slot: int, emit: Emit) -> WriteBack | None:
    """A :class:`WriteBack` when a writable S3 volume exists, else None."""
    writeback = WriteBack(mounts, node, slot, emit)
    return writeback if writeback.mounts else None
