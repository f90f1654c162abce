"""``--volume`` specs and the mounts they become (both picklable: slot processes get them in ``Config``).

Kept import-light (``json`` only): ``cli`` imports it before the agent says hello.
"""
from __future__ import annotations

import json
import posixpath
from typing import Final, NamedTuple

S3_SCHEME: Final = "s3://"
_KEYS: Final = frozenset(("source", "path", "writable"))
_REQUIRED: Final = ("source", "path")


class VolumeError(Exception):
    """A volume that cannot be prepared or written back; the text (one line) names the volume and the fix."""


class VolumeSpec(NamedTuple):
    """One ``--volume``: ``source`` (``s3://bucket[/prefix]`` or an absolute folder of the node) seen by
    tasks at ``path``."""

    source: str
    path: str
    writable: bool

    @property
    def is_s3(self) -> bool:
        return self.source.startswith(S3_SCHEME)


class Mount(NamedTuple):
    """A prepared volume: tasks' paths under ``path`` lead to the node's folder ``local``."""

    path: str
    local: str
    writable: bool
    source: str
    # S3 volumes: the folder holding the mirror's index and lock (writes are put back through it)
    cache: str | None = None


class S3Location(NamedTuple):
    """``s3://bucket/prefix``, split; ``prefix`` is "" (the whole bucket) or ends with "/"."""

    bucket: str
    prefix: str


def s3_location(source: str) -> S3Location:
    """Bucket and key prefix of an ``s3://`` source (the prefix taken as a folder: ``a/b`` -> ``a/b/``)."""
    bucket, _, prefix = source[len(S3_SCHEME):].partition("/")
    prefix = prefix.strip("/")
    return S3Location(bucket, prefix + "/" if prefix else "")


def parse_volume(text: str) -> VolumeSpec:
    """Parse one ``--volume`` value; ``ValueError`` says what is wrong with it."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc}): expected "
                         '{"source": "s3://bucket/prefix", "path": "/data", "writable": false}') from None
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object with source, path and writable")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} (known: source, path, writable)")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    source, path, writable = raw["source"], raw["path"], raw.get("writable", False)
    if not isinstance(source, str) or not isinstance(path, str) or not isinstance(writable, bool):
        raise ValueError("source and path must be text, writable true or false")
    if not path.startswith("/") or path == "/" or posixpath.normpath(path) != path:
        raise ValueError(f"path must be an absolute, normalized folder other than /, got {path!r}")
    if source.startswith(S3_SCHEME):
        if not s3_location(source).bucket:
            raise ValueError(f"source {source!r} names no bucket")
    elif "://" in source or not source.startswith("/"):
        raise ValueError(f"source must be s3://bucket/prefix or an absolute folder, got {source!r}")
    return VolumeSpec(source, path, writable)


def check_distinct(specs: tuple[VolumeSpec, ...]) -> None:
    """``ValueError`` when two volumes share a path or one lies inside another."""
    paths = sorted(spec.path for spec in specs)
    for outer, inner in zip(paths, paths[1:]):
        if inner == outer or inner.startswith(outer + "/"):
            raise ValueError(f"volume paths {outer} and {inner} overlap")
