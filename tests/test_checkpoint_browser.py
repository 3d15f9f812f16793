"""The checkpoint browser on real git repositories: listing, comparing, and restoring by keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pilot_support import wait_for
from test_checkpoints_helpers import make_repo
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from nanotui.config_loading import load_settings
from nanotui.engine.assembly import build_agent
from nanotui.engine.checkpoint_browsing import CheckpointBrowsing
from nanotui.engine.external_changes import ChangeAttribution
from nanotui.engine.facade import EngineSession
from nanotui.protocol.checkpoint_views import describe_plan
from nanotui.protocol.events import CheckpointCreated, CheckpointRestored
from nanotui.providers.demo import DemoProvider
from nanotui.tui.app import NanotuiApp
from nanotui.tui.screens.checkpoints import CheckpointBrowserScreen
from nanotui.tui.screens.restore_confirm import RestoreConfirmScreen
from nanotui.tui.widgets.diff_view import DiffView
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.timeline import Timeline
from nanotui.vcs.checkpoints import Checkpoints

SESSION = "20261129-090000-b0b0"
SIZE = (120, 40)


def checkpointed_repo(root: Path) -> Path:
    """A repository with the user's uncommitted edit, checkpointed, then changed by "the agent"."""
    repo = make_repo(root / "repo", {"a.py": "a = 1\n", "b.py": "b = 1\n"})
    (repo / "a.py").write_text("a = 1  # the user's edit\n")
    with Checkpoints(repo, SESSION) as checkpoints:
        checkpoints.snapshot("before: tidy up the project", turn=1)
    (repo / "a.py").write_text("a = 2\n")
    (repo / "new.py").write_text("n = 1\n")
    (repo / "b.py").unlink()
    return repo


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> Path:
    return checkpointed_repo(tmp_path)


def test_entries_comparison_and_restore_without_a_screen(repo: Path) -> None:
    browsing = CheckpointBrowsing(repo, SESSION, created_by_agent=["new.py"])
    [entry] = browsing.entries()
    assert entry.excerpt == "tidy up the project" and entry.checkpoint.turn == 1
    comparison = browsing.compare(entry.checkpoint)
    assert {(d.path, d.status) for d in comparison.files} == {
        ("a.py", "M"),
        ("b.py", "D"),
        ("new.py", "A"),
    }
    assert "+a = 2" in browsing.file_patch(comparison, "a.py")
    plan = browsing.preview(entry.checkpoint, None)
    assert describe_plan(plan) == [
        ("revert", "a.py"),
        ("bring back", "b.py"),
        ("delete (nanotui made it)", "new.py"),
    ]
    result, events = browsing.restore(entry.checkpoint, None)
    assert (repo / "a.py").read_text() == "a = 1  # the user's edit\n"
    assert (repo / "b.py").read_text() == "b = 1\n" and not (repo / "new.py").exists()
    safety, restored = events
    assert isinstance(safety, CheckpointCreated) and safety.kind == "safety"
    assert isinstance(restored, CheckpointRestored)
    assert restored.safety_checkpoint == result.safety_checkpoint.short_id  # type: ignore[union-attr]
    assert [e.checkpoint.kind for e in browsing.entries()] == ["safety", "turn"]  # newest first
    browsing.close()


def make_app(repo: Path) -> NanotuiApp:
    settings = load_settings(repo, {"sandbox": {"backend": "plain"}}, environ={}).settings
    agent = build_agent(settings, repo, provider=DemoProvider(delay_s=0), session_id=SESSION)
    return NanotuiApp(EngineSession(agent))


async def open_browser(pilot: Pilot) -> CheckpointBrowserScreen:
    prompt = pilot.app.screen.query_one(PromptInput)
    await wait_for(pilot, lambda: prompt.has_focus, "the prompt")
    await pilot.press(*"/checkpoints", "enter")
    await wait_for(
        pilot, lambda: isinstance(pilot.app.screen, CheckpointBrowserScreen), "the browser"
    )
    browser = pilot.app.screen
    assert isinstance(browser, CheckpointBrowserScreen)
    await wait_for(pilot, lambda: browser.comparison is not None, "the comparison")
    await pilot.pause()
    return browser


def file_rows(browser: CheckpointBrowserScreen) -> list[str]:
    table = browser.query_one("#checkpoint-files", DataTable)
    return [str(table.get_row_at(i)[3]) for i in range(table.row_count)]


async def confirm_screen(pilot: Pilot) -> RestoreConfirmScreen:
    await wait_for(
        pilot, lambda: isinstance(pilot.app.screen, RestoreConfirmScreen), "the confirmation"
    )
    screen = pilot.app.screen
    assert isinstance(screen, RestoreConfirmScreen)
    return screen


async def test_restoring_through_the_browser_changes_the_files_as_listed(repo: Path) -> None:
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        assert file_rows(browser) == ["a.py", "b.py", "new.py"]
        diff = browser.query_one(DiffView)
        await wait_for(pilot, lambda: diff.parsed.new_path == "a.py", "a.py's diff")

        await pilot.press("r")
        confirm = await confirm_screen(pilot)
        # Listed exactly: two written, and the new file (not made by nanotui) kept unless asked.
        assert describe_plan(confirm.plan) == [
            ("revert", "a.py"),
            ("bring back", "b.py"),
            ("keep (did not exist then)", "new.py"),
        ]
        await pilot.press("d", "y")
        # The restore writes file by file on a thread: wait for the last of them.
        await wait_for(
            pilot,
            lambda: not (repo / "new.py").exists() and (repo / "b.py").exists(),
            "the restore to reach the disk",
        )
        await wait_for(pilot, lambda: len(browser.entries) == 2, "the restore to finish")
        assert (repo / "a.py").read_text() == "a = 1  # the user's edit\n"
        assert (repo / "b.py").read_text() == "b = 1\n"

        # The safety checkpoint heads the list, and the side timeline shows the restore.
        await wait_for(pilot, lambda: len(browser.entries) == 2, "the list to reload")
        assert browser.entries[0].checkpoint.kind == "safety"
        await pilot.press("escape")
        await pilot.pause()
        timeline = app.screen.query_one(Timeline)
        assert timeline.rows >= 2
        log = app.session.local_agent.log
        assert log is not None
        types = [json.loads(line)["type"] for line in log.path.read_text().splitlines()]
        assert "checkpoint_restored" in types

    # Everything the restore replaced is in the safety checkpoint.
    with Checkpoints(repo) as checkpoints:
        safety = next(c for c in checkpoints.list() if c.kind == "safety")
        checkpoints.restore(safety, created_by_agent=[repo / "b.py"])
    assert (repo / "a.py").read_text() == "a = 2\n" and (repo / "new.py").exists()
    assert not (repo / "b.py").exists()


async def test_a_frame_drawn_before_the_list_is_measured_is_not_kept(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The table widens its columns to new rows only when next idle. A frame drawn before
    # that (the screen and the table run their messages separately) was kept, ids cut to the
    # header's width, until a key press: once in a while the snapshot tests caught it.
    show = CheckpointBrowserScreen._show_entries
    drawn_early: list[str] = []

    def show_then_draw(screen: CheckpointBrowserScreen, *args: Any) -> None:
        show(screen, *args)
        drawn_early.append(screen.query_one("#checkpoint-list", DataTable).render_line(1).text)

    monkeypatch.setattr(CheckpointBrowserScreen, "_show_entries", show_then_draw)
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        table = browser.query_one("#checkpoint-list", DataTable)
        short_id = browser.entries[0].checkpoint.short_id
        assert drawn_early and short_id not in drawn_early[0]  # drawn at the header's widths
        await wait_for(pilot, lambda: short_id in table.render_line(1).text, "the id drawn whole")


async def test_chosen_files_only_are_restored(repo: Path) -> None:
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        await pilot.press("tab", "down", "space")  # b.py, the deleted one
        assert browser.chosen == {"b.py"}
        await pilot.press("r")
        confirm = await confirm_screen(pilot)
        assert describe_plan(confirm.plan) == [("bring back", "b.py")]
        await pilot.press("y")
        await wait_for(pilot, lambda: (repo / "b.py").exists(), "b.py to come back")
        await wait_for(pilot, lambda: len(browser.entries) == 2, "the list to reload")
    assert (repo / "a.py").read_text() == "a = 2\n" and (repo / "new.py").exists()


async def test_cancelling_the_confirmation_changes_nothing(repo: Path) -> None:
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        await pilot.press("r")
        await confirm_screen(pilot)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is browser and len(browser.entries) == 1
    assert (repo / "a.py").read_text() == "a = 2\n" and not (repo / "b.py").exists()


async def test_two_checkpoints_compare_and_one_can_be_taken_by_hand(repo: Path) -> None:
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        await pilot.press("n")  # a checkpoint of now, on demand
        await wait_for(pilot, lambda: len(browser.entries) == 2, "the new checkpoint")
        assert browser.entries[0].checkpoint.kind == "manual"
        assert browser.entries[0].files == 3  # a.py, b.py and new.py changed since the first
        # Compare the new one with the first: the same three changes, now both are checkpoints.
        await pilot.press("c", "down")
        await wait_for(
            pilot,
            lambda: browser.comparison is not None and browser.comparison.new is not None,
            "the comparison between checkpoints",
        )
        await wait_for(pilot, lambda: len(file_rows(browser)) == 3, "the file rows")
        comparison = browser.comparison
        assert comparison is not None and comparison.title.endswith(
            browser.entries[0].checkpoint.short_id
        )


def shown(screen: CheckpointBrowserScreen | RestoreConfirmScreen, selector: str) -> str:
    """The plain text a Static of the screen shows."""
    return str(screen.query_one(selector, Static).content)


def screen_text(pilot: Pilot) -> str:
    return "\n".join(strip.text for strip in pilot.app.screen._compositor.render_strips())


async def test_restore_summary_counts_files_chosen_for_deletion(repo: Path) -> None:
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        await open_browser(pilot)
        await pilot.press("r")
        confirm = await confirm_screen(pilot)
        summary = shown(confirm, "#restore-summary")
        assert summary.startswith("2 to write, 0 to delete, 1 to keep.")
        assert "1 file new since then will be kept" in summary
        await pilot.press("d")
        await pilot.pause()
        # The list and the summary say the same: new.py is now deleted, nothing is kept.
        assert "delete (you chose)  new.py" in screen_text(pilot)
        summary = shown(confirm, "#restore-summary")
        assert summary.startswith("2 to write, 1 to delete, 0 to keep.")
        assert "1 file new since then will be deleted" in summary
        await pilot.press("n")


def three_checkpoints(root: Path) -> tuple[Path, list[str]]:
    """A repository checkpointed three times, a line added to a.py each time, and the
    checkpoints' short ids, oldest first."""
    repo = make_repo(root / "repo", {"a.py": "a = 1\n"})
    ids = []
    with Checkpoints(repo, SESSION) as checkpoints:
        for turn in (1, 2, 3):
            (repo / "a.py").write_text("".join(f"a{n} = {n}\n" for n in range(turn)))
            ids.append(checkpoints.snapshot(f"before: turn {turn}", turn=turn).short_id)
    (repo / "a.py").write_text("now = 1\n")
    return repo, ids


async def wait_for_comparison(pilot: Pilot, browser: CheckpointBrowserScreen, title: str) -> None:
    await wait_for(
        pilot,
        lambda: browser.comparison is not None and browser.comparison.title == title,
        f"the comparison {title}",
    )


async def test_comparing_two_checkpoints_runs_forward_in_time_like_the_list(
    tmp_path: Path, home: Path
) -> None:
    repo, (first, second, third) = three_checkpoints(tmp_path)
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        assert shown(browser, "#checkpoints-title").endswith(f"comparing {third} → now")
        await pilot.press("down", "down")  # the oldest
        await wait_for_comparison(pilot, browser, f"{first} → now")
        await pilot.press("c", "up")  # the oldest is the base; the one after it is highlighted
        await wait_for_comparison(pilot, browser, f"{first} → {second}")
        title = shown(browser, "#checkpoints-title")
        assert f"comparing {first} → {second} (base {first}, c: back to now)" in title
        # The same change as the list's +/- column for the second checkpoint: a line added.
        [change] = browser.comparison.files  # type: ignore[union-attr]
        listed = next(e for e in browser.entries if e.checkpoint.short_id == second)
        assert (change.added, change.removed) == (listed.added, listed.removed) == (1, 0)
        list_table = browser.query_one("#checkpoint-list", DataTable)
        assert str(list_table.get_row_at(2)[0]) == f"◆ {first}"
        assert "c back to now" in shown(browser, "#checkpoints-keys")
        await pilot.press("up")  # the newest, compared with the base: still older → newer
        await wait_for_comparison(pilot, browser, f"{first} → {third}")


async def test_compare_key_on_another_row_goes_back_to_now(tmp_path: Path, home: Path) -> None:
    repo, (first, second, _third) = three_checkpoints(tmp_path)
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        await pilot.press("down", "down", "c", "up")
        await wait_for_comparison(pilot, browser, f"{first} → {second}")
        await pilot.press("c")  # on another row than the base: back to now, not a new base
        await wait_for_comparison(pilot, browser, f"{second} → now")
        assert browser.against is None
        assert shown(browser, "#checkpoints-title").endswith(f"comparing {second} → now")
        list_table = browser.query_one("#checkpoint-list", DataTable)
        assert str(list_table.get_row_at(2)[0]) == first  # the base mark is gone
        assert "c compare with this one" in shown(browser, "#checkpoints-keys")
        await pilot.press("c", "c")  # on the base row itself: back to now as well
        await wait_for(pilot, lambda: browser.against is None, "the base to be cleared")
        await wait_for_comparison(pilot, browser, f"{second} → now")


async def test_a_folder_with_no_checkpoints_says_so(tmp_path: Path, home: Path) -> None:
    project = tmp_path / "plain"
    project.mkdir()
    (project / "x.txt").write_text("x\n")
    app = make_app(project)
    async with app.run_test(size=SIZE) as pilot:
        prompt = pilot.app.screen.query_one(PromptInput)
        await wait_for(pilot, lambda: prompt.has_focus, "the prompt")
        await pilot.press("ctrl+b")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, CheckpointBrowserScreen), "the browser"
        )
        browser = pilot.app.screen
        assert isinstance(browser, CheckpointBrowserScreen)
        # The list waits for the session's warm-up (a shadow repository made, the folder
        # seen once): on a loaded 2-core run of the whole suite that took over 10 s.
        await wait_for(pilot, lambda: browser.loaded, "the list", timeout=30)
        files = browser.query_one("#checkpoint-files", DataTable)
        assert "No checkpoints yet" in str(files.border_title)


def test_a_restore_is_not_reported_as_an_outside_edit(repo: Path) -> None:
    now = [100.0]
    attribution = ChangeAttribution(repo, clock=lambda: now[0], grace_s=1.0)
    browsing = CheckpointBrowsing(repo, SESSION, own_changes=attribution)
    [entry] = browsing.entries()
    browsing.restore(entry.checkpoint, None)
    # The watcher's batch for the restored file arrives just after: nanotui's own doing.
    assert attribution.external([("modified", "a.py")]) == []
    now[0] += 5  # later, an edit to the same file is the user's
    (repo / "a.py").write_text("a = 3  # the user's editor\n")
    assert [c.path for c in attribution.external([("modified", "a.py")])] == ["a.py"]
    browsing.close()
