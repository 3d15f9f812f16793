"""The app's garbage-collection schedule: CPython's rules, run between frames."""

from __future__ import annotations

import gc

from nanotui.tui import collector

THRESHOLDS = (700, 10, 10)


def test_nothing_is_due_below_the_young_threshold() -> None:
    assert collector.due_generation((700, 9, 9), THRESHOLDS) is None


def test_the_oldest_generation_whose_count_ran_out_is_collected() -> None:
    assert collector.due_generation((701, 0, 0), THRESHOLDS) == 0
    assert collector.due_generation((701, 10, 0), THRESHOLDS) == 1
    assert collector.due_generation((701, 10, 10), THRESHOLDS) == 2
    # A full collection waits for its own count even when the middle one is due.
    assert collector.due_generation((701, 10, 9), THRESHOLDS) == 1


class Cycle:
    def __init__(self) -> None:
        self.me = self


async def test_the_schedule_collects_cycles_and_gives_collection_back() -> None:
    from textual.app import App

    app: App[None] = App()
    async with app.run_test() as pilot:
        collector.start(app.screen)
        try:
            assert collector.is_active() and not gc.isenabled() and gc.get_freeze_count() > 0
            cycles = [Cycle() for _ in range(2000)]  # past the young threshold
            tracked = len(gc.get_objects(generation=0))
            del cycles
            await pilot.pause(collector.CHECK_EVERY_S * 4)
            assert len(gc.get_objects(generation=0)) < tracked  # the timer collected them
        finally:
            collector.stop()
    assert gc.isenabled() and gc.get_freeze_count() == 0 and not collector.is_active()
