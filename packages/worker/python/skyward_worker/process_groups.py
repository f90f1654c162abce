"""Process groups: the agent and each slot process lead one, so whatever a task starts ends with them.

A process a task starts (``subprocess.Popen``, a shell, ``multiprocessing``) joins the group of the
process running the task: a slot process's own group (process executor), or the agent's (thread
executor). Killing a slot's group ends the slot and everything its tasks left running; the agent
ends the other members of its own group on its way out. A process that leaves its group on purpose
(``start_new_session=True``, a daemon) is beyond reach: it escapes the terminal's Ctrl-C the same way.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Collection

_PROC = "/proc"


def lead_new_group() -> bool:
    """Make this process the leader of a group of its own (unless it leads one); True when it does.

    A session leader (an agent started by sshd, or ``setsid``) leads its group already.
    """
    try:
        if os.getpgrp() != os.getpid():
            os.setpgid(0, 0)
    except OSError:
        pass
    return os.getpgrp() == os.getpid()


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to every process of group ``pgid``; nothing when the group is gone.

    Safe after its leader died: a group's number is not given to a new process while any member lives.
    """
    if pgid <= 1:
        return  # never "every process" (-1) or the caller's own group by accident (0)
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _members_from_proc(pgid: int) -> list[int] | None:
    try:
        names = os.listdir(_PROC)
    except OSError:
        return None
    members: list[int] = []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"{_PROC}/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (comm)": state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid).encode() and fields[0] != b"Z":
            members.append(int(name))
    return members


def _members_from_ps(pgid: int) -> list[int]:
    try:
        out = subprocess.run(["ps", "-A", "-o", "pid=,pgid="], capture_output=True, text=True,
                             timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    members: list[int] = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == str(pgid) and parts[0].isdigit():
            members.append(int(parts[0]))
    return members


def group_members(pgid: int) -> list[int]:
    """Live processes of group ``pgid`` (``/proc`` on Linux, ``ps`` elsewhere)."""
    members = _members_from_proc(pgid) if sys.platform.startswith("linux") else None
    return members if members is not None else _members_from_ps(pgid)


def end_own_group(spare: Collection[int] = ()) -> None:
    """SIGKILL every other process of the group this process leads, except ``spare``.

    Does nothing unless this process leads its group: a group it merely belongs to is someone else's.
    """
    me = os.getpid()
    if os.getpgrp() != me:
        return
    for pid in group_members(me):
        if pid != me and pid not in spare:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
