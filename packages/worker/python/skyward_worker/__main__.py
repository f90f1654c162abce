"""Entry point: ``python -m skyward_worker [options]``."""
from __future__ import annotations

import os
import sys


def _multiprocessing_helpers() -> set[int]:
    """The forkserver and resource tracker, if started: they exit by themselves once the agent is gone
    (the tracker cleaning up what slots leaked), so they are spared."""
    helpers: set[int] = set()
    for module, holder, attr in (("multiprocessing.forkserver", "_forkserver", "_forkserver_pid"),
                                 ("multiprocessing.resource_tracker", "_resource_tracker", "_pid")):
        pid = getattr(getattr(sys.modules.get(module), holder, None), attr, None)
        if isinstance(pid, int):
            helpers.add(pid)
    return helpers


def main() -> None:
    """Parse the command line, run the agent until shutdown, and exit with its code.

    Exits with ``os._exit`` after flushing stderr: task threads (thread executor) and
    library atexit handlers must not delay the exit Node is waiting for.
    """
    from .agent import run_agent
    from .cli import parse_args

    config = parse_args(sys.argv[1:])
    code = run_agent(config)
    from .process_groups import end_own_group

    end_own_group(spare=_multiprocessing_helpers())  # what tasks started (thread slots) ends with the agent
    # os._exit skips atexit, where multiprocessing removes its temporary folder (the forkserver's
    # pymp-* socket folder): run its finalizers here, or every run leaves one in $TMPDIR
    try:
        from multiprocessing import util

        util._run_finalizers()  # type: ignore[attr-defined]  # private, but the only way
    except Exception:  # noqa: BLE001 - best effort on the way out
        pass
    own_tmp = os.environ.get("SKYWARD_OWN_TMPDIR")
    if own_tmp:  # a temporary folder made for this agent alone (remote nodes): leave nothing behind
        import shutil

        shutil.rmtree(own_tmp, ignore_errors=True)
    for stream in (sys.__stderr__, sys.stderr):
        try:
            stream.flush()  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
