"""The timeline's rows: one per logged event (time, kind, summary), and the filters over them.

Pure data, no widgets: the timeline screen, replay and `bench/timeline.py` use it, and tests
read it directly. Each row's kind and summary are `protocol.event_summary`'s, made from the
session log's raw records (fast, and a type this version does not know still gets a row).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nanotui.protocol.event_summary import describe_line

SUMMARY_CHARS = 240
"""A row's summary is cut here; the full event (Enter) has everything."""

KIND_WIDTH = 10

TOOL_TYPES = frozenset({"tool_call_proposed", "tool_started", "tool_result"})
APPROVAL_TYPES = frozenset({"approval_requested", "approval_resolved"})
COST_TYPES = frozenset({"usage_reported", "cost_updated"})


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

    A row indexed from a log on disk knows at first only its number, time, type, kind (the
    index reads the few payload fields a kind hangs on) and where its line starts
    (`offset`); `summary` is None until the line is read (when the row is first drawn, or
    when a search looks at it). A row made from a record held in memory keeps it in
    `record`.
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
    kind, summary = describe_line(row.type, record.get("payload"), SUMMARY_CHARS)
    # Kind first: a reader on another thread takes a row with a summary as described.
    row.kind = kind
    row.summary = summary


def matching(
    rows: list[TimelineRow], kind_filter: KindFilter, text: str, start: int = 0
) -> list[int]:
    """Indices (from `start`) of the rows that pass the kind filter and hold `text` (which
    needs the rows described; the kind does not)."""
    text = text.strip().lower()
    indices = range(start, len(rows))
    if kind_filter.name != "all":
        # Inline rather than `KindFilter.matches`: a million rows take a tenth of a second.
        types, kinds = kind_filter.types, kind_filter.kinds
        indices = [i for i in indices if (row := rows[i]).type in types or row.kind in kinds]
    if not text:
        return list(indices)
    return [i for i in indices if text in rows[i].text().lower()]


class TimelineRows:
    """Every row of a session, and the indices of those the filters let through.

    A search needs the rows described; the screen describes and matches them off the event
    loop (`timeline_search.find_rows`), then hands the result to `show`.
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
        """Apply a filter whose matches among the first `checked` rows are `shown`. Rows
        after those are matched here, but a search leaves the ones not yet described to its
        next run (which adding them started)."""
        self.kind_filter, self.text = kind_filter, text.strip().lower()
        later = matching(self.rows, kind_filter, text, checked)
        self.shown = shown + [i for i in later if not self.text or self.rows[i].described]

    def show_first(self, kind_filter: KindFilter, text: str, shown: list[int]) -> None:
        """Show the first matches, in order, of a filter still going through the rows."""
        self.kind_filter, self.text = kind_filter, text.strip().lower()
        self.shown = shown

    def set_filter(self, kind_filter: KindFilter | None = None, text: str | None = None) -> None:
        """Filter at once, on this thread (a search needs every row described)."""
        kind_filter = kind_filter or self.kind_filter
        text = self.text if text is None else text
        self.show(kind_filter, text, matching(self.rows, kind_filter, text), len(self.rows))

    def shown_row(self, index: int) -> TimelineRow:
        return self.rows[self.shown[index]]
