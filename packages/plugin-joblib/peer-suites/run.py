"""Runs the peers' own test suites under loky and under skyward, in the same Python, and reports
every test that passes under loky and fails under skyward (exit status 1 if there is one that
:data:`EXPECTED` does not list). See README.md.

    .venv/bin/python packages/plugin-joblib/peer-suites/run.py [--suite joblib|sklearn|all] [-k EXPR]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from skyward_peer import loky_sibling  # noqa: E402 - this folder first on sys.path
from skyward_pool import PYTHON_PATHS, TOTAL_SLOTS  # noqa: E402

PASSED = "passed"
FAILED = ("failed", "error")
TEST_TIMEOUT = 300  # seconds, per test (pytest-timeout): a hang fails that test, not the run
SUITE_TIMEOUT = 3600  # seconds, per pytest run
# where joblib and scikit-learn are installed (their test modules with them)
SITE_PACKAGES = Path(importlib.util.find_spec("joblib").origin or ".").parent.parent  # type: ignore[union-attr]
# the loky-pool session runs this many times: which of several failing fits raises first, or what
# a scorer counts, depends on timing under processes; failing in one run is enough to show it
LOKY_POOL_RUNS = 3
REUSE = False  # --reuse: compare the reports already in --out instead of running their sessions

JOBLIB_MODULES = ["joblib.test.test_parallel"]
SKLEARN_MODULES = [
    "sklearn.model_selection.tests.test_validation",
    "sklearn.model_selection.tests.test_search",
    "sklearn.ensemble.tests.test_bagging",
    "sklearn.ensemble.tests.test_voting",
    "sklearn.utils.tests.test_parallel",
]

# Differences that are inherent, not bugs: a pattern (re.search on the skyward case's node id) and
# why. Keep it short and honest.
EXPECTED: dict[str, str] = {
    r"test_nested_loop\[(loky|back_compat_backend)-skyward\]|test_backend_nesting_level\[\w+-skyward-loky\]": (
        "a task on a loky worker names 'skyward': that fresh Python never imported skyward_joblib "
        "(any third-party backend's name fails there)"),
    r"test_parallel_with_interactively_defined_functions\[skyward\]": (
        "runs a new `python -c` script naming the backend: that Python has no pool and never "
        "imported skyward_joblib"),
    r"test_error_capture\[skyward\]": (
        "asserts loky's worker-pool object (backend._pool / _workers) exists and is replaced after "
        "an error; its ZeroDivisionError / KeyboardInterrupt checks before that pass"),
    r"test_dispatch_multiprocessing\[skyward\]|test_initializer_(context|parallel)\[.*skyward": (
        "a multiprocessing.Manager proxy in a task: it needs this process's authkey and a local "
        "socket, which a pool's workers (other machines) have not"),
    r"test_(auto_memmap_on_arrays_from_generator|memmapping_leaks)\[skyward\]": (
        "asserts joblib's memmapping to a local temp folder (np.memmap arguments, max_nbytes, "
        "temp_folder): skyward sends arrays as blobs mapped read-only on each node instead"),
    r"test_cross_val_predict_decision_function_shape": (
        "three folds fail with different messages and joblib raises the first in order among those "
        "failed so far: which depends on which fold finishes first (loky with 4 processes on this "
        "machine: (599, 21) twice and (599, 28) three times in 5 runs)"),
}


@dataclass
class Regression:
    test: str
    message: str
    expected: str | None  # why, when the difference is inherent


@dataclass
class SuiteResult:
    name: str
    seconds: dict[str, float] = field(default_factory=dict)
    run: int = 0
    passed_loky: int = 0
    passed_skyward: int = 0
    regressions: list[Regression] = field(default_factory=list)
    unpaired: list[str] = field(default_factory=list)  # skyward cases without a loky sibling
    # tests skyward passes and loky does not (for the record)
    fixed: list[str] = field(default_factory=list)


def _pytest(modules: list[str], mode: str, report: Path, keyword: str | None,
            tests: list[str] | None = None) -> float:
    """One pytest session over ``modules`` (or only the node ids ``tests``) with the plugin in
    ``mode``; its wall time (0 when ``--reuse`` found its report already there)."""
    if REUSE and report.exists():
        print(f"reusing {report}")
        return 0.0
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *PYTHON_PATHS,
                                         *filter(None, [os.environ.get("PYTHONPATH")])])
    command = [sys.executable, "-m", "pytest", "-p", "skyward_peer", f"--skyward-peer={mode}",
               # node ids relative to the installed packages' folder: sklearn/.../test_x.py::test_y
               f"--rootdir={SITE_PACKAGES}",
               f"--skyward-report={report}", "-p", "no:cacheprovider", "-q", "-o", "addopts=",
               f"--timeout={TEST_TIMEOUT}", "-W", "ignore::DeprecationWarning"]
    command += [str(SITE_PACKAGES / test) for test in tests] if tests is not None else ["--pyargs", *modules]
    if keyword and tests is None:
        command += ["-k", keyword]
    shown = command if tests is None else [*command[:-len(tests)], f"<{len(tests)} node ids>"]
    print(f"$ {' '.join(shown)}", flush=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="skyward-peer-") as cwd:  # no rootdir files of ours
        proc = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=SUITE_TIMEOUT)
    seconds = time.monotonic() - start
    lines = proc.stdout.strip().splitlines()
    print(f"  {lines[-1] if lines else '(no output)'} ({seconds:.0f}s, exit {proc.returncode})", flush=True)
    if not report.exists():
        raise RuntimeError(f"pytest wrote no report (exit {proc.returncode}):\n{proc.stdout[-6000:]}")
    return seconds


def _load(report: Path) -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads(report.read_text())
    return data



def _why(test: str) -> str | None:
    for pattern, reason in EXPECTED.items():
        if re.search(pattern, test):
            return reason
    return None


Outcomes = dict[str, dict[str, object]]


def _compare(result: SuiteResult, pairs: list[tuple[str, dict[str, object], dict[str, object]]],
             processes: Outcomes | None = None) -> None:
    """Counts ``pairs`` (test, loky's outcome, skyward's); ``processes``: the loky-pool session's
    outcomes, where a test that fails too relies on running in the caller."""
    for test, loky, skyward in pairs:
        result.run += 1
        result.passed_loky += loky["outcome"] == PASSED
        result.passed_skyward += skyward["outcome"] == PASSED
        if loky["outcome"] == PASSED and skyward["outcome"] in FAILED:
            why = _why(test)
            other = (processes or {}).get(test)
            if why is None and other is not None and other["outcome"] in FAILED:
                why = (f"fails under loky too when n_jobs=None means {TOTAL_SLOTS} worker processes "
                       f"(in one of {LOKY_POOL_RUNS} runs; it relies on running in the caller): "
                       f"{other['message']}")
            result.regressions.append(Regression(test, str(skyward["message"]), why))
        elif skyward["outcome"] == PASSED and loky["outcome"] in FAILED:
            result.fixed.append(test)


def run_joblib(work: Path, keyword: str | None) -> SuiteResult:
    """joblib's test_parallel, with "skyward" among its backends: each skyward case against its loky
    sibling, in one session."""
    result = SuiteResult("joblib test_parallel")
    report = work / "joblib.json"
    result.seconds["both"] = _pytest(JOBLIB_MODULES, "params", report, keyword)
    outcomes = _load(report)
    pairs = []
    for test, skyward in outcomes.items():
        sibling = loky_sibling(test)
        if sibling is not None and sibling in outcomes:
            pairs.append((test, outcomes[sibling], skyward))
        elif sibling is not None:
            result.unpaired.append(f"{test}: {skyward['outcome']}")
    _compare(result, pairs)
    return result


def run_sklearn(work: Path, keyword: str | None) -> SuiteResult:
    """scikit-learn's suites once with loky as joblib's default, once with skyward; and, to tell
    why skyward fails a test loky passes, once with loky running n_jobs=None on as many processes
    as the pool has slots (what skyward makes of n_jobs=None)."""
    result = SuiteResult("scikit-learn " + ", ".join(m.rsplit(".", 1)[1] for m in SKLEARN_MODULES))
    reports = {mode: work / f"sklearn-{mode}.json" for mode in ("loky", "default", "loky-pool")}
    for mode in ("loky", "default"):
        result.seconds[mode] = _pytest(SKLEARN_MODULES, mode, reports[mode], keyword)
    loky, skyward = _load(reports["loky"]), _load(reports["default"])
    pairs = [(test, loky[test], skyward[test]) for test in loky if test in skyward]
    # the third session runs only what skyward fails and loky passes
    failing = [test for test, a, b in pairs if a["outcome"] == PASSED and b["outcome"] in FAILED]
    processes: Outcomes = {}
    for attempt in range(LOKY_POOL_RUNS if failing else 0):
        report = reports["loky-pool"].with_suffix(f".{attempt + 1}.json")
        result.seconds[f"loky-pool #{attempt + 1}"] = _pytest(SKLEARN_MODULES, "loky-pool", report,
                                                              keyword, failing)
        for test, outcome in _load(report).items():  # failing in any run counts
            seen = processes.get(test)
            if seen is None or (outcome["outcome"] in FAILED and seen["outcome"] not in FAILED):
                processes[test] = outcome
    _compare(result, pairs, processes)
    return result


def _print(result: SuiteResult) -> bool:
    """Prints one suite's summary; whether it has an unexpected regression."""
    timing = ", ".join(f"{mode} {seconds:.0f}s" for mode, seconds in result.seconds.items())
    print(f"\n== {result.name}: {result.run} tests compared ({timing})")
    print(f"   passed under loky {result.passed_loky}, under skyward {result.passed_skyward}")
    unexpected = [r for r in result.regressions if r.expected is None]
    for regression in result.regressions:
        tag = "UNEXPECTED" if regression.expected is None else f"expected ({regression.expected})"
        print(f"   loky pass, skyward FAIL: {regression.test}\n      {tag}: {regression.message}")
    for test in result.fixed:
        print(f"   loky fail, skyward pass: {test}")
    for test in result.unpaired:
        print(f"   skyward case without a loky sibling: {test}")
    return bool(unexpected)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=("joblib", "sklearn", "all"), default="all")
    parser.add_argument("-k", dest="keyword", default=None, help="pytest's -k, for a narrower run")
    parser.add_argument("--out", default=None, help="keep the JSON reports in this folder")
    parser.add_argument("--reuse", action="store_true",
                        help="with --out: compare the reports already there, run only the missing")
    args = parser.parse_args()
    global REUSE
    REUSE = bool(args.reuse and args.out)
    with tempfile.TemporaryDirectory(prefix="skyward-peer-reports-") as scratch:
        work = Path(args.out) if args.out else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        results = []
        if args.suite in ("joblib", "all"):
            results.append(run_joblib(work, args.keyword))
        if args.suite in ("sklearn", "all"):
            results.append(run_sklearn(work, args.keyword))
        failing = [_print(result) for result in results]
    if any(failing):
        print("\nskyward fails tests loky passes (UNEXPECTED above)")
        return 1
    print("\nskyward fails no test that loky passes (beyond the expected differences listed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
