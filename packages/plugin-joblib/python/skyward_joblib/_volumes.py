"""Volumes: data every node sees at one path, without it passing through this process."""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from ._providers import PathLike

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_WRITABLE = ":rw"


def _mount_path(path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/") or os.path.normpath(path) != path or path == "/":
        raise ValueError(f"a volume's mount path must be absolute, such as '/data'; got {path!r}")
    return path


@dataclass(frozen=True)
class S3Volume:
    """The objects under ``s3://bucket/prefix``, at ``mount_path`` on every node (the Python
    Skyward's ``S3Volume``): each node fetches them itself, cached by ETag across pools.
    ``writable``: files a task writes there are put back when it ends."""

    mount_path: str
    bucket: str
    prefix: str = ""
    writable: bool = False

    def __post_init__(self) -> None:
        _mount_path(self.mount_path)
        if not isinstance(self.bucket, str) or not _BUCKET.match(self.bucket):
            raise ValueError(f"S3Volume: {self.bucket!r} is not a bucket name")

    def flag(self) -> str:
        """The engine's ``--volume`` value."""
        return f"s3://{self.bucket}/{self.prefix.lstrip('/')}:{self.mount_path}{_WRITABLE if self.writable else ''}"


@dataclass(frozen=True)
class LocalVolume:
    """A folder of this machine at ``mount_path`` on every node: local nodes read it in place,
    SSH nodes get a copy (``writable`` only with ``Local()``: written in place)."""

    folder: PathLike
    mount_path: str
    writable: bool = False

    def __post_init__(self) -> None:
        _mount_path(self.mount_path)

    def flag(self) -> str:
        """The engine's ``--volume`` value."""
        return f"{os.path.abspath(os.fspath(self.folder))}:{self.mount_path}{_WRITABLE if self.writable else ''}"


VolumeOption = Union[S3Volume, LocalVolume, str]
"""``volume=``: an :class:`S3Volume`, a :class:`LocalVolume`, or the engine's text (``"s3://b/p:/data"``,
``"./data:/data:rw"``, a folder relative to the current directory, as the engine starts there)."""


def volume_flags(volume: VolumeOption | Sequence[VolumeOption] | None) -> tuple[str, ...]:
    """``volume=`` as the engine's ``--volume`` values."""
    if volume is None:
        return ()
    items = [volume] if isinstance(volume, (S3Volume, LocalVolume, str)) else list(volume)
    values: list[str] = []
    for item in items:
        if isinstance(item, (S3Volume, LocalVolume)):
            values.append(item.flag())
        elif isinstance(item, str) and ":/" in item.replace("s3://", "", 1):
            values.append(item)
        else:
            raise TypeError(f"volume must be S3Volume(...), LocalVolume(...) or 'SRC:/PATH[:rw]'; got {item!r}")
    return tuple(values)
