"""Sessions that go on: `run --continue`, `sessions resume`, `/resume` (with the earlier
conversation shown, and a list to pick from), and retention of old logs."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply
from first_run_support import configure_user_provider
from pilot_support import main_screen, send, wait_for
from run_support import of_type, run
from textual.widgets import OptionList

from nanotui import paths
from nanotui.cli.main import main
from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_agent, build_session
from nanotui.engine.session import load_conversation
from nanotui.governance.audit import SessionLog, list_sessions, read_records
from nanotui.governance.retention import DAY_S, prune_sessions
from nanotui.protocol.events import ConversationResumed, UserMessage
from nanotui.tui.app import NanotuiApp
from nanotui.tui.launch import LaunchApp
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.screens.session_picker import SessionPickerScreen
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.assistant_reply import AssistantReply
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.notice_line import NoticeLine
from nanotui.tui.widgets.tool_call_block import ToolCallBlock
from nanotui.tui.widgets.user_entry import UserEntry

SIZE = (120, 40)


def test_continue_sends_the_earlier_messages_and_appends_to_the_same_log(
    fake_server, workspace, home, capsys
) -> None:
    fake_server.enqueue(openai_reply(text="The answer is 42."))
    code, first_events, _ = run(fake_server, workspace, capsys, prompt="what is the answer?")
    assert code == 0
    fake_server.enqueue(openai_reply(text="Because I said so."))
    code, events, _ = run(fake_server, workspace, capsys, "--continue", prompt="why?")
    assert code == 0
    sent = [(m["role"], m["content"]) for m in fake_server.requests[1].body["messages"][1:]]
    assert sent == [
        ("user", "what is the answer?"),
        ("assistant", "The answer is 42."),
        ("user", "why?"),
    ]
    # One session, one log, the chain of events going on in it.
    session = of_type(first_events, "result")[0]["session"]
    assert of_type(events, "result")[0]["session"] == session
    assert [p.stem for p in list_sessions()] == [session]
    started = [r for r in read_records(list_sessions()[0]) if r["type"] == "session_started"]
    assert [s["payload"]["resumed"] for s in started] == [False, True]


def test_continue_with_nothing_to_continue_is_one_sentence(workspace, home, capsys) -> None:
    code = main(["run", "hi", "--continue", "--demo", "-w", str(workspace)])
    err = capsys.readouterr().err
    assert code == 1 and "No earlier session worked in" in err


def test_sessions_resume_names_what_is_wrong(workspace, home, capsys) -> None:
    assert main(["sessions", "resume", "nope"]) == 1
    assert "No session matches 'nope'" in capsys.readouterr().err


async def test_resume_opens_the_app_with_the_conversation(
    fake_server, workspace, home, capsys
) -> None:
    fake_server.enqueue(openai_reply(text="Hello there."))
    # `nanotui run` has its own event loop: it runs beside this test's, in a thread.
    _, events, _ = await asyncio.to_thread(run, fake_server, workspace, capsys, prompt="hello")
    session = of_type(events, "result")[0]["session"]
    flags = {"provider": {"base_url": fake_server.openai_base_url, "model": "test-model"}}
    configure_user_provider()
    app = LaunchApp(workspace, flags=flags, trusted=True, resume=session)
    async with app.run_test(size=(100, 30)) as pilot:
        await main_screen(pilot)
        assert app.session.session_id == session
        assert [m.content for m in app.session.local_agent.conversation.messages] == [
            "hello",
            "Hello there.",
        ]
        # ...and shows it, marked as earlier, before the greeting.
        chat = app.screen.query_one(ChatView)
        await wait_for(pilot, lambda: chat.query_children(UserEntry), "the earlier prompt")
        assert [e.text for e in chat.query_children(UserEntry)] == ["hello"]
        await wait_for(pilot, lambda: "Working in" in chat_text(chat), "the greeting")
        await pilot.press("ctrl+q")


# ---- the earlier conversation in the app ----------------------------------------------------


def chat_text(chat: ChatView) -> str:
    return "\n".join(str(entry.render()) for entry in chat.children)


def notices(chat: ChatView) -> list[str]:
    return [notice.text for notice in chat.query_children(NoticeLine)]


def tui_agent_settings(server: FakeModelServer, workspace: Path):  # type: ignore[no-untyped-def]
    flags = {"provider": {"base_url": server.openai_base_url, "model": "test-model"}}
    return load_settings(workspace, flags, environ={}).settings


async def session_with_a_rejected_change(server: FakeModelServer, workspace: Path) -> str:
    """A session in the app: a prompt, a reply with a change, its rejection, a last reply."""
    change = {"path": "a.py", "old_string": "x = 1", "new_string": "x = 2"}
    server.enqueue(
        openai_reply("I will change a.py.", tool_calls=[("edit_file", change)]),
        openai_reply("Understood, a.py stays as it is."),
    )
    app = NanotuiApp(build_session(tui_agent_settings(server, workspace), workspace))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change a")
        panel = app.screen.query_one(ApprovalPanel)
        await wait_for(pilot, lambda: bool(panel.pending) and panel.armed, "the approval")
        await pilot.press("n", *"keep it", "enter")
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_for(pilot, lambda: not screen.busy and len(server.requests) == 2, "the end")
    return app.session.session_id


def shows_the_rejected_change(chat: ChatView) -> None:
    """The session above as the chat shows it again: every entry marked as earlier."""
    earlier = [entry for entry in chat.children if entry.has_class("-earlier")]
    assert [e.text for e in chat.query_children(UserEntry)] == ["change a"]
    replies = [str(reply.text).strip() for reply in chat.query_children(AssistantReply)]
    assert replies == ["I will change a.py.", "Understood, a.py stays as it is."]
    (block,) = chat.query_children(ToolCallBlock)
    assert block.tool == "edit_file" and block.status == "rejected"
    assert all(entry in earlier for entry in [*chat.query_children(UserEntry), block])
    header = next(n for n in chat.query_children(NoticeLine) if n.text.startswith("Earlier in"))
    assert header.has_class("-earlier")


@pytest.fixture
def quick_approvals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 0.05)


async def test_a_resumed_session_shows_its_earlier_conversation(
    fake_server, workspace, home, quick_approvals
) -> None:
    session = await session_with_a_rejected_change(fake_server, workspace)
    # `--continue` and `sessions resume ID` build the agent so.
    settings = tui_agent_settings(fake_server, workspace)
    app = NanotuiApp(build_session(settings, workspace, resume=session))
    async with app.run_test(size=SIZE) as pilot:
        chat = app.screen.query_one(ChatView)
        await wait_for(pilot, lambda: "Working in" in chat_text(chat), "the greeting")
        shows_the_rejected_change(chat)
        resumed = next(n for n in notices(chat) if n.startswith("Resumed session"))
        assert resumed == (
            f"Resumed session {session}: the model has its 4 messages; it goes on from here."
        )
        assert not chat.children[-1].has_class("-earlier")  # the greeting is of now


async def test_resume_id_shows_that_sessions_conversation(
    fake_server, workspace, home, quick_approvals
) -> None:
    session = await session_with_a_rejected_change(fake_server, workspace)
    app = NanotuiApp(build_session(tui_agent_settings(fake_server, workspace), workspace))
    async with app.run_test(size=SIZE) as pilot:
        chat = app.screen.query_one(ChatView)
        await send(pilot, f"/resume {session[:-1]}")
        await wait_for(pilot, lambda: "Resumed session" in chat_text(chat), "the resume")
        shows_the_rejected_change(chat)
        assert len(app.session.local_agent.conversation.messages) == 4


async def test_resume_without_an_id_lists_sessions_to_pick_from(
    fake_server, workspace, home, capsys
) -> None:
    for prompt in ("first task", "second task"):
        fake_server.enqueue(openai_reply(f"Done: {prompt}."))
        await asyncio.to_thread(run, fake_server, workspace, capsys, prompt=prompt)
    app = NanotuiApp(build_session(tui_agent_settings(fake_server, workspace), workspace))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/resume")  # one Enter: the command runs bare
        await wait_for(pilot, lambda: isinstance(app.screen, SessionPickerScreen), "the list")
        picker = app.screen
        assert isinstance(picker, SessionPickerScreen)
        options = picker.query_one(OptionList)
        rows = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert len(rows) == 2
        assert {row.split("  ")[-1] for row in rows} == {"first task", "second task"}
        for row in rows:
            assert str(workspace.name) in row and "test-model" in row
            assert row[:4].isdigit() and row[4] == "-"  # starts with when: 2026-12-05 14:03
        # Esc goes back with nothing resumed.
        await pilot.press("escape")
        await main_screen(pilot)
        assert app.session.local_agent.conversation.messages == []
        # Down and Enter resume the row chosen.
        await send(pilot, "/resume")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionPickerScreen), "the list")
        first = [s.first_prompt for s in app.screen.summaries].index("first task")
        await pilot.press(*["down"] * first, "enter")
        await main_screen(pilot)
        chat = app.screen.query_one(ChatView)
        await wait_for(pilot, lambda: "Resumed session" in chat_text(chat), "the resume")
        assert [m.content for m in app.session.local_agent.conversation.messages] == [
            "first task",
            "Done: first task.",
        ]
        assert [e.text for e in chat.query_children(UserEntry)] == ["first task"]


def age(path: Path, days: float) -> None:
    then = time.time() - days * DAY_S
    os.utime(path, (then, then))


def test_logs_older_than_the_retention_are_deleted_when_a_session_starts(workspace, home) -> None:
    folder = paths.sessions_dir()
    folder.mkdir(parents=True)
    old, recent, resumed = (folder / f"{name}.jsonl" for name in ("old", "recent", "resumed"))
    for log in (old, recent, resumed):
        log.write_text("")
    age(old, 31)
    age(resumed, 90)
    age(recent, 29)
    assert prune_sessions(0) == []  # 0 keeps everything
    # A session in use (being resumed) is kept whatever its age.
    assert [p.stem for p in prune_sessions(30, keep="resumed")] == ["old"]
    # Starting a session prunes with the configured retention (30 days by default).
    settings = load_settings(workspace, {"provider": {"kind": "demo"}}, environ={}).settings
    build_agent(settings, workspace, session_id="new").close()
    assert not resumed.exists() and recent.exists()


def test_an_untrusted_project_cannot_shorten_retention(workspace, home) -> None:
    (workspace / ".nanotui").mkdir()
    (workspace / ".nanotui" / "config.toml").write_text("[sessions]\nretention_days = 1\n")
    loaded = load_settings(workspace, environ={})
    assert loaded.settings.sessions.retention_days == 30
    assert any("sessions" in notice for notice in loaded.notices)
    trusted = load_settings(workspace, environ={}, trusted=True)
    assert trusted.settings.sessions.retention_days == 1
    assert json.dumps(trusted.sources).count("retention_days") == 1


async def test_a_long_earlier_prompt_is_folded_when_shown_again(
    fake_server, workspace, home, capsys
) -> None:
    long_prompt = "".join(f"line {i} of a pasted log\n" for i in range(30)).strip()
    fake_server.enqueue(openai_reply("That is a log."))
    _, events, _ = await asyncio.to_thread(run, fake_server, workspace, capsys, prompt=long_prompt)
    session = of_type(events, "result")[0]["session"]
    settings = tui_agent_settings(fake_server, workspace)
    app = NanotuiApp(build_session(settings, workspace, resume=session))
    async with app.run_test(size=SIZE) as pilot:
        chat = app.screen.query_one(ChatView)
        await wait_for(pilot, lambda: chat.query_children(UserEntry), "the earlier prompt")
        entry = chat.query_children(UserEntry).first()
        await wait_for(pilot, lambda: entry.size.height > 0, "the entry drawn")
        assert str(entry.render()).startswith("[pasted 30 lines, 709 bytes]")
        assert entry.size.height <= 4 and entry.text == long_prompt
        entry.focus()
        await pilot.press("space")
        await wait_for(pilot, lambda: entry.size.height > 30, "the whole prompt")


def test_a_session_that_ran_resume_continues_from_the_resumed_conversation_only(home) -> None:
    """After `/resume A` in session B the model saw A's messages, not B's earlier ones."""
    earlier = SessionLog("session-a", header={"workspace": "/w", "model": "m"})
    earlier.append(UserMessage(text="from a"))
    earlier.close()
    log = SessionLog("session-b", header={"workspace": "/w", "model": "m"})
    log.append(UserMessage(text="said in b before the resume"))
    log.append(ConversationResumed(session="session-a", messages=1))
    log.append(UserMessage(text="said in b after"))
    log.close()
    said = [message.content for message in load_conversation("session-b").messages]
    assert said == ["from a", "said in b after"]
