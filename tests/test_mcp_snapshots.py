"""SVG snapshots of MCP in the app, with the test server (tests/mcp_test_server.py) started
for real: `/mcp` listing a server whose one tool is withheld (its description addresses the
model), and a call to one of its tools waiting in the approval pane, its arguments as
pretty-printed JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply
from mcp_support import make_repo, server_toml, user_config
from multi_hunk_session import make_app
from pilot_support import wait_for
from textual.pilot import Pilot

from nanotui.providers.base import provider_layers
from nanotui.tui.app import NanotuiApp
from nanotui.tui.widgets import timeline
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.prompt_input import PromptInput

ARGUMENTS = {"query": "walrus", "options": {"limit": 3, "languages": ["en", "fr"]}}


def make_mcp_app(tmp_path: Path, fake_server: FakeModelServer, *, poisoned: bool) -> NanotuiApp:
    home = tmp_path / "home"
    home.mkdir()
    # Listings are counted outside the workspace: no "changed outside nanotui" in the picture.
    env = {"LISTINGS_FILE": str(tmp_path / "listings.count")}
    user_config(home, server_toml(env={**env, "POISONED": "1"} if poisoned else env))
    app = make_app(fake_server, make_repo(tmp_path), sandbox="plain")
    # The server's port changes from run to run; the picture must not.
    provider_layers(app.session.local_agent.provider)[-1].label = "m @ model-server"  # type: ignore[misc]
    return app


async def prompt(pilot: Pilot, text: str) -> None:
    field = pilot.app.screen.query_one(PromptInput)
    await wait_for(pilot, lambda: field.has_focus, "the prompt")
    await pilot.press(*text, "enter")


async def listing(pilot: Pilot) -> None:
    await prompt(pilot, "hello")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: not screen.busy, "the turn", timeout=30)  # type: ignore[attr-defined]
    await prompt(pilot, "/mcp")
    await pilot.pause()


async def approval(pilot: Pilot) -> None:
    await prompt(pilot, "look it up")
    panel = pilot.app.screen.query_one(ApprovalPanel)
    await wait_for(pilot, lambda: panel.request is not None and panel.armed, "the approval", 30)
    await pilot.pause()


VIEWS: dict[str, tuple[Callable[[Pilot], Awaitable[None]], list]] = {
    "listing": (listing, [openai_reply("Hello.")]),
    "approval": (
        approval,
        [openai_reply(tool_calls=[("mcp__t__lookup", ARGUMENTS)]), openai_reply("Done.")],
    ),
}


@pytest.mark.parametrize("view", list(VIEWS))
def test_snapshot(
    snap_compare, fake_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, view: str
) -> None:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path))  # the workspace shows as ~/repo everywhere
    monkeypatch.setattr(timeline, "now", lambda: datetime(2026, 11, 28, 9, 30, 0))
    monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 0.05)
    run_before, replies = VIEWS[view]
    fake_server.enqueue(*replies)
    app = make_mcp_app(tmp_path, fake_server, poisoned=view == "listing")
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
