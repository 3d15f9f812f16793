"""What Pilot tests share: waiting for the app with a deadline, the app on a loopback model
server, and typing a prompt."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_model_server import FakeModelServer
from textual.pilot import Pilot

from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_session
from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.status_bar import StatusBar


async def wait_for(
    pilot: Pilot, condition: Callable[[], bool], what: str, timeout: float = 10
) -> None:
    """Let the app run until `condition()` holds; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def app_on_server(
    server: FakeModelServer, workspace: Path, session_id: str, **sections: dict[str, Any]
) -> NanotuiApp:
    """The real app over `workspace`, its model the loopback server, with native tool calls.

    `sections` are config sections laid over that (`approval={"mode": "ask"}`); a section
    named `provider` is merged into the server's provider settings rather than replacing them.
    """
    provider = {"base_url": server.openai_base_url, "model": "m", "tool_calling": "native"}
    flags: dict[str, dict[str, Any]] = {**sections, "provider": provider}
    provider.update(sections.get("provider", {}))
    settings = load_settings(workspace, flags, environ={}).settings
    return NanotuiApp(build_session(settings, workspace, session_id=session_id))


async def send(pilot: Pilot, text: str) -> None:
    """Type `text` into the prompt once it has focus, and press Enter."""
    prompt = pilot.app.screen.query_one(PromptInput)
    await wait_for(pilot, lambda: prompt.has_focus, "the prompt to take focus")
    await pilot.press(*text, "enter")


def use_editor(folder: Path, monkeypatch: pytest.MonkeyPatch, shell_line: str) -> None:
    """Make $EDITOR a script in `folder` that runs `shell_line` on the file ("$1")."""
    editor = folder / "editor.sh"
    editor.write_text(f"#!/bin/sh\n{shell_line}\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)


async def main_screen(pilot: Pilot, timeout: float = 10) -> MainScreen:
    """The main screen once it is mounted and its status bar filled in."""

    def ready() -> bool:
        screen = pilot.app.screen
        bars = screen.query(StatusBar) if isinstance(screen, MainScreen) else []
        # Read the bar only once mounted: a reactive's first read runs its watcher,
        # which looks for labels that are not there before the bar is composed.
        return bool(bars) and bars[0].is_mounted and bars[0].session_id != ""

    await wait_for(pilot, ready, "the main screen", timeout)
    assert isinstance(pilot.app.screen, MainScreen)
    return pilot.app.screen
