"""Volumes as tasks see them: paths under a volume's path (``/data/a.csv``) lead to its folder on the node.

Nodes run without root, so nothing is mounted: :func:`install` wraps, in the process that runs tasks
(each slot process, or the agent for thread slots), the Python functions that take a path --
``open`` (``builtins`` and ``io``), ``os.open``, ``os.stat``, ``os.lstat``, ``os.access``,
``os.listdir``, ``os.scandir``, ``os.readlink``, ``os.chdir``, xattrs, and the ones that change
files (``os.mkdir``, ``os.remove`` / ``os.unlink``, ``os.rmdir``, ``os.rename`` / ``os.replace``,
``os.utime``, ``os.chmod``, ``os.truncate``, ...) -- and the copies of them that ``pathlib``
(Python 3.9 to 3.13) and ``glob`` keep. ``os.path.exists`` /
``isfile`` / ``isdir`` / ``getsize``, ``os.walk``, ``os.makedirs``, ``shutil`` and ``glob.glob`` go
through those. So ``open("/data/a.csv")``, ``numpy.load``, ``pandas.read_csv``, ``joblib.load``,
``pathlib.Path("/data").iterdir()`` / ``.glob()`` and ``os.listdir("/data")`` work as if the folder
were there. Paths elsewhere are untouched (a string prefix check).

What does not see the redirect:

- C libraries that open files themselves (pyarrow, h5py, netCDF, OpenCV, ...) and other programs a
  task starts: give them ``skyward_worker.volume_path("/data/x.parquet")``, the real path on the node;
- ``bytes`` paths; after ``os.chdir("/data")``, ``os.getcwd()`` is the node's real folder;
- names the OS hands back: a file opened from ``/data`` has the node's real path as its ``.name``,
  and ``os.path.realpath`` / ``os.getcwd`` do not map back.

A read-only volume refuses writes (``open`` for ``w``/``a``/``x``/``+``, ``os.open`` with write
flags, removals, renames...) with ``PermissionError`` (``errno.EROFS``).
"""
from __future__ import annotations

import builtins
import errno
import io
import os
import posixpath
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Callable, Final, NamedTuple

from .volume_spec import Mount

READ_ONLY_HINT: Final = "declare it writable (--volume SRC:PATH:rw, or writable: true in the pool's volumes)"
_WRITE_MODE_CHARS: Final = frozenset("wax+")
_WRITE_FLAGS: Final = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# where Python keeps its own references to the wrapped functions (class attributes bound at import time)
_HOLDER_MODULES: Final = ("pathlib", "pathlib._local", "pathlib._abc", "pathlib._os", "glob")


class _Route(NamedTuple):
    path: str  # as tasks see it: /data
    local: str  # the node's folder
    writable: bool


class _Found(NamedTuple):
    local: str  # the node's real path
    route: _Route


_routes: tuple[_Route, ...] = ()
_prefixes: tuple[str, ...] = ()  # the routes' paths, for str.startswith (the fast path)
_install_lock = threading.Lock()


def _find(path: Any) -> _Found | None:
    """The real path of ``path`` and its volume, or None when it is not under one."""
    if type(path) is str:
        text = path
    elif isinstance(path, os.PathLike):
        text = path.__fspath__()
        if type(text) is not str:
            return None
    else:
        return None  # bytes, file descriptors
    if not text.startswith(_prefixes):
        return None
    normal = posixpath.normpath(text)  # /data/x/../y is /data/y; /data/../etc is not in /data
    for route in _routes:
        if normal == route.path:
            return _Found(route.local, route)
        if normal.startswith(route.path) and normal[len(route.path)] == "/":
            return _Found(route.local + normal[len(route.path):], route)
    return None


def _read_only(route: _Route, path: Any) -> PermissionError:
    return PermissionError(errno.EROFS, f"volume {route.path} is read-only: {READ_ONLY_HINT}", os.fspath(path))


def _writable(path: Any) -> Any:
    """The real path of ``path`` if it is in a writable volume (or no volume); PermissionError if read-only."""
    found = _find(path)
    if found is None:
        return path
    if not found.route.writable:
        raise _read_only(found.route, path)
    return found.local


def _readable(path: Any) -> Any:
    found = _find(path)
    return path if found is None else found.local


def volume_path(path: str | os.PathLike[str]) -> str:
    """The node's real path of ``path`` when it lies under a volume (``/data/x`` -> the cache folder's
    ``x``), else ``path`` itself: for C libraries that open files without Python (pyarrow, h5py) and for
    programs a task starts."""
    found = _find(path)
    return os.fspath(path) if found is None else found.local


# -- os.scandir: entries keep the path the task asked for -------------------------------------------------

class _DirEntry:
    """An ``os.DirEntry`` of a volume folder whose ``path`` is under the volume's path, not the node's folder."""

    __slots__ = ("_entry", "name", "path")

    def __init__(self, entry: os.DirEntry[str], path: str) -> None:
        self._entry = entry
        self.name = entry.name
        self.path = path

    def __fspath__(self) -> str:
        return self.path

    def __getattr__(self, name: str) -> Any:  # is_dir, is_file, is_symlink, stat, inode, is_junction
        return getattr(self._entry, name)

    def __repr__(self) -> str:
        return f"<DirEntry {self.name!r}>"


class _Scandir:
    """What ``os.scandir`` of a volume folder returns: its entries as :class:`_DirEntry`."""

    def __init__(self, inner: Any, shown: str) -> None:
        self._inner = inner
        self._shown = shown if shown.endswith("/") else shown + "/"

    def __iter__(self) -> Iterator[_DirEntry]:
        return self

    def __next__(self) -> _DirEntry:
        entry = next(self._inner)
        return _DirEntry(entry, self._shown + entry.name)

    def __enter__(self) -> _Scandir:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()

    def close(self) -> None:
        self._inner.close()


# -- the wrappers -------------------------------------------------------------------------------------------

_real_open = builtins.open
_real_os_open = os.open
_real_access = os.access
_real_listdir = os.listdir
_real_scandir = os.scandir

# os functions whose first argument is a path they only read, or may change (refused on a read-only volume)
_READING: Final = ("stat", "lstat", "readlink", "statvfs", "pathconf", "listxattr", "getxattr", "chdir")
_CHANGING: Final = ("mkdir", "remove", "unlink", "rmdir", "utime", "chmod", "lchmod", "chown", "lchown",
                    "truncate", "setxattr", "removexattr", "mkfifo", "mknod")
_CHANGING_TWO: Final = ("rename", "replace", "link")  # both paths
_LINK_TEXT_FIRST: Final = ("symlink",)  # the first argument is the link's text, not a path to map


def _open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
    found = _find(file)
    if found is not None:
        if not found.route.writable and _WRITE_MODE_CHARS.intersection(mode):
            raise _read_only(found.route, file)
        file = found.local
    return _real_open(file, mode, *args, **kwargs)


def _os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
    found = _find(path)
    if found is not None:
        if not found.route.writable and flags & _WRITE_FLAGS:
            raise _read_only(found.route, path)
        path = found.local
    return _real_os_open(path, flags, *args, **kwargs)


def _access(path: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
    found = _find(path)
    if found is None:
        return _real_access(path, mode, *args, **kwargs)
    if mode & os.W_OK and not found.route.writable:
        return False
    return _real_access(found.local, mode, *args, **kwargs)


def _listdir(path: Any = None) -> list[Any]:
    return _real_listdir() if path is None else _real_listdir(_readable(path))


def _scandir(path: Any = None) -> Any:
    if path is None:
        return _real_scandir()
    found = _find(path)
    if found is None:
        return _real_scandir(path)
    return _Scandir(_real_scandir(found.local), os.fspath(path))


def _first_path(real: Callable[..., Any], check: Callable[[Any], Any]) -> Callable[..., Any]:
    def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
        return real(check(path), *args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = real.__name__
    wrapper.__doc__ = real.__doc__
    return wrapper


def _two_paths(real: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
        return real(_writable(src), _writable(dst), *args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = real.__name__
    wrapper.__doc__ = real.__doc__
    return wrapper


def _second_path(real: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:  # os.symlink's names
        return real(src, _writable(dst), *args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = real.__name__
    wrapper.__doc__ = real.__doc__
    return wrapper


def _os_wrappers() -> dict[str, tuple[Callable[..., Any], Callable[..., Any]]]:
    """os attribute -> (the real function, its wrapper), for the functions this platform has."""
    table: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
        "open": (_real_os_open, _os_open),
        "access": (_real_access, _access),
        "listdir": (_real_listdir, _listdir),
        "scandir": (_real_scandir, _scandir),
    }
    for names, make in ((_READING, lambda real: _first_path(real, _readable)),
                        (_CHANGING, lambda real: _first_path(real, _writable)),
                        (_CHANGING_TWO, _two_paths), (_LINK_TEXT_FIRST, _second_path)):
        for name in names:
            real = getattr(os, name, None)
            if real is not None:
                table[name] = (real, make(real))
    return table


_OS_WRAPPERS: Final = _os_wrappers()


def _patch_holders(by_id: dict[int, Callable[..., Any]]) -> None:
    """Replace the references pathlib and glob took at import time (``_NormalAccessor.stat = os.stat`` in
    3.9 / 3.10, ``_StringGlobber.lstat = staticmethod(os.lstat)`` in 3.13) by the wrappers."""
    for module_name in _HOLDER_MODULES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name, value in list(vars(module).items()):
            if id(value) in by_id:
                setattr(module, name, by_id[id(value)])
            elif isinstance(value, type) and value.__module__ == module_name:
                for attr, member in list(vars(value).items()):
                    target = member.__func__ if isinstance(member, staticmethod) else member
                    if id(target) in by_id:
                        setattr(value, attr, staticmethod(by_id[id(target)]))


def install(mounts: Sequence[Mount]) -> None:
    """Redirect paths under each mount's path to its folder in this process (idempotent; the last call's
    mounts count)."""
    global _routes, _prefixes
    if not mounts:
        return
    import glob  # noqa: F401 - imported now, so that its references are patched below
    import pathlib  # noqa: F401

    with _install_lock:
        # longest first: a path is checked against the innermost volume first
        _routes = tuple(sorted((_Route(m.path, m.local, m.writable) for m in mounts),
                               key=lambda route: -len(route.path)))
        _prefixes = tuple(route.path for route in _routes)
        by_id: dict[int, Callable[..., Any]] = {id(_real_open): _open}
        for name, (real, wrapper) in _OS_WRAPPERS.items():
            if getattr(os, name) is real:
                setattr(os, name, wrapper)
            by_id[id(real)] = wrapper
            # shutil and pathlib ask these sets whether a function takes an fd or dir_fd (the wrappers pass them on)
            for supports in (os.supports_fd, os.supports_dir_fd, os.supports_follow_symlinks,
                             os.supports_effective_ids):
                if real in supports:
                    supports.add(wrapper)
        setattr(builtins, "open", _open)  # noqa: B010 - mypy refuses a plain assignment of another signature
        setattr(io, "open", _open)  # noqa: B010
        _patch_holders(by_id)
