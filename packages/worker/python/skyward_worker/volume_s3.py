"""S3 volumes: a mirror of ``s3://bucket/prefix`` in the node's cache, kept across pools by ETag.

Layout of one mirror, ``<cache root>/volumes/<hash of endpoint, bucket and prefix>/``:

- ``data/``: the objects under the prefix, as files (what tasks see at the volume's path);
- ``index.json``: ``{"objects": {relative key: {"etag", "size", "mtime_ns"}}}`` (what ``data/`` holds);
- ``tmp/``: downloads in progress (renamed into ``data/`` once complete);
- ``lock``: ``flock``-ed while the mirror changes (agents of one machine share it).

boto3 is imported only here, and only when an S3 volume is given: it reads its credentials, region and
endpoint (``AWS_ENDPOINT_URL_S3``) from the environment or the instance's role as usual.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Final, NamedTuple, TypedDict

from .volume_spec import Mount, S3Location, VolumeError, VolumeSpec, s3_location

Report = Callable[[str], None]
"""Shows one progress line to the user."""

CACHE_DIR_ENV: Final = "SKYWARD_CACHE_DIR"  # the same rule as the host's cacheRoot()
VOLUMES_DIR: Final = "volumes"
DATA_DIR: Final = "data"
TMP_DIR: Final = "tmp"
INDEX_FILE: Final = "index.json"
LOCK_FILE: Final = "lock"
SOURCE_FILE: Final = "source"  # for whoever looks in the cache: which source this mirror holds
TRANSFER_WORKERS: Final = 8  # parallel downloads / uploads, sharing one (thread-safe) boto3 client
PROGRESS_EVERY: Final = 5.0  # seconds between progress lines of a long fetch
CHUNK_BYTES: Final = 1 << 20
_HASH_CHARS: Final = 24
_UNSAFE_PARTS: Final = frozenset(("", ".", ".."))
_NOT_FOUND_CODES: Final = frozenset(("NoSuchBucket",))
_DENIED_CODES: Final = frozenset(("AccessDenied", "AllAccessDisabled", "403", "Forbidden"))
_BAD_KEY_CODES: Final = frozenset(("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                                   "InvalidToken", "TokenRefreshRequired"))
_REGION_CODES: Final = frozenset(("PermanentRedirect", "AuthorizationHeaderMalformed", "301",
                                  "IllegalLocationConstraintException"))
_GONE_CODES: Final = frozenset(("NoSuchKey", "404"))


class IndexEntry(TypedDict):
    etag: str
    size: int
    mtime_ns: int  # of the local file as last fetched or put back: a later change means a task wrote it


class Synced(NamedTuple):
    mount: Mount
    summary: SyncSummary


class _Listed(NamedTuple):
    """One object under the prefix."""

    rel: str  # the key without the prefix: the file's path in data/
    key: str
    etag: str
    size: int


class LocalFile(NamedTuple):
    rel: str  # the path under data/, with "/"
    stat: os.stat_result


class _Listing(NamedTuple):
    objects: list[_Listed]
    skipped: list[str]  # keys that cannot be files


@dataclass
class SyncSummary:
    objects: int = 0
    bytes: int = 0
    fetched: int = 0
    fetched_bytes: int = 0
    cached: int = 0
    removed: int = 0
    skipped: list[str] = field(default_factory=list)  # keys that cannot be files (`a//b`, `../x`)


def format_bytes(n: int) -> str:
    """``12.3 MiB``, ``840 KiB``, ``17 B``, as the host's ``formatBytes``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} B"


def cache_root() -> str:
    """``$SKYWARD_CACHE_DIR``, else ``$XDG_CACHE_HOME/skyward``, else ``~/.cache/skyward``."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return os.path.abspath(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.abspath(os.path.join(base, "skyward"))


def _endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "aws"


def mirror_folder(location: S3Location) -> str:
    """The cache folder of ``location`` (one per endpoint, bucket and prefix, shared by every pool)."""
    digest = hashlib.sha256(f"{_endpoint()}\n{location.bucket}\n{location.prefix}".encode()).hexdigest()
    return os.path.join(cache_root(), VOLUMES_DIR, digest[:_HASH_CHARS])


# -- boto3 -----------------------------------------------------------------------------------------

_client: Any = None
_client_lock = threading.Lock()


def s3_client() -> Any:
    """This process's S3 client (created once; boto3 clients are thread-safe)."""
    global _client
    with _client_lock:
        if _client is None:
            boto3 = importlib.import_module("boto3")  # only when an S3 volume exists (the image has it then)
            config = importlib.import_module("botocore.config")
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
            _client = boto3.session.Session().client(
                "s3", region_name=region,
                config=config.Config(max_pool_connections=TRANSFER_WORKERS + 2, retries={"mode": "standard"}))
        return _client


def explain(exc: BaseException, volume: str, source: str, action: str = "read") -> str:
    """One line naming the volume and the fix for what boto3 raised."""
    location = s3_location(source)
    where = f"volume {volume}: "
    try:
        errors = importlib.import_module("botocore.exceptions")
    except ImportError:
        return f"{where}cannot {action} {source}: {type(exc).__name__}: {exc}"
    if isinstance(exc, errors.NoCredentialsError):
        return (f"{where}no AWS credentials on this node to {action} {source}: give the pool credentials "
                "(volumeAccess) or the instances a role that allows it")
    if isinstance(exc, (errors.EndpointConnectionError, errors.ConnectTimeoutError)):
        return f"{where}cannot reach S3 for {source} ({exc}): check the network, the region or AWS_ENDPOINT_URL_S3"
    if isinstance(exc, errors.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _NOT_FOUND_CODES:
            return f"{where}no such bucket {location.bucket!r} ({source}): check the name and the region"
        if code in _DENIED_CODES:
            needs = "s3:ListBucket and s3:GetObject" if action == "read" else "s3:PutObject"
            return (f"{where}access denied to {source}: the pool's credentials or the instances' role must "
                    f"allow {needs} on it")
        if code in _BAD_KEY_CODES:
            return f"{where}the AWS credentials were refused for {source} ({code}): they may have expired"
        if code in _REGION_CODES:
            return (f"{where}bucket {location.bucket!r} is in another region than "
                    f"{os.environ.get('AWS_REGION') or os.environ.get('AWS_DEFAULT_REGION') or 'the default'}: "
                    "give the pool the bucket's region")
        return f"{where}cannot {action} {source}: {code or type(exc).__name__}: {error.get('Message', exc)}"
    return f"{where}cannot {action} {source}: {type(exc).__name__}: {exc}"


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


# -- the mirror's files ----------------------------------------------------------------------------

@contextlib.contextmanager
def mirror_lock(folder: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the mirror's lock (other agents of this machine wait; it is released if the agent dies)."""
    fd = os.open(os.path.join(folder, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def read_index(folder: str) -> dict[str, IndexEntry]:
    """The mirror's index ({} when missing or unreadable: everything is fetched again)."""
    try:
        with open(os.path.join(folder, INDEX_FILE), encoding="utf-8") as f:
            objects = json.load(f)["objects"]
        return {str(rel): IndexEntry(etag=str(entry["etag"]), size=int(entry["size"]), mtime_ns=int(entry["mtime_ns"]))
                for rel, entry in objects.items()}
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        return {}


def write_index(folder: str, index: dict[str, IndexEntry]) -> None:
    """Replace the index atomically."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".index-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"objects": index}, f, separators=(",", ":"))
        os.replace(tmp, os.path.join(folder, INDEX_FILE))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _unchanged_stat(st: os.stat_result, entry: IndexEntry | None) -> bool:
    """A local file is still as it was fetched or put back (same size and mtime)."""
    return entry is not None and st.st_size == entry.get("size") and st.st_mtime_ns == entry.get("mtime_ns")


def _cached(local: str, etag: str, entry: IndexEntry | None) -> bool:
    """The local file holds the object of ``etag``, untouched since it was fetched or put back."""
    if entry is None or entry.get("etag") != etag:
        return False
    try:
        return _unchanged_stat(os.stat(local), entry)
    except OSError:
        return False


def _clear(folder: str) -> None:
    """Remove what a killed agent's downloads left in ``folder``."""
    for name in os.listdir(folder):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))


def local_files(data: str) -> Iterator[LocalFile]:
    """Every file under ``data``."""
    for root, _dirs, files in os.walk(data):
        for name in files:
            path = os.path.join(root, name)
            try:
                st = os.stat(path)
            except OSError:
                continue  # removed while we looked
            yield LocalFile(os.path.relpath(path, data).replace(os.sep, "/"), st)


def _remove_stale(data: str, keep: set[str], known: dict[str, IndexEntry], writable: bool) -> int:
    """Remove the files of ``data`` whose objects are gone, then the folders left empty; return how many files.

    A writable volume keeps the files the index does not know: tasks wrote them, and they go back to S3 when
    those tasks end (another agent of this machine may be running them)."""
    removed = 0
    for file in list(local_files(data)):
        if file.rel not in keep and (file.rel in known or not writable):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(data, file.rel))
                removed += 1
    for root, _dirs, _files in sorted(os.walk(data), key=lambda entry: -len(entry[0])):
        if root != data:
            with contextlib.suppress(OSError):
                os.rmdir(root)  # only succeeds on an empty folder
    return removed


# -- fetching ------------------------------------------------------------------------------------------

class _Progress:
    """Bytes downloaded so far, from every download thread."""

    def __init__(self) -> None:
        self.bytes = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.bytes += n


def _list(client: Any, location: S3Location) -> _Listing:
    """Every object under the prefix (all pages), and the keys that cannot be files: `a//b`, `../x`, and `a`
    beside `a/b` (a file where a folder must be)."""
    listed: list[_Listed] = []
    skipped: list[str] = []
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=location.bucket, Prefix=location.prefix):
        for item in page.get("Contents", ()):
            key = str(item["Key"])
            rel = key[len(location.prefix):]
            if rel.endswith("/") and int(item.get("Size", 0)) == 0:
                continue  # a "folder" marker
            if any(part in _UNSAFE_PARTS for part in rel.split("/")):
                skipped.append(key)
                continue
            listed.append(_Listed(rel, key, str(item.get("ETag", "")), int(item.get("Size", 0))))
    folders = {obj.rel.rsplit("/", depth)[0] for obj in listed for depth in range(1, obj.rel.count("/") + 1)}
    skipped += [obj.key for obj in listed if obj.rel in folders]
    return _Listing([obj for obj in listed if obj.rel not in folders], skipped)


def _fetch(client: Any, bucket: str, obj: _Listed, data: str, tmp: str, progress: _Progress) -> IndexEntry | None:
    """Download one object into a temporary file, then rename it into place; None if it vanished."""
    fd, part = tempfile.mkstemp(dir=tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                response = client.get_object(Bucket=bucket, Key=obj.key)
            except Exception as exc:
                if _error_code(exc) in _GONE_CODES:  # deleted since the listing
                    os.unlink(part)
                    return None
                raise
            for chunk in response["Body"].iter_chunks(CHUNK_BYTES):
                f.write(chunk)
                progress.add(len(chunk))
        dest = os.path.join(data, obj.rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.replace(part, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise
    st = os.stat(dest)
    return IndexEntry(etag=str(response.get("ETag", obj.etag)), size=st.st_size, mtime_ns=st.st_mtime_ns)


def _wait_all(futures: list[Future[Any]], on_tick: Callable[[], None]) -> None:
    """Wait for every future, calling ``on_tick`` every :data:`PROGRESS_EVERY` seconds; the first error is raised."""
    pending: set[Future[Any]] = set(futures)
    while pending:
        done, pending = wait(pending, timeout=PROGRESS_EVERY, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:
                for other in pending:
                    other.cancel()
                raise error
        if pending:
            on_tick()


def sync(spec: VolumeSpec, report: Report) -> Synced:
    """Bring the mirror of ``spec.source`` up to date; ``VolumeError`` (one line) when it cannot be read."""
    location = s3_location(spec.source)
    folder = mirror_folder(location)
    data, tmp = os.path.join(folder, DATA_DIR), os.path.join(folder, TMP_DIR)
    try:
        for path in (data, tmp):
            os.makedirs(path, exist_ok=True)
        with open(os.path.join(folder, SOURCE_FILE), "w", encoding="utf-8") as f:
            f.write(f"{_endpoint()} {spec.source}\n")
    except OSError as exc:
        raise VolumeError(f"volume {spec.path}: cannot create its cache folder {folder}: {exc}") from None
    client: Any = None
    try:
        client = s3_client()
        listing = _list(client, location)
    except ImportError:
        raise VolumeError(f"volume {spec.path}: boto3 is not installed on this node: {spec.source} needs it") from None
    except Exception as exc:  # noqa: BLE001 - whatever boto3 raises becomes one line
        raise VolumeError(explain(exc, spec.path, spec.source)) from None
    listed = listing.objects
    if not listed and not spec.writable:  # a writable volume may start empty: tasks fill it
        raise VolumeError(f"volume {spec.path}: nothing under {spec.source}: check the prefix")
    summary = SyncSummary(objects=len(listed), bytes=sum(obj.size for obj in listed), skipped=listing.skipped)

    def waiting() -> None:
        report(f"volume {spec.path}: {spec.source}: waiting for another agent of this machine fetching it")

    try:
        with mirror_lock(folder, waiting):
            _clear(tmp)
            index = read_index(folder)
            wanted = [obj for obj in listed if not _cached(os.path.join(data, obj.rel), obj.etag, index.get(obj.rel))]
            summary.cached = len(listed) - len(wanted)
            keep = {obj.rel for obj in listed}
            summary.removed = _remove_stale(data, keep, index, spec.writable)
            fresh: dict[str, IndexEntry] = {rel: entry for rel, entry in index.items() if rel in keep}
            progress = _Progress()
            total = sum(obj.size for obj in wanted)
            started = time.monotonic()

            def tick() -> None:
                report(f"volume {spec.path}: {spec.source}: fetching {len(wanted)} objects, {format_bytes(total)}: "
                       f"{format_bytes(progress.bytes)} so far ({time.monotonic() - started:.0f} s)")

            fetched: dict[str, IndexEntry | None] = {}
            with ThreadPoolExecutor(max_workers=TRANSFER_WORKERS, thread_name_prefix="skyward-volume") as pool:
                futures: list[Future[Any]] = []
                for obj in wanted:
                    futures.append(pool.submit(_store, fetched, obj.rel, client, location.bucket, obj, data, tmp,
                                               progress))
                try:
                    _wait_all(futures, tick)
                finally:
                    fresh.update({rel: entry for rel, entry in fetched.items() if entry is not None})
                    for rel, entry in fetched.items():
                        if entry is None:
                            fresh.pop(rel, None)
                    write_index(folder, fresh)  # what was fetched is kept, even when a later object failed
            summary.fetched = sum(1 for entry in fetched.values() if entry is not None)
            summary.fetched_bytes = progress.bytes
    except VolumeError:
        raise
    except OSError as exc:
        raise VolumeError(f"volume {spec.path}: cannot write {spec.source} to {data}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - whatever boto3 raises becomes one line
        raise VolumeError(explain(exc, spec.path, spec.source)) from None
    return Synced(Mount(spec.path, data, spec.writable, spec.source, folder), summary)


def _store(into: dict[str, IndexEntry | None], rel: str, *args: Any) -> None:
    into[rel] = _fetch(*args)


# -- putting back ----------------------------------------------------------------------------------------

@dataclass
class PutBackSummary:
    files: int = 0
    bytes: int = 0


def _upload(client: Any, bucket: str, key: str, path: str, st: os.stat_result) -> IndexEntry:
    with open(path, "rb") as f:
        response = client.put_object(Bucket=bucket, Key=key, Body=f)
    return IndexEntry(etag=str(response.get("ETag", "")), size=st.st_size, mtime_ns=st.st_mtime_ns)


def put_back(mount: Mount) -> PutBackSummary:
    """Put the files of a writable S3 volume that changed since they were fetched or last put back (size or
    mtime) under its prefix; ``VolumeError`` (one line) when S3 refuses."""
    summary = PutBackSummary()
    if mount.cache is None:
        return summary
    location = s3_location(mount.source)
    try:
        with mirror_lock(mount.cache):
            index = read_index(mount.cache)
            changed = [file for file in local_files(mount.local) if not _unchanged_stat(file.stat, index.get(file.rel))]
            if not changed:
                return summary
            client = s3_client()
            with ThreadPoolExecutor(max_workers=TRANSFER_WORKERS, thread_name_prefix="skyward-volume") as pool:
                futures = {file.rel: pool.submit(_upload, client, location.bucket, location.prefix + file.rel,
                                                 os.path.join(mount.local, file.rel), file.stat) for file in changed}
                try:
                    for rel, future in futures.items():
                        index[rel] = future.result()
                        summary.files += 1
                        summary.bytes += index[rel]["size"]
                finally:
                    write_index(mount.cache, index)
    except Exception as exc:  # noqa: BLE001 - whatever boto3 raises becomes one line
        raise VolumeError(explain(exc, mount.path, mount.source, "write")) from None
    return summary

