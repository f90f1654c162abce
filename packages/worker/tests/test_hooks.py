"""Plugin worker hooks: --task-hook and --app-hook."""
from __future__ import annotations

import os
import sys
import time

import cloudpickle
import pytest

from skyward_worker.exit_codes import EXIT_HOOK

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("executor", ["process", "thread"])
def test_task_and_app_hooks(start_agent, tmp_path, executor):
    marker = tmp_path / "app.txt"
    a = start_agent("--executor", executor, "--concurrency", "2",
                    "--task-hook", "skyward_testmod:tag_hook",
                    "--task-hook", "skyward_testmod:outer_hook",
                    "--app-hook", "skyward_testmod:app_hook",
                    env={"SKYWARD_TEST_APP_FILE": str(marker)})
    for tid in (1, 11):  # two overlapping tasks: both slots are up before we shut down
        a.submit(tid, lambda: (time.sleep(0.3), os.environ.get("SKYWARD_TEST_APP"), os.getpid()))
    for tid in (1, 11):
        outer, (tag, (_, app, pid)) = a.value(tid)
        assert (outer, tag) == ("outer", "tagged")
        assert app == f"entered:{pid}"
    a.call(2, "skyward_testmod:add", 1, 2)
    assert a.value(2) == ["outer", ["tagged", 3]]  # CBOR turns tuples into arrays
    a.snapshot_tree()
    a.close_stdin()
    assert a.wait(5) == 0
    deadline = time.monotonic() + 3
    expected = 2 if executor == "process" else 1
    while time.monotonic() < deadline:
        lines = marker.read_text().split()
        if lines.count("exit") == expected:
            break
        time.sleep(0.05)
    lines = marker.read_text().splitlines()
    assert sum(1 for line in lines if line.startswith("enter")) == expected
    assert sum(1 for line in lines if line.startswith("exit")) == expected


@pytest.mark.parametrize("executor", ["process", "thread"])
@pytest.mark.parametrize("flag,spec", [
    ("--task-hook", "no_such_module_abc:hook"),
    ("--task-hook", "skyward_testmod:missing_attr"),
    ("--app-hook", "skyward_testmod:broken_app_hook"),
])
def test_bad_hook_is_reported_and_exits_3(start_agent, executor, flag, spec):
    a = start_agent("--executor", executor, "--concurrency", "1", flag, spec)
    a.hello()
    log = a.take(lambda m: m.get("type") == "log" and m.get("stream") == "agent")
    assert log["level"] == "error" and spec in log["line"]
    assert a.wait(10) == EXIT_HOOK
    assert spec in a.stderr
