"""Session facts at a glance: model, tokens, cost, files changed."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static


def format_cost(spent_usd: float, *, priced: bool, is_demo: bool) -> str:
    """Cost as the user should read it: never "$0" for a model nobody priced."""
    if is_demo:
        return "free (offline demo)"
    if not priced:
        return "unpriced"
    return f"${spent_usd:.4f}"


class SessionPanel(Static):
    """A small table of the session's running totals, fed by the screen."""

    model_label: reactive[str] = reactive("")
    input_tokens: reactive[int] = reactive(0)
    output_tokens: reactive[int] = reactive(0)
    cost: reactive[str] = reactive("")
    files_changed: reactive[tuple[str, ...]] = reactive(())

    def on_mount(self) -> None:
        self.border_title = "Session"

    def render(self) -> Content:
        files = ", ".join(self.files_changed) or "none"
        rows = [
            ("model", self.model_label),
            ("tokens", f"{self.input_tokens:,} in · {self.output_tokens:,} out"),
            ("cost", self.cost),
            ("changed", files),
        ]
        return Content("\n").join(
            Content.assemble((f"{name:<8}", "dim"), value) for name, value in rows
        )
