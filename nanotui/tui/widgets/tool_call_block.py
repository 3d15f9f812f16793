"""One tool call in the conversation: a collapsible block with its status and brief result.

While the block is closed, a preview of the result shows under its title (the first and last
lines, with how many lie between); Enter or space on the focused title opens the block, and
up and down move to the tool call before or after. A result that reads as instructions to
the model (possible prompt injection) opens its block and shows a warning line above the
result, and the title carries a mark while it is closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.reactive import var
from textual.widgets import Collapsible, Static
from textual.widgets.collapsible import CollapsibleTitle

from nanotui.protocol.basics import plural, visible_controls
from nanotui.protocol.events import ToolResult
from nanotui.protocol.tool_output import unframed
from nanotui.tui.widgets.diff_view import diff_content, diff_line_style

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
PREVIEW_HEAD = 2
PREVIEW_TAIL = 2


def brief(text: str, lines: int = BRIEF_LINES, chars: int = BRIEF_CHARS) -> str:
    """The start of a long text, saying how much was left out."""
    kept = text[:chars].splitlines()[:lines]
    shown = "\n".join(kept)
    rest = text.count("\n") + 1 - len(kept)
    if len(shown) < len(text.rstrip("\n")):
        more = plural(rest, "more line") if rest > 0 else "more"
        shown += f"\n… ({more})"
    return shown


def preview(
    text: str, head: int = PREVIEW_HEAD, tail: int = PREVIEW_TAIL
) -> tuple[list[str], int, list[str]]:
    """The first `head` and last `tail` lines of a text, and how many lines lie between.

    Blank lines are left out (a preview has few rows to spare). A text barely longer than
    head and tail together comes whole (as head), since a line saying "1 more line" would
    take the room of that line.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) <= head + tail + 1:
        return lines, 0, []
    return lines[:head], len(lines) - head - tail, lines[len(lines) - tail :]


def preview_content(text: str, diff: str | None = None) -> Content:
    """A tool's output in brief, as `Content`: the output is the tool's text, never markup.

    A write's preview is its first line (what was written) and then its changed lines in
    brief, coloured as in the diff; any other output is previewed as it is.
    """
    rows: list[Content] = []
    style: Callable[[str], str] = _unstyled
    # Output of a command or an MCP server, or a file the model wrote: shown, never obeyed.
    text, diff = visible_controls(text), diff and visible_controls(diff)
    if diff:
        rows.append(Content(text.strip("\n").split("\n", 1)[0]))
        text = "\n".join(line for line in diff.splitlines() if _is_change(line))
        style = diff_line_style
    first, hidden, last = preview(text)
    rows += [Content.styled(line, style(line)) for line in first]
    if hidden:
        rows.append(Content.styled(f"… {plural(hidden, 'more line')}", "italic"))
    rows += [Content.styled(line, style(line)) for line in last]
    return Content("\n").join(rows)


def _unstyled(line: str) -> str:
    return ""


def _is_change(line: str) -> bool:
    return line.startswith(("+", "-")) and not line.startswith(("+++", "---"))


class ToolCallBlock(Collapsible):
    """A tool call: title shows tool, arguments in brief and status; the body the result."""

    BINDINGS = [
        # Enter also toggles through the title's own (fixed) binding, whatever this one says.
        Binding("enter,space", "toggle", "Show / hide the tool's output", id="chat.toggle_tool"),
        Binding("up", "step(-1)", "Previous tool call", id="chat.previous_tool"),
        Binding("down", "step(1)", "Next tool call", id="chat.next_tool"),
    ]

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
        # Beside the block's contents, not in them: it shows while they are folded away.
        self._preview = Static("", classes="tool-preview")
        self._preview_content = Content("")
        super().__init__(
            self._details, self._warning, self._result, title=self._title_for("proposed")
        )
        self._title.add_class("-proposed")

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield self._preview

    @property
    def title_widget(self) -> CollapsibleTitle:
        """The focusable title row (Tab and the arrow keys land here)."""
        return self._title

    @property
    def preview_text(self) -> str:
        """What the preview says ("" before a result, or for an empty one)."""
        return self._preview_content.plain

    def action_toggle(self) -> None:
        """Open a closed block, close an open one."""
        self.collapsed = not self.collapsed

    def action_step(self, step: int) -> None:
        """Focus the title of the tool call `step` rows away; at either end the chat scrolls."""
        if self.parent is None:
            return
        # Blocks of folded turns are not on the screen (`ChatView.fold_earlier_turns`).
        blocks = [block for block in self.parent.query_children(ToolCallBlock) if block.display]
        position = blocks.index(self) + step
        if not 0 <= position < len(blocks):
            raise SkipAction()
        blocks[position].title_widget.focus()

    def _title_for(self, status: str) -> str:
        icon, words = STATUS_LABELS.get(status, ("·", status))
        warning = (f"  {INJECTION_WARNING}", "bold $text-warning") if self.injection else ""
        # Content, not a str: a command or path must never be read as markup.
        return Content.assemble(  # type: ignore[return-value]
            (f"{icon} {self.tool}", "bold"),
            f"  {visible_controls(self.summary, keep='')}  ",
            (f"[{words}]", "italic"),
            warning,
        )

    def watch_status(self, old: str, new: str) -> None:
        # The status colours the title alone, so a change restyles that one row, once: a
        # restyle is a pass of the app's style rules over a node and all below it (the
        # block's were seven), and a batch's status changes queue in front of the next
        # reply's words.
        self._title.remove_class(f"-{old}", update=False)
        self._title.add_class(f"-{new}")
        self.title = self._title_for(new)

    def set_result(
        self, content: str, diff: str | None = None, injection: Sequence[str] = ()
    ) -> None:
        """Show the result in brief (a write shows its diff in colour), and the injection
        flags the engine found in it (the ToolResult's)."""
        self._show_injection(injection)
        content = unframed(content)  # the untrusted-data note is for the model, not people
        self.result_text = content
        if diff:
            self._result.update(diff_content(brief(diff, lines=40, chars=4000)))
        else:
            self._result.update(Content(brief(visible_controls(content))))
        self._show_preview(content, diff)

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

    def _show_preview(self, content: str, diff: str | None) -> None:
        shown = self._preview_content = preview_content(content, diff)
        self._preview.update(shown)
        # On the preview row, not the block: a class on the block restyles all below it.
        self._preview.set_class(bool(shown.plain), "-has-preview")

    def _show_injection(self, flags: Sequence[str]) -> None:
        self.injection = list(flags)
        self._warning.display = bool(flags)
        self.title = self._title_for(self.status)
        if not flags:
            return
        self._warning.update(Content(f"{INJECTION_WARNING}: " + "; ".join(flags)))
        self.collapsed = False  # a warning folded away is a warning unseen
