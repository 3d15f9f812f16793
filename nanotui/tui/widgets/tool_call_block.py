"""One tool call in the conversation: a collapsible block with its status and brief result.

A result that reads as instructions to the model (possible prompt injection) opens its block
and shows a warning line above the result, and the title carries a mark while it is closed.
"""

from __future__ import annotations

from typing import Literal

from textual.content import Content
from textual.reactive import var
from textual.widgets import Collapsible, Static

from nanotui.engine.events import ToolResult
from nanotui.security.injection import flags_in_framed, unframed
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
INJECTION_WARNING = "⚠ possible prompt injection"
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
        self.injection: list[str] = []
        self._details = Static(Content(brief(arguments, lines=4, chars=400)), classes="tool-args")
        self._warning = Static("", classes="tool-injection")
        self._warning.display = False
        self._result = Static("", classes="tool-result")
        super().__init__(
            self._details, self._warning, self._result, title=self._title_for("proposed")
        )
        self.add_class("-proposed")

    def _title_for(self, status: str) -> str:
        icon, words = STATUS_LABELS.get(status, ("·", status))
        warning = (f"  {INJECTION_WARNING}", "bold $text-warning") if self.injection else ""
        # Content, not a str: a command or path must never be read as markup.
        return Content.assemble(  # type: ignore[return-value]
            (f"{icon} {self.tool}", "bold"),
            f"  {self.summary}  ",
            (f"[{words}]", "italic"),
            warning,
        )

    def watch_status(self, old: str, new: str) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")
        self.title = self._title_for(new)

    def set_result(
        self, content: str, diff: str | None = None, injection: list[str] | None = None
    ) -> None:
        """Show the result in brief (a write shows its diff in colour), and any injection flags.

        `injection` is the ToolResult's list; without it the flags are found again in the
        content, which holds the very text the engine checked.
        """
        self._show_injection(flags_in_framed(content) if injection is None else injection)
        content = unframed(content)  # the untrusted-data note is for the model, not people
        self.result_text = content
        if diff:
            self._result.update(diff_content(brief(diff, lines=40, chars=4000)))
        else:
            self._result.update(Content(brief(content)))

    def show_outcome(self, result: ToolResult) -> None:
        """Show a finished call: its result, and ok, failed, interrupted, refused or (kept)
        rejected."""
        self.set_result(result.content, result.diff, result.injection)
        if result.ok:
            self.status = "ok"
        elif result.interrupted:
            self.status = "interrupted"
        elif result.refused:
            # Rejected by the person keeps that word; otherwise the policy refused it.
            self.status = "rejected" if self.status == "rejected" else "refused"
        else:
            self.status = "failed"

    def _show_injection(self, flags: list[str]) -> None:
        self.injection = list(flags)
        self._warning.display = bool(flags)
        self.title = self._title_for(self.status)
        if not flags:
            return
        self._warning.update(Content(f"{INJECTION_WARNING}: " + "; ".join(flags)))
        self.collapsed = False  # a warning folded away is a warning unseen
