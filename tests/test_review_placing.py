"""Where a review's findings land, checked against a real git change: inline only on lines the
diff shows, the summary for the rest of the repository, dropped for paths that do not exist
or leave it, and the same finding kept once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nanotui.protocol.findings import Finding, ReviewReport
from nanotui.review.change import ChangeError, default_base, exists_at, load_change
from nanotui.review.placing import clean_path, place

BEFORE = "".join(f"line {i}\n" for i in range(1, 41))
AFTER = BEFORE.replace("line 20\n", "line twenty\nline 20b\n")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    (root / "long.py").write_text(BEFORE)
    (root / "gone.py").write_text("x = 1\n")
    (root / "README.md").write_text("# readme\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    git(root, "switch", "-q", "-c", "feature")
    (root / "long.py").write_text(AFTER)
    (root / "gone.py").unlink()
    (root / "new file.py").write_text("a = 1\nb = 2\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "feature")
    return root


def finding(path: str, line: int, start: int | None = None, title: str = "t") -> Finding:
    return Finding(
        path=path, line=line, start_line=start, severity="high", title=title, explanation="e"
    )


def test_the_change_knows_which_new_lines_the_diff_shows(repo: Path) -> None:
    change = load_change(repo, "main")
    assert set(change.files) == {"long.py", "gone.py", "new file.py"}
    long = change.files["long.py"]
    assert long.added == {20, 21}
    assert long.shown == set(range(17, 25))  # three lines of context each side
    assert change.files["gone.py"].status == "D"
    assert change.files["new file.py"].added == {1, 2}


def test_findings_are_placed_inline_in_the_summary_or_dropped(repo: Path) -> None:
    change = load_change(repo, "main")
    placed, dropped = place(
        [
            finding("long.py", 21, 20, "range on the change"),
            finding("./long.py", 21, 20, "Range  on the CHANGE"),  # the same, said again
            finding("long.py", 3, title="far from the change"),
            finding("long.py", 24, 23, "half in the diff"),
            finding("long.py", 26, 23, "runs past the diff"),
            finding("README.md", 1, title="outside the change"),
            finding("gone.py", 1, title="a deleted file"),
            finding("missing.py", 1, title="no such file"),
            finding("../etc/passwd", 1, title="outside"),
            finding("new file.py", 2, title="a path with a space"),
        ],
        change,
        lambda path: exists_at(repo, change.head, path),
    )
    where = {(p.finding.title, p.inline, p.note) for p in placed}
    assert where == {
        ("range on the change", True, ""),
        ("far from the change", False, "line 3 not in the diff"),
        ("half in the diff", True, ""),
        ("runs past the diff", False, "lines 23-26 not in the diff"),
        ("outside the change", False, "not in the change"),
        ("a deleted file", False, "the file was deleted"),
        ("a path with a space", True, ""),
    }
    assert [d.split(":")[0] for d in dropped] == [
        f"missing.py does not exist at {change.head[:12]}",
        "'../etc/passwd' is outside the repository",
    ]
    report = ReviewReport(base=change.base, head=change.head, findings=placed)
    assert report.worst() == "high" and report.fails("high") and not report.fails(None)


def test_paths_are_kept_inside_the_repository() -> None:
    assert clean_path("./a/b.py") == "a/b.py"
    assert clean_path("a\\b.py") == "a/b.py"
    assert clean_path("/etc/passwd") is None
    assert clean_path("a/../../b") is None


def test_a_base_that_is_not_there_is_one_sentence(repo: Path) -> None:
    with pytest.raises(ChangeError, match="'nope' is no commit here"):
        load_change(repo, "nope")
    with pytest.raises(ChangeError, match="name one with --base REF"):
        default_base(repo, {"GITHUB_BASE_REF": "release"})
    assert default_base(repo, {}) == "main"
