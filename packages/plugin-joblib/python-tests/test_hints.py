"""Hints for modules and files a task did not find on its worker that the client has (``_hints``)."""
from __future__ import annotations

import errno
import importlib.util
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from skyward_joblib import RemoteTaskError, TaskPicklingError
from skyward_joblib._backend import error_from_message
from skyward_joblib._hints import (
    ENV_REPORT,
    add_hint,
    append_to_message,
    explain,
    hint_for_file,
    hint_for_module,
    load_report,
)

VENV = "a Python virtual environment (the workers mirror the active one instead)"


class Project:
    """A temporary project folder (the working directory that was sent) and its report."""

    def __init__(self, tmp_path: Path, monkeypatch: Any) -> None:
        self.root = Path(os.path.realpath(str(tmp_path))) / "project"
        self.root.mkdir()
        self.outside = self.root.parent / "elsewhere"
        self.outside.mkdir()
        self.report_file = self.root.parent / "workdir-report.json"
        self.monkeypatch = monkeypatch
        self.excluded: list[dict[str, str]] = []
        self.sys_path: list[str] = ["."]
        self.mirror = True
        self.sent = True

    def file(self, relative: str, text: str = "") -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def exclude(self, path: str, reason: str) -> None:
        self.excluded.append({"path": path, "reason": reason})

    def report(self) -> str:
        """Writes the report and points this process at it; returns its path."""
        self.report_file.write_text(json.dumps({
            "root": str(self.root) if self.sent else None, "limit": 100 << 20,
            "excluded": self.excluded, "sysPath": self.sys_path, "mirror": self.mirror}))
        self.monkeypatch.setenv(ENV_REPORT, str(self.report_file))
        return str(self.report_file)

    def module_hint(self, name: str) -> str | None:
        return hint_for_module(name, load_report(self.report()))

    def file_hint(self, filename: str, cwd: str | None = None) -> str | None:
        return hint_for_file(filename, load_report(self.report()), cwd=cwd or str(self.root))


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(str(tmp_path))
    return Project(tmp_path, monkeypatch)


def _importable(project: Project, folder: Path) -> None:
    """Puts ``folder`` on this process's sys.path, as the client's script would have it."""
    project.monkeypatch.syspath_prepend(str(folder))


# -- left out of what was sent -------------------------------------------------------------------

def test_a_module_ignored_by_gitignore(project: Project) -> None:
    project.file("skyhint_ignored.py")
    _importable(project, project.root)
    project.exclude("skyhint_ignored.py", f"ignored by {project.root}/.gitignore (rule skyhint_*)")
    hint = project.module_hint("skyhint_ignored")
    assert hint is not None
    assert "stayed behind" in hint and "rule skyhint_*" in hint
    assert f"`!skyhint_ignored.py` in {project.root}/.skywardignore" in hint


def test_a_module_in_a_folder_left_out_by_default(project: Project) -> None:
    project.file("vendored/skyhint_vendored/__init__.py")
    _importable(project, project.root / "vendored")
    project.exclude("vendored/", "left out by default (vendored/)")
    hint = project.module_hint("skyhint_vendored")
    assert hint is not None and "left out by default" in hint
    assert f"`!vendored/` in {project.root}/.skywardignore" in hint


def test_a_file_ignored_by_a_sub_folders_gitignore(project: Project) -> None:
    project.file("data/raw/big.csv", "1,2\n")
    project.exclude("data/raw/big.csv", f"ignored by {project.root}/data/.gitignore (rule *.csv)")
    hint = project.file_hint("data/raw/big.csv")
    assert hint is not None and "data/raw/big.csv stayed behind" in hint
    # the root's .skywardignore comes before data/.gitignore: the line goes next to the rule
    assert f"`!raw/big.csv` in {project.root}/data/.skywardignore" in hint


def test_a_file_ignored_by_skywardignore(project: Project) -> None:
    project.file("out/result.bin")
    project.exclude("out/", f"ignored by {project.root}/.skywardignore (rule out/)")
    hint = project.file_hint(str(project.root / "out" / "result.bin"))
    assert hint is not None and "Remove the rule `out/`" in hint and "`!out/` after it" in hint


def test_a_file_in_a_virtual_environment(project: Project) -> None:
    project.file(".venv/pyvenv.cfg")
    project.file(".venv/share/thing.json", "{}")
    project.exclude(".venv/", VENV)
    hint = project.file_hint(".venv/share/thing.json")
    assert hint is not None and "virtual environment" in hint and "mirror" in hint
    assert ".skywardignore" not in hint


# -- sent, and still missing ---------------------------------------------------------------------

def test_a_file_made_after_the_working_directory_was_sent(project: Project) -> None:
    project.file("results/part-1.csv")
    hint = project.file_hint("results/part-1.csv")
    assert hint is not None and "was not there when the working directory was sent" in hint
    assert "each node has its own copy" in hint


def test_a_relative_file_of_the_clients_current_folder(project: Project) -> None:
    project.file("notebooks/data.csv")
    hint = project.file_hint("data.csv", cwd=str(project.root / "notebooks"))
    assert hint is not None and f"copy of the working directory {project.root}" in hint
    assert "open it as `notebooks/data.csv`" in hint
    (project.outside / "other.csv").write_text("")
    hint = project.file_hint("other.csv", cwd=str(project.outside))
    assert hint is not None and "outside the working directory" in hint and "--workdir" in hint


def test_an_absolute_path_outside_the_working_directory(project: Project) -> None:
    path = project.outside / "shared.csv"
    path.write_text("")
    hint = project.file_hint(str(path))
    assert hint is not None and f"{path} is outside the working directory" in hint
    assert "--workdir DIR" in hint
    inside = project.file("data/x.csv")
    hint = project.file_hint(str(inside))
    assert hint is not None and "open it by the relative path `data/x.csv`" in hint


def test_a_module_outside_the_working_directory(project: Project) -> None:
    (project.outside / "skyhint_outside.py").write_text("")
    _importable(project, project.outside)
    hint = project.module_hint("skyhint_outside")
    assert hint is not None and "outside the working directory" in hint
    assert "pip install -e" in hint and "--workdir DIR" in hint


def test_a_module_that_travelled_but_is_not_on_the_workers_sys_path(project: Project) -> None:
    project.file("src/skyhint_srcmod.py")
    _importable(project, project.root / "src")
    hint = project.module_hint("skyhint_srcmod")
    assert hint is not None and "travelled with the working directory (src/skyhint_srcmod.py)" in hint
    assert f"the sys.path entry {project.root / 'src'}" in hint and "pip install -e" in hint
    project.sys_path = ["src"]  # importable there from what was sent: it must have come later
    hint = project.module_hint("skyhint_srcmod")
    assert hint is not None and "was not there when the working directory was sent" in hint


def test_a_submodule_is_located_without_importing_its_package(project: Project) -> None:
    project.file("skyhint_pkg/__init__.py", "raise RuntimeError('imported')\n")
    project.file("skyhint_pkg/sub.py")
    _importable(project, project.root)
    project.exclude("skyhint_pkg/sub.py", f"ignored by {project.root}/.gitignore (rule sub.py)")
    hint = project.module_hint("skyhint_pkg.sub")
    assert hint is not None and "`!skyhint_pkg/sub.py`" in hint
    assert "skyhint_pkg" not in sys.modules


def test_no_working_directory_was_sent(project: Project) -> None:
    project.sent = False
    project.file("skyhint_nowd.py")
    _importable(project, project.root)
    hint = project.module_hint("skyhint_nowd")
    assert hint is not None and "--no-workdir" in hint
    hint = project.file_hint("skyhint_nowd.py", cwd=str(project.root))
    assert hint is not None and "--no-workdir" in hint


# -- installed packages ---------------------------------------------------------------------------

def _installed() -> str:
    """A top-level module installed in this environment's site-packages (one whose distribution
    is named otherwise where available)."""
    return "sklearn" if importlib.util.find_spec("sklearn") is not None else "cloudpickle"


def test_a_package_the_client_has_installed(project: Project) -> None:
    name = _installed()
    dist = "scikit-learn" if name == "sklearn" else "cloudpickle"
    project.mirror = True
    hint = project.module_hint(name)
    assert hint is not None and f"The client has {dist}" in hint and "could not be installed" in hint
    project.mirror = False
    hint = project.module_hint(name)
    assert hint is not None and f"--pip {dist}" in hint and "activate a virtual environment" in hint


def test_without_a_report_only_the_hints_that_need_none(project: Project, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(ENV_REPORT, raising=False)
    project.file("skyhint_noreport.py")
    _importable(project, project.root)
    assert hint_for_module("skyhint_noreport", load_report()) is None
    hint = hint_for_module(_installed(), load_report())
    assert hint is not None and "--pip" in hint


def test_nothing_the_client_lacks_too(project: Project) -> None:
    assert project.module_hint("skyhint_nowhere_at_all") is None
    assert project.file_hint("no/such/file.csv") is None
    assert project.file_hint(str(project.outside / "absent.csv")) is None


def test_a_broken_report_means_no_working_directory_hint(project: Project) -> None:
    project.file("skyhint_broken.py")
    _importable(project, project.root)
    for text in ("{not json", "[]", json.dumps({"root": 3}), json.dumps({"root": "relative/path"})):
        project.report_file.write_text(text)
        assert load_report(str(project.report_file)) is None
        assert hint_for_module("skyhint_broken", load_report(str(project.report_file))) is None
    assert load_report(str(project.root / "missing.json")) is None


# -- attached to the errors a task's failure raises ------------------------------------------------

def _user_error(exc: BaseException) -> dict[str, Any]:
    return {"type": "error", "id": 1, "kind": "user", "excType": f"builtins.{type(exc).__name__}",
            "message": str(exc), "traceback": "Traceback...", "payload": cloudpickle.dumps(exc)}


def _notes(exc: BaseException) -> str:
    """The hint, wherever this Python put it (a note, or the message)."""
    return "\n".join(getattr(exc, "__notes__", [])) + str(exc)


def test_a_missing_file_keeps_its_type_and_carries_the_hint(project: Project) -> None:
    project.file("made-later.csv")
    project.report()
    exc = error_from_message(_user_error(FileNotFoundError(errno.ENOENT, "No such file or directory",
                                                           "made-later.csv")))
    assert isinstance(exc, FileNotFoundError) and exc.filename == "made-later.csv"
    assert "was not there when the working directory was sent" in _notes(exc)


def test_a_missing_module_keeps_its_type_and_carries_the_hint(project: Project) -> None:
    project.file("skyhint_user.py")
    _importable(project, project.root)
    project.exclude("skyhint_user.py", f"ignored by {project.root}/.gitignore (rule skyhint_user.py)")
    project.report()
    exc = error_from_message(_user_error(ModuleNotFoundError("No module named 'skyhint_user'",
                                                             name="skyhint_user")))
    assert isinstance(exc, ModuleNotFoundError) and "`!skyhint_user.py`" in _notes(exc)


def test_a_task_that_could_not_be_unpickled_carries_the_hint(project: Project) -> None:
    project.file("skyhint_helpers.py")
    _importable(project, project.outside)
    _importable(project, project.root)
    project.exclude("skyhint_helpers.py", VENV)
    project.report()
    exc = error_from_message({"type": "error", "id": 1, "kind": "pickle",
                              "excType": "builtins.ModuleNotFoundError", "traceback": "",
                              "message": "could not unpickle the task: No module named 'skyhint_helpers'"})
    assert isinstance(exc, TaskPicklingError) and "skyhint_helpers" in _notes(exc)
    assert "stayed behind" in _notes(exc)


def test_an_exception_that_could_not_be_loaded_still_gets_its_hint(project: Project) -> None:
    project.file("later.txt")
    project.report()
    exc = error_from_message({"type": "error", "id": 1, "kind": "user", "excType": "builtins.FileNotFoundError",
                              "message": "[Errno 2] No such file or directory: 'later.txt'", "traceback": ""})
    assert isinstance(exc, RemoteTaskError) and "was not there" in _notes(exc)


def test_other_errors_get_no_hint(project: Project) -> None:
    project.report()
    exc = error_from_message(_user_error(ValueError("bad")))
    assert isinstance(exc, ValueError) and not getattr(exc, "__notes__", None)
    explain(ValueError("x"), "builtins.ValueError", "x")  # nothing to say, nothing raised
    explain(FileNotFoundError(), "", "")
    explain(ModuleNotFoundError(), "builtins.ModuleNotFoundError", "")


def test_the_hint_goes_into_the_message_where_there_are_no_notes() -> None:
    missing = FileNotFoundError(errno.ENOENT, "No such file or directory", "x.csv")
    append_to_message(missing, "HINT")
    assert str(missing) == "[Errno 2] No such file or directory (HINT): 'x.csv'"
    module = ModuleNotFoundError("No module named 'helpers'", name="helpers")
    append_to_message(module, "HINT")
    assert str(module) == "No module named 'helpers'\nHINT" and module.name == "helpers"
    unpickled = TaskPicklingError("builtins.ModuleNotFoundError: No module named 'helpers'")
    append_to_message(unpickled, "HINT")
    assert str(unpickled).endswith("\nHINT")
    remote = RemoteTaskError("builtins.FileNotFoundError", "gone", "", 0)
    append_to_message(remote, "HINT")
    assert "gone\nHINT" in str(remote)
    assert pickle.loads(pickle.dumps(missing)).filename == "x.csv"


def test_add_hint_never_raises() -> None:
    class Odd(Exception):
        def add_note(self, note: str) -> None:
            raise RuntimeError("no notes here")

    add_hint(Odd(), "HINT")
    exc = ValueError("v")
    add_hint(exc, "HINT")
    assert "HINT" in _notes(exc)
