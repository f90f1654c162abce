"""The client end of the bridge: one Unix socket to the Node pool, shared by the whole process.

A writer thread sends queued frames (so no caller, including the reader's own callbacks, ever
blocks on the socket) and a reader thread decodes frames and resolves the pending task handles.
Every handle is finished exactly once: by its ``result`` / ``error``, or by the connection
closing.
"""
from __future__ import annotations

import atexit
import os
import queue
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional, Protocol, Union

from skyward_wire import (
    ErrorMessage,
    FrameDecoder,
    Message,
    Result,
    Submit,
    WireError,
    encode_frame,
    encode_frame_parts,
)

from ._errors import BridgeError, ProtocolError
from ._pickle import BlobRef

PROTOCOL = 1
ENV_SOCKET = "SKYWARD_BRIDGE"
ENV_TOKEN = "SKYWARD_TOKEN"

_READ_SIZE = 1 << 20
_WRITE_BATCH = 4 << 20
_BLOB_CHUNK = 16 << 20
# The bridge is a Unix socket on this machine: LZ4 would cost the client (and Node, which
# decompresses at once) CPU and save nothing.
_NO_COMPRESSION = 1 << 62
_MAX_BLOB_RESENDS = 3
# The excTypes of a task whose blob the bridge refused (too large, or bytes that do not hash to its name).
_REFUSED_BLOB_EXC_TYPES = ("skyward.BlobTooLarge", "skyward.BlobMismatch")
# The excType of the ``lost`` error this client makes up for its pending tasks when the bridge closes.
BRIDGE_CLOSED_EXC_TYPE = "skyward.BridgeClosed"
_NOTHING: Any = object()

_Outgoing = Optional[Union[bytes, memoryview, BlobRef]]


class CallShare(NamedTuple):
    """What progress counts for one task: how many of the script's calls it runs (a joblib batch's
    size), the joblib call they belong to (numbered from 1 in this process) and, when joblib knows
    it, how many calls that joblib call runs in all."""

    calls: int
    call: int | None = None
    call_total: int | None = None


class _Resend(NamedTuple):
    """What a task with blobs needs to go again if the bridge dropped them."""

    payload: bytes
    blobs: Sequence[BlobRef]
    timeout: float | None
    tries: int  # times sent again so far
    share: CallShare | None = None


class TaskHandle(Protocol):
    """What the bridge needs of a submitted task."""

    task_id: int

    def finish(self, message: Result | ErrorMessage) -> None:
        """``message`` is the ``result`` or ``error`` for the task (a synthetic ``error`` of kind
        ``lost`` with excType ``skyward.BridgeClosed`` when the connection closed)."""


def _write_line(stream: str, node: int | None, line: str) -> None:
    target = sys.stderr if stream != "stdout" else sys.stdout
    prefix = "" if node is None else f"[node {node}] "
    try:
        target.write(f"{prefix}{line}\n")
        target.flush()
    except Exception:  # noqa: BLE001 - a closed stdout must not stop the reader
        pass


class BridgeClient:
    """A connection to the bridge: ``submit`` pickled batches, ``cancel`` them, read ``slots``."""

    def __init__(self, path: str, token: str, *, timeout: float = 30.0) -> None:
        self.pid = os.getpid()
        self.path = path  # the bridge's socket (which pool this connection belongs to)
        self._lock = threading.Lock()
        self._pending: dict[int, TaskHandle] = {}
        self._next_id = 1
        self._closed = False
        self._close_reason = ""
        self._outbox: queue.SimpleQueue[_Outgoing] = queue.SimpleQueue()
        self._send_lock = threading.Lock()
        self._queued = 0  # items put in the outbox and not yet written by the writer thread
        self._sent_blobs: set[str] = set()
        self._resend: dict[int, _Resend] = {}
        self._slots_changed = threading.Condition(self._lock)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(encode_frame({"type": "hello", "protocol": PROTOCOL, "role": "client",
                                       "token": token, "pid": os.getpid()}))
            self._decoder = FrameDecoder()
            backlog: list[Message] = []
            while not backlog:
                data = sock.recv(_READ_SIZE)
                if not data:
                    raise BridgeError(f"the bridge at {path} closed the connection during the "
                                      "handshake (wrong token or protocol?)")
                backlog = self._decoder.feed(data)
            hello = backlog.pop(0)
            if hello["type"] != "hello" or hello["role"] != "server":
                raise ProtocolError(f"expected the server's hello, got {hello['type']!r}")
            self.slots: int = int(hello.get("slots") or 0)
            # the most blob bytes one task may refer to (the pool's argument limit); None: not told
            self.max_blob_bytes: int | None = hello.get("maxBlobBytes")
            # an elastic pool's most slots; None: a fixed node count
            self.max_slots: int | None = hello.get("maxSlots")
            sock.settimeout(None)
        except (OSError, WireError) as exc:
            sock.close()
            raise BridgeError(f"could not connect to the skyward bridge at {path}: {exc}") from exc
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        for message in backlog:
            self._handle(message)
        self._writer = threading.Thread(target=self._write_loop, name="skyward-bridge-writer",
                                        daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name="skyward-bridge-reader",
                                        daemon=True)
        self._writer.start()
        self._reader.start()

    # -- public --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, payload: bytes, handle: TaskHandle, timeout: float | None = None,
               blobs: Sequence[BlobRef] = (), share: CallShare | None = None) -> int:
        """Queues ``payload`` (cloudpickle of a zero-argument callable) and the ``blobs`` it refers
        to that this connection has not sent yet; returns the task id. ``share``: what progress
        counts for the task.

        Raises :class:`BridgeError` if the connection is closed; otherwise ``handle.finish`` is
        called exactly once, later, from the reader thread.
        """
        with self._lock:
            if self._closed:
                raise BridgeError(f"the skyward bridge is closed: {self._close_reason}")
            task_id = self._next_id
            self._next_id += 1
            handle.task_id = task_id
            self._pending[task_id] = handle
            if blobs:
                self._resend[task_id] = _Resend(payload, blobs, timeout, 0, share)
        self._send_submit(task_id, payload, blobs, timeout, share)
        return task_id

    def _send_submit(self, task_id: int, payload: bytes, blobs: Sequence[BlobRef],
                     timeout: float | None, share: CallShare | None = None) -> None:
        message: Submit = {"type": "submit", "id": task_id, "kind": "pickle", "payload": payload}
        if timeout is not None:
            message["timeout"] = float(timeout)
        if share is not None:
            message["calls"] = share.calls
            if share.call is not None:
                message["call"] = share.call
            if share.call_total is not None:
                message["callTotal"] = share.call_total
        if blobs:
            message["blobs"] = [blob.hash for blob in blobs]
            with self._lock:
                new = [blob for blob in blobs if blob.hash not in self._sent_blobs]
                self._sent_blobs.update(blob.hash for blob in new)
            for blob in new:
                self._send(blob)
        self._send(encode_frame(message, _NO_COMPRESSION))

    def _resubmit(self, task_id: int, missing: str) -> bool:
        """The bridge dropped blobs a task needs (``missing``): send them and the task again."""
        with self._lock:
            entry = self._resend.get(task_id)
            if entry is None or entry.tries >= _MAX_BLOB_RESENDS or task_id not in self._pending:
                return False
            payload, blobs, timeout = entry.payload, entry.blobs, entry.timeout
            self._resend[task_id] = entry._replace(tries=entry.tries + 1)
            self._sent_blobs.difference_update(blob.hash for blob in blobs if blob.hash in missing)
        self._send_submit(task_id, payload, blobs, timeout, entry.share)
        return True

    def _forget_sent_blobs(self, task_id: int) -> None:
        """The bridge refused a blob of this task: a later task that refers to it sends it again
        (its buffer may hold the right bytes by then)."""
        with self._lock:
            entry = self._resend.get(task_id)
            if entry is not None:
                self._sent_blobs.difference_update(blob.hash for blob in entry.blobs)

    def cancel(self, task_id: int) -> None:
        """Asks the pool to cancel a task; its handle still gets its ``error``."""
        if not self._closed:
            self._send(encode_frame({"type": "cancel", "id": task_id}))

    def forget(self, task_id: int) -> TaskHandle | None:
        """Stops tracking a task (its answer, if any, will be ignored)."""
        with self._lock:
            self._resend.pop(task_id, None)
            return self._pending.pop(task_id, None)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self, reason: str = "the client closed the bridge") -> None:
        """Closes the connection; every pending handle is finished as lost."""
        self._shutdown(reason)

    # -- threads -------------------------------------------------------------------------

    def _send(self, item: _Outgoing) -> None:
        """Hands ``item`` to the wire, in order, without ever blocking the caller (often the reader
        thread, which must keep reading for Node to keep reading us). A frame with nothing queued
        ahead of it goes out at once if the socket takes it whole: no hand-off to the writer
        thread, which would first have to win the GIL. The rest goes through the writer."""
        with self._send_lock:
            if isinstance(item, bytes) and self._queued == 0:
                try:
                    sent = self._sock.send(item, socket.MSG_DONTWAIT)
                except OSError:  # full (EAGAIN) or broken: the writer sends it or meets the error
                    sent = 0
                if sent == len(item):
                    return
                item = memoryview(item)[sent:]  # the rest of a partly sent frame, not a copy
            self._queued += 1
            self._outbox.put(item)

    def _written(self, count: int) -> None:
        with self._send_lock:
            self._queued -= count

    def _write_loop(self) -> None:
        out = self._outbox
        after: _Outgoing = _NOTHING  # taken from the queue while batching, handled next
        try:
            while True:
                item = out.get() if after is _NOTHING else after
                after = _NOTHING
                if item is None:
                    return
                if isinstance(item, BlobRef):
                    self._write_blob(item)
                    self._written(1)
                    continue
                parts = [item]
                size = len(item)
                while size < _WRITE_BATCH:
                    try:
                        more = out.get_nowait()
                    except queue.Empty:
                        break
                    if not isinstance(more, bytes):
                        after = more
                        break
                    parts.append(more)
                    size += len(more)
                self._sock.sendall(parts[0] if len(parts) == 1 else b"".join(parts))
                self._written(len(parts))
        except OSError as exc:
            self._shutdown(f"writing to the bridge failed: {exc}")

    def _write_blob(self, blob: BlobRef) -> None:
        """Sends a blob in chunks, straight from the caller's buffer (no copy of it is made)."""
        total = blob.data.nbytes
        for offset in range(0, max(total, 1), _BLOB_CHUNK):
            chunk = blob.data[offset:offset + _BLOB_CHUNK]
            # a Blob message whose data is a view of the caller's buffer, not the bytes its TypedDict says
            message = {"type": "blob", "hash": blob.hash, "data": chunk, "offset": offset,
                       "total": total}
            for part in encode_frame_parts(message, _NO_COMPRESSION):
                self._sock.sendall(part)

    def _read_loop(self) -> None:
        reason = "the bridge closed the connection (the pool was closed)"
        try:
            while True:
                data = self._sock.recv(_READ_SIZE)
                if not data:
                    break
                for message in self._decoder.feed(data):
                    self._handle(message)
        except WireError as exc:
            reason = f"the bridge sent an unreadable frame: {exc}"
        except OSError as exc:
            if not self._closed:
                reason = f"reading from the bridge failed: {exc}"
        self._shutdown(reason)

    def _handle(self, message: Message) -> None:
        if message["type"] == "error" and message["kind"] == "blob":
            if self._resubmit(message["id"], message["message"]):
                return
        if message["type"] == "error" and message["excType"] in _REFUSED_BLOB_EXC_TYPES:
            self._forget_sent_blobs(message["id"])
        if message["type"] == "result" or message["type"] == "error":
            with self._lock:
                self._resend.pop(message["id"], None)
                handle = self._pending.pop(message["id"], None)
            if handle is not None:
                _call(handle.finish, message)
            elif message["type"] == "error" and message["kind"] == "protocol" and not message["id"]:
                _write_line("stderr", None, f"skyward bridge: {message['message']}")
        elif message["type"] == "log":
            _write_line(message["stream"], message.get("node"), message["line"])
        elif message["type"] == "hello":
            with self._lock:
                self.slots = int(message.get("slots") or 0)
                self.max_blob_bytes = message.get("maxBlobBytes", self.max_blob_bytes)
                self.max_slots = message.get("maxSlots")
                self._slots_changed.notify_all()
        elif message["type"] == "shutdown":
            self._shutdown(f"the bridge shut down: {message.get('reason', '')}")

    def _shutdown(self, reason: str) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._close_reason = reason
            handles = list(self._pending.values())
            self._pending.clear()
            self._resend.clear()
            self._slots_changed.notify_all()
        self._outbox.put(None)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass
        for handle in handles:
            lost: ErrorMessage = {"type": "error", "id": handle.task_id, "kind": "lost",
                                  "excType": BRIDGE_CLOSED_EXC_TYPE, "message": reason,
                                  "traceback": ""}
            _call(handle.finish, lost)


def _call(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001 - a broken callback must not stop the reader
        try:
            (sys.__stderr__ or sys.stderr).write(f"skyward_joblib: a task callback failed: {exc!r}\n")
        except Exception:  # noqa: BLE001
            pass


@dataclass(frozen=True)
class BridgeAddress:
    """Where a pool's bridge listens and the token it expects (kept in memory only)."""

    socket: str
    token: str = field(repr=False)


_client: BridgeClient | None = None
_client_lock = threading.Lock()
_address: BridgeAddress | None = None  # set by use_bridge(): preferred to the environment


def configured() -> bool:
    """True when this process was given a bridge: by :func:`use_bridge`, or in its environment
    (``SKYWARD_BRIDGE`` and ``SKYWARD_TOKEN``)."""
    return _address is not None or (bool(os.environ.get(ENV_SOCKET)) and bool(os.environ.get(ENV_TOKEN)))


def use_bridge(address: BridgeAddress | None) -> BridgeAddress | None:
    """Makes ``address`` the bridge :func:`get_client` connects to (None: back to the environment's
    ``SKYWARD_BRIDGE`` / ``SKYWARD_TOKEN``); returns the address used before, to restore it later.

    A connection to another bridge is closed (its pending tasks end as lost); the token is only
    kept in this process's memory.
    """
    global _address, _client
    with _client_lock:
        previous, _address = _address, address
        client = _client
        target = address.socket if address is not None else os.environ.get(ENV_SOCKET)
        if client is not None and client.path != target:
            _client = None
        else:
            client = None
    if client is not None and client.pid == os.getpid():
        client.close("the process switched to another skyward pool")
    return previous


def current_bridge() -> BridgeAddress | None:
    """The address given to :func:`use_bridge`, if any."""
    return _address


def _usable(client: BridgeClient | None) -> BridgeClient | None:
    """``client`` if it is open and belongs to this process (a forked child must connect on its
    own), else None. (Not a ``TypeGuard``: typing has it from Python 3.10 only.)"""
    return client if client is not None and not client.closed and client.pid == os.getpid() else None


def get_client() -> BridgeClient:
    """The process's bridge connection, connecting (or reconnecting) to the address given to
    :func:`use_bridge`, else to the one in the environment."""
    global _client
    client = _usable(_client)
    if client is not None:
        return client  # once per batch: reading one reference needs no lock
    with _client_lock:
        client = _usable(_client)
        if client is not None:
            return client
        if _address is not None:
            path: str | None = _address.socket
            token: str | None = _address.token
        else:
            path = os.environ.get(ENV_SOCKET)
            token = os.environ.get(ENV_TOKEN)
        if not path or not token:
            raise BridgeError(
                f"{ENV_SOCKET} / {ENV_TOKEN} are not set: open a pool (skyward_joblib.JoblibPool, "
                "connect(name)), run the script with `skyward run`, or run it in a process started "
                "with the env of a pool that has the joblib or sklearn plugin")
        _client = BridgeClient(path, token)
        return _client


def close_client() -> None:
    """Closes the process's bridge connection, if any."""
    global _client
    with _client_lock:
        client, _client = _client, None
    if client is not None and client.pid == os.getpid():
        client.close()


atexit.register(close_client)
