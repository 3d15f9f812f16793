"""The one vocabulary of events the engine emits.

The TUI renders them, `nanotui run --json` prints them, the session log stores them, replay
re-emits them and resume rebuilds the conversation from them. Each is a pydantic model with a
`type` discriminator and round-trips through one JSON line (`to_json_line` / `parse_event`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter

from nanotui.protocol.model_io import ToolCall, Usage
from nanotui.protocol.tool_output import unframed

Decision = Literal["allow", "ask", "deny"]


class EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json_line(self) -> str:
        return self.model_dump_json()


class SessionStarted(EventBase):
    type: Literal["session_started"] = "session_started"
    session: str
    workspace: str
    provider: str
    model: str
    label: str
    mode: str
    sandbox: str
    nanotui_version: str
    resumed: bool = False


class UserMessage(EventBase):
    type: Literal["user_message"] = "user_message"
    text: str


class TextDelta(EventBase):
    type: Literal["text_delta"] = "text_delta"
    text: str


class AssistantMessage(EventBase):
    """The model's whole reply for one step: its text and the tool calls it asked for."""

    type: Literal["assistant_message"] = "assistant_message"
    text: str
    tool_calls: list[ToolCall] = Field(default_factory=list)
    interrupted: bool = False
    """The stream broke off: `text` is what had arrived, kept and marked."""


class ToolCallProposed(EventBase):
    type: Literal["tool_call_proposed"] = "tool_call_proposed"
    call_id: str
    tool: str
    arguments: str
    summary: str = ""


class PolicyDecision(EventBase):
    type: Literal["policy_decision"] = "policy_decision"
    call_id: str
    tool: str
    decision: Decision
    reasons: list[str] = Field(default_factory=list)


class ApprovalRequested(EventBase):
    """An action waits for the user. A front end resolves `future` with an ApprovalAnswer.

    The future lives only in memory; the logged form records what was shown.
    """

    type: Literal["approval_requested"] = "approval_requested"
    call_id: str
    tool: str
    kind: Literal["write", "command", "external"]
    """external: a tool of an MCP server."""
    summary: str
    reasons: list[str] = Field(default_factory=list)
    diff: str | None = None
    path: str | None = None
    old_sha256: str | None = None
    """For a write: the hash of the file the diff was computed from (None: a new file).
    A front end compares it with the file on disk to mark a stale diff."""
    command: str | None = None
    commands: list[str] = Field(default_factory=list)
    """For a command: each sub-command as the policy parsed it."""
    sandbox: str | None = None
    """For a command: the sandbox backend it will run in."""
    details: str | None = None
    """For an MCP tool: its arguments as pretty-printed JSON."""
    shown_sha256: str
    """Hash of exactly what was shown (the diff, the command, or an MCP tool's details)."""

    _future: asyncio.Future[Any] | None = PrivateAttr(default=None)

    @property
    def future(self) -> asyncio.Future[Any] | None:
        return self._future


class ApprovalResolved(EventBase):
    type: Literal["approval_resolved"] = "approval_resolved"
    call_id: str
    decision: Literal["approve", "edit", "reject", "always", "project", "interrupted"]
    """`edit`: approved as the person changed it in their editor. `project`: a network name
    allowed for good in this project. `interrupted`: no answer;
    the turn was stopped (Esc, quit) while the request waited, so nothing ran."""
    reason: str = ""
    by: str = "user"
    """"user" (a key press, or a choice in an editor over ACP), "headless" (the mode refused
    it), "rule" (an earlier `always`), or "editor" (the ACP client gave no usable answer)."""
    shown_sha256: str = ""
    applied_sha256: str = ""
    """For an approved change: the hash of the diff applied, which differs from
    `shown_sha256` after an edit or when hunks were left out; empty for a command."""
    edit_diff: str | None = None
    """For an edit: how the applied text differs from the proposal, as a unified diff."""
    os_user: str = ""


class ToolStarted(EventBase):
    type: Literal["tool_started"] = "tool_started"
    call_id: str
    tool: str
    summary: str = ""


class ToolResult(EventBase):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    tool: str
    ok: bool
    content: str
    """Exactly what the model received."""
    data: dict[str, Any] = Field(default_factory=dict)
    """What the tool reported for front ends (exit code, match count, ...), and nothing else."""
    diff: str | None = None
    files_changed: list[str] = Field(default_factory=list)
    refused: bool = False
    """Not run: denied by policy, refused for lack of approval, or rejected by the user."""
    interrupted: bool = False
    """Stopped by the user (Esc, quit) while it waited for approval or ran; not refused."""
    redacted: list[str] = Field(default_factory=list)
    """Kinds of secret replaced by `[REDACTED:kind]` (never the values), e.g. github_token."""
    injection: list[str] = Field(default_factory=list)
    """Lines that read as instructions to the model: `line N 'the words'` each."""

    @property
    def output(self) -> str:
        """The content for people: without the untrusted-data note that closes it for the model."""
        return unframed(self.content)


class UsageReported(EventBase):
    type: Literal["usage_reported"] = "usage_reported"
    usage: Usage
    model: str


class CostUpdated(EventBase):
    type: Literal["cost_updated"] = "cost_updated"
    request_usd: float | None
    """None when the model is unpriced (never shown as $0)."""
    session_usd: float | None
    """The session's priced requests' dollars; None when none had a price (never $0)."""
    session_usage: Usage
    priced: bool
    price_source: str = ""
    session_unpriced_requests: int = 0
    """The session's requests with no price known: counted, their cost left out."""
    # What a cost meter shows beside the totals; None in logs written before these existed.
    day_usd: float | None = None
    """Spent today by every nanotui process (the shared ledger); None when not tracked, or
    when none of today's requests had a price (then `day_unpriced_requests` counts them)."""
    day_unpriced_requests: int = 0
    session_budget_usd: float | None = None
    day_budget_usd: float | None = None
    warn_at_percent: float | None = None
    output_usd_per_mtok: float | None = None
    """The output rate, for estimating a reply while it streams; None when unpriced."""
    requests_last_minute: int | None = None
    """Requests started in the last 60 s at this endpoint; None when not counted."""
    requests_per_minute: int | None = None
    """The configured limit; 0 when there is none."""


class CheckpointCreated(EventBase):
    type: Literal["checkpoint_created"] = "checkpoint_created"
    checkpoint: str
    """The full id, session/number."""
    reason: str
    files: int = 0
    """Files that differ from the session's previous checkpoint."""
    short_id: str = ""
    kind: str = "turn"
    """turn (before a turn), batch (before changes or commands run), safety (before a restore)."""
    turn: int | None = None
    skipped: list[str] = Field(default_factory=list)
    """Files left out (too large, nested repositories)."""


class CheckpointRestored(EventBase):
    """A checkpoint (or some of its files) was brought back by the user."""

    type: Literal["checkpoint_restored"] = "checkpoint_restored"
    checkpoint: str
    short_id: str = ""
    restored: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    left_in_place: list[str] = Field(default_factory=list)
    """Files that did not exist at the checkpoint and were kept."""
    safety_checkpoint: str | None = None
    """The checkpoint taken just before, which undoes this restore."""


RETRY_NOTICE_SLOT = "retry"
"""The slot of the notices that say a model request is being retried."""


RetryReason = Literal["rate_limit", "server_error", "connection"]


class RetryWait(BaseModel):
    """Why a model request is being retried, and how long nanotui waits before it."""

    model_config = ConfigDict(extra="forbid")

    reason: RetryReason
    """rate_limit (429, or the server said when to come back), server_error (5xx), or
    connection (refused, reset, timed out)."""
    wait_s: float
    attempt: int
    """The attempt that failed (1 for the first)."""


class Notice(EventBase):
    type: Literal["notice"] = "notice"
    level: Literal["info", "warning"] = "info"
    text: str
    slot: str | None = None
    """Notices of one slot are successive states of one thing (a request being retried): a
    front end may show the latest in place of the one before it."""
    retry: RetryWait | None = None
    """Set on the notices that say a model request is retried (slot "retry"): the figures
    behind the sentence, for the log and for telemetry's retry metrics."""


class NetworkConnection(EventBase):
    """A sandboxed command's connection through the allowlist proxy ([sandbox] network =
    "allowlist"), allowed or refused."""

    type: Literal["network_connection"] = "network_connection"
    host: str
    port: int
    method: str
    """CONNECT (HTTPS) or the plain HTTP request's method."""
    allowed: bool
    reason: str


class ChangedPath(BaseModel):
    """One file changed outside nanotui, relative to the workspace (posix)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    change: Literal["added", "modified", "deleted"]


class FileChangedExternally(EventBase):
    """Files in the workspace changed outside nanotui: the user's editor, another tool.

    nanotui's own writes and what its commands did are not reported. A front end marks a
    pending diff of one of these files stale.
    """

    type: Literal["file_changed_externally"] = "file_changed_externally"
    changes: list[ChangedPath]
    more: int = 0
    """Changes left out of `changes` (a checkout or a build touching many files at once)."""

    @property
    def paths(self) -> list[str]:
        return [changed.path for changed in self.changes]


class ErrorEvent(EventBase):
    type: Literal["error"] = "error"
    text: str
    """Redacted by the engine before the event is made (an error can quote a key)."""
    kind: str = "error"


class ConversationCleared(EventBase):
    """The user started over (/clear): the model sees nothing said before this point."""

    type: Literal["conversation_cleared"] = "conversation_cleared"


class ConversationResumed(EventBase):
    """The user picked up an earlier session's conversation (/resume): the model sees it."""

    type: Literal["conversation_resumed"] = "conversation_resumed"
    session: str
    messages: int = 0


class HookRan(EventBase):
    """A `[[hooks]]` command ran for one event, and what came of it.

    `decision` is what nanotui did: went on, blocked what the hook guards, or (pre_tool)
    took the arguments the hook handed back, which the policy then judged from the start.
    """

    type: Literal["hook_ran"] = "hook_ran"
    hook_event: Literal["session_start", "user_prompt", "pre_tool", "post_tool", "stop"]
    command: str
    decision: Literal["continue", "block", "modify"]
    reason: str = ""
    """The hook's reason for blocking, or what its failure blocked."""
    failure: str = ""
    """Why the hook failed (timed out, exit code 1, an answer that is not JSON); "" when it
    answered. A failed hook blocks unless its `on_failure` is "allow"."""
    call_id: str | None = None
    tool: str | None = None
    tool_input: Any = None
    """The arguments a pre_tool hook handed back (decision "modify")."""
    exit_code: int | None = None
    duration_s: float = 0.0


class TurnFinished(EventBase):
    type: Literal["turn_finished"] = "turn_finished"
    status: Literal[
        "done", "error", "needs_approval", "budget", "refused", "cancelled", "max_turns", "stuck"
    ]
    reason: str = ""
    steps: int = 0


class RunResult(EventBase):
    """The last line of `nanotui run --json`."""

    type: Literal["result"] = "result"
    status: str
    exit_code: int
    usage: Usage
    cost_usd: float | None
    """The priced requests' dollars; None when none had a price (never a silent 0)."""
    unpriced_requests: int = 0
    """Requests with no price known, whose cost `cost_usd` leaves out."""
    files_changed: list[str] = Field(default_factory=list)
    checkpoint: str | None = None
    session: str
    message: str = ""


Event = Annotated[
    SessionStarted
    | UserMessage
    | TextDelta
    | AssistantMessage
    | ToolCallProposed
    | PolicyDecision
    | ApprovalRequested
    | ApprovalResolved
    | ToolStarted
    | ToolResult
    | UsageReported
    | CostUpdated
    | CheckpointCreated
    | CheckpointRestored
    | Notice
    | NetworkConnection
    | FileChangedExternally
    | ErrorEvent
    | ConversationCleared
    | ConversationResumed
    | HookRan
    | TurnFinished
    | RunResult,
    Field(discriminator="type"),
]

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: str | bytes | dict[str, Any]) -> EventBase:
    """Rebuild an event from its JSON line (or the already-parsed dict)."""
    if isinstance(data, dict):
        return _EVENT_ADAPTER.validate_python(data)
    return _EVENT_ADAPTER.validate_json(data)


ALL_EVENT_TYPES: tuple[type[EventBase], ...] = (
    SessionStarted,
    UserMessage,
    TextDelta,
    AssistantMessage,
    ToolCallProposed,
    PolicyDecision,
    ApprovalRequested,
    ApprovalResolved,
    ToolStarted,
    ToolResult,
    UsageReported,
    CostUpdated,
    CheckpointCreated,
    CheckpointRestored,
    Notice,
    NetworkConnection,
    FileChangedExternally,
    ErrorEvent,
    ConversationCleared,
    ConversationResumed,
    HookRan,
    TurnFinished,
    RunResult,
)
