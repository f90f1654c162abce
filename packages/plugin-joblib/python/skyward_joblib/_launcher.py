"""Tracebacks of a script that ``skyward run`` started read as if Python had run the script itself.

The CLI starts the script with ``python -c "<launcher>" script.py``, which imports the plugins'
activation modules and calls ``runpy.run_path``: an uncaught exception's traceback would begin with
the launcher's ``File "<string>"`` frame and three ``<frozen runpy>`` frames. The hook installed
here leaves those leading frames out, and nothing else.
"""
from __future__ import annotations

import runpy
import sys
from types import CodeType, TracebackType
from typing import Any

LAUNCHER_FILE = "<string>"
"""The file name of code given with ``python -c`` (the CLI's launcher)."""

RUNPY_FILES = frozenset({"<frozen runpy>", runpy.__file__})
"""runpy's frames: frozen in Python 3.11+, its source file before."""

_installed: list[Any] = []  # the hook that was there before ours, once ours is installed


def _is_launcher(code: CodeType) -> bool:
    return code.co_filename == LAUNCHER_FILE and code.co_name == "<module>"


def without_launcher_frames(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` without its leading launcher and runpy frames when it starts with the launcher's
    frame calling runpy; ``tb`` itself otherwise (and when nothing but those frames is left)."""
    if tb is None or not _is_launcher(tb.tb_frame.f_code):
        return tb
    rest = tb.tb_next
    if rest is None or rest.tb_frame.f_code.co_filename not in RUNPY_FILES:
        return tb  # code given with `python -c` that is not the launcher: its frames are the user's
    while rest is not None and rest.tb_frame.f_code.co_filename in RUNPY_FILES:
        rest = rest.tb_next
    return rest if rest is not None else tb


def hide_launcher_frames() -> None:
    """Wraps ``sys.excepthook`` (once) so that an uncaught exception is printed without the
    launcher's frames (see the module's docstring); the previous hook still prints it."""
    if _installed:
        return
    previous = sys.excepthook

    def excepthook(exc_type: type[BaseException], exc: BaseException,
                   tb: TracebackType | None) -> None:
        trimmed = without_launcher_frames(tb)
        if trimmed is not tb:
            exc.__traceback__ = trimmed  # hooks that print exc.__traceback__ (not tb) see the same
        previous(exc_type, exc, trimmed)

    _installed.append(previous)
    sys.excepthook = excepthook
