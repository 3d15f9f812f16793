"""SVG snapshots of the approval pane on a real multi-file, multi-hunk reply, at 120x40 and
80x24: two changes pending, a long line wrapped with its one-character fix marked, side by
side, and maximised with the model's reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply
from multi_hunk_session import ask_for_both, make_app, make_workspace, two_file_reply
from textual.pilot import Pilot

from nanotui.providers.base import provider_layers
from nanotui.tui.app import NanotuiApp
from nanotui.tui.widgets.approval_panel import ApprovalPanel

SIZES = [(120, 40), (80, 24)]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_server: FakeModelServer):
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path))  # the workspace shows as ~/ws everywhere
    monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 0.05)
    fake_server.enqueue(two_file_reply(), openai_reply("Done."))
    # The plain backend: the pictures must not depend on which sandboxes start on a machine.
    app = make_app(fake_server, make_workspace(tmp_path / "ws"), sandbox="plain")
    # The server's port changes from run to run; the picture must not.
    provider_layers(app.session.local_agent.provider)[-1].label = "m @ model-server"  # type: ignore[misc]
    return app


async def long_line(pilot: Pilot) -> None:
    await ask_for_both(pilot)
    await pilot.press("tab", "j")
    await pilot.pause()


async def long_line_split(pilot: Pilot) -> None:
    await long_line(pilot)
    await pilot.press("s")
    await pilot.pause()


async def maximised(pilot: Pilot) -> None:
    await ask_for_both(pilot)
    await pilot.press("j", "space", "m")
    await pilot.pause()


VIEWS: dict[str, Callable[[Pilot], Awaitable[None]]] = {
    "two_pending": ask_for_both,
    "long_line": long_line,
    "long_line_split": long_line_split,
    "maximised": maximised,
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(VIEWS))
def test_snapshot(snap_compare, app: NanotuiApp, view: str, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=VIEWS[view])
