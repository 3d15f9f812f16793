"""The first run on screen: the setup screen and the folder-trust question, driven with Pilot.

Each test has its own NANOTUI_HOME (and HOME, so that paths show as ~/...). Detection is
real where a test needs a server (a loopback one on an ephemeral port); the snapshots inject
its result instead, since the port differs per run.
"""

from __future__ import annotations

import tomllib
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fake_model_server import FakeModelServer
from first_run_support import (
    MODELS,
    OLLAMA_TAGS,
    RESTRICTED_PROJECT,
    LoopbackServer,
    closed_port_url,
    configure_user_provider,
    isolate_home,
    make_workspace,
)
from pilot_support import main_screen, wait_for
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from nanotui import paths
from nanotui.config_loading import load_settings
from nanotui.security.trust import is_trusted, was_asked
from nanotui.tui.first_run_detect import DetectedServer, detect_local_servers_async
from nanotui.tui.launch import LaunchApp
from nanotui.tui.screens.first_run import SetupScreen
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.screens.trust import TrustScreen
from nanotui.tui.widgets.notice_line import NoticeLine


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_home(tmp_path, monkeypatch)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path)


# ---- the setup screen --------------------------------------------------------------------


async def wait_for_trust_question(pilot: Pilot) -> None:
    # Mounted, not only pushed: its buttons exist once it has been composed.
    app = pilot.app
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, TrustScreen) and app.screen.is_mounted,
        "the trust question",
    )
    await pilot.pause()


def setup_app(workspace: Path, **kwargs: Any) -> LaunchApp:
    kwargs.setdefault("trusted", False)
    return LaunchApp(workspace, loaded=load_settings(workspace, environ={}), **kwargs)


async def wait_for_setup(pilot: Pilot) -> SetupScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SetupScreen), "the setup screen")
    screen = pilot.app.screen
    assert isinstance(screen, SetupScreen)
    await wait_for(pilot, lambda: not screen.searching, "detection to finish")
    return screen


def option_texts(screen: SetupScreen) -> list[str]:
    return [str(option.prompt) for option in screen.query_one(OptionList).options]


async def test_choosing_a_detected_server_saves_it_and_opens_the_main_screen(
    workspace: Path,
) -> None:
    with LoopbackServer({"/api/tags": (200, OLLAMA_TAGS, 0)}) as ollama:
        detect = partial(
            detect_local_servers_async, ollama_url=ollama.url, lm_studio_url=closed_port_url()
        )
        app = setup_app(workspace, detect=detect, environ={})
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await wait_for_setup(pilot)
            assert "Found Ollama (2 models)." in str(
                screen.query_one("#setup-status", Static).content
            )
            texts = option_texts(screen)
            assert any("Ollama" in t and "llama3.2:3b" in t for t in texts)
            await pilot.press("down", "enter")  # the second model
            await wait_for_trust_question(pilot)  # a folder nanotui has not worked in before
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
            assert app.session.local_agent is not None
            assert app.session.local_agent.provider.model == "llama3.2:3b"
            await pilot.press("ctrl+q")
    assert app.return_code == 0
    saved = tomllib.loads(paths.user_config_file().read_text())["provider"]
    assert saved == {
        "kind": "openai-compatible",
        "base_url": f"{ollama.url}/v1",
        "model": "llama3.2:3b",
    }


async def no_servers() -> list[DetectedServer]:
    return []


async def test_choosing_the_demo_writes_nothing_and_opens_the_demo(workspace: Path) -> None:
    app = setup_app(workspace, detect=no_servers, environ={})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_for_setup(pilot)
        assert "No local model server answered" in str(
            screen.query_one("#setup-status", Static).content
        )
        options = screen.query_one(OptionList)
        options.highlighted = options.get_option_index("demo")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert app.session.is_demo
        assert app.session.workspace != workspace.resolve()  # a copy of the sample project
        await pilot.press("ctrl+q")
    assert not paths.user_config_file().exists()


async def test_the_demo_greeting_names_its_folder_once(workspace: Path) -> None:
    app = LaunchApp(workspace, flags={"provider": {"kind": "demo"}}, workspace_explicit=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await main_screen(pilot)
        await wait_for(pilot, lambda: len(app.screen.query(NoticeLine)) >= 3, "the welcome")
        said = "\n".join(line.text for line in app.screen.query(NoticeLine))
        assert said.count(app.workspace.name) == 1, said
        assert "fresh copy of the sample project" in said  # and it still says it is a copy
        await pilot.press("ctrl+q")


async def test_escape_quits_the_setup_cleanly(workspace: Path) -> None:
    app = setup_app(workspace, detect=no_servers, environ={})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_setup(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app._exit, "the app to exit")
    assert app.return_code == 0 and app.startup_error is None
    assert not paths.user_config_file().exists()


async def test_a_failing_detector_is_one_sentence_not_a_traceback(workspace: Path) -> None:
    async def broken() -> list[DetectedServer]:
        raise RuntimeError("boom")

    app = setup_app(workspace, detect=broken, environ={})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_for_setup(pilot)
        status = str(screen.query_one("#setup-status", Static).content)
        assert status == "Could not look for local models (boom)."
        assert "Offline demo" in " ".join(option_texts(screen))


async def open_the_url_form(pilot: Pilot, screen: SetupScreen) -> Input:
    options = screen.query_one(OptionList)
    options.highlighted = options.get_option_index("custom")
    await pilot.press("enter")
    url = screen.query_one("#setup-url", Input)
    await wait_for(pilot, lambda: url.has_focus, "the URL input")
    return url


def listing_of(screen: SetupScreen) -> str:
    return str(screen.query_one("#setup-listing", Static).content)


async def test_another_url_is_checked_then_saved(workspace: Path) -> None:
    app = setup_app(workspace, detect=no_servers, environ={})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_for_setup(pilot)
        url = await open_the_url_form(pilot, screen)
        url.value = "localhost:8080"  # no scheme
        await pilot.press("enter")
        error = screen.query_one("#setup-error", Static)
        await wait_for(pilot, lambda: error.display, "the error")
        assert str(error.content).startswith("Enter a URL starting with http://")
        assert url.has_focus
        # Nothing listens there: the form says so and the model's name is typed instead.
        nowhere = closed_port_url() + "/v1"
        url.value = nowhere + "/"
        await pilot.press("enter")
        model = screen.query_one("#setup-model", Input)
        await wait_for(pilot, lambda: model.has_focus, "the model input")
        assert listing_of(screen).startswith("Could not reach 127.0.0.1:")
        assert not screen.query_one("#setup-models", OptionList).display
        model.value = "my-model"
        await pilot.press("enter")
        await wait_for_trust_question(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await pilot.press("ctrl+q")
    saved = tomllib.loads(paths.user_config_file().read_text())["provider"]
    assert saved["base_url"] == nowhere and saved["model"] == "my-model"


async def test_the_url_form_takes_the_lists_place_and_escape_brings_it_back(
    workspace: Path,
) -> None:
    app = setup_app(workspace, detect=no_servers, environ={})
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await wait_for_setup(pilot)
        options = screen.query_one("#setup-options", OptionList)
        await open_the_url_form(pilot, screen)
        assert not options.display and not screen.query_one("#setup-cloud").display
        await pilot.press("escape")
        await wait_for(pilot, lambda: options.has_focus, "the list")
        assert options.display and screen.query_one("#setup-cloud").display
        assert not screen.query_one("#setup-custom").display


async def test_an_entered_url_offers_the_models_its_server_lists(workspace: Path) -> None:
    with FakeModelServer() as server:
        server.models = ["coder-7b", "coder-32b"]
        base_url = server.openai_base_url
        app = setup_app(workspace, detect=no_servers, environ={})
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await wait_for_setup(pilot)
            url = await open_the_url_form(pilot, screen)
            url.value = base_url
            await pilot.press("enter")
            models = screen.query_one("#setup-models", OptionList)
            await wait_for(pilot, lambda: models.has_focus, "the list of served models")
            assert [str(o.prompt) for o in models.options] == ["coder-7b", "coder-32b"]
            assert listing_of(screen).startswith("127.0.0.1:")
            assert "serves 2 models" in listing_of(screen)
            await pilot.press("down", "enter")
            await wait_for_trust_question(pilot)
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
            assert app.session.local_agent.provider.model == "coder-32b"
            await pilot.press("ctrl+q")
    saved = tomllib.loads(paths.user_config_file().read_text())["provider"]
    assert saved == {
        "kind": "openai-compatible",
        "base_url": base_url,
        "model": "coder-32b",
    }


async def test_an_ollama_root_url_offers_the_models_of_its_tags(workspace: Path) -> None:
    # Only Ollama's own list answers (an Ollama behind a proxy that hides /v1/models).
    with LoopbackServer({"/api/tags": (200, OLLAMA_TAGS, 0)}) as ollama:
        app = setup_app(workspace, detect=no_servers, environ={})
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await wait_for_setup(pilot)
            url = await open_the_url_form(pilot, screen)
            url.value = ollama.url
            await pilot.press("enter")
            models = screen.query_one("#setup-models", OptionList)
            await wait_for(pilot, lambda: models.has_focus, "the list of served models")
            assert "serves 2 models" in listing_of(screen)
            await pilot.press("enter")  # the first one
            await wait_for_trust_question(pilot)
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
            await pilot.press("ctrl+q")
    saved = tomllib.loads(paths.user_config_file().read_text())["provider"]
    assert saved["base_url"] == f"{ollama.url}/v1" and saved["model"] == "qwen2.5-coder:14b"


async def test_with_no_key_variable_the_setup_says_how_to_connect_a_cloud_api(
    workspace: Path,
) -> None:
    app = setup_app(workspace, detect=no_servers, environ={})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_for_setup(pilot)
        help_text = str(screen.query_one("#setup-cloud", Static).content)
        for variable, base_url in [
            ("ANTHROPIC_API_KEY", "https://api.anthropic.com"),
            ("OPENAI_API_KEY", "https://api.openai.com/v1"),
            ("OPENROUTER_API_KEY", "https://openrouter.ai/api/v1"),
        ]:
            line = next(line for line in help_text.splitlines() if variable in line)
            assert base_url in line
    # With a key set, the key's service is offered instead.
    app = setup_app(workspace, detect=no_servers, environ={"OPENAI_API_KEY": "sk-test"})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_for_setup(pilot)
        assert not screen.query("#setup-cloud")
        assert any("OPENAI_API_KEY is set" in text for text in option_texts(screen))


async def test_a_cloud_choice_without_its_key_is_refused_in_one_sentence(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = setup_app(workspace, detect=no_servers, environ={})
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_for_setup(pilot)
        options = screen.query_one(OptionList)
        options.highlighted = options.get_option_index("custom")
        await pilot.press("enter")
        screen.query_one("#setup-url", Input).value = "https://api.openai.com/v1"
        screen.query_one("#setup-model", Input).value = "gpt-4.1"
        screen.query_one("#setup-model", Input).focus()
        await pilot.press("enter")
        error = screen.query_one("#setup-error", Static)
        await wait_for(pilot, lambda: error.display, "the error")
        assert str(error.content) == (
            "No API key found for https://api.openai.com/v1; set OPENAI_API_KEY."
        )
        assert isinstance(app.screen, SetupScreen)
    assert not paths.user_config_file().exists()


# ---- the trust question ------------------------------------------------------------------


@pytest.fixture
def restricted_workspace(workspace: Path) -> Path:
    configure_user_provider()
    (workspace / ".nanotui").mkdir()
    (workspace / ".nanotui" / "config.toml").write_text(RESTRICTED_PROJECT)
    return workspace


async def test_trusting_the_folder_records_it_and_applies_its_settings(
    restricted_workspace: Path,
) -> None:
    app = setup_app(restricted_workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_trust_question(pilot)
        notice = " ".join(str(s.content) for s in app.screen.query(".trust-notice"))
        assert "approval.mode" in notice and "policy.allow" in notice
        await pilot.click("#trust-yes")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert app.session.mode == "full-auto"
        assert app.trusted and not app.notices
        await pilot.press("ctrl+q")
    assert is_trusted(restricted_workspace)
    assert str(restricted_workspace.resolve()) in paths.trusted_file().read_text()


async def test_not_now_keeps_the_restricted_settings(restricted_workspace: Path) -> None:
    app = setup_app(restricted_workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_trust_question(pilot)
        await pilot.press("enter")  # the default focus is "Not now"
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert app.session.mode == "ask"
        assert not app.trusted and app.notices  # the main screen still says what was ignored
        await pilot.press("ctrl+q")
    assert not is_trusted(restricted_workspace) and was_asked(restricted_workspace)


async def test_a_new_folder_is_asked_about_once(workspace: Path) -> None:
    configure_user_provider()
    app = setup_app(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_trust_question(pilot)
        where = str(app.screen.query_one("#trust-where", Static).content)
        assert "has not worked in" in where and "can only tighten" in where
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await pilot.press("ctrl+q")
    # The next session in the same folder goes straight to work.
    again = setup_app(workspace)
    async with again.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(again.screen, MainScreen), "the main screen")
        assert not again.trusted
        await pilot.press("ctrl+q")


async def test_setup_comes_before_the_trust_question(workspace: Path) -> None:
    (workspace / ".nanotui").mkdir()
    (workspace / ".nanotui" / "config.toml").write_text(RESTRICTED_PROJECT)
    with LoopbackServer({"/v1/models": (200, MODELS, 0)}) as lm_studio:
        detect = partial(
            detect_local_servers_async, ollama_url=closed_port_url(), lm_studio_url=lm_studio.url
        )
        app = setup_app(workspace, detect=detect, environ={})
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for_setup(pilot)
            await pilot.press("enter")
            await wait_for_trust_question(pilot)
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
            assert app.session.local_agent.provider.model == "qwen2.5-7b-instruct"
            await pilot.press("ctrl+q")


# ---- snapshots ---------------------------------------------------------------------------


async def one_ollama() -> list[DetectedServer]:
    return [
        DetectedServer("Ollama", "http://localhost:11434/v1", ("qwen2.5-coder:14b", "llama3.2:3b"))
    ]


async def until_detected(pilot: Pilot) -> None:
    await wait_for_setup(pilot)
    await pilot.pause()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["wide", "narrow"])
def test_snapshot_setup(snap_compare, workspace: Path, size: tuple[int, int]) -> None:
    app = setup_app(workspace, detect=one_ollama, environ={"ANTHROPIC_API_KEY": "x"})
    assert snap_compare(app, terminal_size=size, run_before=until_detected)


def test_snapshot_trust_question(snap_compare, restricted_workspace: Path) -> None:
    async def until_asked(pilot: Pilot) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TrustScreen), "the question")
        await pilot.pause()

    app = setup_app(restricted_workspace)
    assert snap_compare(app, terminal_size=(80, 24), run_before=until_asked)
