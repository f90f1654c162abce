"""Where a pool's nodes come from: :class:`Local`, :class:`SSH` and :class:`AWS`, each the engine's
(``skyward up``'s) provider flags as a small frozen record.

Nothing here starts anything: :meth:`Provider.flags` only spells the command-line flags, and every
record checks its own values when it is made, so a mistake is reported before any node is asked for.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Union

PathLike = Union[str, "os.PathLike[str]"]
"""A file's path: a string or a :class:`pathlib.Path`."""

ALLOCATIONS = ("spot", "on-demand", "spot-if-available")
"""The AWS allocation strategies the engine knows (``--allocation``)."""

DEFAULT_ALLOCATION = "spot-if-available"
"""Spot instances when there are some, else on-demand (the engine's default too)."""

ADDRESSES = ("public", "private")
"""How the engine reaches EC2 instances (``--address``)."""


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _path(value: PathLike, what: str) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path (str or os.PathLike), got {type(value).__name__}")
    return os.path.expanduser(_text(os.fspath(value), what))


def _paths(value: PathLike | Sequence[PathLike] | None, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, os.PathLike)):
        return (_path(value, what),)
    return tuple(_path(item, what) for item in value)


def _texts(value: str | Sequence[str] | None, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # one value, not the letters of it
        return (_text(value, what),)
    return tuple(_text(item, what) for item in value)


def _positive(value: int | None, what: str, *, zero: bool = False) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1):
        least = "0 or more" if zero else "1 or more"
        raise ValueError(f"{what} must be an integer, {least}; got {value!r}")
    return value


@dataclass(frozen=True)
class Local:
    """Nodes as processes on this machine (``--provider local``)."""

    name: ClassVar[str] = "local"

    def flags(self) -> list[str]:
        """The engine's flags for this provider."""
        return ["--provider", self.name]


@dataclass(frozen=True)
class SSH:
    """Your own machines over SSH (``--provider ssh``), one node per host.

    ``hosts``: each ``[user@]host[:port]`` (a single string is one host). ``user``: the login for the
    hosts that do not name one. ``identity``: the private key file. ``known_hosts``: known_hosts
    files to verify host keys with (default: ``~/.ssh/known_hosts`` and Skyward's own).
    ``trust_on_first_use``: accept and record the key of a host never seen before (a changed key is
    still refused).
    """

    hosts: Sequence[str]
    identity: PathLike | None = None
    user: str | None = None
    known_hosts: PathLike | Sequence[PathLike] | None = None
    trust_on_first_use: bool = False

    name: ClassVar[str] = "ssh"

    def __post_init__(self) -> None:
        hosts = _texts(self.hosts, "SSH hosts")
        if not hosts:
            raise ValueError("SSH(hosts=[...]) needs at least one host, such as 'me@node1'")
        for host in hosts:
            if "," in host or any(ch.isspace() for ch in host):
                raise ValueError(f"SSH host {host!r}: give each host as its own item of hosts=[...]")
        object.__setattr__(self, "hosts", hosts)
        if self.user is not None:
            _text(self.user, "SSH user")
        if self.identity is not None:
            object.__setattr__(self, "identity", _path(self.identity, "SSH identity"))
        object.__setattr__(self, "known_hosts", _paths(self.known_hosts, "SSH known_hosts"))

    def flags(self) -> list[str]:
        """The engine's flags for this provider."""
        hosts = [host if "@" in host or self.user is None else f"{self.user}@{host}" for host in self.hosts]
        flags = ["--provider", self.name, "--hosts", ",".join(hosts)]
        if self.identity is not None:
            flags += ["--identity", os.fspath(self.identity)]
        for path in _paths(self.known_hosts, "SSH known_hosts"):
            flags += ["--known-hosts", path]
        if self.trust_on_first_use:
            flags.append("--trust-on-first-use")
        return flags


@dataclass(frozen=True)
class AWS:
    """EC2 instances made for the pool and removed with it (``--provider aws``). Credentials and
    region are found as the aws CLI finds them (``AWS_PROFILE``, ``AWS_REGION``, ``~/.aws``).

    ``instance_type``: default c6i.large, or the region's cheapest type with ``vcpus``, ``memory`` (GiB)
    and ``gpu`` (``"T4"``, ``"A10G:4"``) when any is given. ``allocation``: spot, on-demand or
    spot-if-available.
    ``ttl``: minutes an idle instance lives before powering off (0: never; the engine's default 30).
    ``ami``/``user``: the image and its login user (default: the latest Ubuntu LTS, ``ubuntu``).
    ``endpoint``: an EC2/SSM endpoint URL instead of AWS's (an emulator's, a VPC endpoint).
    ``address``/``subnet``/``security_groups``/``ssh_cidr``/``power_off_command``: as the CLI's flags
    of the same names.
    """

    region: str | None = None
    instance_type: str | None = None
    allocation: str = DEFAULT_ALLOCATION
    profile: str | None = None
    ami: str | None = None
    ttl: int | None = None
    endpoint: str | None = None
    user: str | None = None
    address: str | None = None
    subnet: str | None = None
    security_groups: str | Sequence[str] | None = None
    ssh_cidr: str | None = None
    power_off_command: str | None = None
    vcpus: int | None = None
    memory: float | None = None
    gpu: str | None = None

    name: ClassVar[str] = "aws"

    def __post_init__(self) -> None:
        if self.allocation not in ALLOCATIONS:
            raise ValueError(f"AWS allocation must be one of {', '.join(ALLOCATIONS)}; got {self.allocation!r}")
        if self.address is not None and self.address not in ADDRESSES:
            raise ValueError(f"AWS address must be one of {', '.join(ADDRESSES)}; got {self.address!r}")
        _positive(self.ttl, "AWS ttl (minutes)", zero=True)
        _positive(self.vcpus, "AWS vcpus")
        if self.memory is not None and (isinstance(self.memory, bool) or not isinstance(self.memory, (int, float))
                                        or not self.memory > 0):
            raise ValueError(f"AWS memory must be GiB, more than 0; got {self.memory!r}")
        for what in ("region", "instance_type", "profile", "ami", "endpoint", "user", "subnet", "ssh_cidr",
                     "power_off_command", "gpu"):
            value = getattr(self, what)
            if value is not None:
                _text(value, f"AWS {what}")
        object.__setattr__(self, "security_groups", _texts(self.security_groups, "AWS security_groups"))

    def with_instance_type(self, instance_type: str) -> AWS:
        """This provider with ``instance_type`` (the pools' ``machine=``)."""
        return replace(self, instance_type=instance_type)

    def with_resources(self, vcpus: int | None, memory: float | None, gpu: str | None) -> AWS:
        """This provider asking for machines with ``vcpus``, ``memory`` GiB and ``gpu`` (the pools'
        ``cpu=``, ``memory=`` and ``accelerator=``; None keeps what it has)."""
        return replace(self, vcpus=self.vcpus if vcpus is None else vcpus,
                       memory=self.memory if memory is None else memory, gpu=self.gpu if gpu is None else gpu)

    def with_allocation(self, allocation: str) -> AWS:
        """This provider with ``allocation`` (the pools' ``allocation=``)."""
        return replace(self, allocation=allocation)

    def flags(self) -> list[str]:
        """The engine's flags for this provider."""
        flags = ["--provider", self.name, "--allocation", self.allocation]
        for flag, value in (("--region", self.region), ("--instance-type", self.instance_type),
                            ("--profile", self.profile), ("--ami", self.ami), ("--endpoint", self.endpoint),
                            ("--user", self.user), ("--address", self.address), ("--subnet", self.subnet),
                            ("--ssh-cidr", self.ssh_cidr), ("--power-off-command", self.power_off_command),
                            ("--gpu", self.gpu)):
            if value is not None:
                flags += [flag, value]
        if self.vcpus is not None:
            flags += ["--vcpus", str(self.vcpus)]
        if self.memory is not None:
            flags += ["--memory", f"{self.memory:g}"]
        if self.ttl is not None:
            flags += ["--ttl", str(self.ttl)]
        for group in _texts(self.security_groups, "AWS security_groups"):
            flags += ["--security-group", group]
        return flags


Provider = Union[Local, SSH, AWS]
"""What a pool's ``provider=`` takes."""
