"""SVG snapshots of the audit timeline's views, on a log with fixed times, at 120x40 and 80x24."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from pilot_support import wait_for
from textual.app import App
from textual.pilot import Pilot
from timeline_support import timeline_host, write_log

from nanotui.tui.replay_app import ReplayApp
from nanotui.tui.screens.event_detail import EventDetailScreen
from nanotui.tui.screens.replay import ReplayScreen
from nanotui.tui.widgets.integrity_badge import IntegrityBadge
from nanotui.tui.widgets.timeline_pane import TimelinePane

SIZES = [(120, 40), (80, 24)]


async def ready(pilot: Pilot) -> None:
    """Every row read and the badge's verdict in."""
    screen = pilot.app.screen
    await wait_for(pilot, lambda: bool(screen.query(TimelinePane)), "the timeline")
    pane = screen.query_one(TimelinePane)
    badge = screen.query_one(IntegrityBadge)
    await wait_for(pilot, lambda: len(pane.model.rows) == 24, "the rows")
    await wait_for(pilot, lambda: badge.verdict is not None, "the verdict")
    if isinstance(screen, ReplayScreen):
        await wait_for(pilot, lambda: screen.finished, "the replay to finish")
    await wait_for(pilot, lambda: not pane.filtering, "the filter")
    await pilot.pause()


async def timeline(pilot: Pilot) -> None:
    await ready(pilot)


async def filtered(pilot: Pilot) -> None:
    await ready(pilot)
    await pilot.press("1", "slash", *"run_command", "enter")
    await ready(pilot)


async def event(pilot: Pilot) -> None:
    await ready(pilot)
    await pilot.press("3", "enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, EventDetailScreen), "the event")
    await pilot.pause()


async def replay(pilot: Pilot) -> None:
    await ready(pilot)


def timeline_app(log: Path) -> App[None]:
    return timeline_host(log)


def replay_app(log: Path) -> App[int]:
    return ReplayApp(log, speed=0, session="s1")


VIEWS: dict[str, tuple[Callable[[Path], App[object]], Callable[[Pilot], Awaitable[None]]]] = {
    "timeline": (timeline_app, timeline),
    "timeline_filtered": (timeline_app, filtered),
    "event": (timeline_app, event),
    "replay": (replay_app, replay),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", list(VIEWS))
def test_timeline_snapshot(snap_compare, tmp_path: Path, view: str, size: tuple[int, int]) -> None:
    make_app, run_before = VIEWS[view]
    app = make_app(write_log(tmp_path / "s1.jsonl"))
    assert snap_compare(app, terminal_size=size, run_before=run_before)
