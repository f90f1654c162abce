"""Plugin worker hooks named ``"module:attr"``: task decorators and app context managers."""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Sequence
from typing import Any, Callable

from .errors import HookError

TaskHook = Callable[[Callable[..., Any]], Callable[..., Any]]


def resolve(spec: str) -> Any:
    """Import ``module`` and return ``attr`` (dotted attributes allowed) of ``"module:attr"``."""
    module_name, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def check_specs(specs: Sequence[str]) -> None:
    """Cheap early check (no import of the hook module itself) that each module exists.

    Raises :class:`HookError` naming the first hook whose module cannot be found.
    """
    for spec in specs:
        module_name = spec.partition(":")[0]
        try:
            found = importlib.util.find_spec(module_name)
        except (ImportError, ValueError) as exc:
            raise HookError(f"hook {spec!r}: cannot import module {module_name!r}: {exc}") from exc
        if found is None:
            raise HookError(f"hook {spec!r}: no module named {module_name!r}")


def load_task_hooks(specs: Sequence[str]) -> list[TaskHook]:
    """Import the task decorators; :class:`HookError` if one is missing or not callable."""
    hooks: list[TaskHook] = []
    for spec in specs:
        try:
            hook = resolve(spec)
        except BaseException as exc:  # any import failure is a hook error
            raise HookError(f"task hook {spec!r} failed to import: {type(exc).__name__}: {exc}") from exc
        if not callable(hook):
            raise HookError(f"task hook {spec!r} is not callable")
        hooks.append(hook)
    return hooks


def enter_app_hooks(specs: Sequence[str], stack: contextlib.ExitStack) -> None:
    """Import each app hook factory, call it and enter the context manager it returns."""
    for spec in specs:
        try:
            factory = resolve(spec)
        except BaseException as exc:
            raise HookError(f"app hook {spec!r} failed to import: {type(exc).__name__}: {exc}") from exc
        try:
            stack.enter_context(factory())
        except BaseException as exc:
            raise HookError(f"app hook {spec!r} failed to start: {type(exc).__name__}: {exc}") from exc


def wrap(fn: Callable[..., Any], hooks: Sequence[TaskHook]) -> Callable[..., Any]:
    """Apply task hooks in the order given (the last one ends up outermost)."""
    for hook in hooks:
        fn = hook(fn)
    return fn
