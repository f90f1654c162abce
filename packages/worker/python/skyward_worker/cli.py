"""Command line and configuration of the agent."""
from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from .volume_spec import Mount, VolumeSpec, check_distinct, parse_volume

DEFAULT_MAX_BLOB_BYTES = 1 << 30

# Environment variables that cap the thread pools of BLAS / OpenMP runtimes (as loky does).
BLAS_THREAD_VARS: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def cpu_count() -> int:
    """CPUs usable by this process (affinity aware where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class Config:
    """Everything the agent and its slots need to know; picklable (sent to slot children).

    A plain class rather than a dataclass: ``dataclasses`` costs start-up time (it imports
    ``inspect``) and the agent sends ``hello`` as early as it can.
    """

    __slots__ = ("node_index", "node_count", "concurrency", "cpus", "executor", "heartbeat_interval",
                 "task_hooks", "app_hooks", "max_blob_bytes", "start_method", "sys_path", "env_on_input",
                 "volumes", "mounts")

    def __init__(
        self,
        node_index: int = 0,
        node_count: int = 1,
        concurrency: int | None = None,
        executor: str = "process",
        heartbeat_interval: float = 1.0,
        task_hooks: tuple[str, ...] = (),
        app_hooks: tuple[str, ...] = (),
        max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES,
        start_method: str | None = None,  # process executor: "forkserver" | "spawn"
        cpus: int | None = None,
        sys_path: tuple[str, ...] = (),
        env_on_input: bool = False,
        volumes: tuple[VolumeSpec, ...] = (),
    ) -> None:
        self.node_index = node_index
        self.node_count = node_count
        self.concurrency = concurrency if concurrency is not None else cpu_count()
        # this node's share of the machine: less than all of it when several nodes share one machine
        self.cpus = cpus if cpus is not None else cpu_count()
        self.executor = executor
        self.heartbeat_interval = heartbeat_interval
        self.task_hooks = tuple(task_hooks)
        self.app_hooks = tuple(app_hooks)
        self.max_blob_bytes = max_blob_bytes
        self.start_method = start_method
        # folders put first on sys.path (relative ones against the agent's current directory)
        self.sys_path = tuple(sys_path)
        # environment variables arrive as the first line of the input (see env_input)
        self.env_on_input = env_on_input
        self.volumes = tuple(volumes)
        # the volumes once prepared (before hello): what the slots' path redirect needs
        self.mounts: tuple[Mount, ...] = ()

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"Config({fields})"

    @property
    def blas_threads(self) -> int:
        """Threads each slot may give BLAS / OpenMP: ``max(1, cpus // concurrency)``."""
        return max(1, self.cpus // max(1, self.concurrency))

    def blas_env(self) -> dict[str, str]:
        """BLAS thread caps, respecting values the user already set in the environment."""
        n = str(self.blas_threads)
        return {var: os.environ.get(var, n) for var in BLAS_THREAD_VARS}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _hook_spec(text: str) -> str:
    module, sep, attr = text.partition(":")
    if not sep or not module or not attr:
        raise argparse.ArgumentTypeError(f"expected module:attr, got {text!r}")
    return text


def _volume(text: str) -> VolumeSpec:
    try:
        return parse_volume(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The agent's argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m skyward_worker",
        description="Skyward worker agent: frames on stdin/stdout, logs on stderr.",
    )
    p.add_argument("--node-index", type=_non_negative_int, default=0)
    p.add_argument("--node-count", type=_positive_int, default=1)
    p.add_argument("--concurrency", type=_positive_int, default=None,
                   help="number of slots (default: CPU count)")
    p.add_argument("--cpus", type=_positive_int, default=None,
                   help="CPUs this node's slots share for their BLAS / OpenMP threads (default: CPU "
                        "count; the local provider gives each of its nodes a share of one machine)")
    p.add_argument("--executor", choices=("process", "thread"), default="process")
    p.add_argument("--heartbeat-interval", type=_positive_float, default=1.0, metavar="SECONDS")
    p.add_argument("--task-hook", type=_hook_spec, action="append", default=[],
                   metavar="MODULE:ATTR", help="decorator applied to every task (repeatable)")
    p.add_argument("--app-hook", type=_hook_spec, action="append", default=[],
                   metavar="MODULE:ATTR",
                   help="context manager factory entered once per worker process (repeatable)")
    p.add_argument("--max-blob-bytes", type=_non_negative_int, default=DEFAULT_MAX_BLOB_BYTES)
    p.add_argument("--sys-path", action="append", default=[], metavar="DIR",
                   help="a folder to put first on sys.path of the agent and every slot, in the "
                        "order given (repeatable; relative to the current directory). Given, the "
                        "current directory is no longer on sys.path unless it is one of them, as "
                        "with `python script.py` for a script in DIR")
    p.add_argument("--env-on-input", action="store_true",
                   help="read environment variables from the first line of stdin (a JSON object) "
                        "before any frame: values that must not appear on a command line")
    p.add_argument("--volume", type=_volume, action="append", default=[], metavar="JSON",
                   help='data every task sees at a path (repeatable): {"source": "s3://bucket/prefix" or '
                        '"/folder/on/the/node", "path": "/data", "writable": false}; S3 objects are '
                        "fetched before hello into a cache kept across pools")
    p.add_argument("--start-method", choices=("forkserver", "spawn"), default=None,
                   help=argparse.SUPPRESS)
    return p


def parse_args(argv: Sequence[str]) -> Config:
    """Parse ``argv`` (without the program name) into a :class:`Config`."""
    ns = build_parser().parse_args(list(argv))
    if ns.node_index >= ns.node_count:
        build_parser().error(f"--node-index {ns.node_index} must be < --node-count {ns.node_count}")
    hooks_t: list[str] = ns.task_hook
    hooks_a: list[str] = ns.app_hook
    sys_path: list[str] = ns.sys_path
    if any(not entry for entry in sys_path):
        build_parser().error("--sys-path needs a folder, got an empty one")
    volumes: tuple[VolumeSpec, ...] = tuple(ns.volume)
    try:
        check_distinct(volumes)
    except ValueError as exc:
        build_parser().error(f"argument --volume: {exc}")
    return Config(
        node_index=ns.node_index,
        node_count=ns.node_count,
        concurrency=ns.concurrency,
        cpus=ns.cpus,
        executor=ns.executor,
        heartbeat_interval=ns.heartbeat_interval,
        task_hooks=tuple(hooks_t),
        app_hooks=tuple(hooks_a),
        max_blob_bytes=ns.max_blob_bytes,
        start_method=ns.start_method,
        sys_path=tuple(sys_path),
        env_on_input=ns.env_on_input,
        volumes=volumes,
    )
