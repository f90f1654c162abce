"""A stand-in for the ``skyward`` command's ``up --foreground --json`` and ``attach NAME``, for the
pool API's tests that need no real pool: it serves a :class:`FakeBridge` and behaves as the engine's
contract says (one JSON line on stdout when ready, progress on stderr, closes on stdin EOF or
SIGTERM). ``FAKE_ENGINE_SOCKETS``: the folder of its bridge's socket.
``FAKE_ENGINE_DIR``: where it writes its argv and environment (``up.json``) and its ready
line for ``attach`` (``<name>.ready``). ``FAKE_ENGINE_MODE``: ``ok`` (default), ``fail`` (exit 1
before ready), ``usage`` (exit 2), ``stubborn`` (ignores stdin EOF and SIGTERM once ready).
"""
from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from fake_bridge import FakeBridge

SLOTS = 3
EXIT_USAGE = 2


def up(argv: list[str], folder: Path, mode: str) -> int:
    name = argv[argv.index("--name") + 1] if "--name" in argv else f"fake-{os.getpid()}"
    (folder / "up.json").write_text(json.dumps({"argv": argv, "env": dict(os.environ), "pid": os.getpid()}))
    print("starting 1 node (fake)", file=sys.stderr, flush=True)
    if mode == "fail":
        print("skyward: node 0: the environment could not be built", file=sys.stderr, flush=True)
        return 1
    if mode == "usage":
        print("skyward: --nodes must be 1 or more", file=sys.stderr, flush=True)
        return EXIT_USAGE
    # a short folder for its socket (a Unix socket's path has ~100 bytes), made and removed by the test
    tempfile.tempdir = os.environ["FAKE_ENGINE_SOCKETS"]
    bridge = FakeBridge(slots=SLOTS)
    env = {"SKYWARD_BRIDGE": bridge.path, "SKYWARD_TOKEN": "secret-token", "POOL_VAR": "1",
           "SKYWARD_WORKDIR_REPORT": str(folder / "workdir-report.json")}
    line = json.dumps({"name": name, "totalSlots": SLOTS, "env": env, "pythonPath": [], "imports": []})
    (folder / f"{name}.ready").write_text(line)
    done = threading.Event()
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(line, flush=True)
    print("pool ready", file=sys.stderr, flush=True)

    def read_stdin() -> None:
        sys.stdin.read()  # EOF: the client went away, or closed us
        if mode != "stubborn":
            done.set()

    threading.Thread(target=read_stdin, daemon=True).start()
    while not done.wait(0.05):
        pass
    (folder / f"{name}.ready").unlink()
    bridge.close()
    print("pool closed", file=sys.stderr, flush=True)
    (folder / "closed").write_text(name)
    time.sleep(0.05)
    return 0


def attach(name: str, folder: Path) -> int:
    ready = folder / f"{name}.ready"
    if not ready.exists():
        print(f"skyward: no pool named {name}", file=sys.stderr)
        return 1
    print(ready.read_text())
    return 0


def main() -> int:
    folder = Path(os.environ["FAKE_ENGINE_DIR"])
    mode = os.environ.get("FAKE_ENGINE_MODE", "ok")
    argv = sys.argv[1:]
    if argv[:1] == ["up"]:
        return up(argv, folder, mode)
    if argv[:1] == ["attach"]:
        return attach(argv[1], folder)
    print(f"skyward: unknown command {argv[:1]}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
