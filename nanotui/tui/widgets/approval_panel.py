"""The pending approval: what would happen, why it asks, and the keys that answer it.

Nothing is applied without a key press here. The panel takes the focus when a request
arrives, but ignores keys for a moment first, so a letter typed for the prompt cannot
approve a change its author has not seen.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from nanotui.engine.approvals import ApprovalAnswer, resolve
from nanotui.engine.events import ApprovalRequested
from nanotui.tui.widgets.diff_view import DiffView

KEYS_HINT = Content.from_markup(
    "[b]y[/b] approve  [b]n[/b] reject  [b]r[/b] reject with a reason  "
    "[b]a[/b] always allow (this session)"
)
IDLE_TEXT = "Nothing is waiting for your approval."


class ApprovalPanel(Vertical, can_focus=True):
    """Shows one ApprovalRequested and resolves its future from the keyboard."""

    ARM_DELAY_S = 0.3
    """Keys are ignored this long after a request appears."""

    BINDINGS = [
        Binding("y", "answer('approve')", "Approve", id="approval.approve"),
        Binding("n", "answer('reject')", "Reject", id="approval.reject"),
        Binding("r", "ask_reason", "Reject with a reason", id="approval.reject_with_reason"),
        Binding("a", "answer('always')", "Always allow", id="approval.always"),
        Binding("escape", "close_reason", "Back", show=False, id="approval.close_reason"),
        Binding("up", "scroll_diff(-1)", "Scroll up", show=False),
        Binding("down", "scroll_diff(1)", "Scroll down", show=False),
        Binding("pageup", "scroll_diff(-10)", "Page up", show=False),
        Binding("pagedown", "scroll_diff(10)", "Page down", show=False),
    ]

    class Answered(Message):
        """The user answered `request` (its future is already resolved)."""

        def __init__(self, request: ApprovalRequested, answer: ApprovalAnswer) -> None:
            super().__init__()
            self.request = request
            self.answer = answer

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.request: ApprovalRequested | None = None
        self.armed = False
        self._arm_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(IDLE_TEXT, id="approval-idle")
        yield Static("", id="approval-title")
        yield Static("", id="approval-reasons")
        yield Static("", id="approval-command")
        yield DiffView(id="approval-diff")
        yield Input(placeholder="Why not? (Enter rejects, Esc goes back)", id="approval-reason")
        yield Static(KEYS_HINT, id="approval-keys")

    def on_mount(self) -> None:
        self.border_title = "Approval"

    # ---- showing ------------------------------------------------------------------------

    def show_request(self, request: ApprovalRequested) -> None:
        """Show a request, take the focus, and arm the keys after a short pause."""
        self.request = request
        self.armed = False
        title, body = _describe(request)
        self.query_one("#approval-title", Static).update(title)
        reasons = "\n".join(f"• {reason}" for reason in request.reasons)
        self.query_one("#approval-reasons", Static).update(Content(reasons))
        if request.kind == "command":
            command = Content.assemble(("$ ", "dim"), (body, "bold"))
            self.query_one("#approval-command", Static).update(command)
        else:
            self.query_one(DiffView).show(body)
        self.set_class(bool(reasons), "-has-reasons")
        self.set_class(request.kind == "command", "-command")
        self.set_class(request.kind == "write", "-write")
        self.query_one("#approval-reason", Input).value = ""
        self.set_class(False, "-reason")
        self.add_class("-pending")
        self.border_title = "Approval needed"
        self.focus()
        self._stop_arm_timer()
        self._arm_timer = self.set_timer(self.ARM_DELAY_S, self._arm)

    def clear(self) -> None:
        """Back to idle (answered, or the turn ended while it waited)."""
        self.request = None
        self.armed = False
        self._stop_arm_timer()
        self.remove_class("-pending", "-reason", "-write", "-command", "-has-reasons")
        self.border_title = "Approval"

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
        if action in ("answer", "ask_reason"):
            return self.request is not None and self.armed and not self.has_class("-reason")
        if action == "close_reason":
            return self.has_class("-reason")
        return True

    def action_answer(self, decision: str, reason: str = "") -> None:
        request = self.request
        if request is None:
            return
        answer = ApprovalAnswer(decision=decision, reason=reason)  # type: ignore[arg-type]
        self.clear()
        if resolve(request, answer):
            self.post_message(self.Answered(request, answer))

    def action_ask_reason(self) -> None:
        self.add_class("-reason")
        self.query_one("#approval-reason", Input).focus()

    def action_close_reason(self) -> None:
        self.remove_class("-reason")
        self.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.request is None:
            return
        self.remove_class("-reason")
        self.action_answer("reject", event.value.strip())

    def action_scroll_diff(self, lines: int) -> None:
        if self.has_class("-write"):
            self.query_one(DiffView).scroll_relative(y=lines, animate=False)


def _describe(request: ApprovalRequested) -> tuple[Content, str]:
    """A title for the request and the text it shows (the diff or the command)."""
    if request.kind == "write":
        where = request.path or request.summary
        title = Content.assemble(("Change ", "bold"), (where, "bold $text-warning"))
        return title, request.diff or "(no changes)"
    title = Content.assemble(("Run a command", "bold"), (f"  ({request.tool})", "dim"))
    return title, request.command or request.summary
