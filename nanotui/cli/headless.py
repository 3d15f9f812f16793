"""`nanotui run`: one prompt, no screen, for scripts and CI.

With `--json` every event is printed as one JSON line and the last line is the `result`.
Otherwise the reply goes to stdout and a readable account of each step to stderr. An action
that needs approval is refused (nobody is there to approve it), the model is told, and the
run exits 2.
"""

from __future__ import annotations

import sys
from typing import TextIO

from nanotui.cli.checkpoint_commands import restore_command
from nanotui.engine.approvals import ApprovalAnswer
from nanotui.engine.facade import EngineSession
from nanotui.protocol.event_summary import summarize
from nanotui.protocol.events import (
    ApprovalRequested,
    ErrorEvent,
    EventBase,
    RunResult,
    TextDelta,
    ToolResult,
    ToolStarted,
    TurnFinished,
)

EXIT_CODES = {
    "done": 0,
    "error": 1,
    "stuck": 1,
    "max_turns": 1,
    "cancelled": 1,
    "needs_approval": 2,
    "budget": 3,
    "refused": 4,
}
PROGRESS_MARKS = {"tool_started": "->", "tool_result": "<-", "notice": "note:", "error": "error:"}
"""The events a readable run prints on stderr, each behind its mark."""
TOOL_LINE_CHARS = 200
"""A tool's line is cut here: its first line of output can be a whole minified file."""


def headless_refusal(event: ApprovalRequested, mode: str) -> ApprovalAnswer:
    what = "file change" if event.kind == "write" else "command"
    return ApprovalAnswer(
        decision="reject",
        by="headless",
        reason=(
            f"this {what} needs approval, which {mode} mode cannot give in a headless run "
            "(rerun with --mode auto-edit or full-auto, or add a [policy] allow rule)."
        ),
    )


async def run_headless(
    session: EngineSession,
    prompt: str,
    *,
    as_json: bool,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    finished: TurnFinished | None = None
    errors: list[str] = []  # the errors' sentences, each printed as it came
    ends_with_newline = True
    async for event in session.turn(prompt):
        if isinstance(event, ApprovalRequested):
            session.resolve_approval(event, headless_refusal(event, session.mode))
        if isinstance(event, TurnFinished):
            finished = event
        if isinstance(event, ErrorEvent):
            errors.append(event.text)
        if as_json:
            out.write(event.to_json_line() + "\n")
            out.flush()
        else:
            ends_with_newline = print_readable(event, out, err, ends_with_newline)
    status = finished.status if finished else "error"
    exit_code = EXIT_CODES.get(status, 1)
    message = (finished.reason if finished else "") or (errors[-1] if errors else "")
    spend = session.spend
    result = RunResult(
        status=status,
        exit_code=exit_code,
        usage=session.usage,
        cost_usd=spend.cost_usd,
        unpriced_requests=spend.unpriced_requests,
        files_changed=await session.files_changed_in_turn(),
        checkpoint=session.turn_checkpoint(),
        session=session.session_id,
        message=message,
    )
    session.record(result)
    if as_json:
        out.write(result.to_json_line() + "\n")
        out.flush()
    else:
        if not ends_with_newline:
            out.write("\n")
        err.write(
            f"[{status}] {result.usage.input_tokens} in / {result.usage.output_tokens} out "
            f"tokens, {spend.text()}; files changed: {', '.join(result.files_changed) or 'none'}; "
            f"session {result.session}\n"
        )
        if status != "done" and message and message not in errors:  # each sentence once
            err.write(f"{message}\n")
        if result.checkpoint and result.files_changed:
            undo = restore_command(result.checkpoint, session.workspace)
            err.write(f"To undo this run: {undo}\n")
    return exit_code


def print_readable(event: EventBase, out: TextIO, err: TextIO, at_line_start: bool) -> bool:
    """Print one event for a person; returns whether stdout now ends with a newline."""
    if isinstance(event, TextDelta):
        out.write(event.text)
        out.flush()
        return event.text.endswith("\n") if event.text else at_line_start
    line = _progress_line(event)
    if line is None:
        return at_line_start
    if not at_line_start:  # keep the reply and the progress lines apart on a shared terminal
        out.write("\n")
        out.flush()
    err.write(line + "\n")
    err.flush()
    return True


def _progress_line(event: EventBase) -> str | None:
    """A step's line on stderr: `event_summary`'s summary behind a mark of what it is."""
    mark = PROGRESS_MARKS.get(getattr(event, "type", ""))
    if mark is None:
        return None
    summary = summarize(event)
    if isinstance(event, (ToolStarted, ToolResult)):
        summary = summary[:TOOL_LINE_CHARS]
    return f"  {mark} {summary}"
