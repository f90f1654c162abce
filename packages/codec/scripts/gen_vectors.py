#!/usr/bin/env python3
"""Writes vectors/py/<name>.{hex,json} from vectors/cases.json with the Python encoder.

Run once, commit the output: ../../.venv/bin/python scripts/gen_vectors.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))

from skyward_wire import encode_frame  # noqa: E402

ROOT = HERE.parent / "vectors"


def xorshift32(seed: int, length: int) -> bytes:
    out = bytearray(length)
    x = (seed & 0xFFFFFFFF) or 1
    for i in range(length):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)


def expand(v: Any) -> Any:
    if isinstance(v, list):
        return [expand(x) for x in v]
    if isinstance(v, dict):
        if "$bytes" in v:
            return bytes.fromhex(v["$bytes"])
        if "$repeat" in v:
            pattern = bytes.fromhex(v["$repeat"])
            n = v["length"]
            return (pattern * (n // len(pattern) + 1))[:n]
        if "$random" in v:
            return xorshift32(v["$random"], v["length"])
        return {k: expand(x) for k, x in v.items()}
    return v


def to_json(v: Any) -> Any:
    if isinstance(v, bytes):
        return {"$bytes": v.hex()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    return v


def main() -> None:
    cases = json.loads((ROOT / "cases.json").read_text("utf8"))["cases"]
    out_dir = ROOT / "py"
    out_dir.mkdir(exist_ok=True)
    for c in cases:
        message = expand(c["message"])
        (out_dir / f"{c['name']}.hex").write_text(encode_frame(message).hex() + "\n")
        text = json.dumps(to_json(message), indent=1, ensure_ascii=False) + "\n"
        (out_dir / f"{c['name']}.json").write_text(text, "utf8")
    print(f"wrote {len(cases)} Python vectors to {out_dir}")


if __name__ == "__main__":
    main()
