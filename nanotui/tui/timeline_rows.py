"""The timeline's rows: one per logged event (time, kind, summary), and the filters over them.

Pure data, no widgets: the timeline screen, replay and `bench/timeline.py` use it, and tests
read it directly. Rows are made from the session log's raw records rather than from parsed
events, so that a 100,000-line log turns into rows in a fraction of a second and a record
type this version does not know (a newer nanotui's) still gets a row.

Streamed text (`text_delta`) gets no row: the `assistant_message` that ends each reply holds
the whole text, as in `nanotui audit show`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nanotui.protocol.basics import plural
from nanotui.protocol.checkpoints import short_checkpoint_id
from nanotui.protocol.spend import Spend
from nanotui.tools.file_change import count_changed_lines

SUMMARY_CHARS = 240
"""A row's summary is cut here; the full event (Enter) has everything."""
SKIPPED_TYPES = frozenset({"text_delta"})

KIND_STYLES: dict[str, str] = {
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
    "other": "dim",
}
KIND_WIDTH = 10

TOOL_TYPES = frozenset({"tool_call_proposed", "tool_started", "tool_result"})
APPROVAL_TYPES = frozenset({"approval_requested", "approval_resolved"})
COST_TYPES = frozenset({"usage_reported", "cost_updated"})
EXTERNAL_CHANGE_PREFIXES = ("external_", "file_changed")
"""Record types of files changed outside nanotui (`file_changed_externally`; any type named
`external_...` or `file_changed...` is shown and filtered as one)."""


@dataclass(frozen=True)
class KindFilter:
    """One choice of the filter bar: the rows of some record types or of some kinds."""

    name: str
    label: str
    types: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()

    def matches(self, row: TimelineRow) -> bool:
        if not self.types and not self.kinds:
            return True  # "all"
        return row.type in self.types or row.kind in self.kinds


KIND_FILTERS: tuple[KindFilter, ...] = (
    KindFilter("all", "all"),
    KindFilter("tools", "tools", types=TOOL_TYPES),
    KindFilter("approvals", "approvals", types=APPROVAL_TYPES),
    KindFilter("refusals", "refusals", kinds=frozenset({"refused"})),
    KindFilter("costs", "costs", types=COST_TYPES),
    KindFilter("checkpoints", "checkpoints", kinds=frozenset({"checkpoint"})),
    KindFilter("errors", "errors", kinds=frozenset({"error"})),
    KindFilter("files", "file changes", kinds=frozenset({"file"})),
)
FILTERS_BY_NAME: dict[str, KindFilter] = {f.name: f for f in KIND_FILTERS}


@dataclass(slots=True)
class TimelineRow:
    """One event as the timeline lists it.

    A row indexed from a log on disk knows at first only its number, time, type and where
    its line starts (`offset`); `summary` is None until the line is read (when the row is
    first drawn, or when a filter needs every row), and `kind` is the type's usual kind
    until then. A row made from a record held in memory keeps it in `record`.
    """

    seq: int
    time: str
    type: str
    kind: str
    summary: str | None
    offset: int = -1
    record: dict[str, Any] | None = None

    @property
    def described(self) -> bool:
        return self.summary is not None

    def text(self) -> str:
        """What the text filter searches: the kind, the record type and the summary."""
        return f"{self.kind} {self.type} {self.summary or ''}"


def row_for_record(record: dict[str, Any], offset: int = -1, keep: bool = False) -> TimelineRow:
    """The row for one log record (`keep` holds the record itself, for logs not on disk)."""
    seq = record.get("seq")
    row = TimelineRow(
        seq=seq if isinstance(seq, int) else -1,
        time=str(record.get("ts", ""))[11:19],
        type=str(record.get("type", "?")),
        kind="other",
        summary=None,
        offset=offset,
        record=record if keep else None,
    )
    describe_row(row, record)
    return row


def describe_row(row: TimelineRow, record: dict[str, Any]) -> None:
    """Fill in `row`'s kind and summary from its record."""
    payload = record.get("payload")
    try:
        kind, summary = describe(row.type, payload if isinstance(payload, dict) else {})
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        kind, summary = "other", "(a record this version cannot read)"
    summary = " ".join(summary.split())
    if len(summary) > SUMMARY_CHARS:
        summary = summary[: SUMMARY_CHARS - 1] + "…"
    # Kind first: a reader on another thread takes a row with a summary as described.
    row.kind = kind
    row.summary = summary


def usual_kind(record_type: str) -> str:
    """The kind a record of this type has unless its payload says otherwise."""
    return _USUAL_KINDS.get(record_type) or (
        "checkpoint"
        if record_type.startswith("checkpoint")
        else "file"
        if record_type.startswith(EXTERNAL_CHANGE_PREFIXES)
        else "other"
    )


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
    "error": "error",
    "turn_finished": "turn",
    "result": "turn",
}


def describe(kind: str, p: dict[str, Any]) -> tuple[str, str]:
    """(row kind, summary) for a record of type `kind` with payload `p`."""
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
        decision = p["decision"]
        return ("refused" if decision == "deny" else "policy"), f"{decision} {p['tool']}{why}"
    if kind == "approval_requested":
        return "approval", f"asked ({p.get('kind', '')}): {p['summary']}"
    if kind == "approval_resolved":
        return "approval", approval_summary(
            p["decision"], p.get("by", "user"), p.get("reason", ""), p.get("edit_diff")
        )
    if kind == "tool_started":
        return "tool", f"{p['tool']} started: {p.get('summary', '')}"
    if kind == "tool_result":
        first = _first_line(p.get("content", ""))
        if p.get("interrupted"):
            return "tool", f"{p['tool']} interrupted: {first}"
        if p.get("refused"):
            return "refused", f"{p['tool']} refused: {first}"
        return "tool", f"{p['tool']} {'ok' if p['ok'] else 'failed'}: {first}"
    if kind == "usage_reported":
        usage = p["usage"]
        cached = usage.get("cached_input_tokens", 0)
        return "cost", (
            f"{usage['input_tokens']:,} in ({cached:,} cached), "
            f"{usage['output_tokens']:,} out, {p.get('model', '')}"
        )
    if kind == "cost_updated":
        cost = p.get("request_usd")
        request = "unpriced" if cost is None else f"${cost:.4f}"
        spend = Spend.of_session(p)  # an unpriced session has no dollars (never $0)
        session = f" (session {spend.text()})" if spend.cost_usd is not None else ""
        return "cost", f"request {request}{session}"
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
        return ("warning" if p.get("level") == "warning" else "notice"), p["text"]
    if kind == "error":
        return "error", p["text"]
    if kind == "conversation_cleared":
        return "session", "conversation cleared"
    if kind == "conversation_resumed":
        return "session", f"resumed {p['session']} ({plural(p.get('messages', 0), 'message')})"
    if kind == "turn_finished":
        status = p["status"]
        reason = f": {p['reason']}" if p.get("reason") else ""
        return ("error" if status == "error" else "turn"), f"turn {status}{reason}"
    if kind == "result":
        return "turn", f"result {p.get('status', '')}"
    brief = json.dumps(p, ensure_ascii=False, separators=(",", ":"))
    return "other", f"{kind} {brief}"


def checkpoint_summary(kind: str, p: dict[str, Any]) -> str:
    """A checkpoint row, naming checkpoints by the short ids the browser shows (`44be/2`)."""
    what = kind.removeprefix("checkpoint_").replace("_", " ") or "checkpoint"
    named = short_checkpoint_id(str(p.get("short_id") or p.get("checkpoint", "")))
    if kind == "checkpoint_restored":
        written, removed = len(p.get("restored") or []), len(p.get("removed") or [])
        undo = p.get("safety_checkpoint")
        before = f"; {short_checkpoint_id(undo)} holds what was there before" if undo else ""
        return f"restored {named}: {plural(written, 'file')} written, {removed} removed{before}"
    files = f", {plural(p['files'], 'file')}" if "files" in p else ""
    return f"{what} {named} {p.get('reason', '')}{files}".strip()


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
    return f"{decision} by {by}{why}"


def external_change_summary(changes: list[tuple[str, str]], more: int = 0) -> str:
    """A row's summary, e.g. `changed outside nanotui: a.py (modified) and 3 more`."""
    listed = ", ".join(f"{path} ({change})" for path, change in changes)
    rest = f" and {more} more" if more else ""
    return f"changed outside nanotui: {listed}{rest}"


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def matching(
    rows: list[TimelineRow], kind_filter: KindFilter, text: str, start: int = 0
) -> list[int]:
    """Indices (from `start`) of the described rows that pass the kind filter and hold `text`."""
    text = text.strip().lower()
    if kind_filter.name == "all" and not text:
        return list(range(start, len(rows)))
    found = []
    for index in range(start, len(rows)):
        row = rows[index]
        if kind_filter.matches(row) and (not text or text in row.text().lower()):
            found.append(index)
    return found


class TimelineRows:
    """Every row of a session, and the indices of those the filters let through.

    Filtering needs every row described; the screen does that, and the matching, off the
    event loop (`matching`), then hands the result to `show`.
    """

    def __init__(self) -> None:
        self.rows: list[TimelineRow] = []
        self.shown: list[int] = []
        self.kind_filter: KindFilter = KIND_FILTERS[0]
        self.text = ""

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def filtering(self) -> bool:
        return self.kind_filter.name != "all" or bool(self.text)

    def extend(self, rows: Iterable[TimelineRow]) -> int:
        """Add described rows at the end (or any rows, unfiltered); returns how many show."""
        first = len(self.rows)
        self.rows.extend(rows)
        added = matching(self.rows, self.kind_filter, self.text, first)
        self.shown.extend(added)
        return len(added)

    def show(self, kind_filter: KindFilter, text: str, shown: list[int], checked: int) -> None:
        """Apply a filter whose matches among the first `checked` rows are `shown`."""
        self.kind_filter, self.text = kind_filter, text.strip().lower()
        self.shown = shown + matching(self.rows, kind_filter, text, checked)

    def set_filter(self, kind_filter: KindFilter | None = None, text: str | None = None) -> None:
        """Filter at once, on this thread (every row must be described)."""
        kind_filter = kind_filter or self.kind_filter
        text = self.text if text is None else text
        self.show(kind_filter, text, matching(self.rows, kind_filter, text), len(self.rows))

    def shown_row(self, index: int) -> TimelineRow:
        return self.rows[self.shown[index]]
