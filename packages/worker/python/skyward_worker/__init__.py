"""Skyward's Python worker agent.

Started by Node as ``python -m skyward_worker``; it speaks the Skyward wire protocol (see
``packages/codec/PROTOCOL.md``) on stdin/stdout and runs tasks on ``concurrency`` slots.

Task code may call :func:`current_slot` to learn which slot it runs on.
"""
from __future__ import annotations

from ._state import current_slot

__all__ = ["current_slot", "__version__"]

__version__ = "0.1.0"
