"""Logged events shown again read as they did live: a retry counting up is one line."""

from __future__ import annotations

from textual.app import App, ComposeResult

from nanotui.protocol.events import ErrorEvent, Notice
from nanotui.tui.replay_chat import show_in_chat
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.notice_line import NoticeLine


class ChatOnly(App[None]):
    def compose(self) -> ComposeResult:
        yield ChatView()


async def test_a_replayed_retry_shows_one_line_that_counts_up_then_the_error_once() -> None:
    events = [
        Notice(text="Retrying: attempt 2 of 3, next in 1 s.", level="warning", slot="retry"),
        Notice(text="Retrying: attempt 3 of 3, next in 2 s.", level="warning", slot="retry"),
        ErrorEvent(text="The model server could not be reached."),
    ]
    app = ChatOnly()
    async with app.run_test() as pilot:
        chat = app.query_one(ChatView)
        for event in events:
            await show_in_chat(chat, event)
        await pilot.pause()
        lines = [line.text for line in chat.query(NoticeLine)]
    assert lines == [
        "Retrying: attempt 3 of 3, next in 2 s.",
        "The model server could not be reached.",
    ]
