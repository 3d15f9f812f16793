"""Sessions that go on: `run --continue`, `sessions resume`, and retention of old logs."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from fake_model_server import openai_reply
from first_run_support import configure_user_provider
from pilot_support import wait_for
from run_support import of_type, run

from nanotui import paths
from nanotui.cli import main
from nanotui.config import load_settings
from nanotui.engine.setup import build_agent
from nanotui.governance.audit import list_sessions, read_records
from nanotui.governance.retention import DAY_S, prune_sessions
from nanotui.tui.launch import LaunchApp
from nanotui.tui.screens.main import MainScreen


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
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert app.agent.session_id == session
        assert [m.content for m in app.agent.conversation.messages] == ["hello", "Hello there."]
        await pilot.press("ctrl+q")


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
