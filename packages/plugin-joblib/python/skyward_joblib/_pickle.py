"""cloudpickle, with third-party warning classes made safe to load where they are missing."""
from __future__ import annotations

import io
from typing import Any

import cloudpickle

from ._warnings import warning_category_reducer

_Base: Any = getattr(cloudpickle, "Pickler", None) or getattr(cloudpickle, "CloudPickler")


class _Pickler(_Base):  # type: ignore[misc, valid-type]
    def reducer_override(self, obj: Any) -> Any:
        reduced = warning_category_reducer(obj)
        if reduced is not None:
            return reduced
        return super().reducer_override(obj)


def dumps(obj: Any) -> bytes:
    """``cloudpickle.dumps(obj)`` with the warning-category safety net."""
    with io.BytesIO() as buffer:
        _Pickler(buffer, protocol=cloudpickle.DEFAULT_PROTOCOL).dump(obj)
        return buffer.getvalue()


loads = cloudpickle.loads
