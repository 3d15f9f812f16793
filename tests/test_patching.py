"""Rebuilding a proposed file from the file on disk and the diff nanotui showed."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanotui.security.jail.workspace import Workspace
from nanotui.tools.file_change import make_change
from nanotui.tools.patching import PatchError, apply_unified_diff

CASES = [
    ("a\nb\nc\n", "a\nB\nc\n"),
    ("".join(f"{i}\n" for i in range(40)), "".join(f"{i}\n" for i in range(40) if i % 13)),
    ("x\n", "x\ny\nz\n"),
    ("first\nlast", "first\nchanged"),  # no newline at the end, kept
    ("keep\n", "new first\nkeep\n"),
    ("a\r\nb\r\n", "a\r\nB\r\n"),
    ("", "brand new\n"),
]


@pytest.mark.parametrize(("old", "new"), CASES)
def test_applying_the_diff_gives_the_proposed_text(tmp_path: Path, old: str, new: str) -> None:
    change = make_change(Workspace(tmp_path, []), "f.txt", old, new, old.encode())
    assert apply_unified_diff(old, change.diff) == new


def test_a_diff_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    change = make_change(Workspace(tmp_path, []), "f.txt", "a\nb\n", "a\nc\n", b"a\nb\n")
    with pytest.raises(PatchError):
        apply_unified_diff("a\nx\n", change.diff)
