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


def test_a_running_turn_defers_the_older_generations_until_the_limit() -> None:
    assert collector.generation_to_collect((701, 10, 10), THRESHOLDS, young_only=True) == 0
    assert collector.generation_to_collect((701, 10, 10), THRESHOLDS, young_only=False) == 2
    limit = (701, collector.YOUNG_ONLY_LIMIT, 0)
    assert collector.generation_to_collect(limit, THRESHOLDS, young_only=True) == 1
    assert collector.generation_to_collect((700, 50, 10), THRESHOLDS, young_only=True) is None


def test_young_only_lasts_from_a_turns_start_until_its_garbage_is_settled() -> None:
    collector.turn_started()
    assert collector.is_young_only()
    collector.settle()
    assert not collector.is_young_only()


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
