"""SVG snapshots of the main screen's views, on the offline demo, at 120x40 and 80x24."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from pilot_support import wait_for
from textual.pilot import Pilot

from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_agent
from nanotui.engine.facade import EngineSession
from nanotui.protocol.model_io import ChatRequest, StreamItem, Usage, UsagePiece
from nanotui.providers.demo import DemoProvider, copy_sample_project
from nanotui.security.sandbox.base import CommandResult
from nanotui.security.sandbox.runners import PlainRunner
from nanotui.tui.app import NanotuiApp
from nanotui.tui.widgets import timeline
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.prompt_input import PromptInput

SIZES = [(120, 40), (80, 24)]


class FixedUsageDemo(DemoProvider):
    """The demo with constant token counts: its estimate depends on the temporary path."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        async for item in super().stream(request):
            if isinstance(item, UsagePiece):
                item = UsagePiece(Usage(input_tokens=1200, output_tokens=80))
            yield item


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NanotuiApp:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    # The welcome line shows the workspace relative to home: "~/project" on every machine.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(timeline, "now", lambda: datetime(2026, 11, 28, 9, 30, 0))
    monkeypatch.setattr(ApprovalPanel, "ARM_DELAY_S", 0.05)
    workspace = copy_sample_project(tmp_path / "project")
    # The plain backend: the pictures must not depend on which sandboxes start on a machine.
    settings = load_settings(workspace, {"sandbox": {"backend": "plain"}}, environ={}).settings
    agent = build_agent(
        settings, workspace, provider=FixedUsageDemo(delay_s=0), session_id="demo-session"
    )
    return NanotuiApp(EngineSession(agent))


async def approval(pilot: Pilot, kind: str) -> None:
    """Answer y to every approval until one of `kind` waits."""
    panel = pilot.app.screen.query_one(ApprovalPanel)
    while True:
        await wait_for(pilot, lambda: panel.request is not None and panel.armed, "an approval")
        if panel.request is not None and panel.request.kind == kind:
            return
        answered = panel.request
        await pilot.press("y")
        await wait_for(pilot, lambda a=answered: panel.request is not a, "the answer to land")


async def start(pilot: Pilot) -> None:
    prompt = pilot.app.screen.query_one(PromptInput)
    await wait_for(pilot, lambda: prompt.has_focus, "the prompt")
    await pilot.press(*"tidy up", "enter")


async def diff_unified(pilot: Pilot) -> None:
    await start(pilot)
    await approval(pilot, "write")
    await pilot.pause()


async def diff_split(pilot: Pilot) -> None:
    await diff_unified(pilot)
    await pilot.press("s")
    await pilot.pause()


async def command(pilot: Pilot) -> None:
    await start(pilot)
    await approval(pilot, "command")
    await pilot.pause()


async def mid_session(pilot: Pilot) -> None:
    await command(pilot)
    await pilot.press("y")  # the tests run and one fails; the fix then waits for approval
    await approval(pilot, "write")
    await pilot.pause()


def steady_unittest_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """unittest's summary says how long the tests took ("Ran 6 tests in 0.001s"), which
    changes from run to run: the picture shows it as 0.000s, and the rest as it came."""
    real_run = PlainRunner.run

    async def run(self: PlainRunner, command: str, **options: object) -> CommandResult:
        result = await real_run(self, command, **options)  # type: ignore[arg-type]
        steady = {
            stream: re.sub(r"^(Ran \d+ tests? in )\d+\.\d+s$", r"\g<1>0.000s", text, flags=re.M)
            for stream, text in (("stdout", result.stdout), ("stderr", result.stderr))
        }
        return result.model_copy(update=steady)

    monkeypatch.setattr(PlainRunner, "run", run)


VIEWS: dict[str, Callable[[Pilot], Awaitable[None]]] = {
    "diff_unified": diff_unified,
    "diff_split": diff_split,
    "command": command,
    "mid_session": mid_session,
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(VIEWS))
def test_snapshot(
    snap_compare,
    app: NanotuiApp,
    view: str,
    size: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if view == "mid_session":  # the one view that shows a real command's output
        steady_unittest_timing(monkeypatch)
    assert snap_compare(app, terminal_size=size, run_before=VIEWS[view])
