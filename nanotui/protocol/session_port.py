"""The one interface the screens talk to: a session, wherever its engine runs.

`EngineSession` (nanotui.engine.facade) runs the engine in this process; `RemoteSession`
(nanotui.client.remote_session) runs it on a team server, over its API and event stream.
The screens and widgets import neither: they are handed a `SessionPort` and learn what
happens only from its events, so they cannot tell the two apart (a test keeps them so).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.checkpoint_views import CheckpointEntry, Comparison
from nanotui.protocol.checkpoints import Checkpoint, RestorePlan, RestoreResult
from nanotui.protocol.events import (
    ApprovalRequested,
    CheckpointCreated,
    CostUpdated,
    EventBase,
    Notice,
)
from nanotui.protocol.log_verdict import Verdict
from nanotui.protocol.mcp_status import ServerStatus, ToolStatus
from nanotui.protocol.setting_origins import SettingOrigins


@dataclass(frozen=True)
class SessionSummary:
    """A logged session as a list of them shows it."""

    session: str
    path: Path | None
    """Its log on this machine; None for a session on a server."""
    workspace: str
    label: str
    first_prompt: str
    last_active: datetime | None = None
    """When its log was last written (local time); None if that cannot be read."""


class CheckpointBrowser(Protocol):
    """A session's checkpoints to browse, compare and restore from. Every method may take a
    while (git, or a request to the server): screens call them on a thread."""

    workspace: Path

    def entries(self) -> list[CheckpointEntry]: ...

    def compare(self, old: Checkpoint, new: Checkpoint | None = None) -> Comparison: ...

    def file_patch(self, comparison: Comparison, path: str) -> str: ...

    def take(self, label: str = "taken by hand") -> tuple[Checkpoint, CheckpointCreated]: ...

    def preview(self, target: Checkpoint, files: Sequence[str] | None) -> RestorePlan: ...

    def restore(
        self, target: Checkpoint, files: Sequence[str] | None, delete_also: Sequence[str] = ()
    ) -> tuple[RestoreResult, list[EventBase]]: ...

    def close(self) -> None: ...


class SessionPort(Protocol):
    """One agent session as a front end sees it: commands in, events out."""

    # ---- what the session is
    @property
    def session_id(self) -> str: ...
    @property
    def workspace(self) -> Path: ...
    @property
    def workspace_is_local(self) -> bool:
        """False when the files are on another machine (the server): nothing on this disk
        is read for them, and $EDITOR cannot open them."""
        ...

    @property
    def runs_at(self) -> str:
        """Where the engine runs, as the status bar says it: "local" or the server."""
        ...

    @property
    def model_label(self) -> str: ...
    @property
    def is_demo(self) -> bool: ...
    @property
    def sandbox_backend(self) -> str: ...
    @property
    def isolation_warning(self) -> str | None: ...
    @property
    def log_path(self) -> Path | None: ...
    @property
    def resumed(self) -> bool: ...
    @property
    def message_count(self) -> int: ...
    @property
    def busy(self) -> bool: ...
    @property
    def mode(self) -> str: ...
    @property
    def max_mode(self) -> str:
        """The loosest mode the session may switch to (`approval.max_mode`)."""
        ...

    # ---- commands
    def turn(self, prompt: str) -> AsyncIterator[EventBase]: ...
    def cancel(self) -> None: ...
    def resolve_approval(self, request: ApprovalRequested, answer: ApprovalAnswer) -> bool: ...
    def set_mode(self, new: str) -> Notice | None: ...
    def switch_model(self, name: str) -> None: ...
    def clear_conversation(self) -> None: ...
    def resume_conversation(self, session_id: str) -> int: ...
    def record(self, event: EventBase) -> EventBase: ...
    def watch_workspace(self) -> AsyncIterator[EventBase]: ...
    def stop_watching(self) -> None: ...
    async def close(self) -> None: ...

    # ---- cost
    def cost_status(self) -> CostUpdated: ...
    def cost_summary(self) -> str: ...

    # ---- past sessions, logs, checkpoints, trust
    def past_sessions(self, limit: int) -> list[SessionSummary]:
        """Earlier sessions to resume, newest first, this one left out (may be slow)."""
        ...

    def session_ids(self) -> list[str]: ...
    def earlier_events(self, session_id: str) -> list[EventBase]:
        """What a resumed session said, as its log holds it (may be slow)."""
        ...

    def verify_log(self, path: Path) -> Verdict: ...
    def checkpoint_browsing(self) -> CheckpointBrowser: ...
    def setting_origins(self) -> SettingOrigins:
        """Where each setting came from (empty for a session on a server: its settings are
        the server's)."""
        ...

    def mcp_servers(self) -> list[ServerStatus]:
        """The session's MCP servers and their tools (empty for a session on a server)."""
        ...

    def accept_mcp_tools(self, server: str, shown: list[ToolStatus]) -> Notice:
        """Accept the definitions of `server` the person was shown (`shown`, from
        `mcp_servers`; one changed since is not accepted): the model is offered their tools
        from its next step. The notice saying so is in the log."""
        ...

    def workspace_trusted(self) -> bool: ...
    def may_trust_workspace(self) -> None: ...
    def trust_workspace(self) -> Notice: ...
