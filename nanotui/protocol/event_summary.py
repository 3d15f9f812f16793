"""One line per event, and the style of each kind of line: what every front end shows.

`describe(type, payload)` gives a (kind, summary) pair for any logged record, even one of a
type this version does not know (a newer nanotui's); `summarize(event)` is the summary of a
typed event. It works on the raw record so that the timeline turns a 100,000-line log into
rows in a fraction of a second. `STYLES` names each kind's style as a Rich style string: the
terminal app parses it, a plain front end ignores it.

Streamed text (`text_delta`) gets no line: the `assistant_message` that ends each reply holds
the whole text.
"""

from __future__ import annotations

import json
from typing import Any

from nanotui.protocol.basics import plural
from nanotui.protocol.checkpoints import short_checkpoint_id
from nanotui.protocol.diffs import count_changed_lines
from nanotui.protocol.events import EventBase
from nanotui.protocol.model_io import Usage
from nanotui.protocol.spend import Spend
from nanotui.protocol.tool_output import unframed

SKIPPED_TYPES = frozenset({"text_delta"})

STYLES: dict[str, str] = {
    "session": "dim",
    "prompt": "bold",
    "reply": "",
    "tool": "cyan",
    "policy": "magenta",
    "approval": "yellow",
    "refused": "bold red",
    "cost": "green",
    "checkpoint": "blue",
    "file": "bright_magenta",
    "notice": "dim",
    "warning": "yellow",
    "error": "bold red",
    "turn": "bright_blue",
    "hook": "bright_cyan",
    "other": "dim",
}
"""Each kind of line's style, as a Rich style string ("" for the default)."""

EXTERNAL_CHANGE_PREFIXES = ("external_", "file_changed")
"""Record types of files changed outside nanotui (`file_changed_externally`; any type named
`external_...` or `file_changed...` is shown as one)."""

_USUAL_KINDS = {
    "header": "session",
    "session_started": "session",
    "session_closed": "session",
    "conversation_cleared": "session",
    "conversation_resumed": "session",
    "user_message": "prompt",
    "assistant_message": "reply",
    "tool_call_proposed": "tool",
    "tool_started": "tool",
    "tool_result": "tool",
    "policy_decision": "policy",
    "approval_requested": "approval",
    "approval_resolved": "approval",
    "usage_reported": "cost",
    "cost_updated": "cost",
    "notice": "notice",
    "network_connection": "policy",
    "error": "error",
    "turn_finished": "turn",
    "result": "turn",
    "hook_ran": "hook",
}


def describe_line(record_type: str, payload: Any, limit: int) -> tuple[str, str]:
    """`describe` on one line of at most `limit` characters, for any record however odd."""
    try:
        kind, summary = describe(record_type, payload if isinstance(payload, dict) else {})
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        kind, summary = "other", "(a record this version cannot read)"
    summary = " ".join(summary.split())
    if len(summary) > limit:
        summary = summary[: limit - 1] + "…"
    return kind, summary


def summarize(event: EventBase) -> str:
    """The one-line summary of an event, as its logged record reads."""
    payload = event.model_dump(mode="json")
    return describe(str(payload.pop("type", "?")), payload)[1]


KIND_SWITCHES: dict[str, tuple[tuple[str, Any, str], ...]] = {
    "policy_decision": (("decision", "deny", "refused"),),
    "tool_result": (("interrupted", True, "tool"), ("refused", True, "refused")),
    "notice": (("level", "warning", "warning"),),
    "network_connection": (("allowed", False, "refused"),),
    "turn_finished": (("status", "error", "error"),),
    "hook_ran": (("decision", "block", "refused"),),
}
"""The record types whose kind hangs on one field of the payload: the first (field, value,
kind) whose field holds that value gives the kind, else it is the type's usual kind. `describe`
decides by this table, and a reader of raw log lines can decide by it without parsing them."""


def payload_kind(record_type: str, p: dict[str, Any]) -> str:
    """The kind of a record of this type with payload `p` (`KIND_SWITCHES`)."""
    for field, value, kind in KIND_SWITCHES.get(record_type, ()):
        if p.get(field) == value:
            return kind
    return usual_kind(record_type)


def usual_kind(record_type: str) -> str:
    """The kind a record of this type has unless its payload says otherwise."""
    return _USUAL_KINDS.get(record_type) or (
        "checkpoint"
        if record_type.startswith("checkpoint")
        else "file"
        if record_type.startswith(EXTERNAL_CHANGE_PREFIXES)
        else "other"
    )


def describe(kind: str, p: dict[str, Any]) -> tuple[str, str]:
    """(line kind, summary) for a record of type `kind` with payload `p`."""
    if kind == "header":
        model = f" {p['model']}" if p.get("model") else ""
        where = f" in {p['workspace']}" if p.get("workspace") else ""
        return "session", f"log opened:{model}{where} (format {p.get('format', '?')})"
    if kind == "session_started":
        again = "resumed: " if p.get("resumed") else ""
        return "session", (
            f"{again}{p['label']} in {p['workspace']}, mode {p['mode']}, sandbox {p['sandbox']}"
        )
    if kind == "session_closed":
        return "session", "session closed"
    if kind == "user_message":
        return "prompt", p["text"]
    if kind == "assistant_message":
        calls = len(p.get("tool_calls") or [])
        extra = f" [+{plural(calls, 'tool call')}]" if calls else ""
        cut = " (interrupted)" if p.get("interrupted") else ""
        return "reply", f"{p['text'] or '(no text)'}{cut}{extra}"
    if kind == "tool_call_proposed":
        return "tool", f"{p['tool']} proposed: {p.get('summary') or p.get('arguments', '')}"
    if kind == "policy_decision":
        reasons = p.get("reasons") or []
        why = f": {reasons[0]}" if reasons else ""
        return payload_kind(kind, p), f"{p['decision']} {p['tool']}{why}"
    if kind == "approval_requested":
        return "approval", f"asked ({p.get('kind', '')}): {p['summary']}"
    if kind == "approval_resolved":
        return "approval", approval_summary(
            p["decision"], p.get("by", "user"), p.get("reason", ""), p.get("edit_diff")
        )
    if kind == "tool_started":
        return "tool", f"{p['tool']} started: {p.get('summary', '')}"
    if kind == "network_connection":
        where = f"{p['method']} {p['host']}:{p['port']}"
        if p["allowed"]:
            return "policy", f"network allowed: {where}"
        return payload_kind(kind, p), f"network refused: {where} ({p['reason']})"
    if kind == "tool_result":
        first = first_line(unframed(p.get("content", "")))  # the note is for the model
        line_kind = payload_kind(kind, p)
        if p.get("interrupted"):
            return line_kind, f"{p['tool']} interrupted: {first}"
        if p.get("refused"):
            return line_kind, f"{p['tool']} refused: {first}"
        return line_kind, f"{p['tool']} {'ok' if p['ok'] else 'failed'}: {first}"
    if kind == "usage_reported":
        usage = p["usage"]
        cached = usage.get("cached_input_tokens", 0)
        return "cost", (
            f"{usage['input_tokens']:,} in ({cached:,} cached), "
            f"{usage['output_tokens']:,} out, {p.get('model', '')}"
        )
    if kind == "cost_updated":
        return "cost", cost_summary(p)
    if kind.startswith("checkpoint"):
        return "checkpoint", checkpoint_summary(kind, p)
    if kind.startswith(EXTERNAL_CHANGE_PREFIXES):
        if isinstance(p.get("changes"), list):
            pairs = [(c["path"], c["change"]) for c in p["changes"]]
            return "file", external_change_summary(pairs, p.get("more", 0))
        files = p.get("paths") or p.get("files") or p.get("path") or ""
        if isinstance(files, list):
            files = ", ".join(str(f) for f in files)
        return "file", f"changed outside nanotui: {files}"
    if kind == "notice":
        return payload_kind(kind, p), p["text"]
    if kind == "error":
        return "error", p["text"]
    if kind == "conversation_cleared":
        return "session", "conversation cleared"
    if kind == "conversation_resumed":
        return "session", f"resumed {p['session']} ({plural(p.get('messages', 0), 'message')})"
    if kind == "turn_finished":
        reason = f": {p['reason']}" if p.get("reason") else ""
        return payload_kind(kind, p), f"turn {p['status']}{reason}"
    if kind == "result":
        return "turn", f"result {p.get('status', '')}"
    if kind == "hook_ran":
        return payload_kind(kind, p), hook_summary(p)
    brief = json.dumps(p, ensure_ascii=False, separators=(",", ":"))
    return "other", f"{kind} {brief}"


def cost_summary(p: dict[str, Any], request_usage: Usage | None = None) -> str:
    """A `cost_updated` line: one request's dollars (and its tokens, when known), then the
    session's dollars, each labelled."""
    cost = p.get("request_usd")
    request = "unpriced" if cost is None else f"${cost:.4f}"
    tokens = ""
    if request_usage is not None:
        tokens = f", {request_usage.input_tokens:,} in, {request_usage.output_tokens:,} out"
    spend = Spend.of_session(p)  # an unpriced session has no dollars (never $0)
    session = f" (session {spend.text()})" if spend.cost_usd is not None else ""
    return f"request {request}{tokens}{session}"


def checkpoint_summary(kind: str, p: dict[str, Any]) -> str:
    """A checkpoint line, naming checkpoints by the short ids the browser shows (`44be/2`)."""
    what = kind.removeprefix("checkpoint_").replace("_", " ") or "checkpoint"
    named = short_checkpoint_id(str(p.get("short_id") or p.get("checkpoint", "")))
    if kind == "checkpoint_restored":
        written, removed = len(p.get("restored") or []), len(p.get("removed") or [])
        undo = p.get("safety_checkpoint")
        before = f"; {short_checkpoint_id(undo)} holds what was there before" if undo else ""
        return f"restored {named}: {plural(written, 'file')} written, {removed} removed{before}"
    files = f", {plural(p['files'], 'file')}" if "files" in p else ""
    return f"{what} {named} {p.get('reason', '')}{files}".strip()


def hook_summary(p: dict[str, Any]) -> str:
    """A `hook_ran` line, e.g. `pre_tool hook (run_command) blocked: no pushes on Fridays`."""
    tool = f" ({p['tool']})" if p.get("tool") else ""
    done = {"block": "blocked", "modify": "changed the arguments", "continue": "let it go on"}
    failed = f" after it failed ({p['failure']})" if p.get("failure") else ""
    said = p.get("reason") and p["decision"] == "block" and not p.get("failure")
    reason = f": {p['reason']}" if said else ""
    return f"{p['hook_event']} hook{tool} {done[p['decision']]}{failed}{reason}"


def approval_summary(
    decision: str, by: str = "user", reason: str = "", edit_diff: str | None = None
) -> str:
    """How an answer to an approval reads, e.g. `edited by user (+1 -1 against the proposal)`."""
    if decision == "interrupted":
        return "interrupted by the user (Esc or quit) before an answer; it did not run"
    why = f" ({reason})" if reason else ""
    if decision == "edit":
        added, removed = count_changed_lines(edit_diff or "")
        why = f" (+{added} -{removed} against the proposal){why}"
        return f"edited by {by}{why}"
    if decision == "project":
        return f"allowed for this project by {by}{why}"
    return f"{decision} by {by}{why}"


def external_change_summary(changes: list[tuple[str, str]], more: int = 0) -> str:
    """A line's summary, e.g. `changed outside nanotui: a.py (modified) and 3 more`."""
    listed = ", ".join(f"{path} ({change})" for path, change in changes)
    rest = f" and {more} more" if more else ""
    return f"changed outside nanotui: {listed}{rest}"


def first_line(text: str) -> str:
    """The first line of `text` that is not blank, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


PROGRESS_MARKS = {"tool_started": "->", "tool_result": "<-", "notice": "note:", "error": "error:"}
"""The events a headless run or a review prints on stderr, one line each, behind its mark."""
TOOL_LINE_CHARS = 200
"""A tool's line is cut here: its first line of output can be a whole minified file."""


def progress_line(event: EventBase) -> str | None:
    """A step's line for a log (stderr, CI): the summary behind a mark of what it is; None for
    events that have no line of their own (streamed text, costs)."""
    mark = PROGRESS_MARKS.get(getattr(event, "type", ""))
    if mark is None:
        return None
    summary = summarize(event)
    if event.type in ("tool_started", "tool_result"):
        summary = summary[:TOOL_LINE_CHARS]
    return f"  {mark} {summary}"
