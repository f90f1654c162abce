"""Helpers importable on the agent's PYTHONPATH during tests (call tasks and hooks)."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any, Callable


def add(a: int, b: int) -> int:
    return a + b


def env() -> dict:
    return {k: os.environ.get(k) for k in ("SKYWARD_NODE_INDEX", "SKYWARD_NODE_COUNT", "SKYWARD_SLOT")}


def boom(text: str) -> None:
    raise ValueError(text)


def not_cbor() -> Any:
    return object()


def tag_hook(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Task hook: returns ("tagged", result)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return ("tagged", fn(*args, **kwargs))

    return wrapper


def outer_hook(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Task hook: returns ("outer", result)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return ("outer", fn(*args, **kwargs))

    return wrapper


@contextlib.contextmanager
def app_hook() -> Iterator[None]:
    """App hook: marks the process, and records its exit in $SKYWARD_TEST_APP_FILE."""
    os.environ["SKYWARD_TEST_APP"] = f"entered:{os.getpid()}"
    path = os.environ.get("SKYWARD_TEST_APP_FILE")
    if path:
        with open(path, "a") as f:
            f.write(f"enter {os.getpid()}\n")
    try:
        yield
    finally:
        if path:
            with open(path, "a") as f:
                f.write(f"exit {os.getpid()}\n")


def broken_app_hook() -> Any:
    raise RuntimeError("this app hook does not start")
