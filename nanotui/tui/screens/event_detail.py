"""One logged event in full (Enter on a timeline row): every field, as the log holds it.

What is shown is the record as written, so secrets appear exactly as they were logged:
already replaced by `[REDACTED:kind]`.
"""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from nanotui.protocol.basics import plural

FIELD_CHARS = 20_000
"""A field longer than this (a huge tool output) is cut, saying how much was left out."""


def field_text(value: Any) -> Text:
    """A field's value for people: strings as they are (lines kept), the rest as JSON."""
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
    if len(shown) > FIELD_CHARS:
        left_out = len(shown) - FIELD_CHARS
        shown = f"{shown[:FIELD_CHARS]}\n… ({plural(left_out, 'more character')} in the log)"
    if isinstance(value, str) and not value:
        return Text('""', style="dim")
    return Text(shown, style="" if isinstance(value, str) else "cyan")


def record_table(record: dict[str, Any]) -> Table:
    """The record's links (number, time, type, previous line's hash), then its payload."""
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", ratio=1, overflow="fold")
    for key in ("seq", "ts", "type"):
        if key in record:
            table.add_row(key, Text(str(record[key])))
    payload = record.get("payload")
    if isinstance(payload, dict):
        for key, value in payload.items():
            table.add_row(key, field_text(value))
    elif payload is not None:
        table.add_row("payload", field_text(payload))
    for key, value in record.items():
        if key not in ("seq", "ts", "type", "payload", "prev"):
            table.add_row(key, field_text(value))
    if "prev" in record:
        table.add_row("prev", Text(str(record["prev"]), style="dim"))
    return table


class EventDetailScreen(ModalScreen[None]):
    """The full event over the timeline; Esc, q or Enter close it."""

    BINDINGS = [Binding("escape,q,enter", "close", "Close the event", id="event.close")]

    def __init__(self, record: dict[str, Any], *, note: str = "") -> None:
        super().__init__()
        self.record = record
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="event-dialog") as dialog:
            seq = self.record.get("seq", "?")
            dialog.border_title = f"Event {seq} · {self.record.get('type', '?')}"
            dialog.border_subtitle = "esc close · ↑↓ scroll"
            if self.note:
                yield Static(self.note, id="event-note", markup=False)
            with VerticalScroll(id="event-body"):
                yield Static(record_table(self.record), id="event-fields")

    def on_mount(self) -> None:
        self.query_one("#event-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
