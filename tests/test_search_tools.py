"""list_dir, find_files and search_text over real trees and real git repositories."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tools_support import call, init_repo, make_ctx

from nanotui.tools import search_text as search_module
from nanotui.tools.find_files import FindFilesTool
from nanotui.tools.list_dir import ListDirTool
from nanotui.tools.search_text import SearchTextTool

list_dir, find, search = ListDirTool(), FindFilesTool(), SearchTextTool()
HAVE_RG = shutil.which("rg") is not None


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git work tree with ignored, untracked and nested files."""
    init_repo(tmp_path)
    files = {
        ".gitignore": "build/\n*.log\n",
        "README.md": "# Demo\nTODO: write docs\n",
        "src/app.py": "import os\n\n\ndef main():\n    # TODO: handle errors\n    return 0\n",
        "src/util/helpers.py": "def helper():\n    return 'todo later'\n",
        "tests/test_app.py": "from src.app import main\n\n\ndef test_main():\n    assert main()\n",
        "build/out.py": "# TODO generated\n",
        "debug.log": "TODO in a log\n",
        ".env": "TODO_TOKEN=secret\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "logo.bin").write_bytes(b"TODO\0\0binary")
    return tmp_path


@pytest.fixture
def python_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide ripgrep so that the Python backend runs."""
    real_which = shutil.which
    monkeypatch.setattr(
        search_module.shutil,
        "which",
        lambda name, *a, **k: None if name == "rg" else real_which(name, *a, **k),
    )


# ---- list_dir -----------------------------------------------------------------------------


async def test_list_dir_marks_folders_shows_sizes_and_skips_git(repo: Path) -> None:
    out = await call(list_dir, make_ctx(repo))
    assert out.ok
    lines = out.content.splitlines()
    assert ".git/" not in lines
    assert "src/" in lines and "tests/" in lines
    assert "README.md  24 B" in lines
    assert lines == sorted(lines)
    sub = await call(list_dir, make_ctx(repo), path="src")
    size = (repo / "src/app.py").stat().st_size
    assert sub.content.splitlines() == [f"app.py  {size} B", "util/"]


async def test_list_dir_caps_entries_and_explains_errors(tmp_path: Path) -> None:
    many = tmp_path / "many"
    many.mkdir()
    for i in range(510):
        (many / f"f{i:03}.txt").touch()
    ctx = make_ctx(tmp_path)
    out = await call(list_dir, ctx, path="many")
    assert out.content.count("\n") < 520
    assert "10 more entries not shown" in out.content
    missing = await call(list_dir, ctx, path="nope")
    assert not missing.ok and "No folder nope" in missing.content
    (tmp_path / "file.txt").touch()
    a_file = await call(list_dir, ctx, path="file.txt")
    assert not a_file.ok and "read_file" in a_file.content


# ---- find_files ---------------------------------------------------------------------------


async def test_find_files_honours_gitignore(repo: Path) -> None:
    out = await call(find, make_ctx(repo), pattern="**/*.py")
    assert out.ok
    assert out.content.splitlines() == ["src/app.py", "src/util/helpers.py", "tests/test_app.py"]
    logs = await call(find, make_ctx(repo), pattern="*.log")
    assert "No files match" in logs.content


async def test_find_files_patterns_and_paths(repo: Path) -> None:
    ctx = make_ctx(repo)
    top = await call(find, ctx, pattern="*.md")
    assert top.content.splitlines() == ["README.md"]
    under = await call(find, ctx, pattern="util/*.py", path="src")
    assert under.content.splitlines() == ["src/util/helpers.py"]
    env = await call(find, ctx, pattern=".env*")
    assert env.content.splitlines() == [".env"]  # a name is not a secret; its content is
    escape = await call(find, ctx, pattern="*", path="..")
    assert not escape.ok


async def test_find_files_outside_git_skips_heavy_folders(tmp_path: Path) -> None:
    for name in ("a.js", "node_modules/dep/index.js", ".venv/lib/x.js", "lib/b.js"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    out = await call(find, make_ctx(tmp_path), pattern="**/*.js")
    assert out.content.splitlines() == ["a.js", "lib/b.js"]


async def test_find_files_caps_results(tmp_path: Path) -> None:
    for i in range(1005):
        (tmp_path / f"f{i:04}.txt").touch()
    out = await call(find, make_ctx(tmp_path), pattern="*.txt")
    assert out.data["count"] == 1005
    assert len(out.content.splitlines()) == 1002  # 1000 paths, a blank line, the note
    assert "5 more matches not shown" in out.content


# ---- search_text --------------------------------------------------------------------------


@pytest.mark.usefixtures("python_search")
async def test_search_skips_ignored_binary_and_credential_files(repo: Path) -> None:
    out = await call(search, make_ctx(repo), pattern="TODO")
    assert out.ok
    assert out.data["backend"] == "python"
    lines = out.content.splitlines()
    assert lines[:2] == ["README.md:2: TODO: write docs", "src/app.py:5:     # TODO: handle errors"]
    assert "(2 matching lines in 2 files.)" in out.content
    for hidden in ("build/", "debug.log", ".env", "logo.bin", "secret"):
        assert hidden not in out.content


@pytest.mark.usefixtures("python_search")
async def test_search_context_case_and_glob(repo: Path) -> None:
    ctx = make_ctx(repo)
    out = await call(
        search, ctx, pattern="todo", case_sensitive=False, context_lines=1, glob="*.py"
    )
    assert out.content.split("\n\n(")[0].splitlines() == [
        "src/app.py-4- def main():",
        "src/app.py:5:     # TODO: handle errors",
        "src/app.py-6-     return 0",
        "--",
        "src/util/helpers.py-1- def helper():",
        "src/util/helpers.py:2:     return 'todo later'",
    ]
    none = await call(search, ctx, pattern="nothing_like_this")
    assert none.ok and none.content == "No matches for /nothing_like_this/ in the workspace."


@pytest.mark.usefixtures("python_search")
async def test_search_reports_bad_regex_and_caps(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    bad = await call(search, ctx, pattern="def (")
    assert not bad.ok
    assert "not a valid regular expression" in bad.content and "position" in bad.content
    (tmp_path / "many.txt").write_text("".join(f"hit {i}\n" for i in range(50)))
    capped = await call(search, ctx, pattern="hit", max_results=5)
    assert capped.data["matches"] == 5 and capped.data["limited"]
    assert "stopped at max_results=5" in capped.content
    assert len(capped.content.splitlines()) == 7
    small = make_ctx(tmp_path, max_read_bytes=200)
    cut = await call(search, small, pattern="hit")
    assert "output cut at the size limit" in cut.content


@pytest.mark.usefixtures("python_search")
async def test_search_one_file_and_refusals(repo: Path) -> None:
    ctx = make_ctx(repo)
    one = await call(search, ctx, pattern="import", path="src/app.py")
    assert one.content.startswith("src/app.py:1: import os")
    secret = await call(search, ctx, pattern="secret", path=".env")
    assert not secret.ok and "credential" in secret.content
    missing = await call(search, ctx, pattern="x", path="nope")
    assert not missing.ok and "No file or folder nope" in missing.content


@pytest.mark.skipif(not HAVE_RG, reason="ripgrep is not installed here")
async def test_ripgrep_and_python_backends_agree(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_ctx(repo)
    queries = [
        {"pattern": "TODO"},
        {"pattern": "todo", "case_sensitive": False, "context_lines": 2, "glob": "*.py"},
        {"pattern": "return", "max_results": 1, "context_lines": 1},
    ]
    with_rg = [await call(search, ctx, **q) for q in queries]
    assert all(out.data["backend"] == "ripgrep" for out in with_rg)
    monkeypatch.setattr(search_module.shutil, "which", lambda name, *a, **k: None)
    without_rg = [await call(search, ctx, **q) for q in queries]
    assert [o.content for o in with_rg] == [o.content for o in without_rg]
