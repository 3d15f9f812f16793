"""A unified diff, one colour per kind of line, in its own scrollable area."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.content import Content
from textual.widgets import Static


def diff_line_style(line: str) -> str:
    """The style of one line of a unified diff."""
    if line.startswith(("+++", "---")):
        return "bold"
    if line.startswith("+"):
        return "$text-success"
    if line.startswith("-"):
        return "$text-error"
    if line.startswith("@@"):
        return "cyan"
    return ""


def diff_content(diff: str) -> Content:
    """Colour a unified diff: additions green, removals red, hunk headers cyan."""
    return Content("\n").join(
        Content.styled(line, diff_line_style(line)) for line in diff.splitlines()
    )


class DiffView(ScrollableContainer, can_focus=False):
    """Shows a diff, unwrapped (a wrapped line would lose its +/- mark); scrolls both ways.

    The approval panel keeps the focus and scrolls it with the arrow keys.
    """

    def __init__(self, diff: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._diff = diff

    def compose(self) -> ComposeResult:
        yield Static(diff_content(self._diff), classes="diff-lines")

    def show(self, diff: str) -> None:
        self._diff = diff
        self.query_one(".diff-lines", Static).update(diff_content(diff))
        self.scroll_to(0, 0, animate=False)
