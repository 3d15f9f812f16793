"""Pending approvals: what would happen, why it asks, and the keys that answer it.

Nothing is applied without a key press here, and nothing is applied that was not on screen.
Several requests may wait at once (changes to different files in one reply); tab and
shift+tab move between them, and the hunks chosen for each belong to that request, not to
the view that happens to show it. When a request arrives (or follows one just answered) the
keys wait a short, visible moment, so a letter typed for the prompt, or a second press of
`y`, cannot approve a change its author has not seen; a key pressed in that moment says so
instead of vanishing. A stale diff (the file changed on disk since the diff was computed) is
marked and cannot be approved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.basics import visible_controls
from nanotui.protocol.diff_parse import parse_diff
from nanotui.protocol.events import ApprovalRequested
from nanotui.tui.approval_checks import is_stale
from nanotui.tui.widgets.diff_view import DiffView, HunkChoices

Resolver = Callable[[ApprovalRequested, ApprovalAnswer], bool]

IDLE_TEXT = "Nothing is waiting for your approval."
WRITE_KEYS = (
    "[b]y[/b] apply selected  [b]n[/b] reject  [b]a[/b] always  [b]e[/b] edit  "
    "[b]s[/b] split  [b]j/k[/b] hunk  [b]space[/b] toggle  [b]m[/b] maximise"
)
STALE_KEYS = "[b]n[/b] reject (the file changed on disk, so this diff cannot be applied)"
COMMAND_KEYS = (
    "[b]y[/b] run  [b]n[/b] reject  [b]a[/b] always allow this command  [b]m[/b] maximise"
)
EXTERNAL_KEYS = "[b]y[/b] call  [b]n[/b] reject  [b]a[/b] always allow this tool  [b]m[/b] maximise"
NETWORK_KEYS = (
    "[b]y[/b] once  [b]n[/b] refuse  [b]a[/b] this session  [b]p[/b] always for this project  "
    "[b]m[/b] maximise"
)
ARMING_NOTE = "keys work in a moment: read the change first"
TOO_SOON = "This just appeared: read it, then press the key again."


@dataclass
class PendingItem:
    """One request waiting for an answer, with what the person has chosen for it so far."""

    request: ApprovalRequested
    choices: HunkChoices
    hunk_count: int
    context: str
    """The model's last paragraph before it asked: its reason, kept in view with the diff."""


class ApprovalPanel(Vertical, can_focus=True):
    """Shows the pending ApprovalRequested events and resolves their futures from the keyboard."""

    ARM_DELAY_S = 0.3
    """How long answer keys wait after a request is first drawn (shown in the key line)."""
    ALLOW_MAXIMIZE = True

    BINDINGS = [
        Binding("y", "approve", "Approve", id="approval.approve"),
        Binding("n", "reject", "Reject (with an optional reason)", id="approval.reject"),
        Binding("a", "always", "Apply and always allow", id="approval.always"),
        Binding("p", "project", "Allow the network name for this project", id="approval.project"),
        Binding("e", "edit", "Edit the change in $EDITOR", id="approval.edit"),
        Binding("s", "toggle_view", "Split / unified diff", id="approval.toggle_view"),
        Binding("j,down", "hunk(1)", "Next hunk", id="approval.next_hunk"),
        Binding("k,up", "hunk(-1)", "Previous hunk", id="approval.previous_hunk"),
        Binding("space", "toggle_hunk", "Select / skip hunk", id="approval.toggle_hunk"),
        Binding("pagedown", "scroll_diff(1)", "Scroll the diff down", id="approval.page_down"),
        Binding("pageup", "scroll_diff(-1)", "Scroll the diff up", id="approval.page_up"),
        Binding("tab", "switch(1)", "Next pending item", id="approval.next_item"),
        Binding("shift+tab", "switch(-1)", "Previous pending item", id="approval.previous_item"),
        Binding("m", "maximize", "Maximise / restore the approval", id="approval.maximize"),
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

    def __init__(
        self,
        workspace: Path | None,
        *,
        answer: Resolver,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.workspace = workspace
        self._answer = answer
        """Sends an answer to the engine (the session's `resolve_approval`); False when the
        request was answered already or abandoned."""
        self.items: list[PendingItem] = []
        self.index = 0
        self.armed = False
        self._arm_timer: Timer | None = None

    @property
    def pending(self) -> list[ApprovalRequested]:
        """The requests waiting, in the order they arrived."""
        return [item.request for item in self.items]

    @property
    def item(self) -> PendingItem | None:
        """The pending item on show, if any."""
        return self.items[self.index] if self.items else None

    @property
    def request(self) -> ApprovalRequested | None:
        """The request on show, if any."""
        item = self.item
        return item.request if item is not None else None

    def choices_for(self, call_id: str) -> HunkChoices | None:
        """The hunks chosen so far for a pending change."""
        for item in self.items:
            if item.request.call_id == call_id:
                return item.choices
        return None

    def compose(self) -> ComposeResult:
        yield Static(IDLE_TEXT, id="approval-idle")
        yield Static("", id="approval-title")
        yield Static("", id="approval-context")
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

    async def add_request(self, request: ApprovalRequested, context: str = "") -> None:
        """Queue a request; the first one shows at once and takes the focus."""
        hunk_count = len(parse_diff(request.diff or "").hunks) if request.kind == "write" else 0
        item = PendingItem(request, HunkChoices.all_of(hunk_count), hunk_count, context)
        self.items.append(item)
        if len(self.items) == 1:
            await self._show(0, guard=True)
        else:
            self._update_title()

    async def remove_request(self, call_id: str) -> None:
        """Drop a request answered or abandoned elsewhere."""
        for position, item in enumerate(self.items):
            if item.request.call_id == call_id:
                del self.items[position]
                break
        else:
            return
        if not self.items:
            await self.clear()
        else:
            # What comes next was not on screen a moment ago: a second `y` must not take it.
            await self._show(min(self.index, len(self.items) - 1), guard=True)

    async def clear(self) -> None:
        """Back to idle (every request answered, or the turn ended)."""
        self.screen.remove_class("-approval-split", "-approval-pending")
        if self.is_maximized:
            self.screen.minimize()
        self.items = []
        self.index = 0
        self.armed = False
        self._stop_arm_timer()
        await self.query_one("#approval-diff-holder").remove_children()
        self.remove_class(
            "-pending", "-reason", "-write", "-command", "-stale", "-has-reasons", "-arming"
        )
        self.border_title = "Approval"

    async def _show(self, index: int, *, guard: bool) -> None:
        self.index = index
        item = self.items[index]
        request = item.request
        self.armed = False
        self._stop_arm_timer()
        self.set_class(guard, "-arming")
        self._update_title()
        self.query_one("#approval-context", Static).update(Content(visible_controls(item.context)))
        self.set_class(bool(item.context), "-has-context")
        reasons = "\n".join(f"• {reason}" for reason in request.reasons)
        self.query_one("#approval-reasons", Static).update(Content(reasons))
        self.set_class(bool(reasons), "-has-reasons")
        # A command, or an MCP call's arguments: text in the command box, not a diff.
        self.set_class(request.kind != "write", "-command")
        self.set_class(request.kind == "write", "-write")
        holder = self.query_one("#approval-diff-holder")
        await holder.remove_children()
        if request.kind == "write":
            view = DiffView(
                request.diff or "",
                path=request.path or "",
                split=self.screen.has_class("-approval-split"),
                choices=item.choices,
                id="approval-diff",
            )
            view.can_focus = False  # the panel keeps the focus and forwards the hunk keys
            await holder.mount(view)
        else:
            self.query_one("#approval-command", Static).update(_command_text(request))
        self._check_stale()
        self.query_one("#approval-reason", Input).value = ""
        self.remove_class("-reason")
        self.add_class("-pending")
        self.screen.add_class("-approval-pending")
        self.border_title = "Approval needed"
        self.focus()
        # Armed only once the request has been drawn; after a pause if it just arrived.
        self.call_after_refresh(self._start_arming, request, guard)

    def _start_arming(self, request: ApprovalRequested, guard: bool) -> None:
        if self.request is not request:
            return
        if guard:
            self._arm_timer = self.set_timer(self.ARM_DELAY_S, self._arm)
        else:
            self._arm()

    def _update_title(self) -> None:
        request = self.request
        if request is None:
            return
        if request.kind == "write":
            title = Content.assemble(("Change ", "bold"), (request.path or "", "bold $warning"))
        elif request.kind == "external":
            rule = request.summary.split(" ", 1)[0]
            title = Content.assemble(("Call the MCP tool ", "bold"), (rule, "bold $warning"))
        else:
            title = Content.assemble(("Run a command", "bold"))
        if len(self.items) > 1:
            title = Content.assemble(
                title,
                (f"   {self.index + 1} of {len(self.items)} · tab / shift+tab to move", "dim"),
            )
        self.query_one("#approval-title", Static).update(title)

    def _update_keys(self, stale: bool) -> None:
        request = self.request
        if request is None:
            return
        if request.tool == "network":
            keys = Content.from_markup(NETWORK_KEYS)
        elif request.kind == "external":
            keys = Content.from_markup(EXTERNAL_KEYS)
        elif request.kind != "write":
            keys = Content.from_markup(COMMAND_KEYS)
        elif stale:
            keys = Content.from_markup(STALE_KEYS)
        else:
            keys = Content.from_markup(WRITE_KEYS)
        if not self.armed:
            keys = Content.assemble(keys.stylize("dim"), "\n", (ARMING_NOTE, "italic dim"))
        self.query_one("#approval-keys", Static).update(keys)

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
        # A session on a server: its files are not here; the server refuses a stale diff itself.
        stale = (
            request is not None and self.workspace is not None and is_stale(request, self.workspace)
        )
        self.set_class(stale, "-stale")  # the diff view shows the banner that says why
        diff = self._diff()
        if diff is not None:
            diff.stale = stale
        self._update_keys(stale)
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
            self.remove_class("-arming")
            self._update_keys(self.has_class("-stale"))
            self.refresh_bindings()

    # ---- answering ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        typing_reason = self.has_class("-reason")
        if action == "close_reason":
            return typing_reason
        if action in ("approve", "reject", "always", "edit", "switch", "maximize"):
            return self.request is not None and not typing_reason
        if action == "project":  # only a network name can be allowed for a project
            return self.request is not None and self.request.tool == "network" and not typing_reason
        if action in ("toggle_view", "hunk", "toggle_hunk", "scroll_diff"):
            return self.request is not None and self.request.kind == "write" and not typing_reason
        return True

    def _too_soon(self) -> bool:
        """True (and said) when an answer key comes before the request could be read."""
        if self.armed:
            return False
        self.app.bell()
        self.notify(TOO_SOON, severity="warning", timeout=2)
        return True

    def action_approve(self) -> None:
        self._approve("approve")

    def action_always(self) -> None:
        self._approve("always")

    def action_project(self) -> None:
        self._approve("project")

    def _approve(self, decision: str) -> None:
        item = self.item
        if item is None or self._too_soon():
            return
        request = item.request
        hunks = None
        if request.kind == "write":
            if self._check_stale():
                self.app.bell()
                self.notify(
                    f"{visible_controls(request.path or '', keep='')} changed on disk since "
                    "this diff was computed; it cannot be "
                    "approved. Press n to reject it so the model reads the file again.",
                    severity="warning",
                    markup=False,  # the model names the path
                )
                return
            hunks = sorted(item.choices.selected)
            if not hunks:
                self.notify("No hunk is selected; select one with space, or press n to reject.")
                return
            if len(hunks) == item.hunk_count:
                hunks = None  # all of it
        self._resolve(request, ApprovalAnswer(decision=decision, hunks=hunks))  # type: ignore[arg-type]

    def action_reject(self) -> None:
        if self._too_soon():
            return
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
        item = self.item
        if item is None or item.request.kind != "write" or self._too_soon():
            return
        if self._check_stale():
            self.notify("The file changed on disk; this change cannot be edited or approved.")
            return
        self.post_message(self.EditRequested(item.request, sorted(item.choices.selected)))

    def answer_edited(self, request: ApprovalRequested, text: str) -> None:
        """Approve `request` with the text the user saved in their editor."""
        self._resolve(request, ApprovalAnswer(decision="approve", edited_text=text))

    def _resolve(self, request: ApprovalRequested, answer: ApprovalAnswer) -> None:
        if self._answer(request, answer):
            self.post_message(self.Answered(request, answer))
        self.run_worker(self.remove_request(request.call_id), exclusive=False)

    # ---- moving around ------------------------------------------------------------------

    async def action_switch(self, step: int) -> None:
        """The next or previous pending item (the person chose to look: no pause)."""
        if len(self.items) > 1:
            await self._show((self.index + step) % len(self.items), guard=False)

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

    def action_scroll_diff(self, step: int) -> None:
        diff = self._diff()
        if diff is not None:
            (diff.scroll_page_down if step > 0 else diff.scroll_page_up)(animate=False)

    def action_maximize(self) -> None:
        """The approval fills the screen (with the model's reason at its top), or goes back."""
        if self.is_maximized:
            self.screen.minimize()
        else:
            self.screen.maximize(self, container=False)


def last_paragraph(text: str, limit: int = 600) -> str:
    """The last paragraph of a reply (where a model says why it makes the change), shortened."""
    paragraphs = [part.strip() for part in text.strip().split("\n\n") if part.strip()]
    if not paragraphs:
        return ""
    last = paragraphs[-1]
    return last if len(last) <= limit else "…" + last[-limit:]


def _command_text(request: ApprovalRequested) -> Content:
    # What the person approves is shown as it is: an escape sequence in it shows as symbols
    # and cannot hide the rest from them.
    if request.kind == "external":
        # The arguments as pretty-printed JSON, as sent.
        return Content(visible_controls(request.details or request.summary))
    command = visible_controls(request.command or request.summary)
    lines = [Content.assemble(("$ ", "dim"), (command, "bold"))]
    if len(request.commands) > 1:
        lines.append(Content.styled("runs, one after another:", "dim"))
        lines += [
            Content.assemble(("  • ", "dim"), visible_controls(sub)) for sub in request.commands
        ]
    if request.sandbox:
        note = " (no kernel sandbox)" if request.sandbox == "plain" else ""
        lines.append(Content.assemble(("sandbox: ", "dim"), request.sandbox, (note, "$warning")))
    return Content("\n").join(lines)
