"""The one atomic write: new content or old, permissions kept, no temp file left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nanotui.engine.external_changes import IGNORED_NAMES
from nanotui.protocol.atomic_write import (
    TEMP_NAME,
    copy_atomically,
    temp_name,
    write_at,
    write_atomically,
)


def test_replacing_a_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "run.sh"
    target.write_text("old\n")
    target.chmod(0o751)
    write_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o751
    assert os.listdir(tmp_path) == ["run.sh"]


def test_an_explicit_mode_wins_over_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.write_text("old")
    target.chmod(0o644)
    write_atomically(target, b"new", mode=0o600)
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_new_file_gets_the_new_file_mode_less_the_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            write_at(folder, "fresh.txt", b"x", new_file_mode=0o664)
        finally:
            os.close(folder)
    finally:
        os.umask(umask)
    assert (tmp_path / "fresh.txt").stat().st_mode & 0o777 == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_atomically(target, 42)  # type: ignore[arg-type]
    (tmp_path / "folder").mkdir()
    with pytest.raises(OSError):
        write_atomically(tmp_path / "folder", "cannot replace a folder")
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "folder"]


def test_the_temp_file_can_sit_in_a_scratch_folder(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    write_atomically(tmp_path / "b.txt", "b", scratch=scratch, sync=False)
    assert (tmp_path / "b.txt").read_text() == "b"
    assert os.listdir(scratch) == []


def test_a_copy_keeps_the_source_times(tmp_path: Path) -> None:
    source, target = tmp_path / "index", tmp_path / "private.index"
    source.write_bytes(b"DIRC")
    os.utime(source, (1_000_000, 1_000_000))
    target.write_bytes(b"old")
    copy_atomically(source, target)
    assert target.read_bytes() == b"DIRC" and target.stat().st_mtime == 1_000_000
    assert sorted(os.listdir(tmp_path)) == ["index", "private.index"]


@pytest.mark.parametrize("name", ["a.py", "x" * 240, ".hidden"])
def test_temp_names_are_the_ones_the_change_watcher_ignores(name: str) -> None:
    made = temp_name(name)
    assert TEMP_NAME.search(made) and IGNORED_NAMES.search(made)
    assert len(os.fsencode(made)) <= 255
