"""`/trust` on the main screen: it asks first, it is logged, and the demo's copy is refused.

Driven with Pilot through the real prompt; the agent is real, its model is never asked (no
turn runs), and NANOTUI_HOME is the test's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pilot_support import wait_for
from textual.pilot import Pilot

from nanotui import paths
from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_agent, build_session
from nanotui.engine.facade import EngineSession
from nanotui.governance.audit import read_events
from nanotui.protocol.basics import UserFacingError
from nanotui.protocol.events import Notice
from nanotui.providers.demo import DemoProvider, copy_sample_project
from nanotui.security.trust import DEMO_COPY_REFUSAL, TrustRefused, is_trusted, trust
from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.screens.trust import TrustConfirmScreen
from nanotui.tui.widgets.notice_line import NoticeLine
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.status_bar import StatusBar
from nanotui.tui.widgets.timeline import Timeline

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "main.py").write_text("print('hello')\n")
    return folder


def local_model_app(workspace: Path) -> NanotuiApp:
    """The app on a folder of the user's, with a local model that is never asked."""
    flags = {"provider": {"base_url": "http://127.0.0.1:9/v1", "model": "m"}}
    settings = load_settings(workspace, flags, environ={}).settings
    return NanotuiApp(build_session(settings, workspace, session_id="trust-session"))


def demo_app(workspace: Path) -> NanotuiApp:
    settings = load_settings(workspace, environ={}).settings
    agent = build_agent(
        settings, workspace, provider=DemoProvider(delay_s=0), session_id="trust-demo"
    )
    return NanotuiApp(EngineSession(agent))


async def type_trust(pilot: Pilot) -> None:
    prompt = pilot.app.screen.query_one(PromptInput)
    await wait_for(pilot, lambda: prompt.has_focus, "the prompt to take focus")
    await pilot.press(*"/trust", "enter")


async def confirmation(pilot: Pilot) -> TrustConfirmScreen:
    await wait_for(
        pilot,
        lambda: isinstance(pilot.app.screen, TrustConfirmScreen) and pilot.app.screen.is_mounted,
        "the confirmation",
    )
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, TrustConfirmScreen)
    return screen


def notices(app: NanotuiApp) -> list[str]:
    return [line.text for line in app.screen.query(NoticeLine)]


def timeline_text(app: NanotuiApp) -> str:
    return "\n".join(strip.text for strip in app.screen.query_one(Timeline).lines)


def logged_notices(app: NanotuiApp) -> list[str]:
    log = app.session.local_agent.log
    assert log is not None
    return [e.text for e in read_events(log.path) if isinstance(e, Notice)]


async def test_trust_asks_first_and_n_leaves_the_folder_untrusted(workspace: Path) -> None:
    app = local_model_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await type_trust(pilot)
        dialog = await confirmation(pilot)
        assert not is_trusted(workspace)  # nothing is written before the answer
        said = str(dialog.query_one("#trust-confirm-what").render())
        assert "apply in full" in said
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await wait_for(pilot, lambda: "stays untrusted" in notices(app)[-1], "the answer")
        assert not app.screen.query_one(StatusBar).trusted
        await pilot.press("ctrl+q")
    assert not is_trusted(workspace)
    assert not any("Trusted" in text for text in logged_notices(app))


async def test_an_enter_typed_through_does_not_trust_and_y_does_with_a_log_and_timeline_row(
    workspace: Path,
) -> None:
    app = local_model_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await type_trust(pilot)
        await confirmation(pilot)
        await pilot.press("enter")  # a second Enter, typed through or repeated
        await pilot.pause(0.1)
        assert isinstance(app.screen, TrustConfirmScreen) and not is_trusted(workspace)
        await pilot.press("y")
        await wait_for(pilot, lambda: is_trusted(workspace), "the folder to be trusted")
        await wait_for(pilot, lambda: "Trusted" in timeline_text(app), "the timeline row")
        assert app.screen.query_one(StatusBar).trusted
        assert notices(app)[-1].startswith(f"Trusted {workspace}:")
        await pilot.press("ctrl+q")
    assert any(text.startswith(f"Trusted {workspace}:") for text in logged_notices(app))


async def test_escape_cancels_the_trust_question(workspace: Path) -> None:
    app = local_model_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await type_trust(pilot)
        await confirmation(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await pilot.press("ctrl+q")
    assert not is_trusted(workspace)


async def test_trust_refuses_the_demo_copy_in_one_sentence(workspace: Path) -> None:
    copy = copy_sample_project(paths.demo_projects_dir() / "20260101-000000-abcd")
    app = demo_app(copy)
    async with app.run_test(size=SIZE) as pilot:
        await type_trust(pilot)
        await wait_for(pilot, lambda: notices(app)[-1] == DEMO_COPY_REFUSAL, "the refusal")
        assert isinstance(app.screen, MainScreen)  # no question: there is nothing to choose
        assert not app.screen.query_one(StatusBar).trusted
        await pilot.press("ctrl+q")
    assert not is_trusted(copy)
    assert not paths.trusted_file().exists()


def test_a_demo_copy_cannot_be_trusted_by_any_path(workspace: Path) -> None:
    copy = copy_sample_project(paths.demo_projects_dir() / "20260101-000000-abcd")
    with pytest.raises(TrustRefused) as refused:
        trust(copy)
    assert isinstance(refused.value, UserFacingError)
    assert str(refused.value) == DEMO_COPY_REFUSAL
    assert not is_trusted(copy)
    trust(workspace)  # the user's own folders still can be
    assert is_trusted(workspace)
