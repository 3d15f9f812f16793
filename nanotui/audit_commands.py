"""`nanotui audit show | verify | replay`: reading session logs back."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from nanotui.engine.events import parse_event
from nanotui.governance.audit import read_records
from nanotui.governance.audit_chain import verify_log
from nanotui.headless import print_readable
from nanotui.tui.timeline_rows import approval_summary

MAX_REPLAY_GAP_S = 2.0
"""Longest wait between two replayed events, whatever the pace (a user may have gone out)."""


def show(path: Path, out: TextIO) -> int:
    """A readable timeline: one line per event (streamed text left out: the reply holds it)."""
    for number, record in enumerate(read_records(path), start=1):
        kind = str(record.get("type", "?"))
        if kind == "text_delta":
            continue  # the assistant_message that follows holds the whole text
        try:
            brief = _brief_payload(kind, record["payload"])
        except (KeyError, TypeError, ValueError):
            brief = "(a record this version cannot read)"
        seq, ts = record.get("seq", f"#{number}"), str(record.get("ts", ""))
        print(f"{seq:>5}  {ts[11:19]:<8}  {kind:<20} {brief}", file=out)
    return 0


def _brief_payload(kind: str, payload: dict[str, Any]) -> str:
    keys = {
        "user_message": "text",
        "assistant_message": "text",
        "tool_call_proposed": "summary",
        "policy_decision": "decision",
        "approval_requested": "summary",
        "tool_started": "summary",
        "tool_result": "content",
        "notice": "text",
        "error": "text",
        "turn_finished": "status",
        "result": "status",
        "session_started": "label",
    }
    if kind == "usage_reported":
        usage = payload["usage"]
        return f"{usage['input_tokens']} in, {usage['output_tokens']} out ({payload['model']})"
    if kind == "cost_updated":
        cost = payload["request_usd"]
        return (
            "unpriced" if cost is None else f"${cost:.4f} (session ${payload['session_usd']:.4f})"
        )
    if kind == "approval_resolved":
        summary = approval_summary(
            payload["decision"],
            payload.get("by", "user"),
            payload.get("reason", ""),
            payload.get("edit_diff"),
        )
        applied = payload.get("applied_sha256", "")
        if applied and applied != payload.get("shown_sha256"):
            summary += f", applied {applied[:12]} (shown {payload.get('shown_sha256', '')[:12]})"
        return summary[:110]
    if kind == "file_changed_externally":
        more = f" and {payload['more']} more" if payload.get("more") else ""
        changes = ", ".join(f"{c['path']} ({c['change']})" for c in payload["changes"])
        return f"{changes}{more}"[:110]
    value = str(payload.get(keys.get(kind, ""), "")).replace("\n", " ")
    if kind in ("tool_result", "policy_decision", "tool_started", "tool_call_proposed"):
        value = f"{payload.get('tool', '')}: {value}"
    return value[:110]


def verify(paths: list[Path], out: TextIO) -> int:
    """One line per log: OK, or the first bad line; 1 when any log fails."""
    failed = 0
    for path in paths:
        verdict = verify_log(path)
        failed += not verdict.ok
        print(f"{path.stem}: {verdict.sentence()}", file=out)
    return 1 if failed else 0


def replay(path: Path, *, speed: float, as_json: bool, out: TextIO, err: TextIO) -> int:
    """Print a logged session's events again, in order, at `speed` times the original pace."""
    previous: datetime | None = None
    at_line_start = True
    for record in read_records(path):
        try:
            event = parse_event({"type": record["type"], **record["payload"]})
        except (KeyError, TypeError, ValueError):
            continue  # the header, and records this version cannot read
        when = _timestamp(record)
        if speed > 0 and previous is not None and when is not None:
            time.sleep(min((when - previous).total_seconds() / speed, MAX_REPLAY_GAP_S))
        previous = when or previous
        if as_json:
            out.write(event.to_json_line() + "\n")
            out.flush()
        else:
            at_line_start = print_readable(event, out, err, at_line_start)
    if not at_line_start:
        out.write("\n")
    return 0


def _timestamp(record: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(record["ts"]))
    except (KeyError, ValueError):
        return None
