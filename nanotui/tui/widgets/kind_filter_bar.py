"""The timeline's kind filter: a row of choices (all, tools, approvals, ...), one lit.

Each choice can be clicked; the digit before it is its key while the event list has focus.
A choice that does not fit on the line goes whole to the next one.
"""

from __future__ import annotations

from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from nanotui.tui.timeline_rows import FILTERS_BY_NAME, KIND_FILTERS, KindFilter


class KindFilterBar(Static):
    """Shows the kind filters with the chosen one highlighted; posts `Chosen` on a click."""

    chosen: reactive[str] = reactive("all")

    class Chosen(Message):
        def __init__(self, kind_filter: KindFilter) -> None:
            super().__init__()
            self.kind_filter = kind_filter

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(self._markup("all", 0), id=id)

    @staticmethod
    def _markup(chosen: str, width: int) -> str:
        """The choices, each kept whole on one line when `width` (if known) is too narrow."""
        lines: list[list[str]] = [[]]
        used = 0
        for number, kind_filter in enumerate(KIND_FILTERS):
            label = f" {number} {kind_filter.label} "
            if width and lines[-1] and used + 1 + len(label) > width:
                lines.append([])
                used = 0
            lit = "reverse bold " if kind_filter.name == chosen else ""
            lines[-1].append(f"[{lit}@click=choose('{kind_filter.name}')]{label}[/]")
            used += len(label) + (1 if used else 0)
        return "\n".join(" ".join(line) for line in lines)

    def _redraw(self) -> None:
        self.update(self._markup(self.chosen, self.content_region.width))

    def watch_chosen(self) -> None:
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def action_choose(self, name: str) -> None:
        self.chosen = name
        self.post_message(self.Chosen(FILTERS_BY_NAME[name]))
