"""Counts read right: `1 file`, `2 files`, wherever a count meets a noun.

The helper itself, then the places a user met `1 files written` and `Restore 1 chosen files`
(the checkpoint browser, driven with Pilot), the command line's restore and the demo's words.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pilot_support import wait_for
from test_checkpoint_browser import checkpointed_repo, confirm_screen, make_app, open_browser
from test_checkpoints_helpers import isolate, make_repo

from nanotui.cli.checkpoint_commands import cmd_checkpoints_restore, cmd_checkpoints_show
from nanotui.protocol.basics import plural
from nanotui.providers.demo_script import passing_tests
from nanotui.vcs.checkpoints import Checkpoints

SIZE = (120, 40)


def test_plural_agrees_with_its_count() -> None:
    assert plural(1, "file") == "1 file"
    assert plural(0, "file") == "0 files"
    assert plural(2, "chosen file") == "2 chosen files"
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(3, "entry", "entries") == "3 entries"
    assert plural(1204, "line") == "1,204 lines"


async def test_restoring_one_chosen_file_says_file_not_files(tmp_path: Path, home: Path) -> None:
    repo = checkpointed_repo(tmp_path)
    app = make_app(repo)
    async with app.run_test(size=SIZE) as pilot:
        browser = await open_browser(pilot)
        await pilot.press("tab", "down", "space")  # b.py only
        await pilot.press("r")
        confirm = await confirm_screen(pilot)
        title = str(confirm.query_one("#restore-dialog").border_title)
        assert title.startswith("Restore 1 chosen file of ")
        await pilot.press("y")

        def said() -> str:
            return "\n".join(n.message for n in app._notifications)

        await wait_for(pilot, lambda: "written" in said(), "the restore's notice")
        assert ": 1 file written, 0 removed." in said()
        assert len(browser.entries) >= 1


def restore_args(**values: object) -> argparse.Namespace:
    defaults = {"workspace": None, "json": False, "patch": False, "file": None, "yes": True}
    return argparse.Namespace(**{**defaults, "delete_new": False, **values})


def test_the_command_line_counts_one_file_as_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    isolate(monkeypatch, tmp_path)
    repo = make_repo(tmp_path / "repo", {"a.txt": "one\n"})
    monkeypatch.chdir(repo)
    Checkpoints(repo, "20261128-010623-3f9a").snapshot("first turn", turn=1)
    (repo / "a.txt").write_text("one\ntwo\n")
    assert cmd_checkpoints_show(restore_args(id="3f9a/1")) == 0
    assert "Changed in the work tree since then (1 file):" in capsys.readouterr().out
    assert cmd_checkpoints_restore(restore_args(id="3f9a/1")) == 0
    assert "Restored 1 file and removed 0 from " in capsys.readouterr().out


def test_the_demo_says_the_one_test_passes() -> None:
    assert passing_tests(1) == "the one test passes"
    assert passing_tests(7) == "all 7 tests pass"
    assert passing_tests(None) == "all the tests pass"
