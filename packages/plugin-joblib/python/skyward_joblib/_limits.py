"""What one task may carry to the workers, and the errors that name what in a batch is over it."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from skyward_wire import DEFAULT_MAX_FRAME_BYTES

from ._errors import TaskPicklingError
from ._pickle import dumps, out_of_band_bytes

# A task travels in one frame of at most DEFAULT_MAX_FRAME_BYTES (decompressed); keep room for the rest of it.
MAX_TASK_BYTES = DEFAULT_MAX_FRAME_BYTES - (1 << 20)

# where large data goes instead
_OTHER_WAYS = "a file the workers read (the Image's files, shared storage), or load it on the workers"


def format_size(n: int) -> str:
    """``4.5 GiB``, ``6.0 MiB``, ``255 MiB``, ``512 KiB``, ``17 B`` (1024-based, as the limits are given)."""
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GiB"
    if n >= 100 << 20:
        return f"{n / (1 << 20):.0f} MiB"
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.0f} KiB"
    return f"{n} B"


def _sizes(n: int, limit: int) -> tuple[str, str]:
    """Both sizes, in bytes as well when they would read the same."""
    a, b = format_size(n), format_size(limit)
    return (a, b) if a != b else (f"{a} ({n} bytes)", f"{b} ({limit} bytes)")


def _name(func: Any) -> str:
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or type(func).__name__


def _parts(batch: Any) -> Iterator[tuple[str, str, Any]]:
    """Each function and argument of a joblib batch: what it is and in which call (together, how
    the errors name it), and its value."""
    for func, args, kwargs in batch.items:
        call = f"of the call to {_name(func)}()"
        yield "the function " + _name(func) + "()", "", func
        for i, a in enumerate(args):
            yield f"argument {i} ({type(a).__module__}.{type(a).__qualname__})", call, a
        for k, v in kwargs.items():
            yield f"argument {k}= ({type(v).__module__}.{type(v).__qualname__})", call, v


def _label(what: str, call: str) -> str:
    return f"{what} {call}" if call else what


def _items(batch: Any) -> list[Any] | None:
    items = getattr(batch, "items", None)
    return items if isinstance(items, list) else None


def culprit(batch: Any) -> str:
    """Names what in a joblib batch cannot be pickled, e.g. ``argument 0 (_thread.lock) of the call
    to f()``; ``the task`` when it cannot tell."""
    if _items(batch) is None:
        return "the task"
    for what, call, value in _parts(batch):
        try:
            dumps(value)
        except Exception:  # noqa: BLE001
            return _label(what, call)
    return "the task"


def payload_too_large(batch: Any, size: int) -> TaskPicklingError:
    """The error for a batch whose pickle (without its large buffers) is ``size`` bytes, over :data:`MAX_TASK_BYTES`."""
    worst, worst_size = "the task", -1
    if _items(batch) is not None:
        for what, call, value in _parts(batch):
            try:
                n = len(dumps(value))
            except Exception:  # noqa: BLE001
                continue
            if n > worst_size:
                worst, worst_size = _label(what, call), n
    return TaskPicklingError(
        f"{worst} is {format_size(size)} pickled; one task can carry at most {format_size(MAX_TASK_BYTES)} to the "
        f"workers. Ship large data another way: {_OTHER_WAYS}")


def arguments_too_large(batch: Any, carried: int, limit: int) -> TaskPicklingError:
    """The error for a batch whose large buffers (sent beside it) total ``carried`` bytes, over the
    pool's argument limit ``limit``: names the argument that holds the most, and how to raise the limit.
    Measures each argument's buffers without copying them."""
    items = _items(batch)
    largest, largest_size = ("the task", ""), carried
    if items is not None:
        largest_size = 0
        for what, call, value in _parts(batch):
            try:
                n = out_of_band_bytes(value)
            except Exception:  # noqa: BLE001
                continue
            if n > largest_size:
                largest, largest_size = (what, call), n
    size, most = _sizes(carried, limit)
    if items is None or largest_size >= carried:
        what = f"{_label(*largest)} holds {size} of large buffers"
    elif len(items) == 1:
        what = (f"the arguments {largest[1]} hold {size} of large buffers "
                f"(the largest: {largest[0]}, {format_size(largest_size)})")
    else:
        what = (f"the {len(items)} calls of this batch hold {size} of large buffers "
                f"(the largest: {_label(*largest)}, {format_size(largest_size)})")
    return TaskPicklingError(
        f"{what}; one task may carry at most {most} of them (the pool's argument limit). Raise it with skyward run "
        f"--argument-limit SIZE (pool option argumentLimit), or ship large data another way: {_OTHER_WAYS}")
