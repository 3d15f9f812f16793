"""The path jail, against real files, links, FIFOs and sockets."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from nanotui.config import DEFAULT_PROTECTED_PATHS
from nanotui.security.globs import glob_match, path_matches
from nanotui.security.workspace import PathRefused, Workspace


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
