"""An unreachable model server: one retry line that counts up in place, then the error once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from first_run_support import closed_port_url
from pilot_support import wait_for

from nanotui.cli.main import main
from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_session
from nanotui.governance.ratelimit import RETRY_SLOT
from nanotui.protocol.events import Notice
from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.notice_line import NoticeLine
from nanotui.tui.widgets.prompt_input import PromptInput

UNREACHABLE = "Cannot reach the model server"
# Four retries, waits of at most 10 ms: the whole failure takes well under a second.
QUICK_RETRIES = {
    "NANOTUI_RATE_LIMIT__MAX_RETRIES": "4",
    "NANOTUI_RATE_LIMIT__MAX_RETRY_WAIT_S": "0.01",
}


@pytest.fixture
def quick_retries(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in QUICK_RETRIES.items():
        monkeypatch.setenv(name, value)


def unreachable_app(workspace: Path) -> NanotuiApp:
    flags = {"provider": {"base_url": closed_port_url() + "/v1", "model": "m"}}
    settings = load_settings(workspace, flags, environ=QUICK_RETRIES).settings
    return NanotuiApp(build_session(settings, workspace, session_id="retry-session"))


async def test_unreachable_server_shows_one_retry_line_counting_up_then_the_error_once(
    home: Path, workspace: Path
) -> None:
    app = unreachable_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        prompt = screen.query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.has_focus, "the prompt to take focus")
        before = len(screen.query(NoticeLine))
        await pilot.press(*"hello", "enter")
        await wait_for(pilot, lambda: not screen.busy, "the turn to end", timeout=20)
        await pilot.pause()

        added = [line for line in screen.query(NoticeLine)][before:]
        retries = [line for line in added if "Attempt" in line.text]
        errors = [line for line in added if line.level == "error"]
        assert len(retries) == 1, [line.text for line in added]
        assert retries[0].text.startswith(UNREACHABLE)
        assert (
            retries[0].text.endswith(" s.") and "Attempt 4 of 5 failed; next in" in retries[0].text
        )
        assert len(errors) == 1 and errors[0].text.startswith(UNREACHABLE)
        assert added.index(errors[0]) == added.index(retries[0]) + 1


async def test_a_retry_line_is_not_replaced_once_something_came_after_it(
    home: Path, workspace: Path
) -> None:
    app = unreachable_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        chat = app.screen.query_one(ChatView)
        await chat.update_notice("first try failed", "warning", slot=RETRY_SLOT)
        await chat.update_notice("second try failed", "warning", slot=RETRY_SLOT)
        await chat.add_notice("something else")
        await chat.update_notice("a later request's retry", "warning", slot=RETRY_SLOT)
        await pilot.pause()
        texts = [line.text for line in chat.query(NoticeLine)]
        assert texts[-3:] == ["second try failed", "something else", "a later request's retry"]
        assert "first try failed" not in texts


def test_retry_notices_are_marked_by_their_slot_and_say_the_attempt_and_the_wait(
    quick_retries: None, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = closed_port_url() + "/v1"
    code = main(["run", "hi", "--json", "-w", str(workspace), "--base-url", url, "--model", "m"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    notices = [Notice.model_validate(e) for e in events if e["type"] == "notice"]
    retries = [n for n in notices if n.slot == RETRY_SLOT]
    assert code == 1
    assert [n.text.split("Attempt ")[1].split(" failed")[0] for n in retries] == [
        "1 of 5",
        "2 of 5",
        "3 of 5",
        "4 of 5",
    ]
    assert all(n.text.startswith(UNREACHABLE) for n in retries)


def test_run_prints_the_final_error_once(
    quick_retries: None, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = closed_port_url() + "/v1"
    code = main(["run", "hi", "-w", str(workspace), "--base-url", url, "--model", "m"])
    err = capsys.readouterr().err
    assert code == 1
    final = f"Cannot reach the model server at {url}; is it running?"
    assert err.count(final) == 5, err  # four retry lines and the error itself
    assert err.count(f"error: {final}\n") == 1
    assert [line for line in err.splitlines() if line.strip() == final] == []
