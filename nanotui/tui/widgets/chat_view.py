"""The conversation: prompts, streamed replies, tool calls and notices, anchored to the end."""

from __future__ import annotations

from textual.containers import VerticalScroll

from nanotui.tui.widgets.assistant_reply import AssistantReply
from nanotui.tui.widgets.notice_line import NoticeLevel, NoticeLine, notice_content
from nanotui.tui.widgets.tool_call_block import ToolCallBlock
from nanotui.tui.widgets.user_entry import UserEntry


class ChatView(VerticalScroll, can_focus=True):
    """Holds the entries of the conversation in order; follows the end while it grows."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._reply: AssistantReply | None = None
        self._tools: dict[str, ToolCallBlock] = {}

    def on_mount(self) -> None:
        self.anchor()

    async def add_user(self, text: str) -> None:
        await self.mount(UserEntry(text))

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
