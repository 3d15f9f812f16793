"""The folder-trust question: in the first session in a folder, and when its config asks more.

An untrusted folder's `.nanotui/config.toml` may only tighten the user's settings; when it
asked for more, the config loader says what it ignored, and this modal shows that. It
answers True only on an explicit "Trust this folder" (button or `t`); Enter on the default
focus, Esc and `n` all mean "Not now".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from nanotui import paths
from nanotui.tui.screens.main import display_path

WARNING = (
    "Trust only a folder whose config you have read: once trusted, it can allow commands, "
    "raise the approval mode and choose where your code and API key are sent."
)


class TrustScreen(ModalScreen[bool]):
    """Ask whether to trust the workspace so that its own config applies in full."""

    AUTO_FOCUS = "#trust-no"  # the safe answer is the default one
    BINDINGS = [
        Binding("t", "answer(True)", "Trust this folder", id="trust.yes"),
        Binding("escape,n", "answer(False)", "Not now", id="trust.no"),
    ]

    def __init__(self, workspace: Path, notices: Sequence[str]) -> None:
        super().__init__()
        self.workspace = workspace
        self.notices = list(notices)

    def compose(self) -> ComposeResult:
        project_file = paths.project_config_file(self.workspace)
        with Vertical(id="trust-dialog") as dialog:
            dialog.border_title = "Trust this folder?"
            if self.notices:
                where = f"{display_path(project_file)} asks for more than it may."
            else:
                where = (
                    f"nanotui has not worked in {display_path(self.workspace)} before. "
                    "Until you trust it, a .nanotui/config.toml there can only tighten "
                    "your settings."
                )
            yield Static(where, id="trust-where")
            for notice in self.notices:
                yield Static(notice, classes="trust-notice")
            yield Static(WARNING, id="trust-warning")
            with Horizontal(id="trust-buttons"):
                yield Button("Trust this folder (t)", id="trust-yes", variant="warning")
                yield Button("Not now (n)", id="trust-no", variant="primary")

    @on(Button.Pressed, "#trust-yes")
    def _trust_pressed(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#trust-no")
    def _not_now_pressed(self) -> None:
        self.dismiss(False)

    def action_answer(self, trust: bool) -> None:
        self.dismiss(trust)
