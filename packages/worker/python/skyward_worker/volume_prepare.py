"""Preparing the volumes before the agent says hello: S3 mirrors fetched, folders checked."""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Callable

from .volume_spec import Mount, VolumeError, VolumeSpec

Report = Callable[[str], None]
"""Shows one progress line to the user."""


def _folder(spec: VolumeSpec, report: Report) -> Mount:
    """A folder of the node, used in place."""
    if not os.path.isdir(spec.source):
        what = "is not a folder" if os.path.exists(spec.source) else "does not exist"
        raise VolumeError(f"volume {spec.path}: {spec.source} {what} on this node: check the source")
    if not os.access(spec.source, os.R_OK | os.X_OK):
        raise VolumeError(f"volume {spec.path}: {spec.source} on this node is not readable by its user "
                          f"(uid {os.getuid()}): check its permissions")
    if spec.writable and not os.access(spec.source, os.W_OK):
        raise VolumeError(f"volume {spec.path}: {spec.source} on this node is not writable by its user "
                          f"(uid {os.getuid()}): make it writable, or declare the volume read-only")
    report(f"volume {spec.path}: {spec.source}: a folder of this node, {'writable' if spec.writable else 'read-only'}")
    return Mount(spec.path, os.path.abspath(spec.source), spec.writable, spec.source)


def _s3(spec: VolumeSpec, report: Report) -> Mount:
    """An S3 prefix, mirrored into the node's cache."""
    from .volume_s3 import format_bytes, sync  # boto3 and its thread pool only when an S3 volume exists

    started = time.monotonic()
    synced = sync(spec, report)
    summary = synced.summary
    line = (f"volume {spec.path}: {spec.source}: {summary.objects} objects, {format_bytes(summary.bytes)}; "
            f"fetched {summary.fetched} ({format_bytes(summary.fetched_bytes)}), {summary.cached} cached")
    if summary.removed:
        line += f", {summary.removed} removed"
    if summary.fetched:
        line += f" in {time.monotonic() - started:.1f} s"
    if summary.skipped:
        line += (f"; {len(summary.skipped)} keys skipped, not usable as file names "
                 f"(e.g. {summary.skipped[0]!r})")
    report(line)
    return synced.mount


def prepare(specs: Sequence[VolumeSpec], report: Report) -> tuple[Mount, ...]:
    """Make every volume ready on this node, in order; :class:`VolumeError` names the first that cannot be."""
    return tuple(_s3(spec, report) if spec.is_s3 else _folder(spec, report) for spec in specs)
