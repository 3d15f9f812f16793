"""The diff model: a diff made from two texts reads back as the same hunks, applies back to
the new text, and narrows hunk by hunk; nothing here touches the disk."""

from __future__ import annotations

import pytest

from nanotui.protocol.diff_parse import LineKind, PatchError, apply_unified_diff, parse_diff
from nanotui.protocol.diffs import (
    apply_hunks,
    count_changed_lines,
    diff_hunks,
    edit_diff,
    file_change,
    make_diff,
)

CASES = [
    ("a\nb\nc\n", "a\nB\nc\n"),
    ("".join(f"{i}\n" for i in range(40)), "".join(f"{i}\n" for i in range(40) if i % 13)),
    ("x\n", "x\ny\nz\n"),
    ("first\nlast", "first\nchanged"),  # no newline at the end, kept
    ("keep\n", "new first\nkeep\n"),
    ("a\r\nb\r\n", "a\r\nB\r\n"),
    ("", "brand new\n"),
    ("a\nb\n", "a\nb"),  # the last newline taken away
    ("a\x0cb\nc\n", "a\x0cB\nc\n"),  # a form feed inside a line
    ("one\rtwo\r", "one\rthree\r"),  # old Mac line ends
]


@pytest.mark.parametrize(("old", "new"), CASES)
def test_applying_the_diff_gives_the_proposed_text(old: str, new: str) -> None:
    change = file_change("f.txt", old, new, None)
    assert apply_unified_diff(old, change.diff) == new


@pytest.mark.parametrize(("old", "new"), CASES)
def test_applying_the_diff_backwards_gives_the_text_it_was_made_from(old: str, new: str) -> None:
    change = file_change("f.txt", old, new, None)
    assert apply_unified_diff(new, change.diff, reverse=True) == old


def test_a_diff_that_does_not_fit_is_refused() -> None:
    change = file_change("f.txt", "a\nb\n", "a\nc\n", None)
    with pytest.raises(PatchError):
        apply_unified_diff("a\nx\n", change.diff)


def test_hunks_out_of_order_are_refused() -> None:
    diff = "--- a/f\n+++ b/f\n@@ -3 +3 @@\n-c\n+C\n@@ -1 +1 @@\n-a\n+A\n"
    with pytest.raises(PatchError, match="out of order"):
        apply_unified_diff("a\nb\nc\n", diff)


def test_the_diff_reads_as_diff_u_writes_it() -> None:
    diff = make_diff("f.txt", "a\nb\nc\n", "a\nB\nc")
    assert diff == (
        "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n-b\n-c\n+B\n+c\n"
        "\\ No newline at end of file\n"
    )
    assert make_diff("f.txt", "same\n", "same\n") == ""
    assert make_diff("new.txt", None, "").startswith("--- /dev/null\n+++ b/new.txt\n")


def test_a_parsed_diff_numbers_its_lines_on_both_sides() -> None:
    parsed = parse_diff(make_diff("f.txt", "a\nb\nc\n", "a\nB\nc\nd"))
    assert (parsed.old_path, parsed.new_path) == ("f.txt", "f.txt")
    [hunk] = parsed.hunks
    kinds = [(line.kind, line.text, line.old_no, line.new_no) for line in hunk.lines]
    assert kinds == [
        (LineKind.CONTEXT, "a", 1, 1),
        (LineKind.REMOVED, "b", 2, None),
        (LineKind.ADDED, "B", None, 2),
        (LineKind.CONTEXT, "c", 3, 3),
        (LineKind.ADDED, "d", None, 4),
    ]
    assert hunk.lines[-1].no_newline and parsed.last_line_number == 4


def test_narrowing_keeps_only_the_chosen_hunks() -> None:
    old = "".join(f"{i}\n" for i in range(30))
    new = old.replace("2\n", "two\n", 1).replace("25\n", "twenty-five\n")
    change = file_change("f.txt", old, new, "sha")
    assert len(diff_hunks(change)) == len(parse_diff(change.diff).hunks) == 2
    second = apply_hunks(change, [1])
    assert "two\n" not in second.new_text and "twenty-five\n" in second.new_text
    assert second.old_sha256 == "sha" and count_changed_lines(second.diff) == (1, 1)
    assert apply_hunks(change, []).diff == ""


def test_an_edit_is_told_against_the_proposal() -> None:
    diff = edit_diff("a.py", "x = 1\n", "x = 2\n")
    assert diff.startswith("--- proposed/a.py\n+++ edited/a.py\n")
    assert edit_diff("a.py", "same\n", "same\n") == ""
