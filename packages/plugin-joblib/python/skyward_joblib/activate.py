"""Importing this module makes "skyward" joblib's backend for the whole process.

``skyward run`` imports it before running the user's script, e.g.
``python -c "import skyward_joblib.activate, runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')" script.py``.
"""
from __future__ import annotations

from . import activate_backend

activate_backend()
