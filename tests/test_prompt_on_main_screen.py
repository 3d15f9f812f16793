"""The prompt on the real main screen: slash commands run with one Enter and show what they
print, and a large paste is folded in the chat while the model gets all of it (checked in the
request the loopback model server received).
"""

from __future__ import annotations

import json
from pathlib import Path

from fake_model_server import FakeModelServer, openai_reply
from hook_lines import blocks_first_stop
from pilot_support import wait_for
from textual import events
from textual.pilot import Pilot

from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_session
from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.notice_line import NoticeLine
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.user_entry import UserEntry

SIZE = (120, 40)
PASTE = "".join(f"{i:05d} {'x' * 48}\n" for i in range(4012))
"""4,012 lines, 215 KB: the size of paste that was echoed line by line."""


def make_app(server: FakeModelServer, workspace: Path) -> NanotuiApp:
    flags = {"provider": {"base_url": server.openai_base_url, "model": "m"}}
    settings = load_settings(workspace, flags, environ={}).settings
    return NanotuiApp(build_session(settings, workspace, session_id="prompt-session"))


def screen(app: NanotuiApp) -> MainScreen:
    assert isinstance(app.screen, MainScreen)
    return app.screen


async def typed(pilot: Pilot, *keys: str) -> None:
    prompt = pilot.app.screen.query_one(PromptInput)
    await wait_for(pilot, lambda: prompt.has_focus, "the prompt to take focus")
    await pilot.press(*keys)


async def send_with_a_paste(pilot: Pilot) -> None:
    """Type a question, paste PASTE after it (the prompt folds it to a mark), press Enter."""
    prompt = pilot.app.screen.query_one(PromptInput)
    await typed(pilot, *"what is this? ")
    pilot.app.post_message(events.Paste(PASTE))
    await wait_for(pilot, lambda: "pasted" in prompt.text, "the paste in the prompt")
    assert prompt.text == "what is this? [pasted 4,012 lines, 215 KB]"
    await pilot.press("enter")


def last_notice(app: NanotuiApp) -> str:
    notices = list(app.screen.query_one(ChatView).query_children(NoticeLine))
    return notices[-1].text if notices else ""


async def test_model_and_enter_shows_the_model_at_once(fake_server, workspace, home) -> None:
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await typed(pilot, *"/model", "enter")
        await wait_for(pilot, lambda: last_notice(app).startswith("Model: m"), "the model")
        assert app.screen.query_one(PromptInput).text == ""


async def test_mode_lists_the_modes_and_marks_the_current_one(fake_server, workspace, home) -> None:
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.screen.query_one(PromptInput)
        await typed(pilot, *"/mode ")
        await wait_for(pilot, lambda: prompt.menu.is_open, "the mode choices")
        assert [c.hint for c in prompt.menu.completions] == ["", "(current)", "", ""]
        await pilot.press("down", "down", "enter")  # auto-edit
        await wait_for(pilot, lambda: screen(app).mode == "auto-edit", "the mode to change")
        await typed(pilot, *"/mode ")
        await wait_for(pilot, lambda: prompt.menu.is_open, "the mode choices")
        assert [c.hint for c in prompt.menu.completions] == ["", "", "(current)", ""]
        prompt.clear()
        await typed(pilot, *"/mode", "enter")
        await wait_for(pilot, lambda: last_notice(app).startswith("Modes"), "the listing")
        rows = last_notice(app).splitlines()[1:]
        assert [row.startswith("▸") for row in rows] == [False, False, True, False]
        assert rows[2].startswith("▸ auto-edit (current): file changes in the workspace")
        assert [row.strip() for row in rows[:2]] == ["plan", "ask"]


async def test_a_commands_output_scrolls_into_view(fake_server, workspace, home) -> None:
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        chat = app.screen.query_one(ChatView)
        for number in range(60):
            await chat.add_notice(f"Filler line {number}.")
        await wait_for(pilot, lambda: chat.max_scroll_y > 20, "the chat to overflow")
        chat.scroll_home(animate=False)  # the user scrolls up to read
        await wait_for(pilot, lambda: chat.scroll_y == 0, "the chat at its top")
        await typed(pilot, *"/cost", "enter")
        await wait_for(pilot, lambda: last_notice(app).startswith("This session"), "the cost")
        await wait_for(
            pilot, lambda: chat.scroll_y == chat.max_scroll_y > 0, "the output scrolled to"
        )
        cost_line = list(chat.query_children(NoticeLine))[-1]
        assert cost_line.region.intersection(chat.region) == cost_line.region


async def test_a_paste_stays_folded_as_typed_when_a_command_is_sent_before_the_turn_starts(
    fake_server, workspace, home
) -> None:
    # The prompt reaches the chat only once the turn's user_prompt hooks have run; a slash
    # command sent meanwhile must not make the chat forget how the prompt was typed.
    (home / "config.toml").write_text(
        '[[hooks]]\nevent = "user_prompt"\ncommand = "sleep 1"\n', encoding="utf-8"
    )
    fake_server.enqueue(openai_reply("It is a list of numbered lines."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send_with_a_paste(pilot)
        await typed(pilot, *"/cost", "enter")
        await wait_for(pilot, lambda: last_notice(app).startswith("This session"), "the cost")
        assert not app.screen.query_one(ChatView).query_children(UserEntry), "hook not waited"
        await wait_for(pilot, lambda: not screen(app).busy and fake_server.requests, "the turn")
        entry = app.screen.query_one(ChatView).query_children(UserEntry).first()
        assert str(entry.render()).startswith("what is this? [pasted 4,012 lines, 215 KB]\n")


async def test_a_stop_hook_s_prompt_after_a_pasted_one_shows_as_the_hook_wrote_it(
    fake_server, workspace, home
) -> None:
    # The hook sends the model on within the turn; its prompt is not the one typed.
    once = blocks_first_stop("run the tests")
    (home / "config.toml").write_text(
        f'[[hooks]]\nevent = "stop"\ncommand = {json.dumps(once)}\n', encoding="utf-8"
    )
    fake_server.enqueue(openai_reply("Stopping."), openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send_with_a_paste(pilot)
        await wait_for(pilot, lambda: len(fake_server.requests) == 2, "the hook's prompt")
        await wait_for(pilot, lambda: not screen(app).busy, "the turn")
        first, second = app.screen.query_one(ChatView).query_children(UserEntry)
        assert first.typed == "what is this? [pasted 4,012 lines, 215 KB]"
        assert second.typed is None and "run the tests" in second.text


async def test_a_large_paste_is_folded_in_the_chat_and_sent_whole(
    fake_server, workspace, home
) -> None:
    fake_server.enqueue(openai_reply("It is a list of numbered lines."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await send_with_a_paste(pilot)
        await wait_for(pilot, lambda: not screen(app).busy and fake_server.requests, "the turn")
        # The model got all of it.
        sent = fake_server.requests[0].body["messages"][-1]
        assert sent["role"] == "user"
        assert sent["content"] == "what is this? " + PASTE.rstrip()
        # The chat shows the prompt as it was typed, the paste folded, not 4,012 lines.
        entry = app.screen.query_one(ChatView).query_children(UserEntry).first()
        await wait_for(pilot, lambda: entry.size.height > 0, "the entry drawn")
        assert entry.folded and entry.size.height <= 3
        assert str(entry.render()).startswith("what is this? [pasted 4,012 lines, 215 KB]\n")
        # Enter on the focused entry shows it whole; a click folds it again.
        entry.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: entry.size.height > 4000, "the whole paste")
        chat = app.screen.query_one(ChatView)

        def start_in_view() -> bool:
            return chat.region.y <= entry.region.y <= chat.region.y + 1

        await wait_for(pilot, start_in_view, "its first line in view")
        await pilot.pause(0.1)
        assert start_in_view()  # the chat does not run off to its end
        await pilot.click(entry, offset=(4, 0))
        await wait_for(pilot, lambda: entry.folded and entry.size.height <= 3, "the fold again")


async def test_a_short_prompt_is_shown_whole_and_takes_no_focus(
    fake_server, workspace, home
) -> None:
    fake_server.enqueue(openai_reply("Hello."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await typed(pilot, *"hello", "enter")
        await wait_for(pilot, lambda: not screen(app).busy and fake_server.requests, "the turn")
        entry = app.screen.query_one(ChatView).query_children(UserEntry).first()
        assert str(entry.render()) == "hello" and not entry.focusable
