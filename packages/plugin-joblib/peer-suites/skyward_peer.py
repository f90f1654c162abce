"""A pytest plugin that runs the peers' own test suites under the skyward backend
(``pytest -p skyward_peer --skyward-peer=MODE --skyward-report=FILE ...``):

- ``params``: a real pool is opened for the session, "skyward" is registered before the test modules
  are imported, so joblib's ``test_parallel`` parametrizes over it wherever it parametrizes over
  ``joblib.parallel.BACKENDS`` (``ALL_VALID_BACKENDS``, ``RETURN_GENERATOR_BACKENDS``, ...), and it is
  added to the module's own lists of process and parallel backends (:data:`EXTENDED_LISTS`). A
  ``[skyward]`` case is then compared with its ``[loky]`` sibling (:func:`loky_sibling`).
- ``default``: a real pool is opened and "skyward" is made joblib's default backend for the whole
  session, as ``skyward run`` does (:func:`skyward_joblib.activate_backend`).
- ``loky``: no pool, joblib's own default (loky, where ``n_jobs=None`` runs in the caller); only
  the report.
- ``loky-pool``: no pool; loky with ``n_jobs=None`` meaning as many worker processes as the pool has
  slots (:data:`skyward_pool.TOTAL_SLOTS`), what skyward makes of it: a test that fails here too
  relies on its calls running in the caller (side effects on the caller's objects, the order of
  output or errors), not on anything skyward does differently from loky's processes.

Every mode writes the outcome of each test to ``--skyward-report`` (JSON, :class:`Outcome` per node
id), which ``run.py`` compares.
"""
from __future__ import annotations

import json
import re
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

MODES = ("params", "default", "loky", "loky-pool")
BACKEND_NAME = "skyward"
JOBLIB_SUITE = "joblib.test.test_parallel"
# joblib's test_parallel lists of backends written out by hand (the others derive from
# joblib.parallel.BACKENDS, where "skyward" is registered before the module is imported)
EXTENDED_LISTS = ("PROCESS_BACKENDS", "PARALLEL_BACKENDS", "all_backends_for_context_manager")
MESSAGE_CHARS = 400  # of a failure's message, in the report

_STATE_KEY = pytest.StashKey[ExitStack]()


@dataclass
class Outcome:
    """One test's result: ``passed``, ``failed``, ``error`` (setup or teardown), ``skipped``,
    ``xfailed`` or ``xpassed``, with the failure's first line and the test's duration."""

    outcome: str
    message: str
    seconds: float


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("skyward-peer")
    group.addoption("--skyward-peer", choices=MODES, default="loky",
                    help="params: add skyward to joblib's backend lists; default: skyward is the "
                         "default backend; loky: joblib's default; loky-pool: loky, n_jobs=None "
                         "meaning the pool's slot count")
    group.addoption("--skyward-report", default=None, help="write each test's outcome here (JSON)")


def pytest_configure(config: pytest.Config) -> None:
    mode = config.getoption("--skyward-peer")
    config.pluginmanager.register(_Report(config.getoption("--skyward-report")), "skyward-peer-report")
    stack = ExitStack()
    config.stash[_STATE_KEY] = stack
    if mode == "loky":
        return
    if mode == "loky-pool":
        from joblib import parallel_config
        from skyward_pool import TOTAL_SLOTS

        stack.enter_context(parallel_config(backend="loky", n_jobs=TOTAL_SLOTS))
        return
    from skyward_pool import serve_pool

    info = stack.enter_context(serve_pool())
    import skyward_joblib

    if mode == "params":
        skyward_joblib.register()
    else:
        skyward_joblib.activate_backend()
        stack.callback(skyward_joblib.deactivate_backend)
    print(f"skyward-peer: {mode}, a pool of {info.total_slots} slots")


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(_STATE_KEY, None)
    if stack is not None:
        stack.close()  # the pool closes however the session ended


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """In ``params`` mode, adds "skyward" to joblib's hand-written backend lists, and names every
    backend parameter readably (``LokyBackend()``, not ``backend7``) so that siblings match."""
    if metafunc.config.getoption("--skyward-peer") != "params" or metafunc.module.__name__ != JOBLIB_SUITE:
        return
    lists = [getattr(metafunc.module, name) for name in EXTENDED_LISTS if hasattr(metafunc.module, name)]
    definition = metafunc.definition
    marks = []
    for mark in definition.own_markers:
        if mark.name == "parametrize" and _is_backend_parameter(mark.args) and "ids" not in mark.kwargs:
            name, values = mark.args[0], list(mark.args[1])
            if any(mark.args[1] is extended for extended in lists) and BACKEND_NAME not in values:
                values.append(BACKEND_NAME)
            mark = pytest.mark.parametrize(name, values, ids=[backend_id(v) for v in values],
                                           **mark.kwargs).mark
        marks.append(mark)
    definition.own_markers[:] = marks


def _is_backend_parameter(args: tuple[Any, ...]) -> bool:
    return (len(args) == 2 and isinstance(args[0], str) and "," not in args[0]
            and args[0].endswith("backend"))


def backend_id(value: object) -> str | None:
    """A parameter's id: a backend's name, or its class for an instance."""
    if value is None or isinstance(value, str):
        return str(value)
    if type(value).__name__.endswith("Backend"):
        return f"{type(value).__name__}()"
    return None  # pytest's own


_SKYWARD_TOKEN = re.compile(r"(?<![\w.])(skyward|SkywardBackend\(\))(?![\w])")


def loky_sibling(nodeid: str) -> str | None:
    """The node id of a ``[...skyward...]`` case's loky twin, or None if it has no skyward part."""
    name, bracket, params = nodeid.partition("[")
    if not bracket or not _SKYWARD_TOKEN.search(params):
        return None
    return name + bracket + _SKYWARD_TOKEN.sub(
        lambda m: "loky" if m.group(1) == BACKEND_NAME else "LokyBackend()", params)


class _Report:
    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.outcomes: dict[str, Outcome] = {}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        seen = self.outcomes.get(report.nodeid)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.outcomes[report.nodeid] = Outcome(_outcome(report), _message(report), report.duration)
        elif report.when == "teardown" and report.failed and (seen is None or seen.outcome != "failed"):
            self.outcomes[report.nodeid] = Outcome("error", _message(report), report.duration)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.path is not None:
            self.path.write_text(json.dumps({k: asdict(v) for k, v in self.outcomes.items()}, indent=1))


def _outcome(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.when != "call" and report.failed:
        return "error"
    return report.outcome


def _message(report: pytest.TestReport) -> str:
    if report.passed:
        return ""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        text = str(crash.message)
    elif isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
        text = str(report.longrepr[2])
    else:
        text = str(report.longrepr)
    return text.strip().splitlines()[0][:MESSAGE_CHARS] if text.strip() else ""
