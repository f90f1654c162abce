"""Frame I/O on the agent's stdin / stdout, protected from stray prints."""
from __future__ import annotations

import os
import sys
import threading
from typing import Union

from skyward_wire import Message, encode_frame

Buffer = Union[bytes, bytearray, memoryview]


def protect_stdout() -> int:
    """Move the real stdout to a private fd for frames; point fd 1 and ``sys.stdout`` at stderr.

    After this, nothing a task or library prints (Python or C level) can reach the frame
    stream. Returns the private fd (not inherited by child processes).
    """
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001
        pass
    frame_fd = os.dup(1)  # os.dup makes a non-inheritable fd
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return frame_fd


def protect_stdin() -> int:
    """Move the frames Node sends to a private fd; point fd 0 (and ``sys.stdin``) at ``/dev/null``.

    Tasks and the processes they start inherit fd 0: reading it must not take frames from Node, and
    holding it must not keep Node's end of the channel open. Returns the private fd (not inherited).
    """
    frame_fd = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return frame_fd


class Channel:
    """Outgoing frames: any thread may :meth:`send`; :meth:`flush` writes a batch in order.

    ``send`` only appends under a short lock. ``flush`` swaps the batch out and writes it
    while holding the write lock, so frames reach the wire in the order they were sent even
    when several threads flush.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._pending: list[Buffer] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.closed = False

    def send(self, message: Message) -> None:
        """Queue one message (encoded now, in the calling thread)."""
        data = encode_frame(message)
        with self._lock:
            self._pending.append(data)

    def send_raw(self, frame: Buffer) -> None:
        """Queue an already-encoded frame (e.g. one built by a slot process)."""
        with self._lock:
            self._pending.append(frame)

    def flush(self) -> None:
        """Write everything queued so far. Raises ``OSError`` (e.g. broken pipe)."""
        if not self._pending:
            return
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch or self.closed:
                return
            data = batch[0] if len(batch) == 1 else b"".join(batch)
            view = memoryview(data)
            while view:
                written = os.write(self.fd, view)
                view = view[written:]

    def send_now(self, message: Message) -> None:
        """:meth:`send` then :meth:`flush`, swallowing write errors (diagnostics path)."""
        self.send(message)
        try:
            self.flush()
        except OSError:
            pass
