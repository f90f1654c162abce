"""The head of ``sys.path`` on the agent and its slots (``--sys-path``).

Locally, ``python script.py`` puts the script's folder first on ``sys.path`` and not the current
directory (unless it is that folder). The agent starts as ``python -m skyward_worker``, which puts
the current directory there instead; ``--sys-path`` gives the workers the client's head back.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def resolve_entries(entries: Sequence[str], cwd: str) -> tuple[str, ...]:
    """``entries`` as absolute, normalised folders (relative ones against ``cwd``), in order, each once."""
    resolved: list[str] = []
    for entry in entries:
        folder = os.path.normpath(os.path.join(cwd, entry))
        if folder not in resolved:
            resolved.append(folder)
    return tuple(resolved)


def _launch_entry_present(cwd: str) -> bool:
    """Whether ``sys.path[0]`` is the current directory that ``python -m`` put there."""
    if getattr(sys.flags, "safe_path", False):  # -P / PYTHONSAFEPATH (3.11+): nothing was put there
        return False
    if not sys.path:
        return False
    return os.path.abspath(sys.path[0] or os.curdir) == cwd


def put_first(head: Sequence[str]) -> None:
    """Make ``sys.path`` start with ``head`` (absolute folders); nothing to do when it already does."""
    if not head or list(sys.path[:len(head)]) == list(head):
        return
    sys.path[:0] = list(head)


def apply_sys_path(entries: Sequence[str]) -> tuple[str, ...]:
    """Put ``entries`` first on ``sys.path`` and drop the current directory ``python -m`` put at
    ``sys.path[0]``; returns the absolute folders (what slot processes are given).

    Without ``entries`` nothing changes: the current directory stays importable (the TypeScript
    API ships modules there as Image files).
    """
    if not entries:
        return ()
    cwd = os.getcwd()
    head = resolve_entries(entries, cwd)
    if _launch_entry_present(cwd):
        del sys.path[0]
    put_first(head)
    return head
