"""MCP in the app, with the test server (tests/mcp_test_server.py) started for real: SVG
snapshots of `/mcp` listing a server whose one tool is withheld (its description addresses
the model) and of a call to one of its tools waiting in the approval pane, its arguments as
pretty-printed JSON; and `/mcp accept` showing that tool, then offering it to the model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply
from mcp_support import make_repo, offered, server_toml, user_config
from multi_hunk_session import make_app
from pilot_support import wait_for
from textual.pilot import Pilot

from nanotui.providers.base import provider_layers
from nanotui.tui.app import NanotuiApp
from nanotui.tui.widgets import timeline
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.notice_line import NoticeLine
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


async def test_mcp_accept_in_the_app_shows_the_definition_then_offers_the_tool(
    fake_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    fake_server.enqueue(openai_reply("Hello."), openai_reply("Again."))
    app = make_mcp_app(tmp_path, fake_server, poisoned=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await prompt(pilot, "hello")
        screen = app.screen
        await wait_for(pilot, lambda: not screen.busy, "the turn", timeout=30)  # type: ignore[attr-defined]
        assert "mcp__t__add" not in offered(fake_server.requests[0])
        await prompt(pilot, "/mcp accept t")

        def notices() -> str:
            return "\n".join(notice.text for notice in screen.query(NoticeLine))

        await wait_for(pilot, lambda: "Accepted 1" in notices(), "the acceptance")
        shown = notices()
        # The definition, its flag and its schema came first, then what was accepted.
        assert shown.index("Accepting these definitions of t:") < shown.index("Accepted 1")
        assert "⚠ reads like instructions to the model" in shown and '"a": {' in shown
        assert "Accepted 1 new or changed definition of t (mcp:t/add)" in shown
        await prompt(pilot, "again")
        await wait_for(pilot, lambda: len(fake_server.requests) == 2, "the next request")
        assert "mcp__t__add" in offered(fake_server.requests[1])
