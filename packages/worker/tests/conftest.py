"""Test fixtures: start the agent as a subprocess and talk frames to it."""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

HERE = Path(__file__).resolve().parent
WORKER_PY = HERE.parent / "python"
REPO = HERE.parents[2]
CODEC_PY = REPO / "packages" / "codec" / "python"
SUPPORT = HERE / "support"

for p in (str(CODEC_PY), str(WORKER_PY), str(SUPPORT)):
    if p not in sys.path:
        sys.path.insert(0, p)

import cloudpickle  # noqa: E402

from skyward_wire import FrameDecoder, encode_frame  # noqa: E402

Message = dict[str, Any]


def agent_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    parts = [str(WORKER_PY), str(CODEC_PY), str(SUPPORT)]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env.pop("OMP_NUM_THREADS", None)
    if extra:
        env.update(extra)
    return env


def _ppid_map() -> dict[int, int]:
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] == "Z":
            continue  # zombies are already dead
        out[int(entry)] = int(fields[1])
    return out


def descendants(pid: int) -> set[int]:
    """Live descendant pids of ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for child, parent in _ppid_map().items():
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    stack = [pid]
    while stack:
        for c in children.get(stack.pop(), []):
            if c not in found:
                found.add(c)
                stack.append(c)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


class AgentClient:
    """A running agent plus a tiny frame client."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None,
                 cwd: str | None = None) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "skyward_worker", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=agent_env(env), cwd=cwd or str(WORKER_PY),
        )
        self.seen_pids: set[int] = set()
        self.tmpdir = ""
        self.killed = False  # SIGKILLed by the test (see sigkill): it could not remove its files
        self._messages: list[Message] = []
        self._cond = threading.Condition()
        self.eof = False
        self.stderr_lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    def _read(self) -> None:
        decoder = FrameDecoder()
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        while True:
            data = os.read(fd, 1 << 20)
            if not data:
                break
            msgs = decoder.feed(data)
            with self._cond:
                self._messages.extend(msgs)
                self._cond.notify_all()
        with self._cond:
            self.eof = True
            self._cond.notify_all()

    def _read_err(self) -> None:
        for raw in self.proc.stderr:  # type: ignore[union-attr]
            self.stderr_lines.append(raw.decode("utf-8", "replace"))

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    # -- sending --------------------------------------------------------------------------

    def send(self, message: Message) -> None:
        self.send_raw(encode_frame(message))

    def send_raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def submit(self, tid: int, fn: Callable[[], Any], **extra: Any) -> None:
        self.send({"type": "submit", "id": tid, "kind": "pickle",
                   "payload": cloudpickle.dumps(fn), **extra})

    def call(self, tid: int, fn: str, *args: Any, **extra: Any) -> None:
        self.send({"type": "submit", "id": tid, "kind": "call", "fn": fn, "args": list(args), **extra})

    def cancel(self, tid: int, only_queued: bool = False) -> None:
        self.send({"type": "cancel", "id": tid, **({"only": "queued"} if only_queued else {})})

    # -- receiving ------------------------------------------------------------------------

    def take(self, pred: Callable[[Message], bool], timeout: float = 15.0) -> Message:
        """Remove and return the first message matching ``pred`` (waiting for it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, m in enumerate(self._messages):
                    if pred(m):
                        self._track(m)
                        return self._messages.pop(i)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.eof and not any(pred(m) for m in self._messages)):
                    raise AssertionError(
                        f"no matching message within {timeout}s (eof={self.eof}, "
                        f"exit={self.proc.poll()}); "
                        f"pending={[m.get('type') for m in self._messages][:20]} "
                        f"stderr={self.stderr[-3000:]}")
                self._cond.wait(min(remaining, 0.2))

    def take_type(self, kind: str, timeout: float = 15.0) -> Message:
        return self.take(lambda m: m.get("type") == kind, timeout)

    def answer(self, tid: int, timeout: float = 15.0) -> Message:
        """The ``result`` or ``error`` for task ``tid``."""
        return self.take(lambda m: m.get("type") in ("result", "error") and m.get("id") == tid,
                         timeout)

    def value(self, tid: int, timeout: float = 15.0) -> Any:
        m = self.answer(tid, timeout)
        assert m["type"] == "result", m
        return cloudpickle.loads(m["payload"]) if "payload" in m else m.get("value")

    def all(self, kind: str) -> list[Message]:
        with self._cond:
            return [m for m in self._messages if m.get("type") == kind]

    def _track(self, m: Message) -> None:
        if m.get("type") == "started" and "pid" in m:
            self.seen_pids.add(m["pid"])

    def hello(self) -> Message:
        return self.take_type("hello")

    def snapshot_tree(self) -> set[int]:
        pids = descendants(self.proc.pid)
        self.seen_pids |= pids
        return pids

    # -- stopping -------------------------------------------------------------------------

    def close_stdin(self) -> None:
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except (OSError, ValueError):
            pass

    def sigkill(self) -> None:
        """Kill the agent itself with SIGKILL (its temporary files stay: the fixture removes them)."""
        self.killed = True
        self.proc.kill()

    def wait(self, timeout: float) -> int:
        """Wait for the agent to exit; then its stderr has been read completely."""
        code = self.proc.wait(timeout)
        self._err_reader.join(2.0)
        return code

    def kill_all(self) -> None:
        """Teardown: make sure nothing this agent started survives."""
        if self.proc.poll() is None:
            self.snapshot_tree()
        self.close_stdin()
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(3)
        deadline = time.monotonic() + 3
        leftovers = {p for p in self.seen_pids if alive(p)}
        while leftovers and time.monotonic() < deadline:
            time.sleep(0.05)
            leftovers = {p for p in leftovers if alive(p)}
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.leftovers = leftovers
        # Close our pipe ends only once the reader threads are done with them: closing an fd a
        # reader may still pass to os.read() lets the next test's pipe reuse the number, and a
        # stale reader would then steal that agent's frames.
        for reader, stream in ((self._reader, self.proc.stdout), (self._err_reader, self.proc.stderr)):
            reader.join(5)
            if not reader.is_alive():
                try:
                    stream.close()  # type: ignore[union-attr]
                except Exception:  # noqa: BLE001 - the agent is gone: closing its pipe is best effort
                    pass


@pytest.fixture
def start_agent() -> Iterator[Callable[..., AgentClient]]:
    """``start_agent(*cli_args, env=None, cwd=None)`` -> :class:`AgentClient`; all are stopped at
    teardown. ``cwd``: the agent's current directory (default: the folder of skyward_worker)."""
    agents: list[AgentClient] = []

    # each agent's temporary files (forkserver socket, blobs) in a folder of its own inside the
    # test's: an agent a test kills leaves nothing in the machine's /tmp
    tmp = tempfile.mkdtemp(prefix="agent-")

    def start(*args: str, env: dict[str, str] | None = None, cwd: str | None = None) -> AgentClient:
        own = os.path.join(tmp, f"agent{len(agents)}")
        os.mkdir(own, 0o700)
        agent = AgentClient(list(args), {"TMPDIR": own, **(env or {})}, cwd)
        agent.tmpdir = own
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.kill_all()
    # an agent that exited leaves its folder empty; one the test SIGKILLed cannot clean up, and its
    # folder goes as a transport removes a killed agent's work folder. Nothing may be anywhere else.
    left: list[str] = []
    for agent in agents:
        if not agent.killed:
            left += [f"{os.path.basename(agent.tmpdir)}/{entry}" for entry in _settled_entries(agent.tmpdir)]
        shutil.rmtree(agent.tmpdir, ignore_errors=True)
    left += _settled_entries(tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    leftovers = [p for a in agents for p in getattr(a, "leftovers", ())]
    assert not leftovers, f"processes outlived their agent: {leftovers}"
    assert not left, f"the agents left files in their TMPDIR {tmp}: {left}"


def _settled_entries(folder: str, grace: float = 1.0) -> list[str]:
    """What is still in ``folder`` (``name (kind)``), once its processes had ``grace`` seconds to clean up."""
    deadline = time.monotonic() + grace
    while True:
        entries = []
        for name in sorted(os.listdir(folder)):
            try:
                mode = os.lstat(os.path.join(folder, name)).st_mode
            except OSError:
                continue  # removed while we looked
            kind = ("socket" if stat.S_ISSOCK(mode) else "folder" if stat.S_ISDIR(mode)
                    else "fifo" if stat.S_ISFIFO(mode) else "file")
            entries.append(f"{name} ({kind})")
        if not entries or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)
