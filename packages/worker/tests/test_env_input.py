"""``--env-on-input``: variables arrive as the first line of the input, set before any slot starts."""
from __future__ import annotations

import json
import os
import sys

import cloudpickle
import pytest

cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytestmark = pytest.mark.timeout(60)

SECRET = "a value with spaces, 'quotes' and a\nnewline"


def _read_variable() -> str:
    return os.environ.get("SKYWARD_TEST_SECRET", "")


def _env_line(env: dict[str, str]) -> bytes:
    return json.dumps(env).encode() + b"\n"


@pytest.mark.parametrize("executor", ["process", "thread"])
def test_variables_on_the_input_reach_the_tasks_and_stay_off_the_command_line(start_agent, executor):
    agent = start_agent("--concurrency", "1", "--executor", executor, "--env-on-input")
    agent.send_raw(_env_line({"SKYWARD_TEST_SECRET": SECRET}))
    agent.hello()
    agent.submit(1, _read_variable)
    assert agent.value(1) == SECRET
    with open(f"/proc/{agent.proc.pid}/cmdline", "rb") as f:
        assert b"SKYWARD_TEST_SECRET" not in f.read()


def test_frames_right_behind_the_line_are_read_as_frames(start_agent):
    from skyward_wire import encode_frame

    agent = start_agent("--concurrency", "1", "--env-on-input")
    submit = {"type": "submit", "id": 1, "kind": "pickle", "payload": cloudpickle.dumps(_read_variable)}
    agent.send_raw(_env_line({"SKYWARD_TEST_SECRET": "x"}) + encode_frame(submit))  # one write
    agent.hello()
    assert agent.value(1) == "x"


@pytest.mark.parametrize("line", [b"", b"not json\n", b'["a list"]\n', b'{"KEY": 1}\n'])
def test_a_missing_or_bad_line_ends_the_agent_with_the_protocol_code(start_agent, line):
    agent = start_agent("--env-on-input")
    agent.send_raw(line)
    agent.proc.stdin.close()  # type: ignore[union-attr]
    assert agent.proc.wait(timeout=15) == 2
    agent._err_reader.join(5)
    assert agent.all("hello") == []  # it stops before it speaks
    assert "the environment line" in agent.stderr
