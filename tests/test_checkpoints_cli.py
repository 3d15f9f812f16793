"""`nanotui checkpoints list | show | restore` handlers: output, questions and refusals."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from test_checkpoints_helpers import isolate, make_repo, write_files

from nanotui.cli.checkpoint_commands import (
    cmd_checkpoints_list,
    cmd_checkpoints_restore,
    cmd_checkpoints_show,
)
from nanotui.vcs.checkpoints import Checkpoints


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_repo(tmp_path / "repo", {"a.txt": "one\n"})
    monkeypatch.chdir(root)
    Checkpoints(root, "20261128-010623-3f9a").snapshot("first turn", turn=1)
    write_files(root, {"a.txt": "one\ntwo\n", "new.txt": "new\n"})
    return root


def args(**values: object) -> argparse.Namespace:
    defaults = {"workspace": None, "json": False, "patch": False, "file": None, "yes": False}
    return argparse.Namespace(**{**defaults, "delete_new": False, **values})


def test_list_json_has_ids_and_counts(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Checkpoints(repo, "20261128-010623-3f9a").snapshot("second turn", turn=2)
    assert cmd_checkpoints_list(args(json=True)) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["short_id"], r["turn"], r["label"]) for r in rows] == [
        ("3f9a/1", 1, "first turn"),
        ("3f9a/2", 2, "second turn"),
    ]
    assert (rows[1]["files_changed"], rows[1]["added"], rows[1]["removed"]) == (2, 2, 0)


def test_show_lists_what_changed_since(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_checkpoints_show(args(id="3f9a/1", patch=True)) == 0
    out = capsys.readouterr().out
    assert "M  +1 -0" in out and "A  +1 -0" in out and "+two" in out


def test_restore_in_a_pipe_without_yes_refuses_in_one_sentence(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_checkpoints_restore(args(id="3f9a/1")) == 1
    err = capsys.readouterr().err
    assert err.startswith("nanotui: ") and "--yes" in err and "Traceback" not in err
    assert (repo / "a.txt").read_text() == "one\ntwo\n"


def test_restore_with_yes_keeps_new_files_unless_asked(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_checkpoints_restore(args(id="3f9a/1", yes=True)) == 0
    out = capsys.readouterr().out
    assert (repo / "a.txt").read_text() == "one\n" and (repo / "new.txt").exists()
    assert "new.txt" in out and "undoes this" in out
    assert cmd_checkpoints_restore(args(id="3f9a/1", yes=True, delete_new=True)) == 0
    assert not (repo / "new.txt").exists()


def test_unknown_id_is_one_clear_sentence(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_checkpoints_show(args(id="nope")) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
