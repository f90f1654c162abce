"""Test helpers: golden vectors and JSON <-> message conversion ({"$bytes": hex})."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SIDES = ("ts", "py")
CASES: list[dict[str, Any]] = json.loads((VECTORS / "cases.json").read_text("utf8"))["cases"]


def load_vector(side: str, name: str) -> tuple[bytes, Any]:
    frame = bytes.fromhex((VECTORS / side / f"{name}.hex").read_text().strip())
    expected = json.loads((VECTORS / side / f"{name}.json").read_text("utf8"))
    return frame, expected


def to_json(v: Any) -> Any:
    """A message (or any value) as JSON, byte strings as {"$bytes": hex}."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"$bytes": bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    return v


def from_json(v: Any) -> Any:
    """The inverse of to_json."""
    if isinstance(v, list):
        return [from_json(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"$bytes"}:
            return bytes.fromhex(v["$bytes"])
        return {k: from_json(x) for k, x in v.items()}
    return v
