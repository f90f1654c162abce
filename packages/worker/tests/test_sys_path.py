"""``--sys-path``: the workers' sys.path starts as ``python script.py``'s does on the client."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from skyward_worker.cli import parse_args
from skyward_worker.search_path import apply_sys_path, put_first, resolve_entries

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)

ONLY_HERE = "skyward_sp_only_here"  # a module that lives only in the --sys-path folder
IN_CWD = "skyward_sp_in_cwd"  # a module that lives only in the agent's current directory
SECOND = "skyward_sp_second"  # a module in the second --sys-path folder

PROBE_SOURCE = f'''
import importlib.util
import os
import sys

VALUE = 42


def probe():
    """Where this task stands: the head of sys.path, what it can import."""
    return {{
        "head": sys.path[:2],
        "cwd": os.getcwd(),
        "cwd_on_path": os.getcwd() in sys.path or "" in sys.path,
        "in_cwd": importlib.util.find_spec("{IN_CWD}") is not None,
    }}
'''


@pytest.fixture
def project(tmp_path: Path) -> dict[str, str]:
    """A project folder (the agent's current directory) with ``src/`` (the --sys-path folder)."""
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / f"{ONLY_HERE}.py").write_text(PROBE_SOURCE)
    (root / f"{IN_CWD}.py").write_text("VALUE = 'cwd'\n")
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / f"{SECOND}.py").write_text("VALUE = 'second'\n")
    real = os.path.realpath(str(root))
    return {"root": real, "src": os.path.join(real, "src"), "lib": os.path.realpath(str(lib))}


def _pickled_probe() -> dict[str, Any]:
    import skyward_sp_only_here  # type: ignore[import-not-found]  # only in the --sys-path folder
    import skyward_sp_second  # type: ignore[import-not-found]

    out: dict[str, Any] = skyward_sp_only_here.probe()
    out["value"] = skyward_sp_only_here.VALUE
    out["second"] = skyward_sp_second.VALUE
    return out


# -- the command line and the pure parts --------------------------------------------------------

def test_the_option_is_repeatable_and_kept_in_order() -> None:
    assert parse_args([]).sys_path == ()
    config = parse_args(["--sys-path", ".", "--sys-path", "/opt/lib", "--sys-path", "src"])
    assert config.sys_path == (".", "/opt/lib", "src")
    state = config.__getstate__()  # what slot processes are given
    assert state["sys_path"] == (".", "/opt/lib", "src")
    with pytest.raises(SystemExit):
        parse_args(["--sys-path", ""])


def test_entries_resolve_against_the_current_directory() -> None:
    assert resolve_entries([".", "src", "/opt/lib/", "src/../src", "/x/../y"], "/home/me/proj") == (
        "/home/me/proj", "/home/me/proj/src", "/opt/lib", "/y")


def test_apply_drops_the_launch_entry_and_puts_the_folders_first(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cwd = os.path.realpath(str(tmp_path))
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "path", [cwd, "/pythonpath", "/stdlib"])
    assert apply_sys_path(["src", "/opt/lib"]) == (os.path.join(cwd, "src"), "/opt/lib")
    assert sys.path == [os.path.join(cwd, "src"), "/opt/lib", "/pythonpath", "/stdlib"]
    put_first((os.path.join(cwd, "src"), "/opt/lib"))  # a slot process that already has it
    assert sys.path == [os.path.join(cwd, "src"), "/opt/lib", "/pythonpath", "/stdlib"]

    monkeypatch.setattr(sys, "path", [cwd, "/stdlib"])
    assert apply_sys_path(["."]) == (cwd,)  # the script's folder is the current directory
    assert sys.path == [cwd, "/stdlib"]

    monkeypatch.setattr(sys, "path", [cwd, "/stdlib"])
    assert apply_sys_path([]) == ()  # no --sys-path: unchanged
    assert sys.path == [cwd, "/stdlib"]

    monkeypatch.setattr(sys, "path", ["/pythonpath", "/stdlib"])  # nothing put there (python -P)
    apply_sys_path(["src"])
    assert sys.path == [os.path.join(cwd, "src"), "/pythonpath", "/stdlib"]


# -- a real agent ------------------------------------------------------------------------------

EXECUTORS: list[list[str]] = [
    ["--executor", "process"],  # forkserver: the preloading server gets the agent's sys.path
    ["--executor", "process", "--start-method", "spawn"],
    ["--executor", "thread"],  # the slots share the agent's sys.path
]


@pytest.mark.parametrize("executor", EXECUTORS, ids=["forkserver", "spawn", "thread"])
def test_tasks_import_from_the_sys_path_folders_first(start_agent, project, executor) -> None:  # type: ignore[no-untyped-def]
    a = start_agent("--concurrency", "2", *executor, "--sys-path", "src", "--sys-path", project["lib"],
                    cwd=project["root"])
    a.hello()
    a.submit(1, _pickled_probe)
    seen = a.value(1)
    assert seen["value"] == 42 and seen["second"] == "second"
    assert seen["head"] == [project["src"], project["lib"]]
    assert seen["cwd"] == project["root"]
    assert not seen["cwd_on_path"] and not seen["in_cwd"]  # as for `python src/script.py`
    a.call(2, f"{ONLY_HERE}:probe")  # a call task names a module found through --sys-path
    seen = a.value(2)
    assert seen["head"] == [project["src"], project["lib"]]
    assert not seen["in_cwd"]
    if "thread" not in executor:
        started = [a.take_type("started"), a.take_type("started")]
        assert all(m["pid"] != a.proc.pid for m in started)  # it ran in a slot process


@pytest.mark.parametrize("executor", EXECUTORS, ids=["forkserver", "spawn", "thread"])
def test_the_current_directory_is_the_head_when_it_is_the_folder(start_agent, project, executor) -> None:  # type: ignore[no-untyped-def]
    a = start_agent("--concurrency", "1", *executor, "--sys-path", ".", cwd=project["src"])
    a.call(1, f"{ONLY_HERE}:probe")
    seen = a.value(1)
    assert seen["head"][0] == project["src"] and seen["head"][1] != project["src"]


def test_without_the_option_the_current_directory_stays_importable(start_agent, project) -> None:  # type: ignore[no-untyped-def]
    a = start_agent("--concurrency", "1", cwd=project["root"])
    a.submit(1, lambda: __import__("skyward_sp_in_cwd").VALUE)
    assert a.value(1) == "cwd"
    a.call(2, "sys:getrecursionlimit")  # the agent runs as before
    assert isinstance(a.value(2), int)
