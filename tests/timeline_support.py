"""Session logs with fixed times for the timeline tests, and a small app that shows one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from textual.app import App
from textual.screen import Screen

from nanotui.engine.session_logs import verify_session_log
from nanotui.governance.audit_chain import CLOSED_TYPE, ChainedFile
from nanotui.protocol.events import (
    ApprovalRequested,
    ApprovalResolved,
    AssistantMessage,
    CheckpointCreated,
    CostUpdated,
    ErrorEvent,
    EventBase,
    Notice,
    PolicyDecision,
    SessionStarted,
    TextDelta,
    ToolCallProposed,
    ToolResult,
    ToolStarted,
    TurnFinished,
    UsageReported,
    UserMessage,
)
from nanotui.protocol.model_io import Usage
from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.timeline import TimelineScreen

START = datetime(2026, 11, 28, 9, 30, 0, tzinfo=UTC)


def session_events() -> list[EventBase]:
    """A short session with a row of every kind the filters know, in a real order."""
    usage = Usage(input_tokens=1200, output_tokens=80)
    return [
        SessionStarted(
            session="s1",
            workspace="/work/project",
            provider="demo",
            model="demo",
            label="offline demo",
            mode="ask",
            sandbox="bwrap",
            nanotui_version="0.1",
        ),
        UserMessage(text="make the failing test pass"),
        CheckpointCreated(checkpoint="a" * 40, reason="before turn 1", files=3),
        TextDelta(text="Reading the test "),
        TextDelta(text="first."),
        AssistantMessage(text="Reading the test first."),
        ToolCallProposed(
            call_id="c1",
            tool="read_file",
            arguments='{"path": "tests/test_inventory.py"}',
            summary="tests/test_inventory.py",
        ),
        PolicyDecision(call_id="c1", tool="read_file", decision="allow", reasons=["read"]),
        ToolStarted(call_id="c1", tool="read_file", summary="tests/test_inventory.py"),
        ToolResult(call_id="c1", tool="read_file", ok=True, content="def test_total():\n"),
        UsageReported(usage=usage, model="demo"),
        CostUpdated(request_usd=0.0012, session_usd=0.0012, session_usage=usage, priced=True),
        ToolCallProposed(
            call_id="c2",
            tool="run_command",
            arguments='{"command": "pytest -q"}',
            summary="pytest -q",
        ),
        PolicyDecision(call_id="c2", tool="run_command", decision="ask", reasons=["ask: pytest"]),
        ApprovalRequested(
            call_id="c2",
            tool="run_command",
            kind="command",
            summary="pytest -q",
            command="pytest -q",
            shown_sha256="0" * 64,
        ),
        ApprovalResolved(call_id="c2", decision="approve", by="user"),
        ToolStarted(call_id="c2", tool="run_command", summary="pytest -q"),
        ToolResult(call_id="c2", tool="run_command", ok=False, content="1 failed, 4 passed"),
        ToolCallProposed(
            call_id="c3",
            tool="run_command",
            arguments='{"command": "curl example.com"}',
            summary="curl example.com",
        ),
        PolicyDecision(call_id="c3", tool="run_command", decision="deny", reasons=["deny: curl *"]),
        ToolResult(
            call_id="c3",
            tool="run_command",
            ok=False,
            refused=True,
            content="Refused by policy: curl * is denied.",
        ),
        ErrorEvent(text="The model server closed the connection."),
        Notice(level="warning", text="This session has spent 80% of its budget."),
        TurnFinished(status="done", steps=3),
    ]


def record_of(event: EventBase) -> dict[str, Any]:
    return {"type": event.type, "payload": event.model_dump(mode="json", exclude={"type"})}  # type: ignore[attr-defined]


def write_log(
    path: Path,
    events: Sequence[EventBase | dict[str, Any]] | None = None,
    *,
    step_s: float = 1.0,
    close: bool = True,
) -> Path:
    """A chained log at `path` with a header, `events` one `step_s` apart, fixed times."""
    chain = ChainedFile(path)
    when = START

    def append(record: dict[str, Any]) -> None:
        nonlocal when
        chain.append({"ts": when.isoformat(timespec="milliseconds"), **record})
        when += timedelta(seconds=step_s)

    append(
        {"type": "header", "payload": {"format": 2, "workspace": "/work/project", "model": "demo"}}
    )
    for event in session_events() if events is None else events:
        append(event if isinstance(event, dict) else record_of(event))
    if close:
        append({"type": CLOSED_TYPE, "payload": {}})
    chain.close()
    return path


class TimelineHost(App[None]):
    """Opens one screen (a timeline) over an empty one, with the app's stylesheets."""

    CSS_PATH = NanotuiApp.CSS_PATH

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.first_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.first_screen)


def timeline_host(path: Path | None, **kwargs: Any) -> TimelineHost:
    return TimelineHost(
        TimelineScreen(path, title="Timeline · session s1", verify=verify_session_log, **kwargs)
    )
