"""Pending approvals: what would happen, why it asks, and the keys that answer it.

Nothing is applied without a key press here. Several requests may wait at once (changes to
different files in one reply); tab moves between them. The panel takes the focus when a
request arrives but ignores keys for a moment first, so a letter typed for the prompt cannot
approve a change its author has not seen. A stale diff (the file changed on disk since the
diff was computed) is marked and cannot be approved.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from nanotui.engine.approvals import ApprovalAnswer, resolve
from nanotui.engine.events import ApprovalRequested
from nanotui.tui.approval_checks import is_stale
from nanotui.tui.widgets.diff_view import DiffView

IDLE_TEXT = "Nothing is waiting for your approval."
WRITE_KEYS = (
    "[b]y[/b] apply selected  [b]n[/b] reject  [b]a[/b] always  [b]e[/b] edit  "
    "[b]s[/b] split  [b]j/k[/b] hunk  [b]space[/b] toggle"
)
COMMAND_KEYS = "[b]y[/b] run  [b]n[/b] reject  [b]a[/b] always allow this command"


class ApprovalPanel(Vertical, can_focus=True):
    """Shows the pending ApprovalRequested events and resolves their futures from the keyboard."""

    ARM_DELAY_S = 0.3
    """Keys are ignored this long after a request appears."""

    BINDINGS = [
        Binding("y", "approve", "Approve", id="approval.approve"),
        Binding("n", "reject", "Reject (with an optional reason)", id="approval.reject"),
        Binding("a", "always", "Apply and always allow", id="approval.always"),
        Binding("e", "edit", "Edit the change in $EDITOR", id="approval.edit"),
        Binding("s", "toggle_view", "Split / unified diff", id="approval.toggle_view"),
        Binding("j,down", "hunk(1)", "Next hunk", id="approval.next_hunk"),
        Binding("k,up", "hunk(-1)", "Previous hunk", id="approval.previous_hunk"),
        Binding("space", "toggle_hunk", "Select / skip hunk", id="approval.toggle_hunk"),
        Binding("tab", "switch(1)", "Next pending item", id="approval.next_item"),
        Binding("shift+tab", "switch(-1)", "Previous pending item", id="approval.previous_item"),
        Binding("escape", "close_reason", "Back", show=False, id="approval.close_reason"),
    ]

    class Answered(Message):
        """The user answered `request` (its future is already resolved)."""

        def __init__(self, request: ApprovalRequested, answer: ApprovalAnswer) -> None:
            super().__init__()
            self.request = request
            self.answer = answer

    class EditRequested(Message):
        """The user pressed `e` on a change; the screen opens the editor (it owns suspend)."""

        def __init__(self, request: ApprovalRequested, hunks: list[int] | None) -> None:
            super().__init__()
            self.request = request
            self.hunks = hunks

    def __init__(self, workspace: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.workspace = workspace
        self.pending: list[ApprovalRequested] = []
        self.index = 0
        self.armed = False
        self._arm_timer: Timer | None = None

    @property
    def request(self) -> ApprovalRequested | None:
        """The request on show, if any."""
        return self.pending[self.index] if self.pending else None

    def compose(self) -> ComposeResult:
        yield Static(IDLE_TEXT, id="approval-idle")
        yield Static("", id="approval-title")
        yield Static("", id="approval-reasons")
        yield Static("", id="approval-command")
        yield Vertical(id="approval-diff-holder")
        yield Input(
            placeholder="Why not? (optional) Enter rejects, Esc goes back", id="approval-reason"
        )
        yield Static("", id="approval-keys")

    def on_mount(self) -> None:
        self.border_title = "Approval"

    # ---- the queue ----------------------------------------------------------------------

    async def add_request(self, request: ApprovalRequested) -> None:
        """Queue a request; the first one shows at once and takes the focus."""
        self.pending.append(request)
        if len(self.pending) == 1:
            await self._show(0)
        else:
            self._update_title()

    async def remove_request(self, call_id: str) -> None:
        """Drop a request answered or abandoned elsewhere."""
        for position, request in enumerate(self.pending):
            if request.call_id == call_id:
                del self.pending[position]
                break
        else:
            return
        if not self.pending:
            await self.clear()
        else:
            await self._show(min(self.index, len(self.pending) - 1))

    async def clear(self) -> None:
        """Back to idle (every request answered, or the turn ended)."""
        self.screen.remove_class("-approval-split")
        self.pending = []
        self.index = 0
        self.armed = False
        self._stop_arm_timer()
        await self.query_one("#approval-diff-holder").remove_children()
        self.remove_class("-pending", "-reason", "-write", "-command", "-stale", "-has-reasons")
        self.border_title = "Approval"

    async def _show(self, index: int) -> None:
        self.index = index
        request = self.pending[index]
        self.armed = False
        self._update_title()
        reasons = "\n".join(f"• {reason}" for reason in request.reasons)
        self.query_one("#approval-reasons", Static).update(Content(reasons))
        self.set_class(bool(reasons), "-has-reasons")
        self.set_class(request.kind == "command", "-command")
        self.set_class(request.kind == "write", "-write")
        holder = self.query_one("#approval-diff-holder")
        await holder.remove_children()
        if request.kind == "write":
            view = DiffView(request.diff or "", path=request.path or "", id="approval-diff")
            view.can_focus = False  # the panel keeps the focus and forwards the hunk keys
            await holder.mount(view)
            self.query_one("#approval-keys", Static).update(Content.from_markup(WRITE_KEYS))
        else:
            self.query_one("#approval-command", Static).update(_command_text(request))
            self.query_one("#approval-keys", Static).update(Content.from_markup(COMMAND_KEYS))
        self._check_stale()
        self.query_one("#approval-reason", Input).value = ""
        self.remove_class("-reason")
        self.add_class("-pending")
        self.border_title = "Approval needed"
        self.focus()
        self._stop_arm_timer()
        self._arm_timer = self.set_timer(self.ARM_DELAY_S, self._arm)

    def _update_title(self) -> None:
        request = self.request
        if request is None:
            return
        if request.kind == "write":
            title = Content.assemble(("Change ", "bold"), (request.path or "", "bold $warning"))
        else:
            title = Content.assemble(("Run a command", "bold"))
        if len(self.pending) > 1:
            title = Content.assemble(
                title, (f"   {self.index + 1} of {len(self.pending)} · tab for next", "dim")
            )
        self.query_one("#approval-title", Static).update(title)

    def recheck_stale(self, changed: list[str], *, everything: bool = False) -> bool:
        """Check the shown diff again if its file is among `changed`; True if it just went stale.

        Called as edits made outside nanotui are reported, so the stale banner appears
        while the person reads the diff, not only when they press a key.
        """
        request = self.request
        if request is None or request.kind != "write":
            return False
        if not everything and request.path not in changed:
            return False
        was_stale = self.has_class("-stale")
        return self._check_stale() and not was_stale

    def _check_stale(self) -> bool:
        request = self.request
        stale = request is not None and is_stale(request, self.workspace)
        self.set_class(stale, "-stale")  # the diff view shows the banner that says why
        diff = self._diff()
        if diff is not None:
            diff.stale = stale
        return stale

    def _diff(self) -> DiffView | None:
        views = self.query(DiffView)
        return views.first() if views else None

    def _stop_arm_timer(self) -> None:
        if self._arm_timer is not None:
            self._arm_timer.stop()
            self._arm_timer = None

    def _arm(self) -> None:
        self._arm_timer = None
        if self.request is not None:
            self.armed = True
            self.refresh_bindings()

    # ---- answering ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        typing_reason = self.has_class("-reason")
        if action == "close_reason":
            return typing_reason
        if action in ("approve", "reject", "always", "edit"):
            return self.request is not None and self.armed and not typing_reason
        if action in ("toggle_view", "hunk", "toggle_hunk"):
            return self.request is not None and self.request.kind == "write" and not typing_reason
        if action == "switch":
            return len(self.pending) > 1 and not typing_reason
        return True

    def action_approve(self) -> None:
        self._approve("approve")

    def action_always(self) -> None:
        self._approve("always")

    def _approve(self, decision: str) -> None:
        request = self.request
        if request is None:
            return
        hunks = None
        if request.kind == "write":
            if self._check_stale():
                self.app.bell()
                self.notify(
                    f"{request.path} changed on disk since this diff was computed; it cannot be "
                    "approved. Press n to reject it so the model reads the file again.",
                    severity="warning",
                )
                return
            diff = self._diff()
            hunks = diff.selected_hunks if diff is not None else None
            if hunks is not None and not hunks:
                self.notify("No hunk is selected; select one with space, or press n to reject.")
                return
            if diff is not None and len(hunks or []) == diff.hunk_count:
                hunks = None  # all of it
        self._resolve(request, ApprovalAnswer(decision=decision, hunks=hunks))  # type: ignore[arg-type]

    def action_reject(self) -> None:
        self.add_class("-reason")
        self.query_one("#approval-reason", Input).focus()

    def action_close_reason(self) -> None:
        self.remove_class("-reason")
        self.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        request = self.request
        self.remove_class("-reason")
        if request is not None:
            self._resolve(request, ApprovalAnswer(decision="reject", reason=event.value.strip()))

    def action_edit(self) -> None:
        request = self.request
        if request is None or request.kind != "write":
            return
        if self._check_stale():
            self.notify("The file changed on disk; this change cannot be edited or approved.")
            return
        diff = self._diff()
        self.post_message(self.EditRequested(request, diff.selected_hunks if diff else None))

    def answer_edited(self, request: ApprovalRequested, text: str) -> None:
        """Approve `request` with the text the user saved in their editor."""
        self._resolve(request, ApprovalAnswer(decision="approve", edited_text=text))

    def _resolve(self, request: ApprovalRequested, answer: ApprovalAnswer) -> None:
        if resolve(request, answer):
            self.post_message(self.Answered(request, answer))
        self.run_worker(self.remove_request(request.call_id), exclusive=False)

    # ---- moving around ------------------------------------------------------------------

    async def action_switch(self, step: int) -> None:
        if len(self.pending) > 1:
            await self._show((self.index + step) % len(self.pending))

    def action_toggle_view(self) -> None:
        diff = self._diff()
        if diff is not None:
            diff.action_toggle_view()
            # Side by side needs room: the approval side widens while split is on.
            self.screen.set_class(diff.split, "-approval-split")

    def action_hunk(self, step: int) -> None:
        diff = self._diff()
        if diff is not None:
            (diff.action_next_hunk if step > 0 else diff.action_previous_hunk)()

    def action_toggle_hunk(self) -> None:
        diff = self._diff()
        if diff is not None:
            diff.action_toggle_hunk()


def _command_text(request: ApprovalRequested) -> Content:
    lines = [Content.assemble(("$ ", "dim"), (request.command or request.summary, "bold"))]
    if len(request.commands) > 1:
        lines.append(Content.styled("runs, one after another:", "dim"))
        lines += [Content.assemble(("  • ", "dim"), sub) for sub in request.commands]
    if request.sandbox:
        note = " (no kernel sandbox)" if request.sandbox == "plain" else ""
        lines.append(Content.assemble(("sandbox: ", "dim"), request.sandbox, (note, "$warning")))
    return Content("\n").join(lines)
