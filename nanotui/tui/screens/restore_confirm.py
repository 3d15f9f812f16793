"""The question before a restore: exactly which paths it writes, deletes and leaves.

Nothing is written until the user says yes here. Files that did not exist at the checkpoint
and that nanotui did not make are kept unless the user presses `d` to delete them too.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from nanotui.protocol.basics import plural
from nanotui.protocol.checkpoint_views import (
    DELETE_CHOSEN,
    PlannedStep,
    plan_counts,
    plan_steps,
)
from nanotui.protocol.checkpoints import Checkpoint, RestorePlan

ACTION_STYLES = {
    "bring back": "green",
    "revert": "yellow",
    "revert type": "yellow",
    "delete (nanotui made it)": "red",
    "keep (did not exist then)": "dim",
    DELETE_CHOSEN: "red",
}


@dataclass(frozen=True)
class RestoreChoice:
    """What the user agreed to: restore `target` (only `files` if given), deleting `delete`."""

    target: Checkpoint
    files: list[str] | None
    delete: list[str]


class RestoreConfirmScreen(ModalScreen[RestoreChoice | None]):
    """y restores, n or Esc cancels, d toggles deleting the files that are new since."""

    BINDINGS = [
        Binding("y", "confirm", "Restore", id="restore.confirm"),
        Binding("n,escape", "cancel", "Cancel", id="restore.cancel"),
        Binding("d", "toggle_delete", "Also delete new files", id="restore.delete"),
    ]

    def __init__(self, target: Checkpoint, plan: RestorePlan, files: list[str] | None) -> None:
        super().__init__()
        self.target = target
        self.plan = plan
        self.files = files
        self.delete_new = False

    def compose(self) -> ComposeResult:
        with Vertical(id="restore-dialog") as dialog:
            which = f"{plural(len(self.files), 'chosen file')} of " if self.files else ""
            dialog.border_title = f"Restore {which}{self.target.short_id}?"
            dialog.border_subtitle = self._keys()
            yield Static(self._summary(), id="restore-summary")
            with VerticalScroll(id="restore-body"):
                yield Static(self._table(), id="restore-paths")

    def on_mount(self) -> None:
        self.query_one("#restore-body").focus()

    def steps(self) -> list[PlannedStep]:
        """What the restore will do to each path, with the user's current choice of `d`."""
        return plan_steps(self.plan, self.delete_new)

    def _summary(self) -> Text:
        # Counted from the same steps the list shows, so the two never disagree.
        counts = plan_counts(self.steps())
        parts = [f"{counts['write']} to write", f"{counts['delete']} to delete"]
        if self.plan.left_in_place:
            parts.append(f"{counts['keep']} to keep")
        if counts["leave"]:
            parts.append(f"{counts['leave']} left alone")
        text = Text.assemble(
            (parts[0], "bold"),
            "".join(f", {part}" for part in parts[1:]),
            ". A checkpoint of the files as they are now is taken first, so this can be undone; "
            "the git index is left as it is.",
        )
        if self.plan.left_in_place:
            fate = "deleted" if self.delete_new else "kept"
            new = plural(len(self.plan.left_in_place), "file")
            text.append(f"\n{new} new since then will be {fate} (d to change).", "bold")
        return text

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column("action", no_wrap=True)
        table.add_column("path", overflow="fold")
        for step in self.steps():
            style = ACTION_STYLES.get(step.action, "dim")
            table.add_row(Text(step.action, style=style), Text(step.path))
        return table

    def _keys(self) -> str:
        toggle = " · d delete new files too" if self.plan.left_in_place else ""
        return f"y restore · n cancel{toggle}"

    def action_toggle_delete(self) -> None:
        if not self.plan.left_in_place:
            return
        self.delete_new = not self.delete_new
        self.query_one("#restore-summary", Static).update(self._summary())
        self.query_one("#restore-paths", Static).update(self._table())

    def action_confirm(self) -> None:
        delete = list(self.plan.left_in_place) if self.delete_new else []
        self.dismiss(RestoreChoice(self.target, self.files, delete))

    def action_cancel(self) -> None:
        self.dismiss(None)
