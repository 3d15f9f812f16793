"""The cost meter: what this session has spent against its budget, and the tokens behind it.

Part 1 shows the session budget, tokens (input, cached, output, reasoning) for the session and
the last request, and where the price comes from. A model nobody priced reads "unpriced",
never "$0".
"""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from nanotui.providers.base import Usage

BAR_WIDTH = 16


def format_cost(spent_usd: float, *, priced: bool, is_demo: bool) -> str:
    """Cost as the user should read it: never "$0" for a model nobody priced."""
    if is_demo:
        return "free (offline demo)"
    if not priced:
        return "unpriced"
    return f"${spent_usd:.4f}"


def budget_bar(spent: float, limit: float, warn_at_percent: float) -> Content:
    """A bar of the budget used, amber from the warning threshold, red at the limit."""
    fraction = 1.0 if limit <= 0 else min(spent / limit, 1.0)
    filled = round(fraction * BAR_WIDTH)
    style = "$success"
    if fraction * 100 >= warn_at_percent:
        style = "$warning"
    if fraction >= 1.0:
        style = "$error"
    return Content.assemble(("█" * filled, style), ("░" * (BAR_WIDTH - filled), "dim"))


class CostMeter(Static):
    """Running totals of the session, fed by the screen from CostUpdated / UsageReported."""

    model_label: reactive[str] = reactive("")
    price_source: reactive[str] = reactive("")
    priced: reactive[bool] = reactive(False)
    is_demo: reactive[bool] = reactive(False)
    spent_usd: reactive[float] = reactive(0.0)
    session_budget_usd: reactive[float] = reactive(0.0)
    warn_at_percent: reactive[float] = reactive(80.0)
    session_usage: reactive[Usage] = reactive(Usage, always_update=True)
    last_usage: reactive[Usage | None] = reactive(None, always_update=True)
    files_changed: reactive[tuple[str, ...]] = reactive(())

    @property
    def cost(self) -> str:
        return format_cost(self.spent_usd, priced=self.priced, is_demo=self.is_demo)

    def on_mount(self) -> None:
        self.border_title = "Cost"

    def render(self) -> Content:
        rows: list[tuple[str, Content | str]] = [("session", self._spend())]
        usage = self.session_usage
        rows.append(("tokens", _tokens(usage)))
        if self.last_usage is not None:
            rows.append(("last", _tokens(self.last_usage)))
        source = "offline demo" if self.is_demo else (self.price_source or "unpriced")
        rows.append(("model", f"{self.model_label} · {source}"))
        rows.append(("changed", ", ".join(self.files_changed) or "none"))
        return Content("\n").join(
            Content.assemble((f"{name:<8}", "dim"), value) for name, value in rows
        )

    def _spend(self) -> Content:
        if self.is_demo or not self.priced:
            return Content(self.cost)
        limit = self.session_budget_usd
        return Content.assemble(
            budget_bar(self.spent_usd, limit, self.warn_at_percent),
            f" {self.cost} of ${limit:.2f}",
        )


def _tokens(usage: Usage) -> str:
    text = f"{usage.input_tokens:,} in"
    if usage.cached_input_tokens:
        text += f" ({usage.cached_input_tokens:,} cached)"
    text += f" · {usage.output_tokens:,} out"
    if usage.reasoning_tokens:
        text += f" ({usage.reasoning_tokens:,} reasoning)"
    return text
