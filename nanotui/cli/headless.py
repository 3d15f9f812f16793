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
from nanotui.engine.facade import EngineSession
from nanotui.engine.run_result import headless_refusal, turn_result
from nanotui.protocol.event_summary import progress_line
from nanotui.protocol.events import (
    ApprovalRequested,
    AssistantMessage,
    ErrorEvent,
    EventBase,
    RunResult,
    TextDelta,
    TurnFinished,
)
from nanotui.protocol.reply_stream import ReplyStream
from nanotui.protocol.spend import Spend


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
    # The reply's pieces as JSON lines: a secret split across two pieces is in neither.
    reply = ReplyStream(session.redacted)
    async for event in session.turn(prompt):
        if isinstance(event, ApprovalRequested):
            session.resolve_approval(event, headless_refusal(event, session.mode))
        if isinstance(event, TurnFinished):
            finished = event
        # What is printed may end up in a public CI log: redacted as the session's log is.
        shown: list[EventBase] = [session.redacted_event(event)]
        if as_json:
            released = reply.add(event.text) if isinstance(event, TextDelta) else reply.end()
            pieces = [TextDelta(text=released)] if released else []
            shown = pieces if isinstance(event, TextDelta) else [*pieces, *shown]
        for each in shown:
            ends_with_newline = show_event(each, errors, as_json, out, err, ends_with_newline)
    result = await turn_result(session, finished, errors)
    undo = restore_command(result.checkpoint, session.workspace) if result.checkpoint else None
    print_result(
        result, errors, undo, as_json=as_json, out=out, err=err, at_line_start=ends_with_newline
    )
    return result.exit_code


def print_result(
    result: RunResult,
    errors: list[str],
    undo: str | None,
    *,
    as_json: bool,
    out: TextIO,
    err: TextIO,
    at_line_start: bool = True,
) -> None:
    """The run's last words: the `result` line, or for a person a summary on stderr (with
    `undo`, the command that takes the run's changes back)."""
    if as_json:
        out.write(result.to_json_line() + "\n")
        out.flush()
        return
    if not at_line_start:
        out.write("\n")
    spend = Spend(result.cost_usd, result.unpriced_requests)
    err.write(
        f"[{result.status}] {result.usage.input_tokens} in / {result.usage.output_tokens} out "
        f"tokens, {spend.text()}; files changed: {', '.join(result.files_changed) or 'none'}; "
        f"session {result.session}\n"
    )
    message = result.message
    if result.status != "done" and message and message not in errors:  # each sentence once
        err.write(f"{message}\n")
    if undo and result.files_changed:
        err.write(f"To undo this run: {undo}\n")


def show_event(
    event: EventBase,
    errors: list[str],
    as_json: bool,
    out: TextIO,
    err: TextIO,
    at_line_start: bool,
) -> bool:
    """Print one event of a run as a JSON line or for a person, noting an error's sentence in
    `errors`; returns whether stdout now ends with a newline."""
    if isinstance(event, ErrorEvent):
        errors.append(event.text)
    if not as_json:
        return print_readable(event, out, err, at_line_start, stream=_is_terminal(out))
    out.write(event.to_json_line() + "\n")
    out.flush()
    return at_line_start


def print_readable(
    event: EventBase, out: TextIO, err: TextIO, at_line_start: bool, *, stream: bool = True
) -> bool:
    """Print one event for a person; returns whether stdout now ends with a newline.

    With `stream` the reply is printed as it comes; without (not a terminal: a CI log, a
    file) each reply is printed whole once it has ended, redacted as a whole, so a secret
    split across two pieces of the stream cannot slip through."""
    if isinstance(event, TextDelta) and stream:
        out.write(event.text)
        out.flush()
        return event.text.endswith("\n") if event.text else at_line_start
    if isinstance(event, AssistantMessage) and not stream and event.text:
        text = event.text if event.text.endswith("\n") else event.text + "\n"
        out.write(("" if at_line_start else "\n") + text)
        out.flush()
        return True
    line = progress_line(event)
    if line is None:
        return at_line_start
    if not at_line_start:  # keep the reply and the progress lines apart on a shared terminal
        out.write("\n")
        out.flush()
    err.write(line + "\n")
    err.flush()
    return True


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: no terminal
        return False
