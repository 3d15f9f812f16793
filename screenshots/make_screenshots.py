"""Drive the real app (offline demo, a temporary copy of the sample project) and save images.

python screenshots/make_screenshots.py            # writes screenshots/*.svg
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from nanotui.config import load_settings
from nanotui.engine.setup import build_agent
from nanotui.providers.demo import DemoProvider, copy_sample_project
from nanotui.tui.app import NanotuiApp
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.prompt_input import PromptInput

OUT = Path(__file__).resolve().parent
SIZE = (120, 36)


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        await pilot.pause(0.05)


async def shoot(folder: Path) -> list[Path]:
    workspace = copy_sample_project(folder / "project")
    os.environ["NANOTUI_HOME"] = str(folder / "home")
    os.environ["HOME"] = str(folder)  # the app shows the workspace as ~/project
    settings = load_settings(workspace, environ={}).settings
    agent = build_agent(
        settings, workspace, provider=DemoProvider(delay_s=0), session_id="20261128-093000-demo"
    )
    app = NanotuiApp(agent)
    saved: list[Path] = []
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.screen.query_one(PromptInput)
        panel = app.screen.query_one(ApprovalPanel)

        async def next_approval(kind: str) -> None:
            while True:
                await wait_for(pilot, lambda: panel.request is not None and panel.armed)
                if panel.request is not None and panel.request.kind == kind:
                    return
                answered = panel.request
                await pilot.press("y")
                await wait_for(pilot, lambda a=answered: panel.request is not a)

        def shoot_as(name: str) -> None:
            saved.append(Path(app.save_screenshot(f"{name}.svg", str(OUT))))

        await wait_for(pilot, lambda: prompt.has_focus)
        await pilot.press(*"make restock safer and fix what the tests find", "enter")
        await next_approval("write")
        await pilot.pause(0.2)
        shoot_as("diff-approval")
        await pilot.press("s")
        await pilot.pause(0.2)
        shoot_as("diff-approval-split")
        await pilot.press("s")
        await next_approval("command")
        await pilot.pause(0.2)
        shoot_as("command-approval")
        while True:
            await wait_for(
                pilot, lambda: (panel.request is not None and panel.armed) or not agent.busy
            )
            if not agent.busy:
                break
            answered = panel.request
            await pilot.press("y")
            await wait_for(pilot, lambda a=answered: panel.request is not a or not agent.busy)
        await pilot.pause(0.3)
        shoot_as("session-done")
        await pilot.press("f1")
        await pilot.pause(0.3)
        shoot_as("help")
    return saved


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        saved = asyncio.run(shoot(Path(folder)))
    for svg in saved:
        print(svg.relative_to(OUT.parent))


if __name__ == "__main__":
    main()
