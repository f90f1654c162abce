"""Volumes (--volume): S3 mirrors kept by ETag, folders in place, the path redirect tasks see, put-back."""
from __future__ import annotations

import glob
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from skyward_worker import volume_s3
from skyward_worker.cli import parse_args
from skyward_worker.exit_codes import EXIT_VOLUME
from skyward_worker.volume_redirect import READ_ONLY_HINT
from skyward_worker.volume_spec import VolumeError, VolumeSpec

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A real S3 emulator (moto_server) for the module's tests; always stopped."""
    if not MOTO_SERVER.exists():
        pytest.skip(f"no {MOTO_SERVER} (pip install 'moto[server]')")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start (exit {proc.poll()})") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _aws_env(endpoint: str, tmp_path: Path) -> dict[str, str]:
    """What the TS side gives an agent: keys, region, endpoint; and a cache of the test's own."""
    return {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "SKYWARD_CACHE_DIR": str(tmp_path / "cache"),
    }


@pytest.fixture
def aws(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """This process's environment set for the emulator (in-process syncs), and the same for agents."""
    env = _aws_env(moto_endpoint, tmp_path)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    volume_s3._client = None  # the client of an earlier test knew another environment
    yield env
    volume_s3._client = None


@pytest.fixture
def s3(aws: dict[str, str]) -> Any:
    import boto3

    return boto3.session.Session().client("s3", region_name=REGION, endpoint_url=aws["AWS_ENDPOINT_URL_S3"])


def _bucket(s3: Any, objects: dict[str, bytes]) -> str:
    name = f"vol-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    for key, body in objects.items():
        s3.put_object(Bucket=name, Key=key, Body=body)
    return name


def _data_folder() -> str:
    """A volume path that cannot exist on the test machine."""
    return f"/skyward-test-{uuid.uuid4().hex[:10]}"


# -- the S3 mirror ---------------------------------------------------------------------------------------

def test_fetch_then_cached_then_changed_and_deleted(s3: Any) -> None:
    bucket = _bucket(s3, {"ds/a.csv": b"x,y\n1,2\n", "ds/sub/b.bin": b"\0" * 3000, "ds/c.txt": b"c",
                          "other/no.txt": b"not under the prefix"})
    spec = VolumeSpec(f"s3://{bucket}/ds", "/data", False)
    lines: list[str] = []
    mount, summary = volume_s3.sync(spec, lines.append)
    assert (summary.objects, summary.fetched, summary.cached, summary.removed) == (3, 3, 0, 0)
    assert summary.fetched_bytes == summary.bytes == 8 + 3000 + 1
    data = Path(mount.local)
    assert sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file()) == ["a.csv", "c.txt", "sub/b.bin"]
    assert (data / "a.csv").read_bytes() == b"x,y\n1,2\n"
    assert data.parent.parent.name == "volumes" and data.name == "data"  # <cache>/volumes/<hash>/data

    mount2, again = volume_s3.sync(spec, lines.append)  # nothing changed: nothing downloaded
    assert mount2 == mount and (again.fetched, again.cached, again.fetched_bytes) == (0, 3, 0)

    s3.put_object(Bucket=bucket, Key="ds/c.txt", Body=b"changed")
    s3.delete_object(Bucket=bucket, Key="ds/sub/b.bin")
    _, third = volume_s3.sync(spec, lines.append)
    assert (third.objects, third.fetched, third.cached, third.removed) == (2, 1, 1, 1)
    assert (data / "c.txt").read_bytes() == b"changed"
    assert not (data / "sub").exists()
    assert not os.listdir(Path(mount.cache or "") / volume_s3.TMP_DIR)


def test_a_locally_damaged_file_is_fetched_again(s3: Any) -> None:
    bucket = _bucket(s3, {"a.txt": b"original"})
    spec = VolumeSpec(f"s3://{bucket}", "/data", False)
    mount, _ = volume_s3.sync(spec, print)
    Path(mount.local, "a.txt").write_bytes(b"scribbled on")
    _, again = volume_s3.sync(spec, print)
    assert again.fetched == 1 and Path(mount.local, "a.txt").read_bytes() == b"original"


def test_keys_that_cannot_be_files_are_skipped(s3: Any) -> None:
    bucket = _bucket(s3, {"c": b"file where a folder must be", "c/x": b"x", "d//e": b"empty part", "f/": b""})
    lines: list[str] = []
    mount, summary = volume_s3.sync(VolumeSpec(f"s3://{bucket}", "/data", False), lines.append)
    assert (summary.objects, summary.fetched, sorted(summary.skipped)) == (1, 1, ["c", "d//e"])
    assert Path(mount.local, "c", "x").read_bytes() == b"x"
    Path(mount.cache or "", volume_s3.INDEX_FILE).write_text('{"objects": {"c/x": "not an entry"}}')
    assert volume_s3.sync(VolumeSpec(f"s3://{bucket}", "/data", False), print).summary.fetched == 1


def test_two_agents_fetching_the_same_source_at_once(s3: Any) -> None:
    bucket = _bucket(s3, {f"p/{i}.bin": os.urandom(20_000) for i in range(30)})
    spec = VolumeSpec(f"s3://{bucket}/p/", "/data", False)
    results: list[volume_s3.SyncSummary] = []

    def run() -> None:
        results.append(volume_s3.sync(spec, print)[1])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted((r.fetched, r.cached) for r in results) == [(0, 30), (30, 0)]


def test_progress_lines_of_a_long_fetch(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = _bucket(s3, {f"p/{i}.bin": os.urandom(50_000) for i in range(40)})
    monkeypatch.setattr(volume_s3, "PROGRESS_EVERY", 0.001)  # a line every 5 s, as if the fetch were long
    lines: list[str] = []
    volume_s3.sync(VolumeSpec(f"s3://{bucket}/p", "/data", False), lines.append)
    progress = [line for line in lines if "so far" in line]
    assert progress, lines
    assert progress[0].startswith(f"volume /data: s3://{bucket}/p: fetching 40 objects, 1.9 MiB: ")


def test_error_lines_of_s3(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = _bucket(s3, {"there/a": b"a"})
    with pytest.raises(VolumeError) as no_prefix:
        volume_s3.sync(VolumeSpec(f"s3://{bucket}/missing", "/data", False), print)
    assert str(no_prefix.value) == f"volume /data: nothing under s3://{bucket}/missing: check the prefix"
    # a writable volume may start empty: tasks fill it
    _, summary = volume_s3.sync(VolumeSpec(f"s3://{bucket}/out", "/out", True), print)
    assert summary.objects == 0
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    volume_s3._client = None
    with pytest.raises(VolumeError) as no_keys:
        volume_s3.sync(VolumeSpec(f"s3://{bucket}/there", "/data", False), print)
    assert str(no_keys.value).startswith(f"volume /data: no AWS credentials on this node to read s3://{bucket}/there")


def test_access_denied_line() -> None:
    from botocore.exceptions import ClientError

    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListObjectsV2")
    assert volume_s3.explain(denied, "/data", "s3://b/p") == (
        "volume /data: access denied to s3://b/p: the pool's credentials or the instances' role must allow "
        "s3:ListBucket and s3:GetObject on it")


# -- the agent: errors before hello ------------------------------------------------------------------------

def _volume_arg(source: str, path: str, writable: bool = False) -> list[str]:
    return ["--volume", json.dumps({"source": source, "path": path, "writable": writable})]


def _expect_volume_error(a: Any, line: str) -> None:
    log = a.take(lambda m: m.get("type") == "log" and m.get("level") == "error")
    assert log["line"] == line and log["stream"] == "agent"
    assert a.wait(15) == EXIT_VOLUME
    assert f"error: {line}" in a.stderr
    assert not a.all("hello")  # no task may run without its volumes


def test_agent_exits_on_a_missing_bucket(start_agent: Any, aws: dict[str, str]) -> None:
    a = start_agent("--concurrency", "1", *_volume_arg("s3://no-such-bucket-skyward/p", "/data"), env=aws)
    _expect_volume_error(a, "volume /data: no such bucket 'no-such-bucket-skyward' (s3://no-such-bucket-skyward/p): "
                            "check the name and the region")


def test_agent_exits_on_an_empty_prefix(start_agent: Any, aws: dict[str, str], s3: Any) -> None:
    bucket = _bucket(s3, {"a/x": b"x"})
    a = start_agent("--concurrency", "1", *_volume_arg(f"s3://{bucket}/b", "/data"), env=aws)
    _expect_volume_error(a, f"volume /data: nothing under s3://{bucket}/b: check the prefix")


def test_agent_exits_on_a_missing_folder(start_agent: Any, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    a = start_agent("--concurrency", "1", *_volume_arg(missing, "/data"))
    _expect_volume_error(a, f"volume /data: {missing} does not exist on this node: check the source")


@pytest.mark.parametrize("value,problem", [
    ("{not json", "not JSON"),
    ('{"source": "s3://b/p", "path": "data"}', "path must be an absolute"),
    ('{"source": "s3://b/p", "path": "/"}', "path must be an absolute"),
    ('{"source": "s3://b/p", "path": "/data", "mode": "ro"}', "unknown key(s) mode"),
    ('{"source": "relative/folder", "path": "/data"}', "source must be"),
    ('{"path": "/data"}', "missing source"),
])
def test_bad_volume_flags(value: str, problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--volume", value])
    err = capsys.readouterr().err
    assert "argument --volume" in err and problem in err


def test_volume_flags_parsed() -> None:
    config = parse_args([*_volume_arg("s3://b/p", "/data"), *_volume_arg("/srv/x", "/out", True)])
    assert config.volumes == (VolumeSpec("s3://b/p", "/data", False), VolumeSpec("/srv/x", "/out", True))
    with pytest.raises(SystemExit):
        parse_args([*_volume_arg("s3://b/p", "/data"), *_volume_arg("/srv/x", "/data/in")])


# -- tasks see the volume ----------------------------------------------------------------------------------

def _read_everything(root: str) -> dict[str, Any]:
    """A task: reads the volume at ``root`` every way tasks do."""
    import errno
    import glob
    import pathlib

    import joblib
    import numpy

    import skyward_worker

    out: dict[str, Any] = {}
    with open(f"{root}/a.csv") as f:
        out["open"] = f.read()
    out["numpy"] = numpy.load(f"{root}/X.npy").tolist()
    out["joblib"] = joblib.load(f"{root}/model.joblib")
    out["iterdir"] = sorted(p.name for p in pathlib.Path(root).iterdir())
    out["glob"] = sorted(str(p) for p in pathlib.Path(root).glob("*.csv"))
    out["rglob"] = sorted(str(p) for p in pathlib.Path(root).rglob("*.txt"))
    out["glob.glob"] = sorted(glob.glob(f"{root}/sub/*"))
    out["read_bytes"] = pathlib.Path(root, "sub", "b.txt").read_bytes().decode()
    out["listdir"] = sorted(os.listdir(root))
    out["exists"] = (os.path.exists(f"{root}/a.csv"), os.path.isdir(f"{root}/sub"), os.path.isfile(f"{root}/a.csv"),
                     os.path.getsize(f"{root}/a.csv"), pathlib.Path(root, "nope").exists(),
                     os.path.exists(root + "-not-a-volume"))
    out["walk"] = sorted(os.path.join(d, n) for d, _, names in os.walk(root) for n in names)
    real = skyward_worker.volume_path(f"{root}/a.csv")
    out["volume_path"] = (real != f"{root}/a.csv", open(real).read() == out["open"])
    refused = []
    for attempt in (lambda: open(f"{root}/new.txt", "w"), lambda: open(f"{root}/a.csv", "r+"),
                    lambda: os.open(f"{root}/a.csv", os.O_WRONLY), lambda: os.remove(f"{root}/a.csv"),
                    lambda: pathlib.Path(root, "x.txt").write_text("x")):
        try:
            attempt()
            refused.append(None)
        except PermissionError as exc:
            refused.append((exc.errno == errno.EROFS, str(exc.strerror)))
    out["refused"] = refused
    out["writable"] = os.access(f"{root}/a.csv", os.W_OK)
    return out


@pytest.mark.parametrize("executor", ["process", "thread"])
def test_tasks_read_an_s3_volume(start_agent: Any, aws: dict[str, str], s3: Any, executor: str) -> None:
    import joblib
    import numpy

    buf, model = io.BytesIO(), io.BytesIO()
    numpy.save(buf, numpy.arange(6).reshape(2, 3))
    joblib.dump({"weights": [1, 2, 3]}, model)
    bucket = _bucket(s3, {"in/a.csv": b"x,y\n1,2\n", "in/X.npy": buf.getvalue(), "in/sub/b.txt": b"bee",
                          "in/sub/c.csv": b"c", "in/model.joblib": model.getvalue()})
    root = _data_folder()
    # what the agent inherits is wrong: the values on its input must win (as the TS side sends credentials)
    env = {**aws, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "inherited"}
    a = start_agent("--executor", executor, "--concurrency", "1", "--env-on-input",
                    *_volume_arg(f"s3://{bucket}/in", root), env=env)
    a.send_raw(json.dumps({k: v for k, v in aws.items() if k.startswith("AWS_")}).encode() + b"\n")
    a.hello()
    summary = a.take(lambda m: m.get("type") == "log" and "objects" in m.get("line", ""))
    assert summary["line"].startswith(f"volume {root}: s3://{bucket}/in: 5 objects, ")
    assert "fetched 5 (" in summary["line"] and summary["line"].endswith("s") and "0 cached" in summary["line"]
    a.submit(1, lambda: _read_everything(root))
    out = a.value(1)
    assert out["open"] == "x,y\n1,2\n"
    assert out["numpy"] == [[0, 1, 2], [3, 4, 5]]
    assert out["joblib"] == {"weights": [1, 2, 3]}
    assert out["iterdir"] == out["listdir"] == ["X.npy", "a.csv", "model.joblib", "sub"]
    assert out["glob"] == [f"{root}/a.csv"]
    assert out["rglob"] == [f"{root}/sub/b.txt"]
    assert out["glob.glob"] == [f"{root}/sub/b.txt", f"{root}/sub/c.csv"]
    assert out["read_bytes"] == "bee"
    assert out["exists"] == (True, True, True, 8, False, False)
    assert out["walk"] == [f"{root}/X.npy", f"{root}/a.csv", f"{root}/model.joblib", f"{root}/sub/b.txt",
                           f"{root}/sub/c.csv"]
    assert out["volume_path"] == (True, True)
    hint = f"volume {root} is read-only: {READ_ONLY_HINT}"
    assert out["refused"] == [(True, hint)] * 5
    assert out["writable"] is False


def _write_outputs(root: str) -> list[str]:
    import pathlib

    os.makedirs(f"{root}/out/deep", exist_ok=True)
    with open(f"{root}/out/deep/new.txt", "w") as f:
        f.write("written by a task")
    pathlib.Path(root, "seed.txt").write_text("seed, changed")
    return sorted(os.listdir(f"{root}/out"))


@pytest.mark.parametrize("executor", ["process", "thread"])
def test_writable_s3_volume_is_put_back(start_agent: Any, aws: dict[str, str], s3: Any, executor: str) -> None:
    bucket = _bucket(s3, {"work/seed.txt": b"seed", "work/keep.txt": b"keep"})
    root = _data_folder()
    a = start_agent("--executor", executor, "--concurrency", "1",
                    *_volume_arg(f"s3://{bucket}/work", root, writable=True), env=aws)
    a.hello()
    a.submit(1, lambda: _write_outputs(root))
    line = a.take(lambda m: m.get("type") == "log" and "put back" in m.get("line", ""))
    assert line["line"] == f"volume {root}: put back 2 files (30 B) to s3://{bucket}/work" and line["id"] == 1
    assert a.value(1) == ["deep"]
    get = s3.get_object
    assert get(Bucket=bucket, Key="work/out/deep/new.txt")["Body"].read() == b"written by a task"
    assert get(Bucket=bucket, Key="work/seed.txt")["Body"].read() == b"seed, changed"
    a.submit(2, lambda: 1)  # nothing written: nothing put back
    assert a.value(2) == 1
    assert not [m for m in a.all("log") if "put back" in m.get("line", "")]
    # the next pool's agent finds everything cached (the put-back recorded the new ETags)
    _, summary = volume_s3.sync(VolumeSpec(f"s3://{bucket}/work", root, True), print)
    assert (summary.objects, summary.fetched, summary.cached) == (3, 0, 3)


def test_folder_volumes_in_place(start_agent: Any, tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("in place")
    out = tmp_path / "out"
    out.mkdir()
    root, out_root = _data_folder(), _data_folder()
    a = start_agent("--executor", "thread", "--concurrency", "1", *_volume_arg(str(source), root),
                    *_volume_arg(str(out), out_root, writable=True))
    a.hello()

    def task() -> Any:
        import pathlib

        with open(f"{out_root}/result.txt", "w") as f:
            f.write(pathlib.Path(root, "a.txt").read_text())
        try:
            open(f"{root}/b.txt", "w")
        except PermissionError as exc:
            refused = exc.strerror
        return sorted(os.listdir(root)), refused

    a.submit(1, task)
    assert a.value(1) == (["a.txt", "sub"], f"volume {root} is read-only: {READ_ONLY_HINT}")
    assert (out / "result.txt").read_text() == "in place"
    assert not (source / "b.txt").exists()
    shutil.rmtree(source)


def _pythons() -> dict[str, str]:
    """One working interpreter per Python 3.9 to 3.13 on this machine (PATH, pyenv), by version: at least ours."""
    candidates = [sys.executable]
    for minor in range(9, 14):
        candidates.append(shutil.which(f"python3.{minor}") or "")
        candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3.{minor}")))
    found: dict[str, str] = {}
    for python in filter(None, candidates):
        try:
            probe = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                   capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        version = probe.stdout.strip()
        if probe.returncode == 0 and version in {f"3.{minor}" for minor in range(9, 14)}:
            found.setdefault(version, python)
    return found


def test_redirect_on_every_python(tmp_path: Path) -> None:
    from conftest import SUPPORT, WORKER_PY

    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("a")
    (local / "sub" / "b.txt").write_text("b")
    root = _data_folder()
    checked = []
    for version, python in sorted(_pythons().items(), key=lambda item: tuple(map(int, item[0].split(".")))):
        run = subprocess.run([python, str(SUPPORT / "volume_redirect_check.py"), str(WORKER_PY), str(local), root],
                             capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": ""})
        assert run.returncode == 0, f"Python {version} ({python}): {run.stderr}"
        out = json.loads(run.stdout)
        assert out == {
            "open": "a", "path_open": "a", "read_text": "b",
            "iterdir": [f"{root}/a.txt", f"{root}/sub"],
            "glob": [f"{root}/a.txt"],
            "rglob": [f"{root}/a.txt", f"{root}/sub/b.txt"],
            "glob.glob": [f"{root}/a.txt", f"{root}/sub/b.txt"],
            "listdir": ["a.txt", "sub"],
            "scandir": [f"{root}/a.txt", f"{root}/sub"],
            "exists": [True, True, True, 1, False, False],
            "stat": 1,
            "walk": [f"{root}/a.txt", f"{root}/sub/b.txt"],
            "copied": ["a2.txt", "tree/a.txt", "tree/sub/b.txt"],
            "refused": [True] * 6,
        }, f"Python {version}"
        checked.append(version)
    assert checked
    print("redirect checked under Python", ", ".join(checked))
    assert sorted(p.name for p in local.rglob("*")) == ["a.txt", "b.txt", "sub"]  # nothing written
