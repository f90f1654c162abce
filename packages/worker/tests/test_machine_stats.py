"""The machine's load: reading /proc, and the heartbeats that carry it."""
from __future__ import annotations

import sys

import pytest

from skyward_wire import FrameDecoder, InvalidMessage, encode_frame
from skyward_worker.machine_stats import (
    CpuTimes,
    MachineStats,
    MachineStatsReader,
    cpu_fraction,
    parse_cpu_times,
    parse_meminfo,
)

STAT = """cpu  100 5 50 800 40 3 2 0 7 0
cpu0 50 2 25 400 20 1 1 0 3 0
cpu1 50 3 25 400 20 2 1 0 4 0
intr 12345 0 0
ctxt 999
"""

MEMINFO = """MemTotal:       16384000 kB
MemFree:         1000000 kB
MemAvailable:   12288000 kB
Buffers:          200000 kB
"""


def test_parse_cpu_times_sums_user_to_steal_and_counts_idle_and_iowait_as_idle():
    # user nice system idle iowait irq softirq steal (guest is inside user already)
    assert parse_cpu_times(STAT) == CpuTimes(busy=100 + 5 + 50 + 3 + 2 + 0, total=1000)


def test_parse_cpu_times_of_an_old_kernel_and_of_nonsense():
    assert parse_cpu_times("cpu  10 0 10 80 0\n") == CpuTimes(busy=20, total=100)
    assert parse_cpu_times("intr 1 2 3\n") is None
    assert parse_cpu_times("cpu  10 x 10 80\n") is None
    assert parse_cpu_times("cpu  10 0\n") is None
    assert parse_cpu_times("") is None


def test_parse_meminfo_in_bytes():
    assert parse_meminfo(MEMINFO) == ((16384000 - 12288000) * 1024, 16384000 * 1024)
    assert parse_meminfo("MemTotal: 1000 kB\nMemFree: 10 kB\n") == (None, 1024000)  # before Linux 3.14
    assert parse_meminfo("MemFree: 10 kB\n") == (None, None)
    assert parse_meminfo("") == (None, None)


def test_cpu_fraction_between_two_readings():
    assert cpu_fraction(CpuTimes(100, 1000), CpuTimes(150, 1200)) == 0.25
    assert cpu_fraction(CpuTimes(100, 1000), CpuTimes(300, 1200)) == 1.0
    assert cpu_fraction(CpuTimes(100, 1000), CpuTimes(100, 1000)) is None  # no time passed
    assert cpu_fraction(CpuTimes(100, 1000), CpuTimes(90, 1100)) == 0.0  # never below 0


def test_reader_gives_cpu_from_the_second_reading(tmp_path):
    stat, meminfo = tmp_path / "stat", tmp_path / "meminfo"
    stat.write_text("cpu  100 0 100 800 0 0 0 0 0 0\n")
    meminfo.write_text(MEMINFO)
    reader = MachineStatsReader(str(stat), str(meminfo), enabled=True)
    first = reader.read()
    assert first == MachineStats(cpu=None, mem_used=4096000 * 1024, mem_total=16384000 * 1024)
    stat.write_text("cpu  175 0 125 900 0 0 0 0 0 0\n")  # 100 more busy, 100 more idle
    assert reader.read().cpu == 0.5


def test_reader_omits_what_it_cannot_read(tmp_path):
    assert MachineStatsReader(enabled=False).read() == MachineStats()
    missing = MachineStatsReader(str(tmp_path / "no-stat"), str(tmp_path / "no-meminfo"), enabled=True)
    assert missing.read() == MachineStats() and missing.read() == MachineStats()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_reader_on_this_machine():
    reader = MachineStatsReader()
    first, second = reader.read(), reader.read()
    assert first.cpu is None
    assert first.mem_total is not None and first.mem_used is not None
    assert 0 < first.mem_used <= first.mem_total
    assert second.cpu is None or 0.0 <= second.cpu <= 1.0


def test_heartbeat_fields_on_the_wire():
    beat = {"type": "heartbeat", "seq": 3, "time": 1.5, "cpu": 0.25, "memUsed": 1 << 33, "memTotal": 1 << 34}
    assert FrameDecoder().feed(encode_frame(beat)) == [beat]  # type: ignore[arg-type]
    with pytest.raises(InvalidMessage):
        FrameDecoder().feed(encode_frame({**beat, "memUsed": 0.5}))  # type: ignore[arg-type]


@pytest.mark.timeout(60)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the agent reads /proc")
def test_heartbeats_carry_the_machine_load(start_agent):
    a = start_agent("--concurrency", "1", "--heartbeat-interval", "0.1")
    a.hello()
    beats = [a.take_type("heartbeat") for _ in range(5)]
    first, later = beats[0], beats[1:]
    assert first["seq"] == 1 and "cpu" not in first  # no interval to measure over yet
    for beat in beats:
        assert 0 < beat["memUsed"] <= beat["memTotal"]
        assert isinstance(beat["memUsed"], int) and isinstance(beat["memTotal"], int)
    cpus = [b["cpu"] for b in later if "cpu" in b]
    assert cpus, later  # 0.1 s is several jiffies of a machine's CPUs
    assert all(0.0 <= c <= 1.0 for c in cpus)
