"""How `nanotui` starts: a first frame before the settings are read, then the main screen.

`LaunchApp` is driven with Pilot exactly as `run_app` builds it (no settings passed in), in a
home folder of the test's own.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from first_run_support import isolate_home, make_workspace
from pilot_support import main_screen, wait_for
from textual.widgets import Static

from nanotui import paths
from nanotui.protocol.basics import ConfigError
from nanotui.tui import collector
from nanotui.tui.launch import LaunchApp, StartingScreen
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets.notice_line import NoticeLine
from nanotui.tui.widgets.prompt_input import PromptInput

DEMO = {"provider": {"kind": "demo"}}


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_home(tmp_path, monkeypatch)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path)


async def test_the_first_screen_needs_no_settings_and_the_main_screen_follows(
    workspace: Path,
) -> None:
    app = LaunchApp(workspace, flags=DEMO, workspace_explicit=False)
    async with app.run_test(size=(100, 30)) as pilot:
        # Nothing is read before the first frame: the starting screen is up first.
        assert isinstance(app.screen, StartingScreen) and app.loaded is None
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert app.session.is_demo
        # The demo never works in the user's folder: it says where its copy is.
        assert app.workspace != workspace and app.session.workspace == app.workspace
        await wait_for(pilot, lambda: len(app.screen.query(NoticeLine)) >= 3, "the welcome")
        # The main screen collects garbage between frames while it is up (collector.py).
        await wait_for(pilot, collector.is_active, "the collection schedule")
        notices = " ".join(line.text for line in app.screen.query(NoticeLine))
        assert "fresh copy of the sample project" in notices
        assert "which is not the sample project" not in notices  # no folder was named
        await pilot.press("ctrl+q")
    assert app.startup_error is None and app.return_value == 0


async def test_keys_typed_while_the_app_starts_reach_the_prompt(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = LaunchApp._build_session
    typed = threading.Event()

    def slow_build(self: LaunchApp, provider: object = None) -> object:
        typed.wait(10)  # a slow start: the keys come while the starting screen is up
        return build(self, provider)

    monkeypatch.setattr(LaunchApp, "_build_session", slow_build)
    app = LaunchApp(workspace, flags=DEMO, workspace_explicit=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"fix the bugs", "backspace")
        assert isinstance(app.screen, StartingScreen), "typed too late to prove anything"
        # The starting screen's prompt line shows the keys at once.
        line = app.screen.query_one("#backdrop-prompt", Static)
        assert str(line.render()) == "> fix the bug▏"
        typed.set()
        await main_screen(pilot)
        prompt = app.screen.query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.text == "fix the bug", "the typed keys")
        await pilot.press("!")  # and typing goes on from there
        assert prompt.text == "fix the bug!"
        await pilot.press("ctrl+q")


async def test_a_broken_config_stops_the_start_with_one_sentence(workspace: Path) -> None:
    paths.user_config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.user_config_file().write_text("[approval]\nmode = 'yolo'\n")
    app = LaunchApp(workspace, flags=DEMO)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.return_code is not None, "the app to stop")
    assert isinstance(app.startup_error, ConfigError)
    assert "approval.mode" in str(app.startup_error) and app.return_value == 1


async def test_a_missing_key_stops_the_start_before_the_trust_question(workspace: Path) -> None:
    from nanotui.providers.factory import ProviderSetupError
    from nanotui.security.trust import was_asked
    from nanotui.tui.screens.trust import TrustScreen

    # A folder never seen before would be asked about; the key is missing all the same.
    app = LaunchApp(workspace, flags={"provider": {"kind": "anthropic", "model": "claude"}})
    screens: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:

        def stopped() -> bool:
            screens.append(type(app.screen).__name__)
            return app.return_code is not None

        await wait_for(pilot, stopped, "the app to stop")
    assert TrustScreen.__name__ not in screens and not was_asked(workspace)
    assert isinstance(app.startup_error, ProviderSetupError)
    assert "ANTHROPIC_API_KEY" in str(app.startup_error) and app.return_value == 1


async def test_the_client_checked_before_the_questions_is_the_agents(workspace: Path) -> None:
    from first_run_support import configure_user_provider

    from nanotui.tui.screens.trust import TrustScreen

    configure_user_provider()
    app = LaunchApp(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, TrustScreen), "the trust question")
        checked = app._checked
        assert checked is not None
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert app.session.local_agent.provider is checked[1]
        await pilot.press("ctrl+q")
