"""The conversation: prompts, streamed replies, tool calls and notices, anchored to the end.

Only the last `SHOWN_TURNS` turns stay on the screen once a turn ends; the earlier ones are
folded away behind one row at the top, which brings them back (Enter, space or a click). A
turn starts with the prompt the user sent (a hook's follow-up within a turn does not start
one); a resumed or replayed conversation's turns fold as they are shown.

Why: Textual places every widget of the screen at each layout, in view or not, and a
streamed reply lays the screen out each time it grows by a line. With every turn kept, a
long session's layouts grew from 8 ms to 56 ms (60 turns of three tool calls), past what
streaming can hide.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from nanotui.protocol.basics import plural
from nanotui.tui.widgets.assistant_reply import AssistantReply
from nanotui.tui.widgets.notice_line import NoticeLevel, NoticeLine, notice_content
from nanotui.tui.widgets.tool_call_block import ToolCallBlock
from nanotui.tui.widgets.user_entry import UserEntry

SHOWN_TURNS = 6
"""Finished turns kept on the screen; earlier ones are folded away (see the module's text).
Each costs every layout: after 30 turns of three tool calls, placing the main screen took
6.2-6.5 ms with 12 shown, 3.6-3.8 ms with 6, against 1.3-1.5 ms fresh."""


class EarlierTurns(Static, can_focus=True):
    """The row that stands for the folded turns; Enter, space or a click shows them."""

    BINDINGS = [
        Binding("enter,space", "unfold", "Show the earlier turns", id="chat.unfold_turns"),
    ]

    class Unfold(Message):
        """Show the folded turns again."""

    def action_unfold(self) -> None:
        self.post_message(self.Unfold())

    def on_click(self) -> None:
        self.action_unfold()


class ChatView(VerticalScroll, can_focus=True):
    """Holds the entries of the conversation in order; follows the end while it grows."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._reply: AssistantReply | None = None
        self._tools: dict[str, ToolCallBlock] = {}
        self._turns: list[UserEntry] = []
        """Each turn's first entry, its prompt."""
        self._turn_open = False
        """A turn's prompt is shown and the turn has not ended (`end_turn`)."""
        self._folded: set[Widget] = set()
        """The entries folded away."""
        self._earlier: EarlierTurns | None = None

    def on_mount(self) -> None:
        self.anchor()

    async def add_user(self, text: str, typed: str | None = None) -> None:
        """Show a prompt, folding its pastes when it is known as `typed` (with their marks).

        The first prompt since a turn ended starts a turn; one sent within a turn (a stop
        hook's follow-up) belongs to that turn."""
        entry = UserEntry(text, typed)
        if not self._turn_open:
            self._turns.append(entry)
            self._turn_open = True
        await self.mount(entry)

    def end_turn(self) -> None:
        """The turn ended (live, or in a log shown again): the next prompt starts one."""
        self._turn_open = False

    async def clear(self) -> None:
        """Remove every entry (`/clear`)."""
        await self.remove_children()
        self._reply, self._slotted, self._earlier = None, None, None
        self._tools.clear()
        self._turns.clear()
        self._turn_open = False
        self._folded.clear()

    # ---- folding the earlier turns --------------------------------------------------------

    @property
    def folded_turns(self) -> int:
        """How many turns are folded away now."""
        return sum(1 for entry in self._turns if entry in self._folded)

    async def fold_earlier_turns(self, keep: int | None = None) -> None:
        """At a turn's end: fold away what came before the last `keep` turns, unless the user
        is reading further up (the view is not at its end). Turns they unfolded fold again
        at the end of a turn that finds the view back at its end."""
        keep = SHOWN_TURNS if keep is None else keep
        if len(self._turns) <= keep or not self._at_the_end:
            return
        first_kept = self._turns[-keep]
        entries = [child for child in self.children if child is not self._earlier]
        newly = [
            child
            for child in entries[: entries.index(first_kept)]
            if child.display and child not in self._folded
        ]
        if not newly:
            return
        for child in newly:
            child.display = False
        self._folded.update(newly)
        await self._show_earlier_row()

    @property
    def _at_the_end(self) -> bool:
        """Whether the view shows the conversation's end (as it does while it follows it; an
        anchored view shorter than the screen has a negative offset)."""
        return self.max_scroll_y == 0 or self.scroll_y >= self.max_scroll_y

    async def _show_earlier_row(self) -> None:
        count = self.folded_turns
        text = (
            f"▲ {plural(count, 'earlier turn')} folded away, so that the screen stays "
            "quick: Enter, space or a click shows them."
        )
        if self._earlier is None:
            self._earlier = EarlierTurns(text, classes="earlier-turns")
            await self.mount(self._earlier, before=0)
        else:
            self._earlier.update(text)

    async def on_earlier_turns_unfold(self, message: EarlierTurns.Unfold) -> None:
        message.stop()
        # The reader keeps their place: the entry shown first stays at the top.
        first_shown = next(
            (child for child in self.children if child.display and child is not self._earlier),
            None,
        )
        for child in self._folded:
            child.display = True
        self._folded.clear()
        if self._earlier is not None:
            row, self._earlier = self._earlier, None
            await row.remove()
        self.focus()
        if first_shown is not None:
            self.call_after_refresh(self.scroll_to_widget, first_shown, top=True, animate=False)

    async def add_notice(self, text: str, level: NoticeLevel = "info") -> None:
        await self.mount(NoticeLine(text, level))

    _slotted: tuple[str, NoticeLine] | None = None
    """The last notice shown for a slot, which the next of that slot may replace."""

    async def update_notice(
        self, text: str, level: NoticeLevel = "info", *, slot: str | None = None
    ) -> None:
        """Show a notice; one of a `slot` (a retry counting up) replaces the slot's last one
        while that is still the last entry, so the chat holds one line of it, not one a state."""
        if slot is None:
            await self.add_notice(text, level)
            return
        if self._slotted is not None and self._slotted[0] == slot:
            line = self._slotted[1]
            if self.children and self.children[-1] is line:
                line.text, line.level = text, level
                line.set_classes(f"-{level}")
                line.update(notice_content(text))
                return
        line = NoticeLine(text, level)
        self._slotted = (slot, line)
        await self.mount(line)

    async def stream_text(self, fragment: str) -> None:
        """Append to the reply being streamed, starting one if none is open."""
        if self._reply is None:
            self._reply = AssistantReply()
            await self.mount(self._reply)
        await self._reply.append_fragment(fragment)

    async def end_reply(self, text: str, *, interrupted: bool = False) -> None:
        """Settle the open reply (or show `text` whole if nothing was streamed)."""
        reply, self._reply = self._reply, None
        if reply is None:
            if not text:
                return
            reply = AssistantReply(text)
            await self.mount(reply)
        await reply.finish(interrupted=interrupted)

    async def add_tool_call(
        self, call_id: str, tool: str, summary: str, arguments: str
    ) -> ToolCallBlock:
        block = ToolCallBlock(call_id, tool, summary, arguments)
        self._tools[call_id] = block
        await self.mount(block)
        return block

    def tool_call(self, call_id: str) -> ToolCallBlock | None:
        return self._tools.get(call_id)

    def unfinished_tool_calls(self) -> list[ToolCallBlock]:
        """Blocks still proposed, waiting or running (to mark when a turn is interrupted)."""
        open_states = {"proposed", "waiting", "approved", "running"}
        return [block for block in self._tools.values() if block.status in open_states]
