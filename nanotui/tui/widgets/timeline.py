"""The side pane's timeline: the session's events as compact, colour-coded rows, live.

The rows stream in as the session goes, the newest at the bottom. The full timeline, with
every event from the log, filters, the integrity badge and the full event on Enter, is
`screens/timeline.py` (ctrl+t or /timeline).
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import RichLog

from nanotui.protocol.basics import plural, visible_controls
from nanotui.protocol.checkpoints import short_checkpoint_id
from nanotui.protocol.event_summary import (
    STYLES,
    approval_summary,
    cost_summary,
    external_change_summary,
    hook_summary,
    payload_kind,
)
from nanotui.protocol.events import (
    ApprovalRequested,
    ApprovalResolved,
    CheckpointCreated,
    CheckpointRestored,
    CostUpdated,
    ErrorEvent,
    EventBase,
    FileChangedExternally,
    HookRan,
    Notice,
    PolicyDecision,
    ToolResult,
    ToolStarted,
    TurnFinished,
    UsageReported,
    UserMessage,
)
from nanotui.protocol.model_io import Usage

KIND_STYLES = STYLES | {"refused": "red", "turn": "blue", "checkpoint": "bright_blue"}
"""The shared styles, but for three colours this pane has always drawn its own way."""
MAX_ROWS = 2000


def now() -> datetime:
    """The clock the rows are stamped with (tests fix it for stable snapshots)."""
    return datetime.now()


def describe(event: EventBase, request_usage: Usage | None = None) -> tuple[str, str] | None:
    """The (kind, summary) row for an event, or None for events not worth a row.

    `request_usage` is the usage reported for the request a CostUpdated prices, so that its
    row shows one request's figures (the event itself carries the session's totals). The
    pane is narrow, so its rows are shorter than `event_summary.describe`'s: the first line
    of a prompt, no reasons, no first line of output.
    """
    if isinstance(event, UserMessage):
        return "prompt", event.text.splitlines()[0] if event.text else ""
    if isinstance(event, PolicyDecision) and event.decision != "allow":
        return ("refused" if event.decision == "deny" else "policy"), (
            f"{event.decision} {event.tool}"
        )
    if isinstance(event, ApprovalRequested):
        return "approval", f"asked: {event.summary}"
    if isinstance(event, ApprovalResolved):
        return "approval", approval_summary(event.decision, event.by, event.reason, event.edit_diff)
    if isinstance(event, ToolStarted):
        return "tool", f"{event.tool} {event.summary}"
    if isinstance(event, ToolResult):
        if event.interrupted:
            return "tool", f"{event.tool} interrupted"
        if event.refused:
            return "refused", f"{event.tool}: {event.output.splitlines()[0][:80]}"
        return "tool", f"{event.tool} {'ok' if event.ok else 'failed'}"
    if isinstance(event, CostUpdated):
        return "cost", cost_summary(event.model_dump(), request_usage)
    if isinstance(event, CheckpointCreated):
        changed = f", {plural(event.files, 'file')} changed" if event.files else ""
        named = short_checkpoint_id(event.short_id or event.checkpoint)
        return "checkpoint", f"{named} {event.kind}{changed}"
    if isinstance(event, CheckpointRestored):
        undo = event.safety_checkpoint
        before = f" ({short_checkpoint_id(undo)} undoes it)" if undo else ""
        return (
            "checkpoint",
            f"restored {short_checkpoint_id(event.short_id or event.checkpoint)}{before}",
        )
    if isinstance(event, FileChangedExternally):
        pairs = [(changed.path, changed.change) for changed in event.changes]
        return "file", external_change_summary(pairs, event.more)
    if isinstance(event, ErrorEvent):
        return "error", event.text
    if isinstance(event, Notice):
        return "notice", event.text
    if isinstance(event, TurnFinished):
        return "turn", f"turn {event.status}"
    if isinstance(event, HookRan):
        payload = event.model_dump(mode="json")
        return payload_kind(event.type, payload), hook_summary(payload)
    return None


class Timeline(RichLog):
    """Compact rows: time, kind, summary."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=MAX_ROWS, wrap=False, markup=False, auto_scroll=True)
        self.rows = 0
        self._request_usage: Usage | None = None
        """The last request's usage, shown in the cost row that follows it."""

    def on_mount(self) -> None:
        self.border_title = "Timeline"

    def add_event(self, event: EventBase, when: datetime | None = None) -> None:
        if isinstance(event, UsageReported):
            self._request_usage = event.usage  # priced by the CostUpdated that comes next
            return
        row = describe(event, self._request_usage)
        if isinstance(event, CostUpdated):
            self._request_usage = None
        if row is None:
            return
        kind, summary = row
        stamp = (when or now()).strftime("%H:%M:%S")
        # A row quotes commands, file names and MCP tools: their escape sequences as symbols.
        shown = visible_controls(summary, keep="")
        line = Text.assemble(
            (stamp, "dim"), " ", (f"{kind:<8}", KIND_STYLES.get(kind, "")), " ", shown
        )
        self.write(line)
        self.rows += 1
