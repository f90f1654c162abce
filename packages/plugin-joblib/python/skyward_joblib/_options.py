"""A pool's options as the engine's (``skyward up``'s) command-line flags.

:func:`pool_flags` checks every option before anything starts and turns the parameters of the
Python Skyward's ``JoblibPool`` that this engine has no meaning for into a clear error saying what
to use instead.
"""
from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from ._providers import AWS, DEFAULT_ALLOCATION, SSH, Local, PathLike, Provider
from ._volumes import VolumeOption, volume_flags

EXECUTORS = ("process", "thread")
"""What runs tasks on a node (``--executor``)."""

_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DURATION = re.compile(r"^(\d+(\.\d+)?(ms|s|m|h|d)?|off)$")
IDLE_OFF = "off"
"""``idle=`` for a pool that never closes for being unused."""

Duration = Union[int, float, str]
"""A duration: seconds as a number, or the engine's text (``"90s"``, ``"30m"``, ``"2h"``)."""

NodeCount = Union[int, tuple[int, int], Mapping[str, int]]
"""``nodes=``: a count, or an elastic pool's fewest and most: ``(1, 4)`` or ``{"min": 1, "max": 4}``."""

WorkdirOption = Union[PathLike, bool, None]
"""``workdir=``: a folder, None (the current directory) or False (send none)."""


@dataclass(frozen=True)
class PoolOptions:
    """Everything a pool is opened with, checked; :meth:`flags` spells it for the engine."""

    provider: Provider = field(default_factory=Local)
    nodes: str | None = None  # the engine's --nodes: "4", or "1..4" for an elastic pool
    scale_down_after: str | None = None
    volumes: tuple[str, ...] = ()  # the engine's --volume values
    concurrency: int | None = None
    plugins: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    executor: str | None = None
    timeout: float | None = None
    workdir: str | bool | None = None
    python: str | None = None
    name: str | None = None
    idle: str | None = None
    quiet: bool = False  # the engine's progress is shown, or only its notes and errors (--quiet)
    extra_args: tuple[str, ...] = ()

    def flags(self) -> list[str]:
        """The engine's flags (``--env`` values are not among them: see :attr:`env`)."""
        flags = self.provider.flags()
        if self.name is not None:
            flags += ["--name", self.name]
        if self.nodes is not None:
            flags += ["--nodes", self.nodes]
        if self.scale_down_after is not None:
            flags += ["--scale-down-after", self.scale_down_after]
        for volume in self.volumes:
            flags += ["--volume", volume]
        if self.concurrency is not None:
            flags += ["--concurrency", str(self.concurrency)]
        if self.executor is not None:
            flags += ["--executor", self.executor]
        for plugin in self.plugins:
            flags += ["--plugin", plugin]
        for requirement in self.pip:
            flags += ["--pip", requirement]
        for key in self.env:
            flags += ["--env", key]  # its value goes in the engine's environment, not on its command line
        if self.timeout is not None:
            flags += ["--timeout", _number(self.timeout)]
        if self.workdir is False:
            flags.append("--no-workdir")
        elif isinstance(self.workdir, str):
            flags += ["--workdir", self.workdir]
        if self.python is not None:
            flags += ["--python", self.python]
        if self.idle is not None:
            flags += ["--idle", self.idle]
        if self.quiet:
            flags.append("--quiet")
        return [*flags, *self.extra_args]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _positive_int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an integer, 1 or more; got {value!r}")
    return value


def _node_count(nodes: NodeCount | None) -> str | None:
    """``nodes=`` as the engine's ``--nodes``: ``"4"``, or ``"1..4"`` for an elastic pool."""
    if nodes is None or isinstance(nodes, int):
        count = _positive_int(nodes, "nodes")
        return None if count is None else str(count)
    pair = (nodes.get("min"), nodes.get("max")) if isinstance(nodes, Mapping) else tuple(nodes)
    if len(pair) != 2 or (isinstance(nodes, Mapping) and set(nodes) != {"min", "max"}):
        raise ValueError(f"nodes must be a count, (min, max) or {{'min': ..., 'max': ...}}; got {nodes!r}")
    low, high = _positive_int(pair[0], "nodes' min"), _positive_int(pair[1], "nodes' max")
    assert low is not None and high is not None
    if low > high:
        raise ValueError(f"nodes: min ({low}) must not be above max ({high})")
    return f"{low}..{high}"


def _texts(value: str | Sequence[str] | None, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{what} must be non-empty strings; got {item!r}")
    return items


def _version(value: str | None, package: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, str) or not re.match(r"^[0-9A-Za-z.!+*-]+$", value):
        raise ValueError(f"{package} version must be a version such as '1.5.2'; got {value!r}")
    return (f"{package}=={value}",)


def _duration(value: Duration | None, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"{what} must be seconds (a number), a duration such as '30m', or 'off'; got {value!r}")
    if isinstance(value, str):
        if not _DURATION.match(value.strip()):
            raise ValueError(f"{what} must be a duration such as '90s', '30m' or '2h', or 'off'; got {value!r}")
        return value.strip()
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be more than 0 seconds; got {value!r}")
    return f"{_number(value)}s"


_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(|[GMT]i?B?)\s*$", re.IGNORECASE)
_GIB_PER_UNIT = {"": 1.0, "G": 1.0, "M": 1 / 1024, "T": 1024.0}


def _gib(memory: Any) -> float:
    """The seeds' ``memory=`` ("32GB", "512MiB", 16) as GiB."""
    if isinstance(memory, (int, float)) and not isinstance(memory, bool) and memory > 0:
        return float(memory)
    match = _MEMORY.match(memory) if isinstance(memory, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f'memory must be a size such as "32GB" or a number of GiB; got {memory!r}')
    return float(match.group(1)) * _GIB_PER_UNIT[match.group(2)[:1].upper()]


def _resources(provider: Provider, accelerator: Any, cpu: Any, memory: Any) -> Provider:
    """The seeds' ``cpu=``, ``memory=`` and ``accelerator=``: on AWS, what the instance type is chosen by."""
    if accelerator is None and cpu is None and memory is None:
        return provider
    if not isinstance(provider, AWS):
        asked = (("cpu=", cpu), ("memory=", memory), ("accelerator=", accelerator))
        given = ", ".join(name for name, value in asked if value is not None)
        raise TypeError(f"{given} apply with provider=AWS() only (they choose its instance type): a "
                        f"{provider.name} node is the machine it runs on; set concurrency= (task slots per node)")
    if accelerator is not None and not isinstance(accelerator, str):
        raise TypeError(f'accelerator must be a GPU as EC2 names it, such as "T4" or "A10G:4"; got {accelerator!r}')
    if cpu is not None:
        _positive_int(cpu, "cpu (vCPUs per node)")
    return provider.with_resources(cpu, None if memory is None else _gib(memory), accelerator)


def _unsupported(image: Any) -> None:
    """The Python Skyward's parameters that this engine has no meaning for: a TypeError saying what
    to use instead."""
    if image is not None:
        raise TypeError("image= is not supported: the workers' environment is joblib (scikit-learn with "
                        "ScikitLearnPool) plus pip=[...] requirements, env={...} variables, or a mirror "
                        "of your virtual environment (the default when this Python runs in one; "
                        "python=PATH for another)")


def _provider(provider: Provider | None, machine: str | None, allocation: str | None) -> Provider:
    provider = Local() if provider is None else provider
    if not isinstance(provider, (Local, SSH, AWS)):
        raise TypeError(f"provider must be Local(), SSH(hosts=[...]) or AWS(...); got {provider!r}")
    if machine is not None:
        if not isinstance(provider, AWS):
            raise ValueError(f"machine={machine!r} is an EC2 instance type: it applies with provider=AWS() "
                             f"only (a {provider.name} node is the machine it runs on)")
        if provider.instance_type not in (None, machine):
            raise ValueError(f"machine={machine!r} and AWS(instance_type={provider.instance_type!r}) disagree: "
                             "give one of them")
        provider = provider.with_instance_type(machine)
    if allocation is not None:
        if not isinstance(provider, AWS):
            raise ValueError(f"allocation={allocation!r} applies with provider=AWS() only")
        if provider.allocation not in (DEFAULT_ALLOCATION, allocation):
            raise ValueError(f"allocation={allocation!r} and AWS(allocation={provider.allocation!r}) disagree: "
                             "give one of them")
        provider = provider.with_allocation(allocation)
    return provider


def pool_options(*, provider: Provider | None, nodes: NodeCount | None, concurrency: int | None,
                 plugin: str, requirements: Sequence[str] = (),
                 machine: str | None = None, image: Any = None, accelerator: Any = None, cpu: Any = None,
                 memory: Any = None, allocation: str | None = None, timeout: float | None = None,
                 executor: str | None = None, pip: str | Sequence[str] = (),
                 env: Mapping[str, str] | None = None, workdir: WorkdirOption = None,
                 python: PathLike | bool | None = None, plugins: str | Sequence[str] = (), name: str | None = None,
                 idle: Duration | None = None, scale_down_after: Duration | None = None,
                 volume: VolumeOption | Sequence[VolumeOption] | None = None, quiet: bool = False,
                 extra_args: Sequence[str] = ()) -> PoolOptions:
    """Checks a pool's parameters (see :class:`~skyward_joblib.JoblibPool`); ``plugin`` is the
    pool's own plugin, ``requirements`` its version pins."""
    provider = _resources(_provider(provider, machine, allocation), accelerator, cpu, memory)
    _unsupported(image)
    if executor is not None and executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}; got {executor!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not math.isfinite(timeout) or timeout <= 0):
        raise ValueError(f"timeout must be seconds, more than 0 (or None: no limit); got {timeout!r}")
    variables = dict(env or {})
    for key, value in variables.items():
        if not isinstance(key, str) or not _ENV_KEY.match(key):
            raise ValueError(f"env: {key!r} is not a variable name")
        if not isinstance(value, str):
            raise TypeError(f"env[{key!r}] must be a string; got {type(value).__name__}")
    if workdir is True:
        workdir = None
    elif workdir is not None and workdir is not False:
        if not isinstance(workdir, (str, os.PathLike)):
            raise TypeError(f"workdir must be a folder, None or False; got {workdir!r}")
        workdir = os.fspath(workdir)
    if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
        raise ValueError(f"name must be letters, digits, '.', '_' or '-' (not first); got {name!r}")
    if not isinstance(quiet, bool):
        raise TypeError(f"quiet must be True or False; got {quiet!r}")
    extra = _texts(extra_args, "extra_args") if extra_args else ()
    own = (plugin,)
    return PoolOptions(
        provider=provider,
        nodes=_node_count(nodes),
        scale_down_after=_duration(scale_down_after, "scale_down_after"),
        volumes=volume_flags(volume),
        concurrency=_positive_int(concurrency, "concurrency"),
        plugins=own + tuple(p for p in _texts(plugins, "plugins") if p not in own),
        pip=tuple(requirements) + _texts(pip, "pip"),
        env=variables,
        executor=executor,
        timeout=None if timeout is None else float(timeout),
        workdir=workdir if isinstance(workdir, (str, bool)) else None,
        python=_python(python),
        name=name,
        idle=_duration(idle, "idle"),
        quiet=quiet,
        extra_args=extra,
    )


def _python(python: PathLike | bool | None) -> str | None:
    """``--python``: None mirrors this process's virtual environment, False none (the Image), a path that Python."""
    if python is None or python is True:
        return own_environment()
    return None if python is False else os.fspath(python)


def own_environment() -> str | None:
    """This Python when it runs in a virtual environment (the workers then mirror the packages this
    process imports, as ``skyward run`` mirrors the active one), else None (the pool's Image)."""
    return sys.executable if sys.prefix != sys.base_prefix and sys.executable else None


def version_pins(joblib_version: str | None = None, sklearn_version: str | None = None) -> tuple[str, ...]:
    """``--pip`` requirements for the joblib / scikit-learn versions asked for."""
    return _version(joblib_version, "joblib") + _version(sklearn_version, "scikit-learn")
