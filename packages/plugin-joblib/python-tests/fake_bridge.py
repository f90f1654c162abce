"""A scripted stand-in for the Node bridge, for failure tests that need no pool."""
from __future__ import annotations

import os
import socket
import tempfile
import threading
from typing import Any, Callable

from skyward_wire import FrameDecoder, encode_frame

Handler = Callable[["FakeBridge", socket.socket, dict[str, Any]], None]


class FakeBridge:
    """Accepts clients on a Unix socket; says hello with ``slots`` (and ``max_blob_bytes``, if
    given); passes submits to ``on_submit``."""

    def __init__(self, slots: int = 2, on_submit: Handler | None = None,
                 accept_hello: bool = True, max_blob_bytes: int | None = None,
                 max_slots: int | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="fake-bridge-")
        self.path = os.path.join(self.dir, "bridge.sock")
        self.slots = slots
        self.on_submit = on_submit
        self.accept_hello = accept_hello
        self.max_blob_bytes = max_blob_bytes
        self.max_slots = max_slots  # an elastic pool's most slots
        self.received: list[dict[str, Any]] = []
        self.connections: list[socket.socket] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.path)
        self._server.listen()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        decoder = FrameDecoder()
        try:
            while True:
                data = conn.recv(1 << 16)
                if not data:
                    return
                for message in decoder.feed(data):
                    self.received.append(message)
                    if message["type"] == "hello":
                        if not self.accept_hello:
                            conn.close()
                            return
                        hello = {"type": "hello", "protocol": 1, "role": "server", "slots": self.slots}
                        if self.max_blob_bytes is not None:
                            hello["maxBlobBytes"] = self.max_blob_bytes
                        if self.max_slots is not None:
                            hello["maxSlots"] = self.max_slots
                        conn.sendall(encode_frame(hello))
                    elif message["type"] == "submit" and self.on_submit is not None:
                        self.on_submit(self, conn, message)
        except OSError:
            return

    def drop_all(self) -> None:
        for conn in self.connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self._server.close()
        self.drop_all()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass
