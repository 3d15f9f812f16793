"""One tool call in the conversation: a collapsible block with its status and brief result."""

from __future__ import annotations

from typing import Literal

from textual.content import Content
from textual.reactive import var
from textual.widgets import Collapsible, Static

from nanotui.tui.widgets.diff_view import diff_content

ToolStatus = Literal[
    "proposed",
    "waiting",
    "approved",
    "running",
    "ok",
    "failed",
    "refused",
    "rejected",
    "interrupted",
]

STATUS_LABELS: dict[str, tuple[str, str]] = {
    # status: (icon, words)
    "proposed": ("·", "proposed"),
    "waiting": ("?", "waiting for your approval"),
    "approved": ("·", "approved"),
    "running": ("…", "running"),
    "ok": ("✓", "ok"),
    "failed": ("✗", "failed"),
    "refused": ("⊘", "refused"),
    "rejected": ("⊘", "rejected by you"),
    "interrupted": ("!", "interrupted"),
}
BRIEF_LINES = 12
BRIEF_CHARS = 1500


def brief(text: str, lines: int = BRIEF_LINES, chars: int = BRIEF_CHARS) -> str:
    """The start of a long text, saying how much was left out."""
    kept = text[:chars].splitlines()[:lines]
    shown = "\n".join(kept)
    rest = text.count("\n") + 1 - len(kept)
    if len(shown) < len(text.rstrip("\n")):
        more = f"{rest} more lines" if rest > 0 else "more"
        shown += f"\n… ({more})"
    return shown


class ToolCallBlock(Collapsible):
    """A tool call: title shows tool, arguments in brief and status; the body the result."""

    status: var[str] = var("proposed")

    def __init__(self, call_id: str, tool: str, summary: str, arguments: str) -> None:
        self.call_id = call_id
        self.tool = tool
        # The engine's summary of a write starts with the tool name; the title already has it.
        self.summary = summary.removeprefix(f"{tool} ")
        self.result_text = ""
        self._details = Static(Content(brief(arguments, lines=4, chars=400)), classes="tool-args")
        self._result = Static("", classes="tool-result")
        super().__init__(self._details, self._result, title=self._title_for("proposed"))
        self.add_class("-proposed")

    def _title_for(self, status: str) -> str:
        icon, words = STATUS_LABELS.get(status, ("·", status))
        # Content, not a str: a command or path must never be read as markup.
        return Content.assemble(  # type: ignore[return-value]
            (f"{icon} {self.tool}", "bold"),
            f"  {self.summary}  ",
            (f"[{words}]", "italic"),
        )

    def watch_status(self, old: str, new: str) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")
        self.title = self._title_for(new)

    def set_result(self, content: str, diff: str | None = None) -> None:
        """Show the result in brief (a write shows its diff in colour)."""
        self.result_text = content
        if diff:
            self._result.update(diff_content(brief(diff, lines=40, chars=4000)))
        else:
            self._result.update(Content(brief(content)))
