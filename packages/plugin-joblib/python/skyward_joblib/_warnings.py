"""Warning filters and warning categories that survive the trip to a worker.

Libraries that pickle ``warnings.filters`` into tasks (scikit-learn does) would make a worker
import every third-party package whose warning category has a filter in the caller (pytest,
cloud SDKs...), and fail when it is not installed there. As the Python Skyward does, filters whose
category does not live in the standard library are dropped before a batch is pickled; and as a
safety net, third-party warning classes are pickled as an import that falls back to a stand-in.
"""
from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Iterable
from typing import Any

_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | {"builtins", "__builtin__"}


def _fallback_stdlib(name: str) -> bool:
    # Python < 3.10 has no sys.stdlib_module_names: look where the module lives.
    import sysconfig

    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if path is None:
        return name in sys.builtin_module_names
    stdlib = sysconfig.get_paths().get("stdlib", "")
    return bool(stdlib) and path.startswith(stdlib) and "site-packages" not in path


def is_stdlib_module(module: str | None) -> bool:
    """True if ``module`` (a dotted name) belongs to the standard library."""
    top = (module or "builtins").split(".", 1)[0]
    if top in _STDLIB:
        return True
    if not getattr(sys, "stdlib_module_names", None):
        return _fallback_stdlib(top)
    return False


def _filter_is_safe(entry: tuple[Any, ...]) -> bool:
    category = entry[2] if len(entry) > 2 else Warning
    return is_stdlib_module(getattr(category, "__module__", None))


def sanitize_warning_filters() -> int:
    """Drop (in place) the filters whose category is not from the standard library.

    In place, so lists already captured by reference (scikit-learn's ``Parallel`` does) are
    cleaned too. Returns how many filters were dropped.
    """
    filters: list[Any] = warnings.filters  # type: ignore[assignment]  # a list at run time
    keep = [entry for entry in filters if _filter_is_safe(entry)]
    dropped = len(filters) - len(keep)
    if dropped:
        filters[:] = keep
        mutated = getattr(warnings, "_filters_mutated", None) or getattr(
            warnings, "_filters_mutated_lock_held", None)
        if mutated is not None:
            try:
                mutated()
            except Exception:  # noqa: BLE001 - only a cache invalidation
                pass
    return dropped


_STAND_INS: dict[tuple[str, str], type] = {}


def load_warning_category(module: str, qualname: str) -> type:
    """Import a warning class; if its package is missing here, a stand-in ``Warning`` subclass."""
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        if isinstance(obj, type) and issubclass(obj, Warning):
            return obj
    except Exception:  # noqa: BLE001 - any import failure means "not available here"
        pass
    key = (module, qualname)
    stand_in = _STAND_INS.get(key)
    if stand_in is None:
        stand_in = type(qualname.rsplit(".", 1)[-1], (Warning,), {"__module__": module})
        _STAND_INS[key] = stand_in
    return stand_in


def warning_category_reducer(obj: Any) -> tuple[Any, tuple[str, str]] | None:
    """A pickle reduction for third-party warning classes importable by reference, else None."""
    if not (isinstance(obj, type) and issubclass(obj, Warning)):
        return None
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    if is_stdlib_module(module):
        return None
    mod = sys.modules.get(module)
    target: Any = mod
    try:
        for part in qualname.split("."):
            target = getattr(target, part)
    except AttributeError:
        return None
    if target is not obj:
        return None
    return load_warning_category, (module, qualname)


def reemit(records: Iterable[Any]) -> None:
    """Re-emit unpickled ``(message, category, filename, lineno)`` records in this process."""
    for record in records:
        try:
            message, category, filename, lineno = record
            if not (isinstance(category, type) and issubclass(category, Warning)):
                category = UserWarning
            warnings.warn_explicit(message, category, str(filename), int(lineno or 0))
        except Warning:
            raise  # a filter set to "error" turns it into an exception: the caller's choice
        except Exception:  # noqa: BLE001 - a malformed record must not break the result
            continue
