"""A fast model's burst of fragments reaches the screen as a few messages, in order, and the
turn's garbage collection waits until the turn's last frame is drawn.

The app runs against a loopback model server that writes a whole reply in one write, as a
fast model's stream reaches the client: dozens of SSE events in one read.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from fake_model_server import FakeModelServer, burst_reply, openai_reply
from pilot_support import app_on_server, send, wait_for

from nanotui.tui import collector
from nanotui.tui.screens import main as main_screen
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets.assistant_reply import AssistantReply
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.tool_call_block import ToolCallBlock

pytestmark = pytest.mark.usefixtures("isolated_home")

SIZE = (120, 40)
REPLY = "".join(
    f"Paragraph {n}: the quick brown fox jumps over the lazy dog.\n\n" for n in range(20)
)
FRAGMENTS = len(REPLY) // 4  # openai_reply sends four characters an event


def count_text_messages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of each TextDelta the screen is given, in order."""
    seen: list[str] = []
    show = MainScreen._text_delta

    async def counting(self: MainScreen, event: Any) -> None:
        seen.append(event.text)
        await show(self, event)

    monkeypatch.setattr(MainScreen, "_text_delta", counting)
    return seen


def fake_settling(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each settling of a turn's garbage, recorded instead of run (it would end young-only)."""
    settled: list[bool] = []
    monkeypatch.setattr(collector, "settle", lambda: settled.append(True))
    return settled


async def whole_turn(pilot: Any, prompt: str) -> None:
    """Send `prompt` and let its turn run to the end."""
    await send(pilot, prompt)
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    await wait_for(pilot, lambda: not screen.busy, "the turn to end")


def replies(app: Any) -> list[AssistantReply]:
    return list(app.screen.query_one(ChatView).query(AssistantReply))


async def test_a_burst_of_fragments_is_shown_whole_in_a_few_messages(
    fake_server: FakeModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = count_text_messages(monkeypatch)
    fake_server.enqueue(burst_reply(openai_reply(REPLY)))
    app = app_on_server(fake_server, tmp_path, "burst", sandbox={"backend": "plain"})
    async with app.run_test(size=SIZE) as pilot:
        await whole_turn(pilot, "write")
        assert "".join(seen) == REPLY
        # One message per network read or so, not one per fragment.
        assert 0 < len(seen) <= FRAGMENTS // 10, len(seen)
        (reply,) = replies(app)
        assert reply.text == REPLY


async def test_text_before_a_tool_call_in_the_same_burst_is_shown_before_it(
    fake_server: FakeModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = count_text_messages(monkeypatch)
    (tmp_path / "notes.txt").write_text("remember the milk\n")
    fake_server.enqueue(
        burst_reply(openai_reply(REPLY, tool_calls=[("read_file", {"path": "notes.txt"})])),
        burst_reply(openai_reply("Read it.")),
    )
    app = app_on_server(fake_server, tmp_path, "burst-tool", sandbox={"backend": "plain"})
    async with app.run_test(size=SIZE) as pilot:
        await whole_turn(pilot, "read the notes")
        assert "".join(seen) == REPLY + "Read it."
        chat = list(app.screen.query_one(ChatView).children)
        first, second = replies(app)
        (block,) = app.screen.query(ToolCallBlock)
        assert chat.index(first) < chat.index(block) < chat.index(second)
        assert (first.text, second.text) == (REPLY, "Read it.")


async def test_the_turns_collection_waits_for_its_last_frame(
    fake_server: FakeModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settled = fake_settling(monkeypatch)
    at_turn_over: list[int] = []
    turn_over = MainScreen._turn_over

    async def noting(self: MainScreen, **kwargs: Any) -> None:
        await turn_over(self, **kwargs)
        at_turn_over.append(len(settled))  # nothing collected inside the handler

    monkeypatch.setattr(MainScreen, "_turn_over", noting)
    fake_server.enqueue(openai_reply("Done."))
    app = app_on_server(fake_server, tmp_path, "settle", sandbox={"backend": "plain"})
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "go")
        await wait_for(pilot, lambda: bool(settled), "the turn's collection")
    assert at_turn_over[0] == 0


async def test_a_turn_started_before_the_collection_leaves_it_to_its_own_end(
    fake_server: FakeModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settled = fake_settling(monkeypatch)
    monkeypatch.setattr(main_screen, "SETTLE_AFTER_S", 1.0)  # the second prompt comes sooner
    fake_server.enqueue(openai_reply("First."))
    # Still streaming when the first turn's collection falls due: the collection would
    # stall the second reply's start.
    fake_server.enqueue(dataclasses.replace(openai_reply("Second."), stall_after=2, stall_s=3.0))
    app = app_on_server(fake_server, tmp_path, "settle", sandbox={"backend": "plain"})
    async with app.run_test(size=SIZE) as pilot:
        await whole_turn(pilot, "one")
        await send(pilot, "two")
        screen = pilot.app.screen
        assert isinstance(screen, MainScreen)
        await pilot.pause(1.5)
        assert screen.busy and not settled
        await wait_for(pilot, lambda: not screen.busy, "the second turn to end")
        await wait_for(pilot, lambda: bool(settled), "the second turn's collection")
    assert settled == [True]


async def test_a_turn_over_within_the_last_ones_delay_is_settled_once_at_its_own_end(
    fake_server: FakeModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settled = fake_settling(monkeypatch)
    monkeypatch.setattr(main_screen, "SETTLE_AFTER_S", 1.0)
    fake_server.enqueue(openai_reply("First."), openai_reply("Second."))
    app = app_on_server(fake_server, tmp_path, "settle", sandbox={"backend": "plain"})
    async with app.run_test(size=SIZE) as pilot:
        await whole_turn(pilot, "one")
        await whole_turn(pilot, "two")  # over well within the first turn's delay
        await wait_for(pilot, lambda: bool(settled), "the second turn's collection")
        await pilot.pause(1.5)  # the first turn's timer, had it been left, fires by now
    assert settled == [True]


async def test_only_young_garbage_is_collected_from_a_turns_start_until_it_settles(
    fake_server: FakeModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settled = fake_settling(monkeypatch)  # young-only must outlast the turn's end
    monkeypatch.setattr(main_screen, "SETTLE_AFTER_S", 1.0)  # far from the check below
    fake_server.enqueue(openai_reply("Done."))
    app = app_on_server(fake_server, tmp_path, "young", sandbox={"backend": "plain"})
    async with app.run_test(size=SIZE) as pilot:
        assert not collector.is_young_only()
        await whole_turn(pilot, "go")
        # An older generation falling due now would stall the last frames: it waits.
        assert collector.is_young_only() and not settled
        await wait_for(pilot, lambda: bool(settled), "the turn's collection")
    assert not collector.is_young_only()  # stop(), at the screen's unmount, ends young-only
