"""Environment variables sent on the agent's input (``--env-on-input``), before any frame.

A variable given on a command line (``env KEY=VALUE python ...``) is readable by every user of the
host (``ps``); the agent's input is not. Node writes one line, a JSON object of names to values,
then the frames; the agent reads exactly that line (byte by byte: what follows is the frames') and
sets the variables before anything else, so its slots and their tasks inherit them.
"""
from __future__ import annotations

import json
import os
from typing import Final

# Longer than any environment a command line could carry: a line past this is not ours.
MAX_ENV_LINE_BYTES: Final = 1 << 20
_NEWLINE: Final = b"\n"


class EnvInputError(Exception):
    """The environment line is missing, too long or not a JSON object of strings."""


def _read_line(fd: int) -> bytes:
    line = bytearray()
    while True:
        try:
            byte = os.read(fd, 1)
        except InterruptedError:
            continue
        if not byte:
            raise EnvInputError("the input ended before the environment line (Node went away)")
        if byte == _NEWLINE:
            return bytes(line)
        line += byte
        if len(line) > MAX_ENV_LINE_BYTES:
            raise EnvInputError(f"the environment line is longer than {MAX_ENV_LINE_BYTES} bytes")


def read_env_input(fd: int = 0) -> dict[str, str]:
    """Read the environment line from ``fd`` and return its variables (the caller sets them)."""
    try:
        env = json.loads(_read_line(fd))
    except ValueError as exc:
        raise EnvInputError(f"the environment line is not JSON: {exc}") from None
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise EnvInputError("the environment line must be a JSON object of strings")
    return env
