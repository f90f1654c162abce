"""The message types and the field table of every message type (PROTOCOL.md).

Generated from schema/messages.json by scripts/gen-messages.mjs: do not edit. Run `npx -y
pnpm@10 --filter @skyward/codec gen:messages`.
A message is a plain dict; each type has a TypedDict (``Hello``, ``Submit``, ...) for type checkers.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypedDict, Union

Role = Literal["agent", "client", "server"]
"""Who says `hello`."""

SubmitKind = Literal["pickle", "call"]
"""How a `submit` names its work."""

LogStream = Literal["stdout", "stderr", "agent"]
"""Where a `log` line was written."""

CancelOnly = Literal["queued"]
"""What a `cancel` is limited to."""

ErrorKind = Literal["user", "timeout", "cancelled", "lost", "pickle", "protocol", "blob"]
"""The `kind` of an `error` message."""


class _HelloRequired(TypedDict):
    type: Literal["hello"]
    #: = 1, the codec's PROTOCOL_VERSION.
    protocol: int
    role: Role


class Hello(_HelloRequired, total=False):
    """``hello`` (both): first message on a connection."""

    token: str
    pid: int
    slots: int
    node: int
    python: str
    #: Server: the most bytes of blobs one task may refer to, the pool's argumentLimit.
    maxBlobBytes: int
    #: Server: the most slots an elastic pool may grow to (absent for a fixed node count).
    maxSlots: int


class _SubmitRequired(TypedDict):
    type: Literal["submit"]
    id: int
    kind: SubmitKind


class Submit(_SubmitRequired, total=False):
    """``submit`` (node->agent, client->server): run a task."""

    #: Kind pickle: cloudpickle of a zero-argument callable.
    payload: bytes
    #: Kind call: "module:function".
    fn: str
    #: Kind call: the arguments, as CBOR values.
    args: list[Any]
    #: Seconds.
    timeout: float
    #: Content hashes of the blobs the payload refers to.
    blobs: list[str]
    #: Client->server: how many of the client's calls the task runs (a joblib batch's size), for
    #: progress.
    calls: int
    #: Client->server: which of the client's joblib calls (`Parallel(...)(...)`, numbered from 1)
    #: the task belongs to, for progress.
    call: int
    #: Client->server: how many calls that joblib call runs in all, when joblib knows it (its
    #: input has a length).
    callTotal: int


class _StartedRequired(TypedDict):
    type: Literal["started"]
    id: int
    slot: int


class Started(_StartedRequired, total=False):
    """``started`` (agent->node): a task began running on a slot."""

    pid: int
    node: int


class _ResultRequired(TypedDict):
    type: Literal["result"]
    id: int


class Result(_ResultRequired, total=False):
    """``result`` (agent->node, server->client): a task finished successfully."""

    #: Kind pickle: cloudpickle of the return value.
    payload: bytes
    #: Kind call: the return value as a CBOR value.
    value: Any
    #: Pickled `warnings.WarningMessage` parts.
    warnings: list[bytes]
    node: int
    slot: int
    #: Seconds.
    duration: float


class _ErrorMessageRequired(TypedDict):
    type: Literal["error"]
    id: int
    kind: ErrorKind
    #: Qualified name of the exception type, e.g. "builtins.ValueError".
    excType: str
    message: str
    traceback: str


class ErrorMessage(_ErrorMessageRequired, total=False):
    """``error`` (agent->node, server->client): a task (or, with `id: 0` and kind `protocol`, the
    connection) failed.
    """

    #: The pickled exception, when picklable.
    payload: bytes
    warnings: list[bytes]
    node: int
    slot: int


class _CancelRequired(TypedDict):
    type: Literal["cancel"]
    id: int


class Cancel(_CancelRequired, total=False):
    """``cancel`` (node->agent, client->server): cancel a task."""

    #: Cancel only if the task has not started (the scheduler takes back a task an agent holds
    #: ahead of its slots, to run it on an idle node); a started task then runs on and answers as
    #: usual.
    only: CancelOnly


class _HeartbeatRequired(TypedDict):
    type: Literal["heartbeat"]
    seq: int


class Heartbeat(_HeartbeatRequired, total=False):
    """``heartbeat`` (both): liveness."""

    #: The sender's clock, seconds since the epoch.
    time: float
    #: Agent: the machine's CPU busy fraction, 0 to 1, since its previous heartbeat.
    cpu: float
    #: Agent: bytes of the machine's memory in use, its total less what is available.
    memUsed: int
    #: Agent: bytes of the machine's memory.
    memTotal: int


class _LogRequired(TypedDict):
    type: Literal["log"]
    stream: LogStream
    line: str


class Log(_LogRequired, total=False):
    """``log`` (agent->node, server->client): one line of output."""

    id: int
    node: int
    slot: int
    level: str


class _BlobRequired(TypedDict):
    type: Literal["blob"]
    hash: str
    data: bytes


class Blob(_BlobRequired, total=False):
    """``blob`` (client->server, node->agent): content-addressed data a later payload refers to.
    A large blob travels in chunks: `data` is the part starting at `offset` of a blob of
    `total` bytes; without them `data` is the whole blob.
    """

    offset: int
    total: int


class _ShutdownRequired(TypedDict):
    type: Literal["shutdown"]


class Shutdown(_ShutdownRequired, total=False):
    """``shutdown`` (both): the sender is going away."""

    reason: str


Message = Union[Hello, Submit, Started, Result, ErrorMessage, Cancel, Heartbeat, Log, Blob, Shutdown]
"""Every message of the protocol, told apart by ``type``."""

MessageType = Literal["hello", "submit", "started", "result", "error", "cancel", "heartbeat", "log", "blob", "shutdown"]
"""The ``type`` of a message."""

__all__ = [
    "Role",
    "SubmitKind",
    "LogStream",
    "CancelOnly",
    "ErrorKind",
    "Hello",
    "Submit",
    "Started",
    "Result",
    "ErrorMessage",
    "Cancel",
    "Heartbeat",
    "Log",
    "Blob",
    "Shutdown",
    "Message",
    "MessageType",
]
"""The message types, and the literal types of their fields: what ``skyward_wire`` hands on."""

# A field kind: "uint", "float", "text", "bytes", "array", "any", "textArray", "bytesArray",
# or a tuple of the allowed text values.
FieldKind = Union[str, tuple[str, ...]]
FieldSpec = tuple[str, FieldKind, bool]  # name, kind, required

ROLE_VALUES: Final[tuple[Role, ...]] = ("agent", "client", "server")
SUBMIT_KIND_VALUES: Final[tuple[SubmitKind, ...]] = ("pickle", "call")
LOG_STREAM_VALUES: Final[tuple[LogStream, ...]] = ("stdout", "stderr", "agent")
CANCEL_ONLY_VALUES: Final[tuple[CancelOnly, ...]] = ("queued",)
ERROR_KIND_VALUES: Final[tuple[ErrorKind, ...]] = ("user", "timeout", "cancelled", "lost", "pickle", "protocol", "blob")

MESSAGE_FIELDS: Final[dict[str, tuple[FieldSpec, ...]]] = {
    "hello": (
        ("protocol", "uint", True),
        ("role", ROLE_VALUES, True),
        ("token", "text", False),
        ("pid", "uint", False),
        ("slots", "uint", False),
        ("node", "uint", False),
        ("python", "text", False),
        ("maxBlobBytes", "uint", False),
        ("maxSlots", "uint", False),
    ),
    "submit": (
        ("id", "uint", True),
        ("kind", SUBMIT_KIND_VALUES, True),
        ("payload", "bytes", False),
        ("fn", "text", False),
        ("args", "array", False),
        ("timeout", "float", False),
        ("blobs", "textArray", False),
        ("calls", "uint", False),
        ("call", "uint", False),
        ("callTotal", "uint", False),
    ),
    "started": (
        ("id", "uint", True),
        ("slot", "uint", True),
        ("pid", "uint", False),
        ("node", "uint", False),
    ),
    "result": (
        ("id", "uint", True),
        ("payload", "bytes", False),
        ("value", "any", False),
        ("warnings", "bytesArray", False),
        ("node", "uint", False),
        ("slot", "uint", False),
        ("duration", "float", False),
    ),
    "error": (
        ("id", "uint", True),
        ("kind", ERROR_KIND_VALUES, True),
        ("excType", "text", True),
        ("message", "text", True),
        ("traceback", "text", True),
        ("payload", "bytes", False),
        ("warnings", "bytesArray", False),
        ("node", "uint", False),
        ("slot", "uint", False),
    ),
    "cancel": (
        ("id", "uint", True),
        ("only", CANCEL_ONLY_VALUES, False),
    ),
    "heartbeat": (
        ("seq", "uint", True),
        ("time", "float", False),
        ("cpu", "float", False),
        ("memUsed", "uint", False),
        ("memTotal", "uint", False),
    ),
    "log": (
        ("stream", LOG_STREAM_VALUES, True),
        ("line", "text", True),
        ("id", "uint", False),
        ("node", "uint", False),
        ("slot", "uint", False),
        ("level", "text", False),
    ),
    "blob": (
        ("hash", "text", True),
        ("data", "bytes", True),
        ("offset", "uint", False),
        ("total", "uint", False),
    ),
    "shutdown": (
        ("reason", "text", False),
    ),
}
"""The fields of each message type, in the order they are checked."""

BYTES_FIELDS: Final = frozenset({"payload", "data"})
"""Top-level fields holding a byte string (compressed above the threshold)."""

BYTES_ARRAY_FIELDS: Final = frozenset({"warnings"})
"""Top-level fields holding an array of byte strings (each compressed above the threshold)."""
