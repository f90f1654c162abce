"""Hints for a module or file a task did not find on its worker that the client has.

``skyward run`` ships the working directory (a folder, usually the current one) to every node, where
a copy of it is each task's current directory, and mirrors the client's virtual environment. When a
task still fails with ``ModuleNotFoundError`` or ``FileNotFoundError`` for something that exists
here, the hint says why it is missing there and what to do. It reads the report the pool writes
(``SKYWARD_WORKDIR_REPORT``: what was sent, what stayed behind and why); without it, only hints
that need no report are given.

Nothing in this module raises: a broken report, an odd exception or an unreadable folder means no
hint.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import sys
import sysconfig
import threading
from dataclasses import dataclass
from typing import Any

ENV_REPORT = "SKYWARD_WORKDIR_REPORT"
"""The variable naming the JSON report of the working directory that was sent (written by the pool)."""

IGNORE_FILE = ".skywardignore"
"""The ignore file whose ``!path`` lines take back what other rules leave out."""

MAX_EXCLUSIONS = 10_000
"""The pool lists at most this many left-out entries; a full list may be missing some."""

PACKAGE_FOLDERS = ("site-packages", "dist-packages")
"""Folder names that hold installed distributions."""

_MISSING_MODULE = re.compile(r"No module named '([^']+)'")
_MISSING_FILE = re.compile(r"No such file or directory: '([^']+)'")
_IGNORED_BY = re.compile(r"^ignored by (.+) \(rule (.*)\)$")


@dataclass(frozen=True)
class Exclusion:
    """Something of the working directory that stayed behind, and why."""

    path: str  # POSIX, relative to the root; a folder ends with "/"
    reason: str


@dataclass(frozen=True)
class WorkdirReport:
    """What the pool sent to the workers (see :data:`ENV_REPORT`). The JSON the pool writes:
    ``{"root": "/abs" | null, "limit": bytes | null, "excluded": [{"path": "data/", "reason": "..."}],
    "sysPath": ["."], "mirror": true}``."""

    root: str | None  # absolute; None when no working directory was sent (--no-workdir)
    limit: int | None  # the working directory's size limit in bytes
    excluded: tuple[Exclusion, ...]
    sys_path: tuple[str, ...]  # the workers' sys.path head, relative to root
    mirror: bool  # the workers mirror the client's virtual environment

    @property
    def complete(self) -> bool:
        """Whether :attr:`excluded` lists everything that stayed behind (the pool caps the list)."""
        return len(self.excluded) < MAX_EXCLUSIONS


@dataclass(frozen=True)
class ClientModule:
    """Where the client finds a module."""

    path: str  # its file, or its package's folder
    entry: str | None  # the client's sys.path entry it is found through, when known
    builtin: bool  # compiled into the interpreter (or frozen): no file at all


# -- the report ----------------------------------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int], WorkdirReport | None]] = {}


def _parse_report(data: Any) -> WorkdirReport | None:
    if not isinstance(data, dict):
        return None
    root = data.get("root")
    if root is not None and not (isinstance(root, str) and os.path.isabs(root)):
        return None
    limit = data.get("limit")
    excluded: list[Exclusion] = []
    for item in data.get("excluded") or ():
        if isinstance(item, dict) and isinstance(item.get("path"), str) and isinstance(item.get("reason"), str):
            excluded.append(Exclusion(item["path"], item["reason"]))
    sys_path = tuple(entry for entry in data.get("sysPath") or () if isinstance(entry, str))
    return WorkdirReport(
        root=os.path.normpath(root) if root is not None else None,
        limit=limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        excluded=tuple(excluded),
        sys_path=sys_path,
        mirror=data.get("mirror") is True,
    )


def load_report(path: str | None = None) -> WorkdirReport | None:
    """The report at ``path`` (default: ``$SKYWARD_WORKDIR_REPORT``); None when there is none or it
    cannot be read. Read again only when the file changed."""
    try:
        path = path if path is not None else os.environ.get(ENV_REPORT)
        if not path:
            return None
        stat = os.stat(path)
        key = (stat.st_mtime_ns, stat.st_size)
        with _cache_lock:
            cached = _cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        with open(path, encoding="utf-8") as f:
            report = _parse_report(json.load(f))
        with _cache_lock:
            _cache[path] = (key, report)
        return report
    except Exception:  # noqa: BLE001 - no report, no working-directory hint
        return None


# -- paths ---------------------------------------------------------------------------------------

def _posix(path: str) -> str:
    return path.replace(os.sep, "/")


def _relative_to(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` (POSIX), or None when it is outside; links resolved if need be."""
    for candidate, base in ((os.path.abspath(path), root), (os.path.realpath(path), os.path.realpath(root))):
        try:
            if os.path.commonpath([candidate, base]) == base:
                return _posix(os.path.relpath(candidate, base))
        except ValueError:  # different drives
            continue
    return None


def _exclusion_of(relative: str, report: WorkdirReport) -> Exclusion | None:
    """The left-out entry that covers ``relative`` (the path itself or a folder holding it)."""
    as_folder = relative.rstrip("/") + "/"
    for exclusion in report.excluded:
        if exclusion.path == relative or (exclusion.path.endswith("/") and as_folder.startswith(exclusion.path)):
            return exclusion
    return None


def _in_package_folder(path: str) -> str | None:
    """The site-packages / dist-packages folder holding ``path``, if any."""
    parts = os.path.abspath(path).split(os.sep)
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] in PACKAGE_FOLDERS:
            return os.sep.join(parts[:index + 1]) or os.sep
    return None


def _in_standard_library(path: str) -> bool:
    try:
        paths = sysconfig.get_paths()
        folders = {os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib") if paths.get(key)}
    except Exception:  # noqa: BLE001
        return False
    real = os.path.realpath(path)
    return any(_relative_to(real, folder) is not None for folder in folders)


# -- where the client finds a module --------------------------------------------------------------

def _module_path(spec: Any) -> str | None:
    """The file of a module spec, or the folder of a package (a namespace package's first one)."""
    origin = getattr(spec, "origin", None)
    locations = list(getattr(spec, "submodule_search_locations", None) or ())
    if isinstance(origin, str) and os.path.isabs(origin):
        return os.path.dirname(origin) if locations else origin
    return locations[0] if locations else None


def _entry_of(name: str, path: str) -> str | None:
    """The sys.path entry (as spelled in sys.path, '' as the current directory) holding the top-level
    module or package of ``name`` found at ``path``."""
    depth = name.count(".")
    folder = os.path.dirname(path)
    for _ in range(depth):
        folder = os.path.dirname(folder)
    for entry in sys.path:
        if isinstance(entry, str) and os.path.abspath(entry or os.curdir) == folder:
            return entry or os.getcwd()
    return None


def _find_spec(name: str) -> Any:
    """The spec of ``name`` without importing anything that is not imported yet."""
    parts = name.split(".")
    parent = ".".join(parts[:-1])
    if not parent or parent in sys.modules:
        return importlib.util.find_spec(name)  # top-level, or its package is imported already
    spec = importlib.util.find_spec(parts[0])
    for index in range(1, len(parts)):
        locations = getattr(spec, "submodule_search_locations", None) if spec is not None else None
        if not locations:
            return None
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:index + 1]), list(locations))
    return spec


def locate_module(name: str) -> ClientModule | None:
    """Where the client finds module ``name`` (without importing it), or None when it does not."""
    try:
        module = sys.modules.get(name)
        spec = getattr(module, "__spec__", None) if module is not None else None
        if spec is None:
            if name in sys.builtin_module_names:
                return ClientModule(path=name, entry=None, builtin=True)
            spec = _find_spec(name)
        if spec is None:
            return None
        if getattr(spec, "origin", None) in ("built-in", "frozen"):
            return ClientModule(path=name, entry=None, builtin=True)
        path = _module_path(spec)
        if path is None or not os.path.exists(path):
            return None
        return ClientModule(path=path, entry=_entry_of(name, path), builtin=False)
    except Exception:  # noqa: BLE001 - a module whose lookup fails here: no hint
        return None


def _distribution_of(top: str) -> str:
    """The distribution that installs top-level module ``top`` (its own name when unknown)."""
    try:
        import importlib.metadata as metadata

        mapping = getattr(metadata, "packages_distributions", None)  # Python 3.10+
        if mapping is not None:
            names = mapping().get(top)
            if names:
                return str(names[0])
        for dist in metadata.distributions():  # Python 3.9: the top_level.txt of each distribution
            text = dist.read_text("top_level.txt") or ""
            if top in text.split():
                return str(dist.metadata["Name"])
    except Exception:  # noqa: BLE001
        pass
    return top


# -- the hints -----------------------------------------------------------------------------------

def _skywardignore_fix(exclusion: Exclusion, root: str) -> str:
    """How to take ``exclusion`` back: a ``!`` line in the .skywardignore that wins over its rule."""
    folder, path = root, exclusion.path
    matched = _IGNORED_BY.match(exclusion.reason)
    if matched is not None:
        rule_folder = os.path.dirname(matched.group(1))
        inner = _relative_to(os.path.join(root, path), rule_folder) if _relative_to(rule_folder, root) else None
        if inner is not None:  # a rule of a sub-folder: only that folder's .skywardignore comes after it
            folder, path = rule_folder, inner + ("/" if exclusion.path.endswith("/") else "")
        if os.path.basename(matched.group(1)) == IGNORE_FILE:
            return (f"Remove the rule `{matched.group(2)}` from {matched.group(1)}, or add a line "
                    f"`!{path}` after it.")
    return f"A line `!{path}` in {os.path.join(folder, IGNORE_FILE)} takes it back."


def _excluded_hint(what: str, exclusion: Exclusion, report: WorkdirReport, root: str) -> str:
    said = f"{what} stayed behind when the working directory {root} was sent ({exclusion.path}: {exclusion.reason})."
    if "virtual environment" in exclusion.reason:
        return (f"{said} The workers get the active virtual environment's packages through its mirror "
                "instead, at another place: import them, or find a package's files from the package "
                "(importlib.resources), rather than by this path.")
    return f"{said} {_skywardignore_fix(exclusion, root)}"


def _not_sent_hint(what: str, root: str, report: WorkdirReport) -> str:
    if not report.complete:
        return (f"{what} is in the working directory {root} on the client, but was not sent to the "
                f"workers: an ignore rule left it out (the list of what stayed behind is cut at "
                f"{MAX_EXCLUSIONS} entries), or it was made after the working directory was sent.")
    return (f"{what} is in the working directory {root} on the client, but was not there when the "
            "working directory was sent: it was made later, or written by another task (each node has "
            "its own copy, and files a task writes stay on its node).")


def _workers_head(report: WorkdirReport) -> str:
    return ", ".join(f"`{entry}`" for entry in report.sys_path) or "the pool's own folders"


def _package_hint(name: str, found: ClientModule, report: WorkdirReport | None) -> str:
    dist = _distribution_of(name.split(".")[0])
    where = _in_package_folder(found.path) or found.path
    if report is not None and report.mirror:
        return (f"The client has {dist} (in {where}) but it could not be installed on the workers "
                "(see the notes printed before the run).")
    if report is not None:
        return (f"The client has {dist} (in {where}) but the workers run the pool's Image environment: "
                f"add it to the workers' environment with --pip {dist}, or activate a virtual "
                "environment that has it (skyward run then mirrors it on the workers).")
    return (f"The client has {dist} (in {where}) but the workers do not: add it to the pool's Image "
            f"(`skyward run --pip {dist}`), or run in a virtual environment that has it (skyward run "
            "then mirrors it on the workers).")


def hint_for_module(name: str, report: WorkdirReport | None = None) -> str | None:
    """Why module ``name``, which a task could not import on its worker, is missing there when the
    client has it, and what to do; None when the client does not have it either."""
    try:
        found = locate_module(name)
        if found is None:
            return None
        if found.builtin or (_in_package_folder(found.path) is None and _in_standard_library(found.path)):
            version = "{}.{}".format(*sys.version_info[:2])
            return (f"{name} comes with the client's Python {version}, but not with the workers' Python: "
                    f"run the workers on Python {version} (the Image's python).")
        if _in_package_folder(found.path) is not None:
            return _package_hint(name, found, report)
        if report is None:
            return None
        what = f"{name} ({found.path})"
        root = report.root
        if root is None:
            return (f"No working directory was sent (--no-workdir), so {what} stayed on the client: "
                    "run without --no-workdir, or install it as a package (`pip install -e` in the "
                    "active virtual environment, which the workers mirror).")
        relative = _relative_to(found.path, root)
        if relative is None:
            return (f"{what} is outside the working directory {root}, and only the working directory "
                    "travels to the workers: move it inside, choose the working directory with "
                    "--workdir DIR, or install it as a package (`pip install -e` in the active "
                    "virtual environment, which the workers mirror).")
        exclusion = _exclusion_of(relative, report)
        if exclusion is not None:
            return _excluded_hint(what, exclusion, report, root)
        entry = found.entry
        entry_relative = _relative_to(entry, root) if entry is not None else None
        heads = {os.path.normpath(head) for head in report.sys_path}
        if entry_relative is not None and os.path.normpath(entry_relative) in heads:
            return _not_sent_hint(what, root, report)  # importable there from what was sent
        through = (f"the sys.path entry {entry}" if entry is not None
                   else "an import hook of the client's environment")
        first = (f"keep it in the script's folder (`{report.sys_path[0]}`), which heads their sys.path"
                 if report.sys_path else "put its folder first on their sys.path")
        return (f"{name} travelled with the working directory ({relative}), but the workers cannot "
                f"import it: here it is found through {through}, which is not on their sys.path "
                f"(it starts with {_workers_head(report)}, relative to {root}). Install it with "
                f"`pip install -e` in the active virtual environment (the workers mirror it), or {first}.")
    except Exception:  # noqa: BLE001
        return None


def hint_for_file(filename: str, report: WorkdirReport | None = None,
                  cwd: str | None = None) -> str | None:
    """Why ``filename``, which a task did not find on its worker (relative: to the worker's copy of
    the working directory), is missing there when the client has it, and what to do; None when the
    client does not have it either. ``cwd``: the client's current directory (default: this one)."""
    try:
        cwd = cwd if cwd is not None else os.getcwd()
        absolute = os.path.isabs(filename)
        if absolute and os.path.exists(filename) and _in_package_folder(filename) is not None:
            return (f"{filename} belongs to a package installed on the client "
                    f"({_in_package_folder(filename)}); the workers have their packages at another "
                    "place: find the file from its package (importlib.resources, or the module's "
                    "__file__) rather than by this path.")
        if report is None:
            return None
        root = report.root
        if root is None:
            here = filename if absolute else os.path.join(cwd, filename)
            if not os.path.exists(here):
                return None
            return (f"No working directory was sent (--no-workdir), so {here} stayed on the client: "
                    "run without --no-workdir (the current directory travels, or choose one with "
                    "--workdir DIR).")
        target = os.path.normpath(filename if absolute else os.path.join(root, filename))
        relative = _relative_to(target, root)
        if relative is not None:
            exclusion = _exclusion_of(relative, report)
            if exclusion is not None and os.path.lexists(target):
                return _excluded_hint(relative, exclusion, report, root)
            if os.path.exists(target):
                if absolute:
                    return (f"{filename} is inside the working directory {root}, which the workers "
                            f"have at another place (a task's current directory is its copy): open it "
                            f"by the relative path `{relative}`.")
                return _not_sent_hint(relative, root, report)
        elif os.path.exists(target):
            return (f"{target} is outside the working directory {root}, and only the working directory "
                    f"travels to the workers: read it by a path relative to {root}, move it inside, or "
                    "choose the working directory with --workdir DIR.")
        if absolute or os.path.normpath(cwd) == root:
            return None
        here = os.path.normpath(os.path.join(cwd, filename))
        if not os.path.exists(here):
            return None
        said = (f"The workers run in a copy of the working directory {root}, not of the client's "
                f"current folder {cwd} (where `{filename}` is {here})")
        inside = _relative_to(here, root)
        if inside is not None:
            return f"{said}: open it as `{inside}`, relative to {root}."
        return (f"{said}, and {here} is outside the working directory: move it inside, or choose the "
                "working directory with --workdir DIR.")
    except Exception:  # noqa: BLE001
        return None


# -- attaching a hint -----------------------------------------------------------------------------

def add_hint(exc: BaseException, hint: str) -> None:
    """Attaches ``hint`` to ``exc``, keeping its type: a note (Python 3.11+), else its message."""
    try:
        add_note = getattr(exc, "add_note", None)
        if add_note is not None:
            add_note(hint)
        else:
            append_to_message(exc, hint)
    except Exception:  # noqa: BLE001
        pass


def append_to_message(exc: BaseException, hint: str) -> None:
    """Puts ``hint`` into the message of ``exc`` (Pythons without exception notes)."""
    if isinstance(exc, OSError) and isinstance(exc.strerror, str):
        exc.strerror = f"{exc.strerror} ({hint})"  # str() is "[Errno 2] <strerror>: '<filename>'"
    elif isinstance(exc, ImportError) and isinstance(exc.msg, str):
        exc.msg = f"{exc.msg}\n{hint}"  # str() of an ImportError is its msg
        exc.args = (exc.msg,) + tuple(exc.args[1:])
    elif isinstance(getattr(exc, "message", None), str):  # RemoteTaskError: str() shows .message
        with_message: Any = exc
        with_message.message = f"{with_message.message}\n{hint}"
    elif exc.args and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]}\n{hint}",) + tuple(exc.args[1:])
    else:
        exc.args = tuple(exc.args) + (hint,)


def _missing_name(exc: BaseException, exc_type: str, message: str) -> tuple[str, str] | None:
    """``("module", name)`` or ``("file", path)`` that ``exc`` says is missing, if it says so."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return "module", exc.name
    if isinstance(exc, FileNotFoundError) and isinstance(exc.filename, (str, bytes)):
        return "file", os.fsdecode(exc.filename)
    # a task that could not be unpickled there, or an exception that could not be loaded here
    if exc_type.endswith("ModuleNotFoundError"):
        matched = _MISSING_MODULE.search(message)
        if matched is not None:
            return "module", matched.group(1)
    if exc_type.endswith("FileNotFoundError"):
        matched = _MISSING_FILE.search(message)
        if matched is not None:
            return "file", matched.group(1)
    return None


def explain(exc: BaseException, exc_type: str = "", message: str = "",
            report_path: str | None = None) -> None:
    """Adds a hint to ``exc`` (from a task's ``error``: the loaded exception, or the error made for
    it, with the remote ``exc_type`` and ``message``) when it is a module or file missing on the
    worker that the client has. Never raises."""
    try:
        missing = _missing_name(exc, exc_type, message)
        if missing is None:
            return
        kind, name = missing
        report = load_report(report_path)
        hint = hint_for_module(name, report) if kind == "module" else hint_for_file(name, report)
        if hint:
            add_hint(exc, hint)
    except Exception:  # noqa: BLE001
        pass

