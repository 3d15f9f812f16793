"""Drive the real app (offline demo, a temporary copy of the sample project) and save images.

    pip install '.[screenshots]'          # cairosvg, for the PNG copies
    python screenshots/make_screenshots.py [OUT_FOLDER]   # default: this folder

Every view is saved as SVG (Textual's own screenshot) and as PNG (the SVG drawn by cairosvg).
Two sessions are driven: the free offline demo for the approvals, the timeline and the
checkpoint browser, and the same demo priced as if it were a paid model for the cost meter
near its budget (the demo itself is free, so its meter never moves towards a budget).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_agent
from nanotui.engine.facade import EngineSession
from nanotui.providers.demo import DemoProvider, copy_sample_project
from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.checkpoints import CheckpointBrowserScreen
from nanotui.tui.screens.restore_confirm import RestoreConfirmScreen
from nanotui.tui.screens.timeline import TimelineScreen
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.cost_meter import CostMeter
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.timeline_pane import TimelinePane

HERE = Path(__file__).resolve().parent
SIZE = (120, 40)
PROMPT = "make restock safer and fix what the tests find"
SESSION = "20261129-093000-demo"

# Fira Code, which Textual's SVG asks for, is fetched from the web by browsers; cairosvg has
# no web and would fall back to a proportional font, so the PNG names a local monospace one.
SVG_FONT = "font-family: Fira Code, monospace;"
PNG_FONT = 'font-family: "DejaVu Sans Mono", "Liberation Mono", monospace;'

# Rates for the priced run: what a mid-range paid model charges per million tokens.
PRICES = {"input_per_mtok": 3.0, "output_per_mtok": 15.0, "cached_input_per_mtok": 0.3}
# The whole demo session then costs about $0.068. Before each request its worst case (the
# prompt and max_output_tokens of reply) must fit the budget: a short cap on the reply (the
# demo's are short) lets the session run to its end past the 75% warning without being refused.
PRICED_FLAGS = {
    "provider": {"max_output_tokens": 512},
    "budget": {"session_usd": 0.08, "warn_at_percent": 75},
    "prices": {"demo-priced": PRICES},
}

VIEWS = (
    "diff-approval",
    "diff-approval-split",
    "command-approval",
    "main-mid-session",
    "session-done",
    "help",
    "timeline-filtered",
    "checkpoint-browser",
    "restore-confirmation",
    "cost-meter-near-budget",
)


class PricedDemo(DemoProvider):
    """The demo's script, presented as a paid model so that the cost meter has money to count."""

    model = "demo-priced"
    label = "offline demo, priced as a paid model"
    is_demo = False


async def wait_for(pilot: Pilot, condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the app did not show {what} within 30 s")
        await pilot.pause(0.05)


class Session:
    """One app on one fresh copy of the sample project, and the images taken of it."""

    def __init__(self, app: NanotuiApp, pilot: Pilot, out: Path) -> None:
        self.app = app
        self.pilot = pilot
        self.out = out
        self.panel = app.screen.query_one(ApprovalPanel)
        self.saved: list[Path] = []

    async def shoot(self, name: str) -> None:
        await self.pilot.pause(0.3)
        self.saved.append(Path(self.app.save_screenshot(f"{name}.svg", str(self.out))))

    async def send_prompt(self) -> None:
        prompt = self.app.screen.query_one(PromptInput)
        await wait_for(self.pilot, lambda: prompt.has_focus, "the prompt")
        await self.pilot.press(*PROMPT, "enter")

    async def next_approval(self) -> str | None:
        """Wait for the next request for approval and return its kind; None once the turn ends."""
        panel, agent = self.panel, self.app.session.local_agent
        await wait_for(
            self.pilot,
            lambda: (panel.request is not None and panel.armed) or not agent.busy,
            "a request for approval or the end of the turn",
        )
        return panel.request.kind if panel.request is not None and agent.busy else None

    async def approve(self) -> None:
        answered = self.panel.request
        await self.pilot.press("y")
        await wait_for(
            self.pilot,
            lambda: self.panel.request is not answered or not self.app.session.busy,
            "the approval to be taken",
        )

    async def approve_until(self, kind: str) -> None:
        while (found := await self.next_approval()) != kind:
            if found is None:
                raise RuntimeError(f"the demo ended before asking to approve a {kind}")
            await self.approve()

    async def approve_to_the_end(self) -> None:
        while await self.next_approval() is not None:
            await self.approve()

    async def open_screen(self, key: str, screen_type: type, what: str) -> None:
        await self.pilot.press(key)
        await wait_for(self.pilot, lambda: isinstance(self.app.screen, screen_type), what)


async def free_demo(session: Session) -> None:
    """Approvals, the main screen, help, the timeline and the checkpoint browser."""
    pilot = session.pilot
    await session.send_prompt()
    await session.approve_until("write")
    await session.shoot("diff-approval")
    await pilot.press("s")
    await session.shoot("diff-approval-split")
    await pilot.press("s")
    await session.approve()
    await session.approve_until("command")
    await session.shoot("command-approval")
    await session.approve()
    # The tests fail and the demo proposes a fix: the middle of a session.
    await session.approve_until("write")
    await session.shoot("main-mid-session")
    await session.approve_to_the_end()
    await session.shoot("session-done")

    await pilot.press("f1")
    await session.shoot("help")
    await pilot.press("escape")

    await session.open_screen("ctrl+t", TimelineScreen, "the timeline")
    pane = session.app.screen.query_one(TimelinePane)
    await wait_for(pilot, lambda: bool(pane.model.rows), "the timeline's rows")
    await pilot.press("1", "slash", *"unittest", "enter")  # tools, then the test runs
    await wait_for(pilot, lambda: not pane.filtering, "the filtered rows")
    await session.shoot("timeline-filtered")
    await pilot.press("escape")
    await wait_for(pilot, lambda: not isinstance(session.app.screen, TimelineScreen), "the chat")

    await session.open_screen("ctrl+b", CheckpointBrowserScreen, "the checkpoint browser")
    browser = session.app.screen
    assert isinstance(browser, CheckpointBrowserScreen)
    await wait_for(pilot, lambda: bool(browser.entries), "the checkpoints")
    oldest = browser.entries[-1].checkpoint  # the work tree before the turn
    await pilot.press(*["down"] * (len(browser.entries) - 1))
    await wait_for(
        pilot,
        lambda: browser.comparison is not None and browser.comparison.old.id == oldest.id,
        "the diff against the first checkpoint",
    )
    await session.shoot("checkpoint-browser")
    await session.open_screen("r", RestoreConfirmScreen, "the restore confirmation")
    await session.shoot("restore-confirmation")
    await pilot.press("n")  # cancelled: nothing changes


async def priced_demo(session: Session) -> None:
    """The same session priced: the cost meter ends past its warning mark."""
    await session.send_prompt()
    await session.approve_to_the_end()
    meter = session.app.screen.query_one(CostMeter)
    await wait_for(session.pilot, lambda: meter.has_class("-warning"), "the budget warning")
    await session.shoot("cost-meter-near-budget")


async def drive(
    folder: Path,
    out: Path,
    provider: DemoProvider,
    flags: dict[str, object],
    steps: Callable[[Session], Awaitable[None]],
) -> list[Path]:
    workspace = copy_sample_project(folder / "project")
    settings = load_settings(workspace, flags, environ={})
    agent = build_agent(settings.settings, workspace, provider=provider, session_id=SESSION)
    app = NanotuiApp(EngineSession(agent))
    async with app.run_test(size=SIZE) as pilot:
        session = Session(app, pilot, out)
        await steps(session)
    return session.saved


async def shoot_all(folder: Path, out: Path) -> list[Path]:
    # The app shows the workspace as ~/project and keeps its state in the temporary folder.
    saved: list[Path] = []
    # Priced first: the request rate it shows is counted per process.
    for name, provider, flags, steps in (
        ("priced", PricedDemo(delay_s=0), PRICED_FLAGS, priced_demo),
        ("free", DemoProvider(delay_s=0), {}, free_demo),
    ):
        home = folder / name
        home.mkdir()
        os.environ["HOME"] = str(home)
        os.environ["NANOTUI_HOME"] = str(home / ".nanotui-state")
        saved += await drive(home, out, provider, flags, steps)
    return saved


def write_png(svg: Path) -> Path:
    import cairosvg  # only this step needs it (and the cairo library under it)

    png = svg.with_suffix(".png")
    text = svg.read_text(encoding="utf-8").replace(SVG_FONT, PNG_FONT)
    cairosvg.svg2png(bytestring=text.encode("utf-8"), write_to=str(png))
    return png


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]).resolve() if args else HERE
    out.mkdir(parents=True, exist_ok=True)
    try:
        import cairosvg  # noqa: F401
    except (ImportError, OSError) as error:
        print(
            f"Cannot write PNG images ({error}); install them with pip install '.[screenshots]'.",
            file=sys.stderr,
        )
        return 1
    saved_environ = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory() as folder:
            svgs = asyncio.run(shoot_all(Path(folder), out))
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
    for svg in svgs:
        png = write_png(svg)
        print(f"{svg.name}  {png.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
