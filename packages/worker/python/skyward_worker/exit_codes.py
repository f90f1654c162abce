"""The agent's exit codes (see the README). A slot process whose hooks fail exits with ``EXIT_HOOK`` too."""
from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0  # shutdown, stdin EOF, SIGTERM (or SIGINT, process executor)
EXIT_INTERNAL: Final = 1  # an error of the agent itself, or a slot process that cannot be started
EXIT_PROTOCOL: Final = 2  # a frame from Node that cannot be decoded
EXIT_HOOK: Final = 3  # a plugin's task or app hook that cannot be imported or entered
EXIT_STUCK: Final = 4  # thread slots: more given-up tasks still running than the node has slots
EXIT_VOLUME: Final = 5  # a volume that cannot be prepared before hello (a missing bucket, prefix or folder...)
