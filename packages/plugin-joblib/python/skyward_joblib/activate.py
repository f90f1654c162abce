"""Importing this module makes "skyward" joblib's backend for the whole process.

``skyward run`` imports it before running the user's script, e.g.
``python -c "import skyward_joblib.activate, runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')" script.py``.

It also has an uncaught exception printed without the launcher's ``<string>`` and runpy frames
(:mod:`._launcher`), as if Python had run the script itself.

Where joblib is not installed (with a mirrored virtual environment the client is the user's own
Python, and a script that does not use joblib may run without it) the import activates nothing.
"""
from __future__ import annotations

import importlib.util

from . import activate_backend
from ._launcher import hide_launcher_frames


def joblib_installed() -> bool:
    """Whether this Python can import joblib (looked up without importing it)."""
    try:
        return importlib.util.find_spec("joblib") is not None
    except (ImportError, ValueError):  # a broken or half-imported joblib: nothing to activate either
        return False


hide_launcher_frames()
if joblib_installed():
    activate_backend()
