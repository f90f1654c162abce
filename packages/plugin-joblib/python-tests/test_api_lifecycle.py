"""The pool API's life cycle against a stand-in engine (fake_engine.py): the backend inside the block
only, the engine gone after it (also after an exception, a KeyboardInterrupt or an engine that does
not stop), its errors, connect()/disconnect() and sklearn_backend()."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from joblib.parallel import get_active_backend

import skyward_joblib
from skyward_joblib import (
    EngineError,
    EngineUsageError,
    JoblibPool,
    Local,
    ScikitLearnPool,
    _bridge,
    _engine,
    connect,
    disconnect,
    sklearn_backend,
)

HERE = Path(__file__).resolve().parent
POOL_VARIABLES = ("SKYWARD_BRIDGE", "SKYWARD_TOKEN", "SKYWARD_WORKDIR_REPORT")
PYTHON_DIRS = [str(HERE), str(HERE.parent / "python"), str(HERE.parents[2] / "packages" / "codec" / "python")]
FAKE_SLOTS = 3
REPORT = "SKYWARD_WORKDIR_REPORT"

pytestmark = pytest.mark.timeout(60)


def backend_name() -> str:
    return type(get_active_backend()[0]).__name__


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by a parent other than us) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


class Fake:
    """The stand-in engine's folder: what it was started with, and whether it closed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def up(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / "up.json").read_text())
        return data

    @property
    def closed(self) -> bool:
        return (self.folder / "closed").exists()


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fake]:
    cli = tmp_path / "skyward"
    cli.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "fake_engine.py"}" "$@"\n')
    cli.chmod(0o755)
    monkeypatch.setenv(_engine.ENV_CLI, str(cli))
    monkeypatch.setenv("FAKE_ENGINE_DIR", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(PYTHON_DIRS))
    for variable in POOL_VARIABLES:  # conftest's pool (when a test before opened it) is not this one
        monkeypatch.delenv(variable, raising=False)
    # the fake's socket folder: short (tmp_path can be longer than a Unix socket's path may be), and
    # removed here even when a test killed the fake
    sockets = tempfile.mkdtemp(prefix="sky-fake-", dir="/tmp")
    monkeypatch.setenv("FAKE_ENGINE_SOCKETS", sockets)
    before = _bridge.current_bridge()
    try:
        yield Fake(tmp_path)
        disconnect()
        assert _bridge.current_bridge() == before
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


def test_the_block_runs_on_the_pool_and_leaves_nothing(fake: Fake, capfd: pytest.CaptureFixture[str]) -> None:
    assert backend_name() != "SkywardBackend"
    with JoblibPool(provider=Local(), nodes=1, env={"SECRET": "v4lue"}) as pool:
        assert pool.total_slots == FAKE_SLOTS
        assert backend_name() == "SkywardBackend"
        assert pool.name and pool.name.startswith("fake-")
        assert pool.info.pool_env == {"POOL_VAR": "1", REPORT: str(fake.folder / "workdir-report.json")}
        assert "SKYWARD_TOKEN" not in os.environ and "POOL_VAR" not in os.environ
        assert os.environ[REPORT] == str(fake.folder / "workdir-report.json")  # for the hints only
        pid = fake.up["pid"]
        assert alive(pid)
    assert backend_name() != "SkywardBackend" and REPORT not in os.environ
    assert fake.closed and not alive(pid)
    assert _bridge._client is None or _bridge._client.closed
    # the variable's value went through the engine's environment, not its command line
    assert fake.up["env"]["SECRET"] == "v4lue" and "v4lue" not in fake.up["argv"]
    assert fake.up["argv"][:3] == ["up", "--foreground", "--json"]
    err = capfd.readouterr().err
    assert "starting 1 node (fake)" in err and "pool ready" in err  # progress relayed


def test_an_exception_in_the_block_still_closes_the_pool(fake: Fake) -> None:
    with pytest.raises(ZeroDivisionError):
        with ScikitLearnPool(name="boom"):
            pid = fake.up["pid"]
            1 / 0  # noqa: B018
    assert fake.closed and not alive(pid)
    assert "--plugin" in fake.up["argv"] and "sklearn" in fake.up["argv"]


def test_a_keyboard_interrupt_in_the_block_still_closes_the_pool(fake: Fake) -> None:
    with pytest.raises(KeyboardInterrupt):
        with JoblibPool():
            pid = fake.up["pid"]
            raise KeyboardInterrupt
    assert not alive(pid)


def test_an_engine_that_does_not_stop_is_killed(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "stubborn")
    monkeypatch.setattr(_engine, "STOP_TIMEOUT", 0.5)
    monkeypatch.setattr(_engine, "TERMINATE_TIMEOUT", 0.5)
    with JoblibPool():
        pid = fake.up["pid"]
    assert not alive(pid) and not fake.closed


def test_a_failure_before_ready_is_the_engines_message(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "fail")
    with pytest.raises(EngineError, match="^node 0: the environment could not be built$") as failed:
        JoblibPool().open()
    assert failed.value.exit_code == 1 and not isinstance(failed.value, ValueError)
    monkeypatch.setenv("FAKE_ENGINE_MODE", "usage")
    with pytest.raises(EngineUsageError, match="--nodes must be 1 or more") as usage:
        with JoblibPool():
            pass
    assert usage.value.exit_code == 2 and isinstance(usage.value, ValueError)
    assert backend_name() != "SkywardBackend"


def test_sklearn_backend_makes_an_open_pool_the_backend(fake: Fake) -> None:
    pool = JoblibPool().open()
    try:
        assert backend_name() != "SkywardBackend"
        with sklearn_backend(pool):
            assert backend_name() == "SkywardBackend"
            assert pool.total_slots == FAKE_SLOTS
        assert backend_name() != "SkywardBackend"
        with pytest.raises(RuntimeError, match="already open"):
            pool.open()
    finally:
        pool.close()
    pool.close()  # twice is fine
    with pytest.raises(RuntimeError, match="not open"):
        pool.total_slots  # noqa: B018


@pytest.fixture
def named_pool(fake: Fake) -> Iterator[str]:
    """A pool started elsewhere (as `skyward up --name nb` in a terminal would)."""
    proc = subprocess.Popen([os.environ[_engine.ENV_CLI], "up", "--foreground", "--json", "--name", "nb"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        json.loads(proc.stdout.readline())
        yield "nb"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(30)
        assert proc.stdout is not None
        proc.stdout.close()


def test_connect_activates_the_backend_for_the_process_until_disconnect(named_pool: str) -> None:
    pool = connect(named_pool)
    assert backend_name() == "SkywardBackend"
    assert pool.total_slots == FAKE_SLOTS and pool.name == named_pool
    assert _bridge.get_client().path == pool.bridge.socket
    disconnect()
    assert backend_name() != "SkywardBackend" and pool.closed
    with connect(named_pool) as pool:
        assert backend_name() == "SkywardBackend"
    assert backend_name() != "SkywardBackend"


def test_connect_to_a_pool_that_does_not_run_says_so(fake: Fake) -> None:
    with pytest.raises(EngineError, match="no pool named nowhere"):
        connect("nowhere")
    assert backend_name() != "SkywardBackend"
    assert skyward_joblib._active is None


def test_use_bridge_is_preferred_to_the_environment_and_switching_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_bridge import FakeBridge

    first, second, env = FakeBridge(slots=1), FakeBridge(slots=2), FakeBridge(slots=5)
    monkeypatch.setenv("SKYWARD_BRIDGE", env.path)
    monkeypatch.setenv("SKYWARD_TOKEN", "env-token")
    try:
        before = _bridge.use_bridge(_bridge.BridgeAddress(first.path, "t1"))
        client = _bridge.get_client()
        assert (client.path, client.slots) == (first.path, 1)
        assert _bridge.use_bridge(_bridge.BridgeAddress(second.path, "t2")).socket == first.path
        assert client.closed and _bridge.get_client().slots == 2
        _bridge.use_bridge(before)
        assert _bridge.get_client().slots == 5  # the environment's again
    finally:
        _bridge.close_client()
        for bridge in (first, second, env):
            bridge.close()
