"""The agent: hello, heartbeats, and the dispatch loop over stdin and the slots."""
from __future__ import annotations

import functools
import os
import selectors
import signal
import sys
import threading
import time
from collections import deque
from typing import Any, Callable

from skyward_wire import PROTOCOL_EXC_TYPE, PROTOCOL_VERSION, Blob, FrameDecoder, Heartbeat, Message, Submit, WireError

from .blobs import BlobMissing, BlobStore
from .channel import Channel, protect_stdin, protect_stdout
from .cli import Config
from .env_input import EnvInputError, read_env_input
from .errors import HookError, error_message
from .executor import Executor, TaskRequest
from .exit_codes import EXIT_HOOK, EXIT_INTERNAL, EXIT_OK, EXIT_PROTOCOL, EXIT_VOLUME
from .hooks import check_specs
from .interrupts import interrupt_running_tasks
from .machine_stats import MachineStatsReader
from .process_groups import lead_new_group
from .search_path import apply_sys_path

_READ_SIZE = 1 << 20


class Agent:
    """Owns the channel, the selector loop and an executor; see :func:`run_agent`.

    ``input_fd`` carries the frames from Node (a private copy of stdin, see :func:`protect_stdin`).
    """

    def __init__(self, config: Config, channel: Channel, input_fd: int = 0) -> None:
        self.config = config
        self.channel = channel
        self.input_fd = input_fd
        self.selector: selectors.BaseSelector = selectors.DefaultSelector()
        self.blobs = BlobStore(config.max_blob_bytes)
        self._refused: dict[str, str] = {}  # blobs that could not be kept, and why
        self.exit_code = EXIT_OK
        self._stopping = False
        self._calls: deque[Callable[[], None]] = deque()
        self._decoder = FrameDecoder()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._seq = 0
        self._machine_stats = MachineStatsReader()
        self.executor: Executor = self._make_executor()

    # -- Host interface ------------------------------------------------------------------

    def wake(self) -> None:
        """Interrupt the loop's wait (thread-safe, signal-safe)."""
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop thread at its next turn (thread-safe)."""
        self._calls.append(fn)
        self.wake()

    def log(self, text: str) -> None:
        """A diagnostic line on stderr."""
        try:
            sys.__stderr__.write(f"skyward_worker[{os.getpid()}]: {text}\n")  # type: ignore[union-attr]
            sys.__stderr__.flush()  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001
            pass

    def fatal(self, text: str, code: int) -> None:
        """Report an error on stderr and as ``log {stream: agent, level: error}``; stop with ``code``."""
        self.log(f"error: {text}")
        self.channel.send_now({"type": "log", "stream": "agent", "level": "error", "line": text,
                               "node": self.config.node_index})
        if self.exit_code == EXIT_OK:
            self.exit_code = code
        self.stop()

    def stop(self) -> None:
        """Leave the loop at its next turn (thread-safe)."""
        self._stopping = True
        self.wake()

    # -- set-up --------------------------------------------------------------------------

    def _make_executor(self) -> Executor:
        if self.config.executor == "thread":
            from .slots_thread import ThreadExecutor

            return ThreadExecutor(self)
        from .slots_process import ProcessExecutor

        return ProcessExecutor(self)

    def _heartbeat(self) -> None:
        self._seq += 1
        beat: Heartbeat = {"type": "heartbeat", "seq": self._seq, "time": time.time()}
        stats = self._machine_stats.read()  # the machine's load, where it can be read (Linux)
        if stats.cpu is not None:
            beat["cpu"] = stats.cpu
        if stats.mem_used is not None:
            beat["memUsed"] = stats.mem_used
        if stats.mem_total is not None:
            beat["memTotal"] = stats.mem_total
        self.channel.send(beat)

    # -- input ---------------------------------------------------------------------------

    def _on_stdin(self) -> None:
        try:
            data = os.read(self.input_fd, _READ_SIZE)
        except (InterruptedError, BlockingIOError):  # a spurious wake-up: nothing to read yet
            return
        except OSError as exc:
            self.log(f"stdin read failed: {exc}; shutting down")
            self.stop()
            return
        self._on_input(data)

    def _on_input(self, data: bytes) -> None:
        if not data:
            self.log("input closed; stopping")  # Node is gone or closed us
            self.stop()
            return
        try:
            messages = self._decoder.feed(data)
        except WireError as exc:
            self.fatal(f"cannot decode a frame from Node ({type(exc).__name__}: {exc}); "
                       "the channel is not trustworthy any more", EXIT_PROTOCOL)
            return
        for message in messages:
            self._on_message(message)

    def _on_message(self, m: Message) -> None:
        if m["type"] == "submit":
            self._on_submit(m)
        elif m["type"] == "cancel":
            self.executor.cancel(m["id"], only_queued=m.get("only") == "queued")
        elif m["type"] == "blob":
            self._on_blob(m)
        elif m["type"] == "shutdown":
            self.log(f"asked to shut down ({m.get('reason', 'no reason given')}); stopping")
            self.stop()
        elif m["type"] in ("heartbeat", "hello"):
            pass
        else:
            self.log(f"ignoring unexpected {m['type']!r} message")

    def _on_submit(self, m: Submit) -> None:
        tid = m["id"]
        kind = m["kind"]
        payload = m.get("payload")
        fn = m.get("fn")
        args = m.get("args")
        problem: str | None = None
        if kind == "pickle" and not isinstance(payload, (bytes, bytearray)):
            problem = "submit of kind 'pickle' needs a bytes 'payload'"
        elif kind == "call" and not isinstance(fn, str):
            problem = "submit of kind 'call' needs a text 'fn' ('module:function')"
        elif args is not None and not isinstance(args, list):
            problem = "submit 'args' must be an array"
        if problem is not None:
            self.channel.send(error_message(tid, "protocol", PROTOCOL_EXC_TYPE, problem,
                                            node=self.config.node_index))
            return
        paths: tuple[str, ...] | None = None
        blobs = m.get("blobs")
        if blobs:
            refused = next((self._refused[b] for b in blobs if b in self._refused), None)
            if refused is not None:
                self.channel.send(error_message(tid, "pickle", "skyward.BlobTooLarge", refused,
                                                node=self.config.node_index))
                return
            try:
                paths = self.blobs.paths(blobs)
            except BlobMissing as exc:  # Node sends it again, then the task
                self.channel.send(exc.error(tid, self.config.node_index))
                return
        timeout = m.get("timeout")
        self.executor.submit(TaskRequest(tid, kind, payload, fn, args, paths),
                             float(timeout) if timeout and timeout > 0 else None)

    def _on_blob(self, m: Blob) -> None:
        key, data = m["hash"], m["data"]
        try:
            problem = self.blobs.put(key, data, m.get("offset", 0), m.get("total"))
        except OSError as exc:
            problem = f"cannot store blob {key}: {exc}"
        if problem is not None:
            self.log(f"{problem}; dropped")
            self._refused[key] = problem

    def _on_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _stdin_thread(self) -> None:
        """Fallback reader when stdin cannot be polled (e.g. a regular file)."""
        while True:
            try:
                data = os.read(self.input_fd, _READ_SIZE)
            except InterruptedError:
                continue
            except OSError:
                data = b""
            self.call_soon(functools.partial(self._on_input, data))
            if not data:
                return

    # -- loop ----------------------------------------------------------------------------

    def run(self) -> int:
        """Start the slots and serve until shutdown / EOF / SIGTERM; return the exit code.

        ``hello`` has been sent already (:func:`send_hello`).
        """
        try:
            check_specs(self.config.task_hooks + self.config.app_hooks)
        except HookError as exc:
            self.fatal(str(exc), EXIT_HOOK)
            return self.exit_code
        sel = self.selector
        sel.register(self._wake_r, selectors.EVENT_READ, self._on_wake)
        try:
            sel.register(self.input_fd, selectors.EVENT_READ, self._on_stdin)
        except (OSError, ValueError):
            threading.Thread(target=self._stdin_thread, name="skyward-stdin", daemon=True).start()
        self.executor.start()

        interval = self.config.heartbeat_interval
        now = time.monotonic()
        next_beat = now
        calls, channel, executor = self._calls, self.channel, self.executor
        try:
            while not self._stopping:
                if now >= next_beat:
                    self._heartbeat()
                    next_beat = max(next_beat + interval, now)
                deadline = executor.expire(now)
                wake_at = next_beat if deadline is None else min(next_beat, deadline)
                channel.flush()
                if self._stopping:
                    break
                for key, _ in sel.select(max(0.0, wake_at - now)):
                    key.data()
                while calls:
                    calls.popleft()()
                now = time.monotonic()
        except OSError as exc:  # the frame stream broke (Node went away)
            self.log(f"frame stream closed: {exc}")
        finally:
            self.executor.shutdown()
            self.blobs.close()
            try:
                channel.flush()
            except OSError:
                pass
        return self.exit_code


def send_hello(channel: Channel, config: Config) -> None:
    """Send ``hello`` at once (before the executor's imports and slot start-up)."""
    channel.send({
        "type": "hello", "protocol": PROTOCOL_VERSION, "role": "agent", "pid": os.getpid(),
        "slots": config.concurrency, "node": config.node_index,
        "python": "{}.{}.{}".format(*sys.version_info[:3]),
    })
    channel.flush()


def _start_line(channel: Channel, config: Config, text: str, level: str) -> None:
    """A line of the agent's start-up: on stderr (Node keeps the last ones, and shows them if the start fails)
    and as ``log {stream: agent}``."""
    try:
        sys.__stderr__.write(f"skyward_worker[{os.getpid()}]: {'error: ' if level == 'error' else ''}{text}\n")  # type: ignore[union-attr]
        sys.__stderr__.flush()  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001
        pass
    channel.send_now({"type": "log", "stream": "agent", "level": level, "line": text, "node": config.node_index})


def prepare_volumes(channel: Channel, config: Config) -> int:
    """Fetch / check every ``--volume`` (before hello: no task may run without them) into ``config.mounts``;
    return :data:`EXIT_VOLUME` after one line naming the volume and the fix when one cannot be prepared."""
    from .volume_prepare import prepare
    from .volume_spec import VolumeError

    try:
        config.mounts = prepare(config.volumes, lambda line: _start_line(channel, config, line, "info"))
    except VolumeError as exc:
        _start_line(channel, config, str(exc), "error")
        return EXIT_VOLUME
    except Exception as exc:  # noqa: BLE001 - last resort: say what happened
        _start_line(channel, config, f"volumes: internal error: {type(exc).__name__}: {exc}", "error")
        return EXIT_INTERNAL
    return EXIT_OK


def run_agent(config: Config) -> int:
    """Take the environment from the input (``--env-on-input``), protect stdin and stdout, prepare the
    volumes (``--volume``), say hello, set the task environment and ``sys.path``, and run an :class:`Agent`."""
    if config.env_on_input:
        try:
            os.environ.update(read_env_input(0))
        except (EnvInputError, OSError) as exc:
            sys.stderr.write(f"skyward agent: {exc}\n")
            return EXIT_PROTOCOL
    if not os.isatty(0):
        lead_new_group()  # what tasks start joins it: the agent ends them on its way out (see __main__)
    channel = Channel(protect_stdout())
    input_fd = protect_stdin()
    if config.volumes:
        code = prepare_volumes(channel, config)
        if code != EXIT_OK:
            return code
    try:
        send_hello(channel, config)
    except OSError:
        return EXIT_OK  # nobody is listening
    os.environ["SKYWARD_NODE_INDEX"] = str(config.node_index)
    os.environ["SKYWARD_NODE_COUNT"] = str(config.node_count)
    os.environ.update(config.blas_env())  # before anything imports numpy (inherited by slots)
    agent = Agent(config, channel, input_fd)
    # after the agent's own imports (a project module must not shadow them), before any slot
    # starts: process slots inherit this sys.path (forkserver preload, spawn) and thread slots share it
    config.sys_path = apply_sys_path(config.sys_path)

    def on_signal(signum: int, frame: Any) -> None:
        agent.log(f"got {signal.Signals(signum).name}; stopping")
        agent.stop()

    def on_sigint_in_threads(signum: int, frame: Any) -> None:
        # thread slots run tasks in this process: SIGINT here came from a task (see interrupts)
        agent.log(f"got SIGINT; interrupted {interrupt_running_tasks()} running task(s)")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_sigint_in_threads if config.executor == "thread" else on_signal)
    signal.set_wakeup_fd(agent._wake_w)
    try:
        return agent.run()
    except Exception as exc:  # noqa: BLE001 - last resort: say what happened
        import traceback

        agent.log("internal error:\n" + traceback.format_exc())
        agent.channel.send_now({"type": "log", "stream": "agent", "level": "error",
                                "line": f"internal error: {type(exc).__name__}: {exc}"})
        return EXIT_INTERNAL
