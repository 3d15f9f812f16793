"""Earlier turns folded away: the chat keeps the last turns on the screen, one row stands for
the rest and brings them back, and nothing is folded while the user reads further up.

Textual places every widget of the screen at each layout; a long session's layouts (one per
line a reply streams) grew with every turn it held. `bench/app_stream.py --turns` measures it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply
from hook_lines import blocks_first_stop
from pilot_support import app_on_server, wait_for
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from nanotui.protocol.events import (
    AssistantMessage,
    EventBase,
    SessionStarted,
    TurnFinished,
    UserMessage,
)
from nanotui.tui import collector
from nanotui.tui.app import NanotuiApp
from nanotui.tui.replay_chat import settled, show_earlier_conversation, show_in_chat
from nanotui.tui.resources import styles_dir
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets import chat_view
from nanotui.tui.widgets.assistant_reply import AssistantReply
from nanotui.tui.widgets.chat_view import ChatView, EarlierTurns
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.tool_call_block import ToolCallBlock
from nanotui.tui.widgets.user_entry import UserEntry

SIZE = (100, 30)


class Host(App[None]):
    CSS_PATH = str(styles_dir() / "app.tcss")
    AUTO_FOCUS = None

    def compose(self) -> ComposeResult:
        yield ChatView()


async def add_turns(chat: ChatView, first: int, count: int) -> None:
    """`count` finished turns: a prompt, a tool call with its result, a reply."""
    for turn in range(first, first + count):
        await chat.add_user(f"prompt {turn}")
        block = await chat.add_tool_call(f"call-{turn}", "read_file", f"t{turn}.py", "{}")
        block.status = "ok"
        await chat.end_reply(f"reply {turn}")
        chat.end_turn()


async def fold(pilot: Pilot, chat: ChatView, keep: int) -> None:
    """A turn's end as the chat sees it: laid out, then folded, then laid out again."""
    await pilot.pause()
    await chat.fold_earlier_turns(keep=keep)
    await pilot.pause()


def shown(chat: ChatView, kind: type) -> list:
    return [widget for widget in chat.query_children(kind) if widget.display]


async def test_turns_before_the_last_ones_fold_behind_one_row_that_brings_them_back() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chat = app.query_one(ChatView)
        await chat.add_notice("Welcome.")
        await add_turns(chat, 0, 5)
        await fold(pilot, chat, keep=3)

        assert chat.folded_turns == 2
        assert [entry.text for entry in shown(chat, UserEntry)] == [
            "prompt 2",
            "prompt 3",
            "prompt 4",
        ]
        assert [block.call_id for block in shown(chat, ToolCallBlock)] == [
            "call-2",
            "call-3",
            "call-4",
        ]
        row = chat.children[0]
        assert isinstance(row, EarlierTurns) and row.display
        assert "2 earlier turns folded away" in str(row.render())
        # Placed at a layout: the row, and three turns of three entries each.
        assert len(app.screen._compositor.full_map) < 20

        # Another turn's end folds one more turn; the same row counts it.
        await add_turns(chat, 5, 1)
        await fold(pilot, chat, keep=3)
        assert chat.folded_turns == 3 and chat.children[0] is row
        assert "3 earlier turns" in str(row.render())

        row.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert chat.folded_turns == 0
        assert len(shown(chat, UserEntry)) == 6 and len(shown(chat, ToolCallBlock)) == 6
        assert not chat.query(EarlierTurns)
        assert all(child.display for child in chat.children), "the welcome is back too"


async def test_unfolding_keeps_the_reader_where_they_were() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chat = app.query_one(ChatView)
        await add_turns(chat, 0, 30)
        await fold(pilot, chat, keep=3)
        chat.scroll_home(animate=False)  # up to the row, as a reader goes
        await pilot.pause()
        first_kept = shown(chat, UserEntry)[0]
        chat.query_one(EarlierTurns).focus()
        await pilot.press("space")
        await pilot.pause()
        await pilot.pause()
        assert chat.folded_turns == 0
        top = chat.scroll_y  # at the entry, or as far down as the chat goes
        assert top > 0, "back at the session's start"
        assert top <= first_kept.virtual_region.y < top + chat.size.height


async def test_a_prompt_sent_within_a_turn_does_not_start_one() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chat = app.query_one(ChatView)
        for turn in range(3):
            await chat.add_user(f"prompt {turn}")
            await chat.end_reply(f"reply {turn}")
            await chat.add_user(f"a hook's follow-up {turn}")
            await chat.end_reply(f"more {turn}")
            chat.end_turn()
        await fold(pilot, chat, keep=2)
        assert chat.folded_turns == 1
        assert [entry.text for entry in shown(chat, UserEntry)] == [
            "prompt 1",
            "a hook's follow-up 1",
            "prompt 2",
            "a hook's follow-up 2",
        ]


HOOK_SAYS = "A stop hook asks you to go on: "
"""How the engine words a stop hook's prompt (`turn_hooks`), before the hook's reason."""


def logged_turns(count: int) -> list[EventBase]:
    """What a session's log holds of `count` turns, each stopped once by a stop hook."""
    events: list[EventBase] = []
    for turn in range(count):
        events += [
            UserMessage(text=f"prompt {turn}"),
            AssistantMessage(text=f"reply {turn}"),
            UserMessage(text=f"{HOOK_SAYS}{turn}"),
            AssistantMessage(text=f"more {turn}"),
            TurnFinished(status="done"),
        ]
    return events


def prompts_of(*turns: int) -> list[str]:
    """The prompts `logged_turns` logs for these turns: each turn's, then its hook's."""
    return [text for turn in turns for text in (f"prompt {turn}", f"{HOOK_SAYS}{turn}")]


async def shown_after_folding(events: list[EventBase], keep: int) -> tuple[int, list[str]]:
    """Show `events` as replays and resumed sessions read a log (the ones that change the
    chat), fold all but the last `keep` turns; the turns folded and the prompts shown."""
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chat = app.query_one(ChatView)
        for event in settled(events):
            await show_in_chat(chat, event)
        await fold(pilot, chat, keep=keep)
        return chat.folded_turns, [entry.text for entry in shown(chat, UserEntry)]


async def test_a_logged_conversation_folds_by_its_turns_not_its_prompts() -> None:
    # Replays and resumed sessions show the log again: a hook's follow-up is in the log as a
    # prompt like any other, and only a turn's end says that the next one starts a turn.
    assert await shown_after_folding(logged_turns(3), keep=2) == (1, prompts_of(1, 2))


async def test_a_turn_killed_mid_way_does_not_swallow_the_resumed_session_s_first_one() -> None:
    # The log goes on after a resume: a killed turn's prompt, no end, the session starting.
    killed = [UserMessage(text="the killed turn"), AssistantMessage(text="half a reply")]
    resumed = SessionStarted(
        session="s1",
        workspace="/w",
        provider="p",
        model="m",
        label="",
        mode="ask",
        sandbox="",
        nanotui_version="0",
        resumed=True,
    )
    events = [*killed, resumed, *logged_turns(2)]
    assert await shown_after_folding(events, keep=2) == (1, prompts_of(0, 1))


async def test_a_log_that_stops_mid_turn_leaves_the_next_prompt_a_turn_of_its_own() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chat = app.query_one(ChatView)
        # The earlier session ended mid-turn (no TurnFinished in its log: it was killed).
        earlier = [*logged_turns(2), UserMessage(text="prompt 2")]
        await show_earlier_conversation(chat, "s1", 5, lambda _: earlier)
        await chat.add_user("the first prompt after resuming")
        await fold(pilot, chat, keep=1)
        assert chat.folded_turns == 3
        assert [entry.text for entry in shown(chat, UserEntry)] == [
            "the first prompt after resuming"
        ]


async def test_a_resumed_session_s_earlier_turns_fold_as_they_are_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(chat_view, "SHOWN_TURNS", 1)
    app = Host()
    async with app.run_test(size=SIZE):
        chat = app.query_one(ChatView)
        await show_earlier_conversation(chat, "s1", 15, lambda _: logged_turns(3))
        assert chat.folded_turns == 2
        assert [entry.text for entry in shown(chat, UserEntry)] == prompts_of(2)


async def test_nothing_is_folded_while_the_user_reads_further_up() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chat = app.query_one(ChatView)
        await add_turns(chat, 0, 8)
        await pilot.pause()
        chat.scroll_home(animate=False)
        await fold(pilot, chat, keep=3)
        assert chat.folded_turns == 0 and not chat.query(EarlierTurns)

        chat.scroll_end(animate=False)  # back at the end: the next turn's end folds them
        await pilot.pause()
        await chat.fold_earlier_turns(keep=3)
        assert chat.folded_turns == 5


async def test_moving_between_tool_rows_skips_the_folded_ones() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chat = app.query_one(ChatView)
        await add_turns(chat, 0, 4)
        await fold(pilot, chat, keep=2)
        first, second = shown(chat, ToolCallBlock)
        second.title_widget.focus()
        await pilot.press("up")
        assert app.focused is first.title_widget
        await pilot.press("up")  # the first shown row: the keys scroll the chat instead
        assert app.focused is first.title_widget


async def test_clearing_the_chat_forgets_its_turns_and_tool_rows() -> None:
    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        chat = app.query_one(ChatView)
        await add_turns(chat, 0, 4)
        await chat.fold_earlier_turns(keep=2)
        await pilot.pause()
        await chat.clear()
        await pilot.pause()
        assert not chat.children and chat.folded_turns == 0
        assert chat.tool_call("call-3") is None
        await add_turns(chat, 10, 3)
        await pilot.pause()
        await chat.fold_earlier_turns(keep=2)
        assert chat.folded_turns == 1


# ---- in the app -------------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "notes.txt").write_text("one\ntwo\n")
    return folder


async def send(pilot: Pilot, text: str, reply: str) -> None:
    """Send `text` and wait for the turn that ends with `reply` to be over."""
    app: NanotuiApp = pilot.app  # type: ignore[assignment]
    screen = app.screen
    assert isinstance(screen, MainScreen)
    await wait_for(pilot, lambda: screen.query_one(PromptInput).has_focus, "the prompt")
    await pilot.press(*text, "enter")

    def over() -> bool:
        replies = [widget.text for widget in screen.query(AssistantReply)]
        return any(reply in text for text in replies) and not screen.busy

    await wait_for(pilot, over, f"the turn of {text!r} to end")


async def test_a_stop_hook_s_follow_up_stays_in_its_turn_when_turns_fold(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hook blocks each turn's first stop, so the model is sent on within the turn by a
    # prompt of the hook's: the chat shows it as a prompt, but it starts no turn.
    once = blocks_first_stop("run the tests")
    monkeypatch.setattr(chat_view, "SHOWN_TURNS", 2)
    with FakeModelServer() as server:
        for turn in range(3):
            server.enqueue(openai_reply(f"Stopping, {turn}."), openai_reply(f"Done, {turn}."))
        home = workspace.parent / "home"
        home.mkdir(exist_ok=True)
        (home / "config.toml").write_text(
            f'[[hooks]]\nevent = "stop"\ncommand = {json.dumps(once)}\n'
        )
        app = NanotuiApp(app_on_server(server, workspace, "hooked").session)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the screen")
                chat = app.screen.query_one(ChatView)
                for turn in range(3):
                    await send(pilot, f"turn {turn}", f"Done, {turn}.")
                await wait_for(pilot, lambda: chat.folded_turns == 1, "the first turn to fold")
                prompts = [entry.text for entry in shown(chat, UserEntry)]
                assert prompts[0] == "turn 1" and prompts[2] == "turn 2", prompts
                assert "run the tests" in prompts[1] and "run the tests" in prompts[3]
        finally:
            collector.stop()


async def test_the_app_folds_earlier_turns_as_each_turn_ends(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_view, "SHOWN_TURNS", 2)
    with FakeModelServer() as server:
        for turn in range(3):
            # A batch of several calls (a read, two writes: one a long line, one over a file
            # read before), and a reply longer than the screen, as a real session's are.
            calls = [
                ("read_file", {"path": "notes.txt"}),
                ("write_file", {"path": f"t{turn}.py", "content": "x = 1  # " + "y" * 3000}),
                ("write_file", {"path": "notes.txt", "content": f"one\nturn {turn}\n"}),
            ]
            server.enqueue(
                openai_reply("", tool_calls=calls),
                openai_reply("".join(f"line {n}\n\n" for n in range(20)) + f"Done, {turn}."),
            )
        auto_edit = {"mode": "auto-edit"}
        app = NanotuiApp(app_on_server(server, workspace, "folding", approval=auto_edit).session)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the screen")
                chat = app.screen.query_one(ChatView)
                for turn in range(2):
                    await send(pilot, f"turn {turn}", f"Done, {turn}.")
                assert chat.folded_turns == 0 and chat.max_scroll_y > 0
                await send(pilot, "turn 2", "Done, 2.")
                await wait_for(pilot, lambda: chat.folded_turns == 1, "the first turn to fold")
                assert [entry.text for entry in shown(chat, UserEntry)] == ["turn 1", "turn 2"]
                assert len(shown(chat, ToolCallBlock)) == 6
                assert [block.status for block in shown(chat, ToolCallBlock)] == ["ok"] * 6
                assert (workspace / "notes.txt").read_text() == "one\nturn 2\n"
                await pilot.pause()
                assert chat.scroll_y == chat.max_scroll_y > 0, "the view still follows the end"
        finally:
            collector.stop()
