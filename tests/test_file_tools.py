"""read_file, write_file, edit_file and the FileChange they share, on real files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from tools_support import call, make_ctx

from nanotui.protocol.diffs import apply_hunks, diff_hunks
from nanotui.security.jail.workspace import PathRefused
from nanotui.tools.base import ToolArgumentError, ToolContext, ToolFailure, ToolKind
from nanotui.tools.edit_file import EditFileTool
from nanotui.tools.file_change import apply_change, make_change
from nanotui.tools.read_file import ReadFileTool
from nanotui.tools.registry import READ_ONLY_TOOL_NAMES, default_tools
from nanotui.tools.write_file import WriteFileTool

read, write, edit = ReadFileTool(), WriteFileTool(), EditFileTool()


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return make_ctx(tmp_path)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*.tmp")]


# ---- read_file ----------------------------------------------------------------------------


async def test_read_numbers_lines_and_reports_the_range(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "a.py").write_text("one\ntwo\nthree\n")
    out = await call(read, ctx, path="a.py")
    assert out.ok
    assert out.content == "     1\tone\n     2\ttwo\n     3\tthree"
    assert out.data == {"path": "a.py", "total_lines": 3, "start_line": 1, "end_line": 3}
    part = await call(read, ctx, path="a.py", start_line=2, end_line=2)
    assert part.content.startswith("     2\ttwo\n\n(Showing lines 2-2 of 3.")
    assert part.data["start_line"] == 2 and part.data["end_line"] == 2


async def test_read_missing_file_points_to_listing_tools(ctx: ToolContext) -> None:
    out = await call(read, ctx, path="nope/missing.txt")
    assert not out.ok
    assert out.content == "No file nope/missing.txt; list_dir or find_files shows what exists."


async def test_read_refuses_binary_credentials_and_escapes(
    tmp_path: Path, ctx: ToolContext
) -> None:
    (tmp_path / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    (tmp_path / ".env").write_text("API_KEY=secret\n")
    binary = await call(read, ctx, path="img.png")
    assert not binary.ok and "binary" in binary.content
    secret = await call(read, ctx, path=".env")
    assert not secret.ok and "credential" in secret.content and "secret" not in secret.content
    escape = await call(read, ctx, path="../etc/passwd")
    assert not escape.ok and "outside the workspace" in escape.content


async def test_read_large_file_needs_a_line_range(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, max_read_bytes=1000)
    (tmp_path / "big.txt").write_text("".join(f"line {i}\n" for i in range(1, 5001)))
    whole = await call(read, ctx, path="big.txt")
    assert not whole.ok
    assert "5000 lines" in whole.content and "start_line and end_line" in whole.content
    ranged = await call(read, ctx, path="big.txt", start_line=4000, end_line=4002)
    assert ranged.ok
    assert ranged.content.splitlines()[:3] == [
        "  4000\tline 4000",
        "  4001\tline 4001",
        "  4002\tline 4002",
    ]
    assert ranged.data["total_lines"] == 5000
    # A range larger than the limit stops at the limit and says where to continue.
    wide = await call(read, ctx, path="big.txt", start_line=1, end_line=5000)
    assert wide.ok and "continue with start_line=" in wide.content
    assert len(wide.content) < 1300


async def test_a_huge_one_line_file_is_not_sent_round_to_line_ranges(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, max_read_bytes=1000)
    (tmp_path / "bundle.min.js").write_text("var a=1;" * 5000)  # 40 kB, no newline
    whole = await call(read, ctx, path="bundle.min.js")
    assert not whole.ok
    assert "start_line" not in whole.content, "a line range cannot split a line"
    assert "one line" in whole.content and "search_text" in whole.content
    assert "head -c 500 bundle.min.js" in whole.content


async def test_read_reports_non_utf8_and_bad_ranges(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9\n")
    out = await call(read, ctx, path="latin.txt")
    assert out.ok and "caf\ufffd" in out.content and "not valid UTF-8" in out.content
    backwards = await call(read, ctx, path="latin.txt", start_line=3, end_line=1)
    assert not backwards.ok and "end_line" in backwards.content
    past = await call(read, ctx, path="latin.txt", start_line=9)
    assert not past.ok and "only 1 line;" in past.content


async def test_bad_arguments_are_a_clear_error_for_the_model() -> None:
    with pytest.raises(ToolArgumentError, match="start_line"):
        read.parse_args({"path": "a", "start_line": 0})
    with pytest.raises(ToolArgumentError, match="bogus: Extra inputs"):
        read.parse_args({"path": "a", "bogus": 1})


# ---- write_file ---------------------------------------------------------------------------


async def test_write_creates_a_new_file_with_default_mode(tmp_path: Path, ctx: ToolContext) -> None:
    out = await call(write, ctx, path="pkg/sub/new.py", content="x = 1\n")
    assert out.ok
    assert out.files_changed == ["pkg/sub/new.py"]
    assert out.diff is not None and out.diff.startswith("--- /dev/null\n+++ b/pkg/sub/new.py\n")
    assert out.content.startswith("Wrote pkg/sub/new.py (+1 -0 lines)")
    target = tmp_path / "pkg/sub/new.py"
    assert target.read_text() == "x = 1\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644 & ~umask
    assert leftovers(tmp_path) == []


async def test_write_keeps_mode_and_crlf(tmp_path: Path, ctx: ToolContext) -> None:
    script = tmp_path / "run.sh"
    script.write_bytes(b"echo one\r\necho two\r\n")
    script.chmod(0o750)
    out = await call(write, ctx, path="run.sh", content="echo one\necho 2\n")
    assert out.ok, out.content
    assert script.read_bytes() == b"echo one\r\necho 2\r\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert out.diff is not None and "-echo two\r\n+echo 2\r\n" in out.diff


async def test_write_refuses_protected_links_and_same_content(
    tmp_path: Path, ctx: ToolContext
) -> None:
    (tmp_path / "real.txt").write_text("same\n")
    (tmp_path / "link.txt").symlink_to("real.txt")
    protected = await call(write, ctx, path=".git/hooks/pre-commit", content="rm -rf ~\n")
    assert not protected.ok and "protected" in protected.content
    assert not (tmp_path / ".git").exists()
    linked = await call(write, ctx, path="link.txt", content="x\n")
    assert not linked.ok and "symlink" in linked.content
    same = await call(write, ctx, path="real.txt", content="same\n")
    assert not same.ok and "already has exactly this content" in same.content


async def test_a_failed_rename_leaves_the_original_intact_and_no_temp_file(
    tmp_path: Path, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("precious\n")

    def broken_replace(src: object, dst: object, **dir_fds: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    out = await call(write, ctx, path="keep.txt", content="overwritten\n")
    assert not out.ok
    assert out.content == "Could not write keep.txt: No space left on device."
    assert target.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


# ---- edit_file ----------------------------------------------------------------------------


async def test_edit_replaces_a_unique_match(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "m.py").write_text("def f():\n    return 1\n")
    out = await call(edit, ctx, path="m.py", old_string="return 1", new_string="return 2")
    assert out.ok
    assert (tmp_path / "m.py").read_text() == "def f():\n    return 2\n"
    assert out.diff == (
        "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n def f():\n-    return 1\n+    return 2\n"
    )


async def test_edit_that_is_not_unique_lists_the_lines(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "m.py").write_text("x = 1\ny = 2\nx = 1\n")
    out = await call(edit, ctx, path="m.py", old_string="x = 1", new_string="x = 3")
    assert not out.ok
    assert "occurs 2 times" in out.content and "lines 1, 3" in out.content
    assert "replace_all" in out.content
    every = await call(
        edit, ctx, path="m.py", old_string="x = 1", new_string="x = 3", replace_all=True
    )
    assert every.ok
    assert (tmp_path / "m.py").read_text() == "x = 3\ny = 2\nx = 3\n"


async def test_edit_without_match_shows_the_closest_region(
    tmp_path: Path, ctx: ToolContext
) -> None:
    lines = [f"value_{i} = {i}" for i in range(1, 40)]
    lines[19] = "def compute_total(items):"
    lines[20] = "    return sum(item.price for item in items)"
    (tmp_path / "shop.py").write_text("\n".join(lines) + "\n")
    out = await call(
        edit,
        ctx,
        path="shop.py",
        old_string="def compute_total(items):\n  return sum(i.price for i in items)",
        new_string="pass",
    )
    assert not out.ok
    assert "closest region is lines 20-21" in out.content
    assert "    20\tdef compute_total(items):" in out.content
    assert "% similar" in out.content


async def test_edit_refusals(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9\n")
    empty = await call(edit, ctx, path="a.txt", old_string="", new_string="x")
    assert not empty.ok and "write_file" in empty.content
    same = await call(edit, ctx, path="a.txt", old_string="hello", new_string="hello")
    assert not same.ok and "same" in same.content
    missing = await call(edit, ctx, path="b.txt", old_string="a", new_string="b")
    assert not missing.ok and missing.content == "No file b.txt; use write_file to create it."
    latin = await call(edit, ctx, path="latin.txt", old_string="caf", new_string="kaf")
    assert not latin.ok and "UTF-8" in latin.content
    assert (tmp_path / "latin.txt").read_bytes() == b"caf\xe9\n"


async def test_edit_matches_and_keeps_crlf(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "w.txt").write_bytes(b"alpha\r\nbeta\r\ngamma\r\n")
    out = await call(
        edit, ctx, path="w.txt", old_string="alpha\nbeta", new_string="alpha\nBETA\nb2"
    )
    assert out.ok, out.content
    assert (tmp_path / "w.txt").read_bytes() == b"alpha\r\nBETA\r\nb2\r\ngamma\r\n"


# ---- FileChange ---------------------------------------------------------------------------


async def test_a_stale_change_is_refused(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "s.txt").write_text("v1\n")
    change = edit.plan(
        edit.parse_args({"path": "s.txt", "old_string": "v1", "new_string": "v2"}), ctx
    )
    (tmp_path / "s.txt").write_text("edited meanwhile\n")
    out = apply_change(change, ctx)
    assert not out.ok
    assert out.content == "s.txt changed on disk since the change was computed; read it again."
    assert (tmp_path / "s.txt").read_text() == "edited meanwhile\n"

    new = write.plan(write.parse_args({"path": "n.txt", "content": "mine\n"}), ctx)
    assert new.old_sha256 is None and new.old_text is None
    (tmp_path / "n.txt").write_text("someone else's\n")
    assert not apply_change(new, ctx).ok
    assert (tmp_path / "n.txt").read_text() == "someone else's\n"


def test_plan_raises_path_refused_and_tool_failure(tmp_path: Path, ctx: ToolContext) -> None:
    with pytest.raises(PathRefused, match="protected"):
        write.plan(write.parse_args({"path": ".env", "content": "X=1\n"}), ctx)
    with pytest.raises(ToolFailure, match="No file"):
        edit.plan(edit.parse_args({"path": "a.txt", "old_string": "a", "new_string": "b"}), ctx)


async def test_apply_hunks_applies_only_the_chosen_hunks(tmp_path: Path, ctx: ToolContext) -> None:
    old = "".join(f"line {i}\n" for i in range(1, 31))
    new = old.replace("line 2\n", "LINE TWO\n").replace("line 28\n", "LINE 28\nextra\n")
    (tmp_path / "h.txt").write_text(old)
    change = make_change(ctx.workspace, "h.txt", old, new, old.encode())
    hunks = diff_hunks(change)
    assert len(hunks) == 2
    assert hunks[0].startswith("@@ -1,5 +1,5 @@") and "+LINE TWO" in hunks[0]

    second_only = apply_hunks(change, [1])
    assert second_only.new_text == old.replace("line 28\n", "LINE 28\nextra\n")
    assert second_only.old_sha256 == change.old_sha256
    assert len(diff_hunks(second_only)) == 1
    assert apply_hunks(change, []).new_text == old
    assert apply_hunks(change, [0, 1]).new_text == new

    out = apply_change(second_only, ctx)
    assert out.ok and out.content.startswith("Wrote h.txt (+2 -1 lines)")
    assert (tmp_path / "h.txt").read_text() == second_only.new_text


def test_diff_marks_a_missing_final_newline(ctx: ToolContext) -> None:
    change = make_change(ctx.workspace, "t.txt", "a\nb", "a\nc", b"a\nb")
    assert change.diff.endswith(
        "-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
    )


def test_registry_has_the_nine_tools() -> None:
    tools = default_tools()
    assert sorted(tools) == sorted(
        [
            "read_file",
            "list_dir",
            "find_files",
            "search_text",
            "write_file",
            "edit_file",
            "run_command",
            "git_status",
            "git_diff",
        ]
    )
    assert {
        "read_file",
        "list_dir",
        "find_files",
        "search_text",
        "git_status",
        "git_diff",
    } == READ_ONLY_TOOL_NAMES
    assert tools["edit_file"].kind is ToolKind.WRITE
    assert tools["run_command"].kind is ToolKind.COMMAND
    for tool in tools.values():
        schema = tool.spec().parameters
        for name, prop in schema.get("properties", {}).items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"


def test_declining_every_hunk_writes_nothing(tmp_path: Path) -> None:
    from nanotui.security.jail.workspace import Workspace
    from nanotui.security.sandbox.runners import PlainRunner
    from nanotui.tools.base import ToolContext
    from nanotui.tools.file_change import apply_change, make_change

    ws = Workspace(tmp_path, [])
    ctx = ToolContext(workspace=ws, runner=PlainRunner())
    (tmp_path / "old.py").write_text("a = 1\n")
    new_file = make_change(ws, "new.py", None, "x = 1\n", None)
    assert apply_change(apply_hunks(new_file, []), ctx).ok
    assert not (tmp_path / "new.py").exists()
    edit = make_change(ws, "old.py", "a = 1\n", "a = 2\n", b"a = 1\n")
    assert "No change applied" in apply_change(apply_hunks(edit, []), ctx).content
    assert (tmp_path / "old.py").read_text() == "a = 1\n"


async def test_write_file_refuses_to_replace_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    from nanotui.security.jail.workspace import Workspace
    from nanotui.security.sandbox.runners import PlainRunner
    from nanotui.tools.base import ToolContext
    from nanotui.tools.write_file import WriteFileTool

    (tmp_path / "latin.txt").write_bytes(b"caf\xe9 = 1\n")
    tool = WriteFileTool()
    ctx = ToolContext(workspace=Workspace(tmp_path, []), runner=PlainRunner())
    output = await tool.run(tool.parse_args({"path": "latin.txt", "content": "x\n"}), ctx)
    assert not output.ok and "not valid UTF-8" in output.content
    assert (tmp_path / "latin.txt").read_bytes() == b"caf\xe9 = 1\n"
