"""Timeline rows name checkpoints as the browser does, and a cost row shows one request."""

from __future__ import annotations

from pathlib import Path

from fake_model_server import FakeModelServer, openai_reply
from pilot_support import app_on_server, wait_for
from textual.pilot import Pilot

from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.checkpoints import CheckpointBrowserScreen
from nanotui.tui.screens.main import MainScreen
from nanotui.tui.screens.restore_confirm import RestoreConfirmScreen
from nanotui.tui.screens.timeline import TimelineScreen
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.timeline import Timeline
from nanotui.tui.widgets.timeline_pane import TimelinePane

SIZE = (120, 40)
SESSION = "20261205-060512-44be"
PRICES = {"m": {"input_per_mtok": 3.0, "output_per_mtok": 15.0}}


def make_app(server: FakeModelServer, workspace: Path) -> NanotuiApp:
    return app_on_server(server, workspace, SESSION, sandbox={"backend": "plain"}, prices=PRICES)


def finished_turns(app: NanotuiApp) -> int:
    return sum(" turn     turn " in row for row in side_rows(app))


async def turn(pilot: Pilot, text: str) -> None:
    """Send one prompt and wait until its turn has finished."""
    app = pilot.app
    assert isinstance(app, NanotuiApp) and isinstance(app.screen, MainScreen)
    before = finished_turns(app)
    prompt = app.screen.query_one(PromptInput)
    await wait_for(pilot, lambda: prompt.has_focus, "the prompt")
    await pilot.press(*text, "enter")
    await wait_for(pilot, lambda: finished_turns(app) > before, "the turn to end")


def side_rows(app: NanotuiApp) -> list[str]:
    timeline = app.screen.query_one(Timeline)
    return [strip.text.rstrip() for strip in timeline.lines]


async def full_timeline_rows(pilot: Pilot, types: set[str], count: int) -> list[str]:
    """The summaries of the full-screen timeline's rows of `types`, once `count` are in."""
    app = pilot.app
    await pilot.press("ctrl+t")
    await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), "the timeline")
    pane = app.screen.query_one(TimelinePane)

    def rows() -> list[str]:
        return [row.summary or "" for row in pane.model.rows if row.type in types]

    await wait_for(pilot, lambda: len(rows()) == count, f"{count} rows of {types}")
    return rows()


async def test_timeline_rows_name_checkpoints_by_their_short_ids(
    fake_server: FakeModelServer, workspace: Path, home: Path
) -> None:
    for _ in range(3):
        fake_server.enqueue(openai_reply("Done."))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        for n in range(3):
            (workspace / "a.py").write_text(f"x = {n + 2}\n")
            await turn(pilot, f"turn {n}")
        # Restore the first from the browser: its safety checkpoint, 44be/4, undoes it.
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: isinstance(app.screen, CheckpointBrowserScreen), "browser")
        browser = app.screen
        assert isinstance(browser, CheckpointBrowserScreen)
        await wait_for(pilot, lambda: len(browser.entries) == 3, "the three checkpoints")
        await pilot.press("down", "down", "r")
        await wait_for(pilot, lambda: isinstance(app.screen, RestoreConfirmScreen), "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(browser.entries) == 4, "the restore to finish")
        assert (workspace / "a.py").read_text() == "x = 2\n"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")

        checkpoint_rows = [row for row in side_rows(app) if " checkpoint " in row]
        assert [row.split(" ", 2)[2] for row in checkpoint_rows] == [
            "44be/1 turn",
            "44be/2 turn, 1 file changed",
            "44be/3 turn, 1 file changed",
            "44be/4 safety",
            "restored 44be/1 (44be/4 undoes it)",
        ]
        rows = await full_timeline_rows(pilot, {"checkpoint_created", "checkpoint_restored"}, 5)
        assert rows == [
            "created 44be/1 before: turn 0, 0 files",
            "created 44be/2 before: turn 1, 1 file",
            "created 44be/3 before: turn 2, 1 file",
            "created 44be/4 before restoring 44be/1, 0 files",
            "restored 44be/1: 1 file written, 0 removed; 44be/4 holds what was there before",
        ]


async def test_a_cost_row_shows_one_requests_figures_and_labels_the_session_total(
    fake_server: FakeModelServer, workspace: Path, home: Path
) -> None:
    fake_server.enqueue(openai_reply("One.", usage=dict(prompt=1000, completion=200)))
    fake_server.enqueue(openai_reply("Two.", usage=dict(prompt=300, completion=40)))
    app = make_app(fake_server, workspace)
    async with app.run_test(size=SIZE) as pilot:
        await turn(pilot, "one")
        await turn(pilot, "two")
        costs = [row.split(" ", 2)[2].strip() for row in side_rows(app) if " cost " in row]
        # The second request's own tokens (not the session's 1,300 in so far) beside its cost.
        assert costs == [
            "request $0.0060, 1,000 in, 200 out (session $0.0060)",
            "request $0.0015, 300 in, 40 out (session $0.0075)",
        ]
