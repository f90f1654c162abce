"""Canonical store names: the project's own library, installed in editable mode (pip install -e)."""
from __future__ import annotations

import re


def canonical(name: str) -> str:
    """``"  north-east  store "`` -> ``"North East Store"``."""
    return " ".join(word.capitalize() for word in re.split(r"[\s_-]+", name.strip()) if word)
