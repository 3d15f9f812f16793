"""The path jail, against real files, links, FIFOs and sockets."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from nanotui.config import DEFAULT_PROTECTED_PATHS
from nanotui.security.jail.globs import glob_match, path_matches
from nanotui.security.jail.workspace import PathRefused, Workspace


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace with a file and a folder, next to an outside folder holding a secret."""
    root = tmp_path / "ws"
    outside = tmp_path / "outside"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print('hi')\n")
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret\n")
    return root, outside


def make_ws(root: Path, extra: list[Path] | None = None) -> Workspace:
    return Workspace(root, list(DEFAULT_PROTECTED_PATHS), extra or [])


def test_relative_paths_resolve_inside_root(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    ws = make_ws(root)
    assert ws.resolve_for_read("src/main.py") == root.resolve() / "src" / "main.py"
    assert ws.resolve_for_read("./src/../src//main.py") == root.resolve() / "src" / "main.py"
    assert ws.resolve_for_read(".") == root.resolve()
    assert ws.resolve_for_read("src/new.py") == root.resolve() / "src" / "new.py"


@pytest.mark.parametrize("path", ["..", "../outside/secret.txt", "src/../../outside", "a/../.."])
def test_dot_dot_escapes_are_refused(tree: tuple[Path, Path], path: str) -> None:
    ws = make_ws(tree[0])
    with pytest.raises(PathRefused, match="outside the workspace"):
        ws.resolve_for_read(path)


def test_absolute_paths_inside_are_allowed_and_outside_refused(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    ws = make_ws(root)
    assert ws.resolve_for_read(str(root / "src" / "main.py")) == root.resolve() / "src/main.py"
    for path in ("/etc/passwd", str(outside / "secret.txt"), f"{root}/../outside/secret.txt"):
        with pytest.raises(PathRefused):
            ws.resolve_for_read(path)


def test_root_named_through_a_symlink_is_the_same_root(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    alias = root.parent / "alias"
    alias.symlink_to(root)
    ws = make_ws(alias)
    assert ws.root == root.resolve()
    assert ws.resolve_for_read(f"{alias}/src/main.py") == root.resolve() / "src/main.py"


@pytest.mark.parametrize("path", ["~", "~/x", "~root/.bashrc", "src/\0main.py", ""])
def test_home_nul_and_empty_are_refused(tree: tuple[Path, Path], path: str) -> None:
    with pytest.raises(PathRefused):
        make_ws(tree[0]).resolve_for_read(path)


def test_percent_encoding_and_backslashes_are_literal_names(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    ws = make_ws(root)
    assert ws.resolve_for_read("%2e%2e/secret") == root.resolve() / "%2e%2e" / "secret"
    assert ws.resolve_for_read("..\\outside") == root.resolve() / "..\\outside"
    assert ws.relative(ws.resolve_for_read("a%2Fb")) == "a%2Fb"


def test_symlink_to_an_outside_file_is_refused(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    (root / "leak").symlink_to(outside / "secret.txt")
    (root / "leakdir").symlink_to(outside)
    (root / "relleak").symlink_to("../outside/secret.txt")
    ws = make_ws(root)
    for path in ("leak", "leakdir/secret.txt", "leakdir", "relleak"):
        with pytest.raises(PathRefused, match="outside the workspace"):
            ws.resolve_for_read(path)
        with pytest.raises(PathRefused):
            ws.resolve_for_write(path)


def test_dangling_and_chained_links_leading_outside_are_refused(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    (root / "dangling").symlink_to(outside / "not-there-yet")
    (root / "hop2").symlink_to(outside)
    (root / "hop1").symlink_to("hop2")
    (root / "src" / "up").symlink_to("../hop1")
    ws = make_ws(root)
    for path in ("dangling", "hop1/secret.txt", "src/up/secret.txt"):
        with pytest.raises(PathRefused):
            ws.resolve_for_read(path)
    with pytest.raises(PathRefused):
        ws.resolve_for_write("dangling")


def test_symlink_loops_are_refused(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    (root / "loop_a").symlink_to("loop_b")
    (root / "loop_b").symlink_to("loop_a")
    with pytest.raises(PathRefused, match="loop"):
        make_ws(root).resolve_for_read("loop_a/x")


def test_links_inside_the_workspace_are_followed_for_reads(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    (root / "alias.py").symlink_to("src/main.py")
    (root / "srcdir").symlink_to(root / "src")  # absolute target, still inside
    ws = make_ws(root)
    assert ws.resolve_for_read("alias.py") == root.resolve() / "src/main.py"
    assert ws.resolve_for_read("srcdir/main.py") == root.resolve() / "src/main.py"
    # Through a linked folder a write is fine; to a link as the last component it is not.
    assert ws.resolve_for_write("srcdir/main.py") == root.resolve() / "src/main.py"
    with pytest.raises(PathRefused, match="symlink"):
        ws.resolve_for_write("alias.py")


def test_fifos_sockets_and_devices_are_refused(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    os.mkfifo(root / "pipe")
    ws = make_ws(root, extra=[Path("/dev")])
    with pytest.raises(PathRefused, match="FIFO"):
        ws.resolve_for_read("pipe")
    with pytest.raises(PathRefused, match="FIFO"):
        ws.resolve_for_write("pipe")
    with pytest.raises(PathRefused, match="device"):
        ws.resolve_for_read("/dev/null")
    short = Path(f"/tmp/nt-sock-{os.getpid()}")
    short.mkdir(exist_ok=True)
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(short / "s"))
        with pytest.raises(PathRefused, match="socket"):
            make_ws(short).resolve_for_read("s")
    finally:
        sock.close()
        (short / "s").unlink(missing_ok=True)
        short.rmdir()


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.local",
        "config/.env.production",
        ".ENV",
        "certs/server.pem",
        "id_rsa",
        ".ssh/config",
        "home/.ssh/authorized_keys",
        ".git/hooks/pre-commit",
        ".git/config",
        ".nanotui/config.toml",
        "credentials.json",
    ],
)
def test_writes_to_protected_paths_are_refused(tree: tuple[Path, Path], path: str) -> None:
    with pytest.raises(PathRefused, match="protected"):
        make_ws(tree[0]).resolve_for_write(path)


@pytest.mark.parametrize("path", ["src/env.py", ".gitignore", "environment.md", ".git-blame"])
def test_ordinary_paths_are_not_protected(tree: tuple[Path, Path], path: str) -> None:
    ws = make_ws(tree[0])
    assert not ws.is_protected(path)
    assert ws.resolve_for_write(path) == tree[0].resolve() / path


def test_a_link_to_git_hooks_does_not_bypass_protection(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / "innocent").symlink_to(".git")
    with pytest.raises(PathRefused, match="protected"):
        make_ws(root).resolve_for_write("innocent/hooks/pre-commit")


def test_credentials_exclude_git_and_nanotui_machinery(tree: tuple[Path, Path]) -> None:
    ws = make_ws(tree[0])
    assert ws.is_credential(".env")
    assert ws.is_credential("deploy/key.pem")
    assert ws.is_protected(".git/config") and not ws.is_credential(".git/config")
    assert not ws.is_credential(".nanotui/config.toml")
    assert not ws.is_credential("src/main.py")


def test_hard_linked_targets_are_refused_for_writes(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    os.link(outside / "secret.txt", root / "twin.txt")
    ws = make_ws(root)
    assert ws.resolve_for_read("twin.txt").exists()
    with pytest.raises(PathRefused, match="hard links"):
        ws.resolve_for_write("twin.txt")


def test_directories_are_refused_as_write_targets(tree: tuple[Path, Path]) -> None:
    with pytest.raises(PathRefused, match="directory"):
        make_ws(tree[0]).resolve_for_write("src")


def test_relative_is_posix_and_extra_roots_stay_absolute(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    ws = make_ws(root, extra=[outside])
    assert ws.relative(root.resolve() / "src" / "main.py") == "src/main.py"
    assert ws.relative(root.resolve()) == "."
    extra_file = ws.resolve_for_read(str(outside / "secret.txt"))
    assert ws.relative(extra_file) == str(outside.resolve() / "secret.txt")
    with pytest.raises(PathRefused):
        ws.resolve_for_read(f"{outside}/../ws2")
    with pytest.raises(PathRefused):
        ws.relative(Path("/etc/passwd"))


def test_a_missing_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PathRefused, match="cannot be used as a workspace"):
        make_ws(tmp_path / "missing")


def test_glob_dialect() -> None:
    assert glob_match("**/*.py", "a.py") and glob_match("**/*.py", "x/y/a.py")
    assert not glob_match("*.py", "x/a.py")
    assert glob_match(".ssh/**", ".ssh") and glob_match(".ssh/**", ".ssh/a/b")
    assert not glob_match(".ssh/**", ".sshx")
    assert glob_match("src/**/test_*.py", "src/test_a.py")
    assert path_matches("*.md", "docs/guide/intro.md")
    assert not path_matches("docs/*.md", "docs/guide/intro.md")


# ---- the tools open what the jail checked -------------------------------------------------


async def test_read_file_refuses_a_fifo_without_hanging(tree: tuple[Path, Path]) -> None:
    import asyncio

    from tools_support import call, make_ctx

    from nanotui.tools.read_file import ReadFileTool

    root, _ = tree
    os.mkfifo(root / "pipe")
    out = await asyncio.wait_for(call(ReadFileTool(), make_ctx(root), path="pipe"), timeout=5)
    assert not out.ok and "FIFO" in out.content


async def test_credentials_are_listed_by_name_but_never_read_or_searched(
    tree: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools_support import call, make_ctx

    from nanotui.tools import search_text
    from nanotui.tools.list_dir import ListDirTool
    from nanotui.tools.read_file import ReadFileTool

    root, _ = tree
    (root / ".env").write_text("API_KEY=hunter2\n")
    (root / "notes").symlink_to(".env")
    ctx = make_ctx(root)
    listed = await call(ListDirTool(), ctx, path=".")
    assert ".env  " in listed.content and "hunter2" not in listed.content
    for path in (".env", "notes"):
        out = await call(ReadFileTool(), ctx, path=path)
        assert not out.ok and "credential" in out.content and "hunter2" not in out.content
    for backend in ("rg", None):
        if backend is None:
            monkeypatch.setattr(search_text.shutil, "which", lambda name, *a, **k: None)
        found = await call(search_text.SearchTextTool(), ctx, pattern="hunter2")
        assert found.ok and "hunter2" not in found.content.replace("/hunter2/", "")


def test_search_keeps_only_lines_the_jail_confirms(tree: tuple[Path, Path]) -> None:
    from nanotui.tools.search_text import _FileHits, _keep_jailed_lines, _Search

    root, outside = tree
    ws = make_ws(root)
    (root / "src" / "swapped").symlink_to(outside)
    reported = _Search(
        hits=[
            _FileHits("src/main.py", {1: ("print('hi')", True), 2: ("forged", True)}),
            _FileHits("src/swapped/secret.txt", {1: ("top secret", True)}),
        ],
        matches=3,
    )
    kept = _keep_jailed_lines(ws, reported)
    assert [(h.path, h.lines) for h in kept.hits] == [("src/main.py", {1: ("print('hi')", True)})]
    assert kept.matches == 1


def test_a_folder_swapped_for_a_link_after_planning_is_refused_at_write(
    tree: tuple[Path, Path],
) -> None:
    from tools_support import make_ctx

    from nanotui.tools.file_change import apply_change, make_change

    root, outside = tree
    ctx = make_ctx(root)
    change = make_change(ctx.workspace, "src/new.txt", None, "new\n", None)
    os.rename(root / "src", root / "src.real")
    (root / "src").symlink_to(outside)
    out = apply_change(change, ctx)
    assert not out.ok and "outside the workspace" in out.content
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_a_write_lands_in_the_held_folder_even_if_its_name_is_swapped(
    tree: tuple[Path, Path],
) -> None:
    from nanotui.protocol.atomic_write import write_at

    root, outside = tree
    with make_ws(root).open_dir_for_write("src/main.py") as target:
        current = target.read_current()
        assert current is not None and current[0] == b"print('hi')\n"
        # Swapped between the check and the write: the write still goes to the held folder.
        os.rename(root / "src", root / "src.real")
        (root / "src").symlink_to(outside)
        (outside / "main.py").write_text("outside\n")
        write_at(target.folder_fd, target.name, b"print('bye')\n", mode=current[1])
    assert (root / "src.real" / "main.py").read_text() == "print('bye')\n"
    assert (outside / "main.py").read_text() == "outside\n"
    assert sorted(p.name for p in outside.iterdir()) == ["main.py", "secret.txt"]


def test_read_for_change_reads_the_before_of_a_diff_through_the_jail(
    tree: tuple[Path, Path],
) -> None:
    from nanotui.tools.file_change import read_for_change

    root, outside = tree
    ws = make_ws(root)
    assert read_for_change(ws, "src/main.py") == ("src/main.py", b"print('hi')\n")
    assert read_for_change(ws, "src/new.py") == ("src/new.py", None)
    assert read_for_change(ws, "no/such/folder.py") == ("no/such/folder.py", None)
    (root / "src" / "out").symlink_to(outside)
    for path in ("src/out/secret.txt", ".env"):
        with pytest.raises(PathRefused):
            read_for_change(ws, path)


def test_a_write_may_create_many_folders_on_the_way(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    deep = "/".join(f"d{i}" for i in range(60)) + "/file.txt"
    with make_ws(root).open_dir_for_write(deep, create_parents=True) as target:
        assert target.shown == deep
    assert (root / deep).parent.is_dir()


def test_a_hard_link_to_a_credential_file_is_not_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TOKEN=abc\n")
    os.link(tmp_path / ".env", tmp_path / "notes.txt")
    (tmp_path / "a.txt").write_text("plain\n")
    os.link(tmp_path / "a.txt", tmp_path / "b.txt")  # linked, but to nothing secret
    ws = make_ws(tmp_path)
    with pytest.raises(PathRefused, match=r"hard link.*\.env"):
        ws.open_for_read("notes.txt")
    opened = ws.open_for_read("b.txt")
    try:
        assert os.read(opened.fd, 100) == b"plain\n"
    finally:
        os.close(opened.fd)
