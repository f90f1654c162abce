"""The pool API's parameters as the engine's flags, and the errors for wrong or unsupported ones (no
engine is started)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from skyward_joblib import AWS, SSH, EngineNotFoundError, JoblibPool, Local, ScikitLearnPool
from skyward_joblib._engine import ENV_CLI, EngineError, parse_ready

HERE = Path(__file__).resolve().parent
PYTHON_DIRS = [str(HERE.parent / "python"), str(HERE.parents[2] / "packages" / "codec" / "python")]
UP = ["up", "--foreground", "--json"]


@pytest.fixture(autouse=True)
def _cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_CLI, sys.executable)  # any executable: command() only names it


def flags(pool: JoblibPool) -> list[str]:
    """The engine's flags, less the ``--python`` of this test's own virtual environment (see below)."""
    command = pool.command()
    assert command[:4] == [sys.executable, *UP]
    rest = command[4:]
    mirror = ["--python", sys.executable]
    at = next((i for i in range(len(rest)) if rest[i:i + 2] == mirror), None)
    return rest if at is None or pool.options.python != sys.executable else rest[:at] + rest[at + 2:]


def test_the_workers_mirror_this_virtual_environment_unless_told_otherwise() -> None:
    assert sys.prefix != sys.base_prefix  # the tests run in the workspace's virtual environment
    assert JoblibPool().options.python == sys.executable
    assert "--python" in JoblibPool().command()
    assert JoblibPool(python="/opt/py/bin/python").options.python == "/opt/py/bin/python"
    assert JoblibPool(python=False).options.python is None  # the pool's Image, nothing mirrored


def test_defaults_are_one_local_node_with_the_joblib_plugin() -> None:
    assert flags(JoblibPool()) == ["--provider", "local", "--plugin", "joblib"]
    assert flags(ScikitLearnPool()) == ["--provider", "local", "--plugin", "sklearn"]


def test_pool_parameters_become_flags() -> None:
    pool = JoblibPool(Local(), 2, 4, executor="thread", pip=["pandas==2.2", "pyarrow"], timeout=90,
                      workdir=Path("/tmp/work"), python=sys.executable, joblib_version="1.5.2",
                      name="grid", idle="30m", quiet=True, plugins=["./label.mjs:label=x"],
                      extra_args=["--retries", "0"])
    assert flags(pool) == [
        "--provider", "local", "--name", "grid", "--nodes", "2", "--concurrency", "4", "--executor", "thread",
        "--plugin", "joblib", "--plugin", "./label.mjs:label=x",
        "--pip", "joblib==1.5.2", "--pip", "pandas==2.2", "--pip", "pyarrow",
        "--timeout", "90", "--workdir", "/tmp/work", "--idle", "30m",
        "--quiet", "--retries", "0"]
    assert flags(JoblibPool(workdir=False, idle=90, timeout=1.5))[-5:] == [
        "--timeout", "1.5", "--no-workdir", "--idle", "90s"]


def test_volumes_become_volume_flags() -> None:
    from skyward_joblib import LocalVolume, S3Volume
    given = flags(ScikitLearnPool(volume=[S3Volume("/data", "my-bucket", "datasets/"),
                                          LocalVolume("/srv/ref", "/ref", writable=True), "s3://b/p:/out:rw"]))
    assert given[given.index("--volume"):][:6] == [
        "--volume", "s3://my-bucket/datasets/:/data", "--volume", "/srv/ref:/ref:rw", "--volume", "s3://b/p:/out:rw"]
    with pytest.raises(ValueError, match="mount path must be absolute"):
        S3Volume("data", "my-bucket")
    with pytest.raises(TypeError, match="volume must be"):
        JoblibPool(volume=[42])


def test_an_elastic_pool_is_nodes_min_max() -> None:
    assert flags(JoblibPool(Local(), (1, 4), scale_down_after=90))[2:6] == [
        "--nodes", "1..4", "--scale-down-after", "90s"]
    assert flags(ScikitLearnPool(nodes={"min": 2, "max": 2}))[2:4] == ["--nodes", "2..2"]


def test_sklearn_version_and_joblib_version_pin_the_workers() -> None:
    pool = ScikitLearnPool(sklearn_version="1.7.2", joblib_version="1.5.2", pip="numpy==2.3.4")
    assert flags(pool) == ["--provider", "local", "--plugin", "sklearn", "--pip", "joblib==1.5.2",
                           "--pip", "scikit-learn==1.7.2", "--pip", "numpy==2.3.4"]


def test_env_values_stay_off_the_command_line() -> None:
    pool = JoblibPool(env={"API_KEY": "s3cret", "MODE": "fast"})
    assert flags(pool)[-4:] == ["--env", "API_KEY", "--env", "MODE"]
    assert "s3cret" not in " ".join(pool.command())
    assert pool.options.env == {"API_KEY": "s3cret", "MODE": "fast"}  # given to the engine's environment


def test_ssh_provider() -> None:
    ssh = SSH(hosts=["node1", "me@node2:2222"], user="alice", identity="~/.ssh/id_ed25519",
              known_hosts=["/etc/kh", Path("/tmp/kh2")], trust_on_first_use=True)
    assert flags(JoblibPool(ssh)) == [
        "--provider", "ssh", "--hosts", "alice@node1,me@node2:2222",
        "--identity", os.path.expanduser("~/.ssh/id_ed25519"),
        "--known-hosts", "/etc/kh", "--known-hosts", "/tmp/kh2", "--trust-on-first-use", "--plugin", "joblib"]
    assert SSH("node1").hosts == ("node1",)  # one string is one host, not its letters
    with pytest.raises(ValueError, match="at least one host"):
        SSH(hosts=[])
    with pytest.raises(ValueError, match="its own item"):
        SSH(hosts=["a,b"])


def test_aws_provider_and_the_seeds_machine_and_allocation() -> None:
    aws = AWS(region="eu-west-1", instance_type="c6i.xlarge", profile="dev", ttl=0, endpoint="http://localhost:5000",
              ami="ami-123", security_groups="sg-1")
    assert flags(JoblibPool(aws, 4, 2)) == [
        "--provider", "aws", "--allocation", "spot-if-available", "--region", "eu-west-1",
        "--instance-type", "c6i.xlarge", "--profile", "dev", "--ami", "ami-123", "--endpoint", "http://localhost:5000",
        "--ttl", "0", "--security-group", "sg-1", "--nodes", "4", "--concurrency", "2", "--plugin", "joblib"]
    pool = JoblibPool(AWS(), machine="c6i.2xlarge", allocation="on-demand")
    assert flags(pool)[:6] == ["--provider", "aws", "--allocation", "on-demand", "--instance-type", "c6i.2xlarge"]
    with pytest.raises(ValueError, match="disagree"):
        JoblibPool(AWS(instance_type="t3.micro"), machine="c6i.large")
    with pytest.raises(ValueError, match="allocation must be one of"):
        AWS(allocation="cheap")


def test_the_seeds_cpu_memory_and_accelerator_choose_the_aws_instance_type() -> None:
    pool = ScikitLearnPool(AWS(), nodes=2, cpu=8, memory="32GB", accelerator="T4")
    assert flags(pool)[:10] == ["--provider", "aws", "--allocation", "spot-if-available", "--gpu", "T4",
                                "--vcpus", "8", "--memory", "32"]
    assert flags(JoblibPool(AWS(), memory="512MiB"))[4:6] == ["--memory", "0.5"]
    assert flags(JoblibPool(AWS(vcpus=4, memory=7.5)))[4:8] == ["--vcpus", "4", "--memory", "7.5"]


@pytest.mark.parametrize(("kwargs", "error", "says"), [
    ({"machine": "c6i.large"}, ValueError, "applies with provider=AWS"),
    ({"allocation": "spot"}, ValueError, "applies with provider=AWS"),
    ({"image": object()}, TypeError, "pip="),
    ({"accelerator": "A100"}, TypeError, "apply with provider=AWS"),
    ({"cpu": 8}, TypeError, "concurrency="),
    ({"memory": "16GB"}, TypeError, "apply with provider=AWS"),
    ({"provider": AWS(), "memory": "lots"}, ValueError, "memory must be a size"),
    ({"provider": AWS(), "cpu": 0}, ValueError, "cpu .vCPUs per node. must be"),
    ({"nodes": 0}, ValueError, "nodes must be"),
    ({"nodes": (3, 2)}, ValueError, "min .3. must not be above max .2."),
    ({"nodes": (0, 2)}, ValueError, "nodes' min must be"),
    ({"nodes": {"min": 1}}, ValueError, "nodes must be a count, .min, max."),
    ({"scale_down_after": "soon"}, ValueError, "scale_down_after must be"),
    ({"concurrency": 1.5}, ValueError, "concurrency must be"),
    ({"executor": "fork"}, ValueError, "executor must be"),
    ({"timeout": -1}, ValueError, "timeout must be"),
    ({"env": {"1BAD": "x"}}, ValueError, "not a variable name"),
    ({"env": {"N": 3}}, TypeError, "must be a string"),
    ({"name": "has space"}, ValueError, "name must be"),
    ({"idle": "soon"}, ValueError, "idle must be"),
    ({"joblib_version": "1.5 .2"}, ValueError, "joblib version"),
    ({"provider": "aws"}, TypeError, "provider must be"),
])
def test_wrong_and_unsupported_parameters_say_what_to_use(kwargs: dict, error: type, says: str) -> None:
    with pytest.raises(error, match=says):
        JoblibPool(**kwargs)


def test_no_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_CLI)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EngineNotFoundError, match="SKYWARD_CLI is set nor is skyward on PATH"):
        JoblibPool().command()
    monkeypatch.setenv(ENV_CLI, "/nonexistent/skyward")
    with pytest.raises(EngineNotFoundError, match="SKYWARD_CLI=/nonexistent/skyward is not an executable"):
        JoblibPool().open()


def test_the_ready_line_is_checked() -> None:
    good = '{"name": "p", "totalSlots": 4, "env": {"SKYWARD_BRIDGE": "/s", "SKYWARD_TOKEN": "tok3n", "X": "1"}, ' \
           '"pythonPath": ["/a"], "imports": ["m"]}'
    info = parse_ready(good)
    assert (info.name, info.total_slots, info.python_path, info.imports) == ("p", 4, ("/a",), ("m",))
    assert info.bridge.socket == "/s" and info.pool_env == {"X": "1"}
    assert info.bridge.token == "tok3n"
    assert "tok3n" not in repr(info) and "tok3n" not in repr(info.bridge)  # the token is never shown
    for bad in ("not json", "[]", '{"name": "p", "totalSlots": 4, "env": {}}', '{"totalSlots": 4}'):
        with pytest.raises(EngineError):
            parse_ready(bad)


def test_the_package_imports_without_joblib() -> None:
    code = ("import sys; sys.modules['joblib'] = None\n"
            "import skyward_joblib\n"
            "from skyward_joblib import JoblibPool, ScikitLearnPool, connect, Local, SSH, AWS, sklearn_backend\n"
            "print(JoblibPool(Local(), 1).options.plugins)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(PYTHON_DIRS)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "('joblib',)"
