"""Every event type round-trips through one JSON line."""

from __future__ import annotations

import json

import pytest

from nanotui.protocol import events as ev
from nanotui.protocol.model_io import ToolCall, Usage

USAGE = Usage(input_tokens=120, cached_input_tokens=100, output_tokens=7, reasoning_tokens=2)

SAMPLES: list[ev.EventBase] = [
    ev.SessionStarted(
        session="s1",
        workspace="/w",
        provider="demo",
        model="demo",
        label="offline demo",
        mode="ask",
        sandbox="plain",
        nanotui_version="0.1.0",
    ),
    ev.UserMessage(text="fix the bug\nplease ✓"),
    ev.TextDelta(text="Let me look"),
    ev.AssistantMessage(
        text="Reading.", tool_calls=[ToolCall(id="c1", name="read_file", arguments='{"path":"a"}')]
    ),
    ev.ToolCallProposed(call_id="c1", tool="read_file", arguments='{"path":"a"}', summary="a"),
    ev.PolicyDecision(call_id="c1", tool="read_file", decision="allow", reasons=["allow: read"]),
    ev.ApprovalRequested(
        call_id="c2",
        tool="edit_file",
        kind="write",
        summary="edit a",
        diff="--- a\n+++ b\n",
        path="a",
        shown_sha256="ab" * 32,
    ),
    ev.ApprovalResolved(call_id="c2", decision="reject", reason="no", os_user="me"),
    ev.ApprovalResolved(
        call_id="c3",
        decision="edit",
        shown_sha256="ab" * 32,
        applied_sha256="cd" * 32,
        edit_diff="--- proposed/a\n+++ edited/a\n@@ -1 +1 @@\n-x = 2\n+x = 3\n",
    ),
    ev.ApprovalResolved(call_id="c4", decision="interrupted"),
    ev.ToolStarted(call_id="c1", tool="read_file", summary="a"),
    ev.ToolResult(
        call_id="c1",
        tool="read_file",
        ok=True,
        content="1\tx",
        data={"total_lines": 1},
        files_changed=["a"],
    ),
    ev.ToolResult(
        call_id="c4",
        tool="run_command",
        ok=False,
        content="Interrupted by the user while it waited for approval; it did not run.",
        interrupted=True,
    ),
    ev.UsageReported(usage=USAGE, model="m"),
    ev.CostUpdated(
        request_usd=None,
        session_usd=0.0,
        session_usage=USAGE,
        priced=False,
        price_source="unpriced",
    ),
    ev.CheckpointCreated(checkpoint="refs/nanotui/checkpoints/s1/1", reason="turn", files=3),
    ev.CheckpointRestored(
        checkpoint="s1/1", short_id="s1/1", restored=["a.py"], safety_checkpoint="s1/2"
    ),
    ev.Notice(level="warning", text="careful"),
    ev.NetworkConnection(
        host="pypi.org", port=443, method="CONNECT", allowed=True, reason="listed"
    ),
    ev.FileChangedExternally(changes=[ev.ChangedPath(path="a.py", change="modified")], more=2),
    ev.ErrorEvent(text="The model server answered 500.", kind="server"),
    ev.ConversationCleared(),
    ev.ConversationResumed(session="20261128-010623-3f9a", messages=4),
    ev.HookRan(
        hook_event="pre_tool",
        command="./check.sh",
        decision="modify",
        call_id="c5",
        tool="run_command",
        tool_input={"command": "pytest -q"},
        exit_code=0,
        duration_s=0.05,
    ),
    ev.TurnFinished(status="done", steps=3),
    ev.RunResult(status="done", exit_code=0, usage=USAGE, cost_usd=None, session="s1"),
]


def test_every_event_type_has_a_sample() -> None:
    assert {type(e) for e in SAMPLES} == set(ev.ALL_EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_event_round_trips_through_one_json_line(event: ev.EventBase) -> None:
    line = event.to_json_line()
    assert "\n" not in line
    assert json.loads(line)["type"] == event.type
    again = ev.parse_event(line)
    assert type(again) is type(event)
    assert again == event


def test_unknown_event_type_is_rejected() -> None:
    with pytest.raises(ValueError):
        ev.parse_event('{"type": "nope"}')
