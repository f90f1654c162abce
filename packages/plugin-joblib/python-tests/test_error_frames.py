"""An agent's ``error`` reaches the joblib client as the agent sent it, and a timeout reads the
same whether the agent or Node enforces it: each answer through the pool is compared with what an
agent of this test's own answers for the same payload."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from tasks import fail_at, raise_unpicklable, sleep_then

from skyward_joblib import _bridge
from skyward_wire import TIMEOUT_EXC_TYPE, FrameDecoder, encode_frame, timeout_text

pytestmark = pytest.mark.timeout(300)

PACKAGES = Path(__file__).resolve().parents[2]
AGENT_PATH = [PACKAGES / "worker" / "python", PACKAGES / "codec" / "python"]
ANSWER_SECONDS = 60.0
# Fields whose values must travel unchanged; node and slot say where it ran (the same fields must
# arrive, their values differ between the two runs) and the id is the client's.
FORWARDED = ("type", "kind", "excType", "message", "traceback", "payload", "warnings")


class _Answer:
    """A bridge task handle that keeps the message it is finished with, as it arrived."""

    task_id = 0

    def __init__(self) -> None:
        self.message: dict[str, Any] | None = None
        self.done = threading.Event()

    def finish(self, message: dict[str, Any]) -> None:
        self.message = message
        self.done.set()


def _through_pool(payload: bytes, timeout: float | None = None) -> dict[str, Any]:
    answer = _Answer()
    _bridge.get_client().submit(payload, answer, timeout)
    assert answer.done.wait(ANSWER_SECONDS) and answer.message is not None
    return answer.message


def _from_agent(payload: bytes, timeout: float | None = None) -> dict[str, Any]:
    """The answer of an agent started here (not by a pool) to one ``submit`` of ``payload``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in AGENT_PATH))
    proc = subprocess.Popen([sys.executable, "-m", "skyward_worker", "--concurrency", "1"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    submit: dict[str, Any] = {"type": "submit", "id": 1, "kind": "pickle", "payload": payload}
    if timeout is not None:
        submit["timeout"] = timeout
    try:
        proc.stdin.write(encode_frame(submit))
        proc.stdin.flush()
        decoder = FrameDecoder()
        while True:
            data = os.read(proc.stdout.fileno(), 1 << 16)
            assert data, "the agent exited without answering"
            for message in decoder.feed(data):
                if message["type"] in ("result", "error") and message.get("id") == 1:
                    return message
    finally:
        proc.stdin.close()
        proc.wait(ANSWER_SECONDS)


@pytest.mark.parametrize("task", [
    functools.partial(fail_at, 3, 3),  # an exception, with its traceback and pickled payload
    raise_unpicklable,  # an exception that does not pickle: it travels without its payload
], ids=["raises", "unpicklable-exception"])
def test_an_agents_error_reaches_the_client_as_it_was_sent(pool, task) -> None:  # type: ignore[no-untyped-def]
    payload = cloudpickle.dumps(task)
    sent = _from_agent(payload)
    received = _through_pool(payload)
    assert sent["type"] == "error" and sent["traceback"]
    assert sorted(received) == sorted(sent)
    assert {k: received.get(k) for k in FORWARDED} == {k: sent.get(k) for k in FORWARDED}


def test_a_timeout_reads_the_same_whether_the_agent_or_node_enforces_it(pool) -> None:  # type: ignore[no-untyped-def]
    payload = cloudpickle.dumps(functools.partial(sleep_then, 1, 30.0))
    by_agent = _from_agent(payload, timeout=0.5)  # the agent's own timer: no Node in between
    by_node = _through_pool(payload, timeout=0.5)  # Node's timer: it cancels the task on the agent
    expected = {"kind": "timeout", "excType": TIMEOUT_EXC_TYPE, "message": timeout_text(0.5)}
    assert {k: by_agent[k] for k in expected} == expected
    assert {k: by_node[k] for k in expected} == expected
