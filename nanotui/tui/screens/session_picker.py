"""`/resume` without an id: recent sessions to pick from, each with when, where, which model
and what it was first asked. Up and down choose, Enter resumes, Esc goes back unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from nanotui.protocol.session_port import SessionSummary
from nanotui.tui.screens.main import display_path

FOLDER_WIDTH = 28
MODEL_WIDTH = 22
KEYS = "↑↓ choose · enter resume · esc cancel"


def _cut(text: str, width: int, *, keep_end: bool = False) -> str:
    """`text` in exactly `width` columns: padded, or cut with an ellipsis (at its start
    with `keep_end`, so that a folder keeps its own name)."""
    if len(text) <= width:
        return text.ljust(width)
    return "…" + text[1 - width :] if keep_end else text[: width - 1] + "…"


def session_row(summary: SessionSummary) -> Content:
    """One session as a row: time, folder, model and first prompt (on one line)."""
    when = summary.last_active.strftime("%Y-%m-%d %H:%M") if summary.last_active else "?"
    folder = display_path(Path(summary.workspace)) if summary.workspace else "?"
    prompt = " ".join(summary.first_prompt.split()) or "(nothing asked)"
    return Content.assemble(
        (when, "$text-muted"),
        "  ",
        _cut(folder, FOLDER_WIDTH, keep_end=True),
        "  ",
        (_cut(summary.label or "?", MODEL_WIDTH), "$text-accent"),
        "  ",
        prompt[:300],
    )


class SessionPickerScreen(ModalScreen[str | None]):
    """Recent sessions, newest first; dismisses with the chosen id, or None on Esc."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="resume.cancel")]

    def __init__(self, summaries: Sequence[SessionSummary]) -> None:
        super().__init__()
        self.summaries = list(summaries)

    def compose(self) -> ComposeResult:
        with Vertical(id="resume-dialog") as dialog:
            dialog.border_title = "Resume a session"
            dialog.border_subtitle = KEYS
            yield OptionList(
                *(Option(session_row(s), id=s.session) for s in self.summaries),
                id="resume-list",
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
