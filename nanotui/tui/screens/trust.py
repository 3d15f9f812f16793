"""The folder-trust questions: the first session's, and the confirmation `/trust` asks for.

An untrusted folder's `.nanotui/config.toml` may only tighten the user's settings; when it
asked for more, the config loader says what it ignored, and `TrustScreen` shows that. It
answers True only on an explicit "Trust this folder" (button or `t`); Enter on the default
focus, Esc and `n` all mean "Not now". `TrustConfirmScreen` is the short question after the
user typed `/trust` themselves: y or Enter trusts, n or Esc does not.
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


class TrustConfirmScreen(ModalScreen[bool]):
    """Confirm `/trust`: say what trusting the workspace lets its config do, then y or n.

    Only `y` trusts: Enter is what sent `/trust`, and an Enter typed twice or repeated by the
    keyboard must not answer a question the user has not read yet.
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Trust", id="trust_confirm.yes"),
        Binding("n,escape", "answer(False)", "Cancel", id="trust_confirm.no"),
    ]

    def __init__(self, workspace: Path) -> None:
        super().__init__()
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        project_file = paths.project_config_file(self.workspace)
        inside = project_file.relative_to(self.workspace).as_posix()
        with Vertical(id="trust-confirm-dialog") as dialog:
            dialog.border_title = "Trust this folder?"
            dialog.border_subtitle = "y trust · n or esc cancel"
            yield Static(
                f"Trusting {display_path(self.workspace)} lets its {inside} apply in full "
                "from the next start, not only tighten your settings.",
                id="trust-confirm-what",
                markup=False,
            )
            yield Static(WARNING, id="trust-confirm-warning", markup=False)

    def action_answer(self, trust: bool) -> None:
        self.dismiss(trust)
