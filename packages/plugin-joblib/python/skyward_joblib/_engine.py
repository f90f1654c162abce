"""The engine: the ``skyward`` command (Node) that provisions the pool and serves its bridge.

:class:`EngineProcess` runs ``skyward up --foreground --json ...`` as a child process: its progress
(stderr, ``skyward: ...`` lines) is relayed line by line to this process's ``sys.stderr``, its one
line of JSON on stdout
says the pool is ready (:class:`PoolInfo`), and closing its stdin closes the pool. :func:`attach`
asks ``skyward attach NAME`` for the same line about a pool started elsewhere.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from ._bridge import ENV_SOCKET, ENV_TOKEN, BridgeAddress
from ._errors import SkywardError

ENV_CLI = "SKYWARD_CLI"
"""The variable naming the engine's executable (default: ``skyward`` on PATH)."""

CLI_NAME = "skyward"
"""The engine's command name, looked up on PATH when :data:`ENV_CLI` is not set."""

ERROR_PREFIX = "skyward: "
"""How the engine's error lines on stderr start."""

EXIT_USAGE = 2
"""The engine's exit code for bad input (an unknown flag, a wrong value)."""

STOP_TIMEOUT = 120.0
"""Seconds the engine gets to close the pool after its stdin closed (EC2 instances are terminated)."""

TERMINATE_TIMEOUT = 30.0
"""Seconds the engine gets after SIGTERM before it (and its process group) is killed."""

ATTACH_TIMEOUT = 60.0
"""Seconds ``skyward attach`` may take."""

READER_JOIN_TIMEOUT = 5.0
"""Seconds to wait for the output relays to finish once the engine exited."""

_POLL = 0.2  # seconds between looks at the engine while waiting for its ready line
_TAIL = 20  # stderr lines kept to explain a failure without a `skyward:` line


class EngineError(SkywardError, RuntimeError):
    """The engine could not open (or attach to) the pool: ``message`` is its last ``skyward: ...``
    line (or what it printed last), ``exit_code`` its exit status (None: still running)."""

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class EngineUsageError(EngineError, ValueError):
    """The engine refused its arguments (exit 2): a wrong option value, an unknown pool name..."""


class EngineNotFoundError(EngineError, FileNotFoundError):
    """Neither ``$SKYWARD_CLI`` nor ``skyward`` on PATH names an executable."""


@dataclass(frozen=True)
class PoolInfo:
    """What the engine prints once the pool is ready (``skyward up --json``, ``skyward attach``)."""

    name: str
    total_slots: int  # nodes x concurrency when it opened
    env: Mapping[str, str] = field(repr=False)  # the bridge's SKYWARD_BRIDGE / SKYWARD_TOKEN, the pool's variables
    python_path: tuple[str, ...] = ()  # what `skyward run` puts on a script's sys.path
    imports: tuple[str, ...] = ()  # what `skyward run` imports before a script

    @property
    def bridge(self) -> BridgeAddress:
        """The pool's bridge: its socket and token."""
        return BridgeAddress(self.env[ENV_SOCKET], self.env[ENV_TOKEN])

    @property
    def pool_env(self) -> dict[str, str]:
        """The pool's variables without the bridge's (no token)."""
        return {key: value for key, value in self.env.items() if key not in (ENV_SOCKET, ENV_TOKEN)}


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise EngineError(f"the engine's ready line has no list of strings {what}")
    return tuple(value)


def parse_ready(line: str) -> PoolInfo:
    """The :class:`PoolInfo` of the engine's ready line (one JSON object)."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise EngineError(f"the engine printed a line that is not JSON: {line.strip()[:200]!r}") from exc
    if not isinstance(data, dict):
        raise EngineError(f"the engine's ready line is not a JSON object: {line.strip()[:200]!r}")
    name, slots, env = data.get("name"), data.get("totalSlots"), data.get("env")
    if not isinstance(name, str) or not name:
        raise EngineError("the engine's ready line has no name")
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 0:
        raise EngineError("the engine's ready line has no totalSlots count")
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise EngineError("the engine's ready line has no env object of strings")
    if not env.get(ENV_SOCKET) or not env.get(ENV_TOKEN):
        raise EngineError(f"the engine's ready line has no {ENV_SOCKET} / {ENV_TOKEN} (is the joblib plugin on?)")
    return PoolInfo(name=name, total_slots=slots, env=dict(env),
                    python_path=_strings(data.get("pythonPath", []), "pythonPath"),
                    imports=_strings(data.get("imports", []), "imports"))


def find_cli() -> list[str]:
    """The engine's command: ``$SKYWARD_CLI`` when set, else ``skyward`` found on PATH."""
    configured = os.environ.get(ENV_CLI)
    found = shutil.which(configured or CLI_NAME)
    if found is not None:
        return [found]
    if configured:
        raise EngineNotFoundError(f"{ENV_CLI}={configured} is not an executable file: point it at the "
                                  f"skyward command (such as apps/cli/dist/bin.js), or unset it to use "
                                  f"{CLI_NAME} on PATH")
    raise EngineNotFoundError(f"the skyward command was not found: neither {ENV_CLI} is set nor is "
                              f"{CLI_NAME} on PATH (install the CLI, e.g. npm install -g the "
                              f"@skyward/cli tarball, or set {ENV_CLI} to its path)")


def engine_env(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The engine's environment: this process's, with ``extra`` (the values of ``--env KEY`` flags,
    so they are not on the command line), and without another pool's bridge variables."""
    env = {key: value for key, value in os.environ.items() if key not in (ENV_SOCKET, ENV_TOKEN)}
    env.update(extra)
    return env


def _failure(exit_code: int | None, said: str | None, tail: Sequence[str], what: str) -> EngineError:
    if said is not None:
        message = said
    elif tail:
        message = f"{what} failed: " + " | ".join(tail[-3:])
    else:
        message = f"{what} failed (exit code {exit_code}) without saying why"
    cls = EngineUsageError if exit_code == EXIT_USAGE else EngineError
    return cls(message, exit_code)


def _error_line(line: str) -> str | None:
    return line[len(ERROR_PREFIX):].strip() if line.startswith(ERROR_PREFIX) else None


def _relay(line: str) -> None:
    """Writes one engine line to the current ``sys.stderr`` (in Jupyter: the running cell's)."""
    try:
        stream = sys.stderr or sys.__stderr__
        if stream is not None:
            stream.write(line + "\n")
            stream.flush()
    except Exception:  # noqa: BLE001 - a closed stderr must not stop the drain
        pass


def _lines(stream: IO[bytes]) -> Iterator[str]:
    for raw in iter(stream.readline, b""):
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


class EngineProcess:
    """One ``skyward up --foreground --json`` process: started by :meth:`start`, ready after
    :meth:`wait_ready`, gone after :meth:`stop` (which always leaves nothing running)."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.argv = list(argv)
        self._said: str | None = None  # its last `skyward: ...` line
        self._tail: deque[str] = deque(maxlen=_TAIL)
        self._ready: queue.Queue[str | None] = queue.Queue()
        # its own session: a Ctrl-C in the terminal reaches Python (which closes the pool), not
        # the engine; and a last-resort kill reaches the engine's whole process group
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=dict(env), start_new_session=True)
        self._threads = [
            threading.Thread(target=self._read_stderr, name="skyward-engine-stderr", daemon=True),
            threading.Thread(target=self._read_stdout, name="skyward-engine-stdout", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in _lines(self.proc.stderr):
            said = _error_line(line)
            if said is not None:
                self._said = said
            if line.strip():
                self._tail.append(line)
                _relay(line)

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        told = False
        for line in _lines(self.proc.stdout):
            if told:
                continue  # the engine prints one line; anything after it is drained, not kept
            if line.lstrip().startswith("{"):
                told = True
                self._ready.put(line)
            elif line.strip():
                _relay(line)
        if not told:
            self._ready.put(None)

    def wait_ready(self, timeout: float | None = None) -> PoolInfo:
        """Waits for the ready line; on failure (the engine exited, ``timeout`` seconds passed, a
        KeyboardInterrupt) the engine is stopped and the error raised."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                try:
                    line = self._ready.get(timeout=_POLL)
                    break
                except queue.Empty:
                    if deadline is not None and time.monotonic() > deadline:
                        raise EngineError(f"the pool was not ready after {timeout:g} s") from None
            if line is None:  # stdout closed without the line: the engine is exiting
                try:
                    code: int | None = self.proc.wait(READER_JOIN_TIMEOUT)
                except subprocess.TimeoutExpired:
                    code = None
                self._join()
                raise _failure(code, self._said, list(self._tail), "opening the pool")
            return parse_ready(line)
        except BaseException:
            self.stop()
            raise

    def _join(self) -> None:
        for thread in self._threads:
            thread.join(READER_JOIN_TIMEOUT)

    def stop(self, timeout: float | None = None) -> int | None:
        """Closes the pool: closes the engine's stdin and waits up to ``timeout`` seconds (default
        :data:`STOP_TIMEOUT`); then SIGTERM, then SIGKILL to its process group. Returns its exit code."""
        proc = self.proc
        timeout = STOP_TIMEOUT if timeout is None else timeout
        try:
            if proc.poll() is None:
                self._close_stdin()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._terminate()
        except BaseException:  # a KeyboardInterrupt while waiting: do not leave it behind
            self._terminate()
            raise
        finally:
            self._close_stdin()
            if proc.returncode is not None:
                self._join()
                # closed only once drained: closing a pipe another thread still reads would wait for
                # that read (a process the engine left behind may hold the pipe open)
                if not any(thread.is_alive() for thread in self._threads):
                    for stream in (proc.stdout, proc.stderr):
                        if stream is not None:
                            stream.close()
        return proc.returncode

    def _close_stdin(self) -> None:
        try:
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except OSError:  # it already exited: a broken pipe
            pass

    def _terminate(self) -> None:
        proc = self.proc
        if proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(TERMINATE_TIMEOUT)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait()

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    @property
    def last_error(self) -> str | None:
        """The engine's last ``skyward: ...`` line, if any."""
        return self._said


def attach(name: str, cli: Sequence[str] | None = None) -> PoolInfo:
    """The :class:`PoolInfo` of the running pool ``name`` (``skyward attach NAME``)."""
    argv = [*(cli if cli is not None else find_cli()), "attach", name]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=engine_env(),
                              timeout=ATTACH_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise EngineError(f"skyward attach {name} did not answer in {ATTACH_TIMEOUT:g} s") from exc
    stderr = done.stderr.decode("utf-8", "replace").splitlines()
    said = next((s for s in map(_error_line, reversed(stderr)) if s is not None), None)
    if done.returncode != 0:
        raise _failure(done.returncode, said, [line for line in stderr if line.strip()], f"attaching to {name!r}")
    lines = [line for line in done.stdout.decode("utf-8", "replace").splitlines() if line.strip()]
    if not lines:
        raise EngineError(f"skyward attach {name} printed nothing")
    return parse_ready(lines[-1])
