"""The wording of every error whose kind fixes it (the same as @skyward/codec's errorTexts).

Generated from schema/messages.json by scripts/gen-messages.mjs: do not edit. Run `npx -y
pnpm@10 --filter @skyward/codec gen:messages`.
"""

from __future__ import annotations

from typing import Final

TIMEOUT_EXC_TYPE: Final = "skyward.TaskTimeout"
"""The ``excType`` of an error of kind ``timeout``."""

CANCELLED_EXC_TYPE: Final = "skyward.TaskCancelled"
"""The ``excType`` of an error of kind ``cancelled``."""

LOST_EXC_TYPE: Final = "skyward.WorkerLost"
"""The ``excType`` of an error of kind ``lost``."""

PROTOCOL_EXC_TYPE: Final = "skyward.ProtocolError"
"""The ``excType`` of an error of kind ``protocol``."""

BLOB_EXC_TYPE: Final = "skyward.BlobMissing"
"""The ``excType`` of an error of kind ``blob``."""


def _number(value: float) -> str:
    """The shortest decimal that reads back as the same number, as JavaScript's ``String(n)``."""
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


def timeout_text(seconds: float) -> str:
    """The task ran longer than its timeout and was stopped."""
    return f"the task ran longer than its timeout of {_number(seconds)}s"


def cancelled_text(reason: str) -> str:
    """The task was cancelled before it finished."""
    return f"the task was cancelled ({reason})"


def lost_text(reason: str, attempts: int) -> str:
    """The process running the task died (agent: its slot process) or its node was lost (Node,
    after the retries).
    """
    return f"{reason} (attempts: {attempts})"


def blob_text(holder: str, hashes: str) -> str:
    """The receiver does not hold a blob the task refers to: the sender sends it again, then the
    task.
    """
    return f"{holder} does not hold blob(s) {hashes}"
