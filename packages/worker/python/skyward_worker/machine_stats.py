"""The load of the machine an agent runs on, sent with each heartbeat (``cpu``, ``memUsed``, ``memTotal``).

Read from ``/proc`` on Linux; elsewhere there is nothing to read and the heartbeat omits the fields.
The figures are the whole machine's, not the agent's own processes'.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

PROC_STAT = "/proc/stat"
PROC_MEMINFO = "/proc/meminfo"

#: ``/proc/stat``'s aggregate line: ``cpu  user nice system idle iowait irq softirq steal guest guest_nice``
#: (in jiffies since boot).
CPU_LINE_LABEL = "cpu"
#: The columns of the ``cpu`` line that count idle time: ``idle`` and ``iowait``.
IDLE_COLUMNS = (3, 4)
#: How many columns of the ``cpu`` line make up the total: ``user`` to ``steal``. ``guest`` and
#: ``guest_nice`` are already counted in ``user`` and ``nice``.
TOTAL_COLUMNS = 8

MEMINFO_TOTAL = "MemTotal"
MEMINFO_AVAILABLE = "MemAvailable"
#: ``/proc/meminfo`` gives sizes in kB (KiB).
MEMINFO_UNIT_BYTES = 1024


@dataclass(frozen=True)
class CpuTimes:
    """The machine's CPU time since boot, in jiffies: what was busy, and all of it."""

    busy: int
    total: int


@dataclass(frozen=True)
class MachineStats:
    """One reading of the machine's load; a figure that could not be read is ``None``."""

    #: The fraction of CPU time the machine spent busy since the previous reading, 0 to 1.
    cpu: float | None = None
    #: Bytes of memory in use: the total less what is available.
    mem_used: int | None = None
    #: Bytes of memory.
    mem_total: int | None = None


def parse_cpu_times(text: str) -> CpuTimes | None:
    """The aggregate ``cpu`` line of ``/proc/stat``'s ``text``, or ``None`` if it has none."""
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] != CPU_LINE_LABEL:
            continue
        try:
            columns = [int(p) for p in parts[1:TOTAL_COLUMNS + 1]]
        except ValueError:
            return None
        if len(columns) <= max(IDLE_COLUMNS):
            return None
        total = sum(columns)
        return CpuTimes(busy=total - sum(columns[i] for i in IDLE_COLUMNS), total=total)
    return None


def parse_meminfo(text: str) -> tuple[int | None, int | None]:
    """``(used, total)`` bytes from ``/proc/meminfo``'s ``text``; ``used`` is ``None`` without ``MemAvailable``
    (kernels before 3.14), either is ``None`` without ``MemTotal``."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in (MEMINFO_TOTAL, MEMINFO_AVAILABLE):
            fields = rest.split()
            if fields and fields[0].isdigit():
                values[name] = int(fields[0]) * MEMINFO_UNIT_BYTES
    total = values.get(MEMINFO_TOTAL)
    available = values.get(MEMINFO_AVAILABLE)
    if total is None:
        return None, None
    if available is None:
        return None, total
    return max(0, min(total, total - available)), total


def cpu_fraction(before: CpuTimes, after: CpuTimes) -> float | None:
    """The busy fraction between two readings, 0 to 1; ``None`` if no time passed between them."""
    elapsed = after.total - before.total
    if elapsed <= 0:
        return None
    return min(1.0, max(0.0, (after.busy - before.busy) / elapsed))


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


class MachineStatsReader:
    """Reads :class:`MachineStats`, each ``cpu`` over the time since the previous :meth:`read`
    (so the first reading has no ``cpu``)."""

    def __init__(self, proc_stat: str = PROC_STAT, proc_meminfo: str = PROC_MEMINFO,
                 enabled: bool = sys.platform.startswith("linux")) -> None:
        self._proc_stat = proc_stat
        self._proc_meminfo = proc_meminfo
        self._enabled = enabled
        self._previous: CpuTimes | None = None

    def read(self) -> MachineStats:
        if not self._enabled:
            return MachineStats()
        cpu: float | None = None
        stat = _read(self._proc_stat)
        times = parse_cpu_times(stat) if stat is not None else None
        if times is not None:
            if self._previous is not None:
                cpu = cpu_fraction(self._previous, times)
            self._previous = times
        meminfo = _read(self._proc_meminfo)
        used, total = parse_meminfo(meminfo) if meminfo is not None else (None, None)
        return MachineStats(cpu=cpu, mem_used=used, mem_total=total)
