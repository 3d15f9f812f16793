"""The cost meter: session and today's spend against their budgets, tokens, rate and price.

It holds the figures (see `nanotui.tui.cost_figures`) and shows them two ways; the
stylesheet picks one: the full panel on wide terminals, one line on narrow ones. The screen
feeds it from the engine's events and the streaming reply; it never asks the engine itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.content import Content
from textual.geometry import Size
from textual.timer import Timer
from textual.widget import Widget

from nanotui.protocol.events import CostUpdated
from nanotui.protocol.model_io import Usage
from nanotui.protocol.spend import format_cost
from nanotui.tui.cost_figures import CostFigures

__all__ = ["CostMeter", "format_cost"]

ESTIMATE_REFRESH_S = 0.25
"""How often the estimate of a streaming reply is redrawn."""


class CostMeter(Widget):
    """Spending so far against the budgets; classes -warning / -over colour it as they pass."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.figures = CostFigures()
        self._estimate_shown: Timer | None = None

    def compose(self) -> ComposeResult:
        yield _MeterDetail(self.figures, id="cost-detail")
        yield _MeterLine(self.figures, id="cost-line")

    def on_mount(self) -> None:
        self.border_title = "Cost"
        self._changed()

    # ---- what the screen tells it -------------------------------------------------------

    def show_model(self, label: str, *, is_demo: bool) -> None:
        self.figures.model_label = label
        self.figures.is_demo = is_demo
        self._changed()

    def show_cost(self, event: CostUpdated) -> None:
        """Settle on the engine's figures (after a request, or the status on opening)."""
        self.figures.apply(event)
        self._changed()

    def show_usage(self, usage: Usage) -> None:
        """The last request's reported usage."""
        self.figures.last_usage = usage
        self._changed()

    def add_streamed(self, text: str) -> None:
        """A fragment of the reply streaming now: the estimate grows until usage settles it.

        The figure moves with every token, but is shown a few times a second: redrawing the
        meter lays out the whole screen (about 30 ms on a slow machine), which per token held
        a fast stream to a third of its speed."""
        self.figures.streamed_chars += len(text)
        if self._estimate_shown is None:
            self._estimate_shown = self.set_timer(ESTIMATE_REFRESH_S, self._show_estimate)

    def _show_estimate(self) -> None:
        self._estimate_shown = None
        # The estimate changes figures, not the meter's rows: no layout of the whole screen
        # (which, with a long reply in the chat, took 80-130 ms each time).
        self._changed(layout=False)

    def end_stream(self) -> None:
        """The turn is over: drop an estimate no usage came to settle (an interrupted reply)."""
        if self.figures.streaming:
            self.figures.streamed_chars = 0
            self._changed()

    def add_files(self, files: Iterable[str]) -> None:
        self.figures.files_changed = tuple(dict.fromkeys([*self.figures.files_changed, *files]))
        self._changed()

    # ---- read by tests and commands -----------------------------------------------------

    @property
    def cost(self) -> str:
        return format_cost(self.figures.session_spend, is_demo=self.figures.is_demo)

    @property
    def session_usage(self) -> Usage:
        return self.figures.session_usage

    @property
    def files_changed(self) -> tuple[str, ...]:
        return self.figures.files_changed

    @property
    def text(self) -> str:
        """What the full panel says, as plain text."""
        return self.figures.detail().plain

    def _changed(self, *, layout: bool = True) -> None:
        level = self.figures.level
        self.set_class(level == "warning", "-warning")
        self.set_class(level == "over", "-over")
        for view in self.query(_MeterView):
            view.refresh(layout=layout)


class _MeterView(Widget):
    def __init__(self, figures: CostFigures, *, id: str) -> None:
        super().__init__(id=id)
        self.figures = figures


class _MeterDetail(_MeterView):
    """The full panel: one fact a row."""

    def render(self) -> Content:
        return self.figures.detail(self.content_size.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # The bars shrink to fit the width, so the height is measured at that width.
        return self.figures.detail(width).get_height(self.styles, width) if width else 0


class _MeterLine(_MeterView):
    """One line: session, today, rate."""

    def render(self) -> Content:
        return self.figures.line()
