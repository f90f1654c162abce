"""Skyward's Python worker agent.

Started by Node as ``python -m skyward_worker``; it speaks the Skyward wire protocol (see
``packages/codec/PROTOCOL.md``) on stdin/stdout and runs tasks on ``concurrency`` slots.

Task code may call :func:`current_slot` to learn which slot it runs on, and :func:`volume_path` for the
node's real path of a file under a volume (for C libraries that open files themselves, such as pyarrow).
"""
from __future__ import annotations

from ._state import current_slot
from .volume_redirect import volume_path

__all__ = ["current_slot", "volume_path", "__version__"]

__version__ = "0.1.0"
