"""The checkpoint browser: every checkpoint of the work tree, what changed, and the way back.

Left, the checkpoints, newest first, with their time, turn, what they were taken before, and
the files and lines changed since the one before. Right, what changed from the highlighted
checkpoint to the work tree now, file by file, and the highlighted file's diff. `c` makes the
highlighted checkpoint the base: moving then compares each checkpoint with the base, and `c`
again goes back to now. Comparisons always run forward in time (older → newer), as the list's
+/- column does, and the title line says which way. `r` restores the checkpoint, or only the
files chosen with space, behind a confirmation that lists every path it will touch.

Git runs on threads (a large repository takes a while to compare); the screen only shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static

from nanotui.protocol.basics import plural
from nanotui.protocol.checkpoint_views import (
    STATUS_WORDS,
    CheckpointEntry,
    Comparison,
    in_time_order,
)
from nanotui.protocol.checkpoints import Checkpoint, CheckpointError
from nanotui.protocol.events import EventBase
from nanotui.protocol.session_port import CheckpointBrowser
from nanotui.tui.screens.restore_confirm import RestoreChoice, RestoreConfirmScreen
from nanotui.tui.widgets.diff_view import DiffView
from nanotui.tui.widgets.measured_table import MeasuredTable

KEYS = (
    "↑↓ move · tab list/files · space choose file · r restore · c compare with this one · "
    "n checkpoint now · esc back"
)
KEYS_WITH_BASE = (
    "↑↓ compare each checkpoint with {base} · tab list/files · r restore · c back to now · "
    "n checkpoint now · esc back"
)
BASE_MARK = "◆ "
"""Marks the base of a comparison in the list."""
KIND_STYLES = {"turn": "blue", "batch": "cyan", "safety": "yellow", "manual": "green"}


class CheckpointBrowserScreen(Screen[None]):
    """Browse, compare and restore checkpoints; Esc goes back."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("escape", "close", "Back", id="checkpoints.close"),
        Binding("r", "restore", "Restore", id="checkpoints.restore"),
        Binding("c", "compare", "Set or clear the comparison base", id="checkpoints.compare"),
        Binding("n", "take", "Checkpoint now", id="checkpoints.take"),
        Binding("space", "choose", "Choose file", id="checkpoints.choose"),
    ]

    def __init__(
        self,
        browsing: CheckpointBrowser,
        *,
        on_events: Callable[[Sequence[EventBase]], None] = lambda events: None,
        can_restore: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__()
        self.browsing = browsing
        self.on_events = on_events
        """Logs events (the safety checkpoint, the restore) and shows them in the timeline."""
        self.can_restore = can_restore
        """False while a turn runs: the agent may be writing."""
        self.entries: list[CheckpointEntry] = []
        self.against: Checkpoint | None = None
        """The base the highlighted checkpoint is compared with; None: the work tree now."""
        self.comparison: Comparison | None = None
        self.chosen: set[str] = set()
        self.loaded = False
        """The list is in (for tests)."""

    def compose(self) -> ComposeResult:
        yield Static("Checkpoints", id="checkpoints-title", markup=False)
        with Vertical(id="checkpoints-body"):
            table = MeasuredTable(id="checkpoint-list", cursor_type="row", zebra_stripes=True)
            table.border_title = "Checkpoints"
            yield table
            with Horizontal(id="checkpoint-detail"):
                files = MeasuredTable(id="checkpoint-files", cursor_type="row")
                files.border_title = "Changes"
                yield files
                yield DiffView(id="checkpoint-diff", choosing=False)
        yield Static(KEYS, id="checkpoints-keys", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#checkpoint-list", DataTable)
        table.add_columns("id", "time", "turn", "kind", "files", "+/-", "before")
        self.query_one("#checkpoint-files", DataTable).add_columns("", "status", "+/-", "path")
        self.query_one(DiffView).can_focus = False
        table.focus()
        self.reload()

    # ---- loading ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="checkpoints-list", exit_on_error=False)
    def reload(self, select: str | None = None) -> None:
        try:
            entries = self.browsing.entries()
        except (CheckpointError, OSError) as exc:
            self.app.call_from_thread(self._failed, "The checkpoints could not be listed", exc)
            return
        self.app.call_from_thread(self._show_entries, entries, select)

    def _show_entries(self, entries: list[CheckpointEntry], select: str | None) -> None:
        self.entries = entries
        if self.against is not None and all(e.checkpoint.id != self.against.id for e in entries):
            self.against = None  # the base is gone: compare with now again
        self._show_title()
        table = self.query_one("#checkpoint-list", DataTable)
        table.clear()
        for entry in entries:
            table.add_row(*self._entry_cells(entry), key=entry.checkpoint.id)
        self.loaded = True
        if not entries:
            self._show_comparison(None)
            self.query_one("#checkpoint-files", DataTable).border_title = (
                "No checkpoints yet: one is taken before each turn that may change files "
                "(n takes one now)"
            )
            return
        row = next((i for i, e in enumerate(entries) if e.checkpoint.id == select), 0)
        table.move_cursor(row=row)
        self._compare_highlighted()

    @on(DataTable.RowHighlighted, "#checkpoint-list")
    def checkpoint_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._compare_highlighted()

    def _compare_highlighted(self) -> None:
        entry = self.highlighted()
        if entry is not None:
            self.chosen.clear()
            self._compare(*in_time_order(entry.checkpoint, self.against))

    @work(thread=True, exclusive=True, group="checkpoints-compare", exit_on_error=False)
    def _compare(self, old: Checkpoint, new: Checkpoint | None) -> None:
        try:
            comparison = self.browsing.compare(old, new)
        except (CheckpointError, OSError) as exc:
            self.app.call_from_thread(self._failed, "The comparison failed", exc)
            return
        self.app.call_from_thread(self._show_comparison, comparison)

    def _show_comparison(self, comparison: Comparison | None) -> None:
        self.comparison = comparison
        self._show_title()
        files = self.query_one("#checkpoint-files", DataTable)
        files.clear()
        self.query_one(DiffView).show("")
        if comparison is None:
            return
        files.border_title = f"{comparison.title} · {plural(len(comparison.files), 'file')}"
        if not comparison.files:
            files.border_title += " · nothing differs"
        for diff in comparison.files:
            counts = "binary" if diff.binary else f"+{diff.added} -{diff.removed}"
            files.add_row(
                self._mark(diff.path), STATUS_WORDS.get(diff.status, diff.status), counts,
                diff.path, key=diff.path,
            )  # fmt: skip
        if comparison.files:
            files.move_cursor(row=0)
            self._show_patch(comparison, comparison.files[0].path)

    @on(DataTable.RowHighlighted, "#checkpoint-files")
    def file_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.comparison is not None and event.row_key.value is not None:
            self._show_patch(self.comparison, event.row_key.value)

    @work(thread=True, exclusive=True, group="checkpoints-patch", exit_on_error=False)
    def _show_patch(self, comparison: Comparison, path: str) -> None:
        try:
            text = self.browsing.file_patch(comparison, path)
        except (CheckpointError, OSError) as exc:
            self.app.call_from_thread(self._failed, f"The diff of {path} failed", exc)
            return
        self.app.call_from_thread(self._patch_ready, comparison, path, text)

    def _patch_ready(self, comparison: Comparison, path: str, text: str) -> None:
        if comparison is self.comparison:  # not one the user has already moved past
            self.query_one(DiffView).show(text, path)

    # ---- actions ---------------------------------------------------------------------------

    def highlighted(self) -> CheckpointEntry | None:
        table = self.query_one("#checkpoint-list", DataTable)
        if not self.entries or table.cursor_row < 0 or table.cursor_row >= len(self.entries):
            return None
        return self.entries[table.cursor_row]

    def action_choose(self) -> None:
        files = self.query_one("#checkpoint-files", DataTable)
        if self.comparison is None or not self.comparison.files or self.against is not None:
            return
        path = self.comparison.files[files.cursor_row].path
        self.chosen.symmetric_difference_update({path})
        files.update_cell(path, files.ordered_columns[0].key, self._mark(path))

    def action_compare(self) -> None:
        """Make the highlighted checkpoint the base of comparisons; with a base, back to now.

        A toggle, whichever row is highlighted: a second `c` never moves the base elsewhere
        (choosing another base is `c` twice).
        """
        entry = self.highlighted()
        if entry is None:
            return
        previous = self.against
        self.against = None if previous is not None else entry.checkpoint
        self._mark_base(previous)
        self._mark_base(self.against)
        self._show_title()
        if self.against is None:
            self.notify("Comparing each checkpoint with the work tree now.")
        else:
            self.notify(
                f"{self.against.short_id} is the base: move to another checkpoint to see what "
                "changed between them (c again goes back to now)."
            )
        self._compare_highlighted()

    def action_restore(self) -> None:
        entry = self.highlighted()
        if entry is None:
            return
        if not self.can_restore():
            self.notify(
                "A turn is running; restore when it is over (or press Esc there to stop it).",
                severity="warning",
            )
            return
        files = sorted(self.chosen) or None
        self._prepare_restore(entry.checkpoint, files)

    @work(thread=True, exclusive=True, group="checkpoints-restore", exit_on_error=False)
    def _prepare_restore(self, target: Checkpoint, files: list[str] | None) -> None:
        try:
            plan = self.browsing.preview(target, files)
        except (CheckpointError, OSError) as exc:
            self.app.call_from_thread(self._failed, "The restore cannot be prepared", exc)
            return
        if plan.empty and not plan.left_in_place:
            self.app.call_from_thread(
                self.notify, f"Nothing to restore: the work tree already matches {target.short_id}."
            )
            return
        screen = RestoreConfirmScreen(target, plan, files)
        self.app.call_from_thread(self.app.push_screen, screen, self._confirmed)

    def _confirmed(self, choice: RestoreChoice | None) -> None:
        if choice is not None:
            self._restore(choice)

    @work(thread=True, exclusive=True, group="checkpoints-restore", exit_on_error=False)
    def _restore(self, choice: RestoreChoice) -> None:
        try:
            result, events = self.browsing.restore(choice.target, choice.files, choice.delete)
        except (CheckpointError, OSError) as exc:
            self.app.call_from_thread(self._failed, "The restore failed", exc)
            return
        safety = result.safety_checkpoint
        kept = (
            f"; kept {plural(len(result.left_in_place), 'new file')}"
            if result.left_in_place
            else ""
        )
        message = (
            f"Restored {choice.target.short_id}: {plural(len(result.restored), 'file')} written, "
            f"{len(result.removed)} removed{kept}."
            + (f" Checkpoint {safety.short_id} holds what was there before." if safety else "")
        )
        self.app.call_from_thread(self._restored, events, message)

    def _restored(self, events: list[EventBase], message: str) -> None:
        self.on_events(events)
        self.notify(message, timeout=8, markup=False)  # it names the files brought back
        self.chosen.clear()
        self.reload()  # the safety checkpoint, the newest, comes first

    @work(thread=True, exclusive=True, group="checkpoints-take", exit_on_error=False)
    def action_take(self) -> None:
        try:
            checkpoint, event = self.browsing.take()
        except (CheckpointError, OSError) as exc:
            self.app.call_from_thread(self._failed, "The checkpoint could not be taken", exc)
            return
        self.app.call_from_thread(self.on_events, [event])
        self.app.call_from_thread(self.notify, f"Checkpoint {checkpoint.short_id} taken.")
        self.app.call_from_thread(self.reload, checkpoint.id)

    def action_close(self) -> None:
        self.browsing.close()
        self.dismiss(None)

    # ---- helpers ---------------------------------------------------------------------------

    def _show_title(self) -> None:
        """The title line: where, how many, and which way the comparison runs."""
        where = self.browsing.workspace.name or str(self.browsing.workspace)
        text = f"Checkpoints · {where} · {len(self.entries)} in this work tree"
        if self.comparison is not None:
            text += f" · comparing {self.comparison.title}"
        if self.against is not None:
            text += f" (base {self.against.short_id}, c: back to now)"
        self.query_one("#checkpoints-title", Static).update(text)
        keys = KEYS if self.against is None else KEYS_WITH_BASE.format(base=self.against.short_id)
        self.query_one("#checkpoints-keys", Static).update(keys)

    def _mark_base(self, checkpoint: Checkpoint | None) -> None:
        """Redraw `checkpoint`'s id cell, marked if it is the base."""
        table = self.query_one("#checkpoint-list", DataTable)
        if checkpoint is None:
            return
        entry = next((e for e in self.entries if e.checkpoint.id == checkpoint.id), None)
        if entry is not None:
            column = table.ordered_columns[0].key
            table.update_cell(
                entry.checkpoint.id, column, self._entry_cells(entry)[0], update_width=True
            )

    def _entry_cells(self, entry: CheckpointEntry) -> tuple[Text | str, ...]:
        cells = _entry_cells(entry)
        if self.against is not None and entry.checkpoint.id == self.against.id:
            return (Text(BASE_MARK + str(cells[0]), style="bold"), *cells[1:])
        return cells

    def _mark(self, path: str) -> Text:
        return Text("✓", style="bold green") if path in self.chosen else Text(" ")

    def _failed(self, what: str, exc: Exception) -> None:
        self.notify(f"{what}: {exc}", severity="error", timeout=10, markup=False)


def taken_at(checkpoint: Checkpoint) -> str:
    """When a checkpoint was taken, in local time (tests fix it for stable snapshots)."""
    local = checkpoint.created.astimezone()
    today = datetime.now().astimezone().date()
    return local.strftime("%H:%M:%S" if local.date() == today else "%m-%d %H:%M")


def _entry_cells(entry: CheckpointEntry) -> tuple[Text | str, ...]:
    checkpoint = entry.checkpoint
    when = taken_at(checkpoint)
    kind = Text(checkpoint.kind, style=KIND_STYLES.get(checkpoint.kind, ""))
    counts = Text.assemble((f"+{entry.added}", "green"), " ", (f"-{entry.removed}", "red"))
    excerpt = entry.excerpt if len(entry.excerpt) <= 70 else entry.excerpt[:69] + "…"
    turn = "" if checkpoint.turn is None else str(checkpoint.turn)
    return checkpoint.short_id, when, turn, kind, str(entry.files), counts, excerpt
