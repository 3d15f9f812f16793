"""The path jail against many spellings of a path: each case names where it must end, or why not.

Paths may hold `{root}` and `{outside}`, filled in with the test's own folders.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanotui.config import DEFAULT_PROTECTED_PATHS
from nanotui.security.jail.workspace import PathRefused, Workspace

SECRET = "outside secret\n"


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace full of links, next to an outside folder holding a secret."""
    root = tmp_path / "ws"
    outside = tmp_path / "outside"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print('hi')\n")
    (root / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    links = {
        "abs_out": outside / "secret.txt",
        "rel_out": "../outside/secret.txt",
        "dir_out": outside,
        "to_slash": "/",
        "to_etc_passwd": "/etc/passwd",
        "chain1": "chain2",
        "chain2": "chain3",
        "chain3": "../outside",
        "in_chain1": "in_chain2",
        "in_chain2": "src/main.py",
        "dangling_in": "not-yet.txt",
        "dangling_out": "../outside/not-yet.txt",
        "dangling_abs": "/nonexistent-nanotui/x",
        "loop_a": "loop_b",
        "loop_b": "loop_a",
        "self_loop": "self_loop",
        "src_link": "src",
        "src_abs_link": root / "src",
        "src/up": "..",
        "src/deep_out": "../../outside",
        "src/pkg/back": "../main.py",
        "src_slash": "src/",
        "sibling_prefix": f"{root}x",
    }
    for name, target in links.items():
        (root / name).symlink_to(target)
    return root, outside


def make_ws(root: Path, extra: list[Path] | None = None) -> Workspace:
    return Workspace(root, list(DEFAULT_PROTECTED_PATHS), extra or [])


def fill(path: str, tree: tuple[Path, Path]) -> str:
    root, outside = tree
    return path.replace("{root}", str(root)).replace("{outside}", str(outside))


# ---- refused for reading ------------------------------------------------------------------

REFUSED_FOR_READ = [
    # `..` in every position
    "..",
    "../",
    "../x",
    "./..",
    "../ws/src/main.py",
    "src/../..",
    "src/../../outside/secret.txt",
    "src/pkg/../../..",
    "src/..//..",
    "src/./../..",
    "a/../..",
    "missing/../../x",
    "src/main.py/../../..",
    "src/pkg/../../../outside",
    "../../../../../../../../etc/passwd",
    # absolute paths outside
    "/",
    "/etc/passwd",
    "/etc",
    "{outside}/secret.txt",
    "{outside}",
    "{root}/..",
    "{root}/../outside/secret.txt",
    "{root}x/secret",
    "{root}/src/../../outside",
    "//etc/passwd",
    # home, NUL, empty
    "~",
    "~/",
    "~/x",
    "~root",
    "~root/.bashrc",
    "~nobody/x",
    "\0",
    "a\0b",
    "src/\0",
    "\0/../x",
    "",
    # symlinks that lead out, at any component
    "abs_out",
    "rel_out",
    "dir_out",
    "dir_out/secret.txt",
    "dir_out/../ws/src/main.py",
    "to_slash",
    "to_slash/etc/passwd",
    "to_etc_passwd",
    "chain1",
    "chain1/secret.txt",
    "dangling_out",
    "dangling_abs",
    "src/up/..",
    "src/up/../outside",
    "src/deep_out/secret.txt",
    "src_link/deep_out",
    "src_link/../../outside",
    "sibling_prefix",
    # loops
    "loop_a",
    "loop_a/x",
    "self_loop",
    "src/up/self_loop",
    # a name longer than the file system allows
    "n" * 256,
    "src/" + "n" * 300 + "/x",
]


@pytest.mark.parametrize("path", REFUSED_FOR_READ)
def test_reads_are_refused(tree: tuple[Path, Path], path: str) -> None:
    ws = make_ws(tree[0])
    with pytest.raises(PathRefused, match=r"\.$"):  # one sentence, ended
        ws.resolve_for_read(fill(path, tree))
    with pytest.raises(PathRefused):
        ws.open_for_read(fill(path, tree)).close()


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("..", "'..' leads outside the workspace"),
        ("/etc/passwd", "outside the workspace"),
        ("abs_out", "a symlink in it leads outside the workspace"),
        ("loop_a", "loop"),
        ("~", "'~' is not expanded"),
        ("~root/.bashrc", "'~' is not expanded"),
        ("a\0b", "NUL byte"),
        ("", "empty path"),
        ("n" * 256, "File name too long"),
    ],
)
def test_refusals_say_why(tree: tuple[Path, Path], path: str, reason: str) -> None:
    with pytest.raises(PathRefused, match=reason):
        make_ws(tree[0]).resolve_for_read(path)


# ---- allowed, and where they land ---------------------------------------------------------

RESOLVED_INSIDE = [
    ("src/main.py", "src/main.py"),
    ("./src/main.py", "src/main.py"),
    ("src//main.py", "src/main.py"),
    ("src/./main.py", "src/main.py"),
    ("src/../src/main.py", "src/main.py"),
    ("src/pkg/../main.py", "src/main.py"),
    ("src/", "src"),
    ("src/.", "src"),
    ("src/pkg/..", "src"),
    (".", "."),
    ("./", "."),
    ("src/..", "."),
    ("{root}", "."),
    ("{root}/", "."),
    ("{root}/src/main.py", "src/main.py"),
    ("{root}/./src//pkg/../main.py", "src/main.py"),
    # links that stay inside are followed for reads
    ("in_chain1", "src/main.py"),
    ("src_link/main.py", "src/main.py"),
    ("src_abs_link/main.py", "src/main.py"),
    ("src_slash/main.py", "src/main.py"),
    ("src/up/src/main.py", "src/main.py"),
    ("src/pkg/back", "src/main.py"),
    ("src/up/src/up/src_link/pkg/mod.py", "src/pkg/mod.py"),
    ("dangling_in", "not-yet.txt"),
    # percent-encoding and backslashes are names, never decoded
    ("%2e%2e/x", "%2e%2e/x"),
    ("%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    ("..%2f..%2fetc", "..%2f..%2fetc"),
    ("%00", "%00"),
    ("..\\..\\etc", "..\\..\\etc"),
    ("src\\main.py", "src\\main.py"),
    ("\\\\server\\share", "\\\\server\\share"),
    ("C:\\Windows", "C:\\Windows"),
    # unusual but legal names
    ("...", "..."),
    (".../x", ".../x"),
    ("src/....", "src/...."),
    ("ü/ñ.txt", "ü/ñ.txt"),
    ("日本語.md", "日本語.md"),
    ("emoji 🎉.txt", "emoji 🎉.txt"),
    (" spaced ", " spaced "),
    ("-rf", "-rf"),
    ("x/~", "x/~"),
    ("a~b", "a~b"),
    ("n" * 255, "n" * 255),
    ("d/" * 300 + "f", "d/" * 300 + "f"),
    ("missing/../src/main.py", "src/main.py"),
]


@pytest.mark.parametrize(("path", "expected"), RESOLVED_INSIDE)
def test_paths_resolve_inside(tree: tuple[Path, Path], path: str, expected: str) -> None:
    ws = make_ws(tree[0])
    assert ws.relative(ws.resolve_for_read(fill(path, tree))) == expected


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("src/main.py", "print('hi')\n"),
        ("in_chain1", "print('hi')\n"),
        ("src/pkg/back", "print('hi')\n"),
        ("src_link/pkg/mod.py", "x = 1\n"),
        ("{root}/src/up/src/main.py", "print('hi')\n"),
    ],
)
def test_open_for_read_reads_the_file_the_path_names(
    tree: tuple[Path, Path], path: str, content: str
) -> None:
    with make_ws(tree[0]).open_for_read(fill(path, tree)) as opened:
        assert opened.read_bytes().decode() == content
        assert stat.S_ISREG(opened.st.st_mode)


@pytest.mark.parametrize("path", ["not-here.txt", "dangling_in", "missing/deeper/x", "src/x/y"])
def test_open_for_read_reports_missing_files_with_their_real_path(
    tree: tuple[Path, Path], path: str
) -> None:
    ws = make_ws(tree[0])
    with pytest.raises(FileNotFoundError) as caught:
        ws.open_for_read(path)
    assert caught.value.filename == str(ws.resolve_for_read(path))


# ---- writes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("dangling_in", "symlink"),
        ("in_chain1", "symlink"),
        ("src_link", "symlink"),
        ("src/pkg/back", "symlink"),
        ("abs_out", "symlink"),
        ("dir_out/new.txt", "outside the workspace"),
        ("chain1/new.txt", "outside the workspace"),
        ("src/deep_out/new.txt", "outside the workspace"),
        ("src", "directory"),
        (".", "directory"),
        ("src/pkg/..", "directory"),
        ("..", "outside the workspace"),
        ("~/x", "not expanded"),
    ],
)
def test_writes_are_refused(tree: tuple[Path, Path], path: str, reason: str) -> None:
    ws = make_ws(tree[0])
    with pytest.raises(PathRefused, match=reason):
        ws.resolve_for_write(path)
    with pytest.raises(PathRefused, match=reason):
        ws.open_dir_for_write(path, create_parents=True).close()
    assert sorted(p.name for p in tree[1].iterdir()) == ["secret.txt"]


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.local",
        "app/.env.test",
        ".Env",
        "server.pem",
        "tls/server.PEM",
        "private.key",
        "id_rsa",
        "id_rsa.pub",
        "keys/id_ed25519",
        "id_ed25519.pub",
        ".ssh/config",
        "home/.ssh/known_hosts",
        ".aws/credentials",
        "deploy/.aws/config",
        ".netrc",
        ".npmrc",
        ".pypirc",
        "credentials.json",
        "cfg/credentials.json",
        ".git/hooks/pre-commit",
        ".git/hooks/sub/x",
        ".git/config",
        ".nanotui/config.toml",
        ".nanotui/trust/anything",
        "src_link/.env",
    ],
)
def test_protected_paths_are_never_written(tree: tuple[Path, Path], path: str) -> None:
    ws = make_ws(tree[0])
    with pytest.raises(PathRefused, match="protected"):
        ws.resolve_for_write(path)
    with pytest.raises(PathRefused, match="protected"):
        ws.open_dir_for_write(path, create_parents=True).close()
    # Refused before any folder on the way was created.
    assert not (tree[0] / ".ssh").exists() and not (tree[0] / ".aws").exists()


def test_every_default_protected_pattern_is_covered() -> None:
    covered = {".env*", "*.pem", "*.key", "id_rsa*", "id_ed25519*", ".ssh/**", ".aws/**"}
    covered |= {".netrc", ".npmrc", ".pypirc", "credentials.json", ".git/hooks/**"}
    covered |= {".git/config", ".nanotui/**"}
    assert set(DEFAULT_PROTECTED_PATHS) == covered


def test_a_hard_link_to_an_outside_file_is_refused_for_writes(tree: tuple[Path, Path]) -> None:
    root, outside = tree
    os.link(outside / "secret.txt", root / "passwd")
    ws = make_ws(root)
    with pytest.raises(PathRefused, match="2 hard links"):
        ws.resolve_for_write("passwd")
    with pytest.raises(PathRefused, match="hard links"):
        ws.open_dir_for_write("passwd").close()
    assert (outside / "secret.txt").read_text() == SECRET


def test_a_write_target_holds_its_folder_and_creates_missing_ones_inside(
    tree: tuple[Path, Path],
) -> None:
    root, _ = tree
    ws = make_ws(root)
    with ws.open_dir_for_write("src_link/new/deeper/file.txt", create_parents=True) as target:
        assert target.name == "file.txt"
        assert target.path == root.resolve() / "src/new/deeper/file.txt"
        assert not target.exists() and target.read_current() is None
    assert (root / "src" / "new" / "deeper").is_dir()
    with pytest.raises(FileNotFoundError):
        ws.open_dir_for_write("nowhere/file.txt")


def test_a_file_on_the_way_is_not_a_folder(tree: tuple[Path, Path]) -> None:
    ws = make_ws(tree[0])
    with pytest.raises(FileNotFoundError):
        ws.open_dir_for_write("src/main.py/x", create_parents=True)


# ---- special files ------------------------------------------------------------------------


def test_a_fifo_is_refused_without_hanging(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    os.mkfifo(root / "pipe")
    (root / "pipe_link").symlink_to("pipe")
    ws = make_ws(root)
    for path in ("pipe", "pipe_link"):
        with pytest.raises(PathRefused, match="FIFO"):
            ws.open_for_read(path)
    with pytest.raises(PathRefused, match="FIFO"):
        ws.open_dir_for_write("pipe").close()


def test_a_fifo_swapped_in_after_the_check_is_refused_without_hanging(
    tree: tuple[Path, Path],
) -> None:
    root, _ = tree
    ws = make_ws(root)
    (root / "soon.txt").write_text("text\n")
    with ws.open_dir_for_write("soon.txt") as target:
        (root / "soon.txt").unlink()
        os.mkfifo(root / "soon.txt")
        with pytest.raises(PathRefused, match="FIFO"):
            target.read_current()


def test_devices_are_refused(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    (root / "null_link").symlink_to("/dev/null")
    with pytest.raises(PathRefused, match="outside the workspace"):
        make_ws(root).open_for_read("null_link")
    with pytest.raises(PathRefused, match="device"):
        make_ws(root, extra=[Path("/dev")]).open_for_read("null_link")
    try:
        os.mknod(root / "null_node", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, OSError):
        return  # not permitted here; the /dev/null case above still ran
    with pytest.raises(PathRefused, match="device"):
        make_ws(root).open_for_read("null_node")
    with pytest.raises(PathRefused, match="device"):
        make_ws(root).resolve_for_write("null_node")


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a path short enough for a unix socket (108 bytes at most)."""
    folder = Path(tempfile.mkdtemp(prefix="nt-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_unix_socket_is_refused(short_dir: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(short_dir / "s"))
        ws = make_ws(short_dir)
        with pytest.raises(PathRefused, match="socket"):
            ws.open_for_read("s")
        with pytest.raises(PathRefused, match="socket"):
            ws.resolve_for_write("s")
    finally:
        sock.close()


# ---- credentials --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        *(".env", "conf/.env.prod", "tls/site.pem", "deploy.key", "id_rsa", ".ssh/id_ed25519"),
        *(".aws/credentials", ".netrc", ".npmrc", ".pypirc", "credentials.json", "notes_link"),
    ],
)
def test_credential_files_are_never_opened_for_reading(tree: tuple[Path, Path], path: str) -> None:
    root, _ = tree
    for name in (".env", "conf/.env.prod", "tls/site.pem", "deploy.key", "id_rsa"):
        _write(root / name, "TOKEN=hunter2\n")
    for name in (".ssh/id_ed25519", ".aws/credentials", ".netrc", ".npmrc", ".pypirc"):
        _write(root / name, "TOKEN=hunter2\n")
    _write(root / "credentials.json", "TOKEN=hunter2\n")
    (root / "notes_link").symlink_to(".env")
    with pytest.raises(PathRefused, match="credential") as caught:
        make_ws(root).open_for_read(path)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("path", [".git/config", ".nanotui/config.toml", ".ssh", "src/env.py"])
def test_machinery_and_folders_named_like_secrets_stay_readable(
    tree: tuple[Path, Path], path: str
) -> None:
    root, _ = tree
    for name in (".git/config", ".nanotui/config.toml", ".ssh/known_hosts", "src/env.py"):
        _write(root / name, "plain\n")
    with make_ws(root).open_for_read(path) as opened:
        assert opened.is_dir or opened.read_bytes() == b"plain\n"


# ---- extra roots --------------------------------------------------------------------------


def test_extra_roots_are_reachable_only_by_absolute_path_and_links(
    tree: tuple[Path, Path],
) -> None:
    root, outside = tree
    ws = make_ws(root, extra=[outside])
    with ws.open_for_read(f"{outside}/secret.txt") as opened:
        assert opened.read_bytes().decode() == SECRET
    with ws.open_for_read("abs_out") as opened:  # a link into an allowed root
        assert opened.path == outside.resolve() / "secret.txt"
    for path in (f"{outside}/..", f"{outside}/../ws/src/main.py", "secret.txt"):
        with pytest.raises((PathRefused, FileNotFoundError)):
            ws.open_for_read(path)
    (outside / "escape").symlink_to("../../..")
    with pytest.raises(PathRefused, match="outside the workspace"):
        ws.resolve_for_read(f"{outside}/escape")
    with ws.open_dir_for_write(f"{outside}/notes.md") as target:
        assert target.shown == f"{outside.resolve()}/notes.md"
    with pytest.raises(PathRefused, match="protected"):
        ws.resolve_for_write(f"{outside}/.env")


def test_walks_leave_no_descriptor_open(tree: tuple[Path, Path]) -> None:
    ws = make_ws(tree[0])
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        for path in ["src/main.py", "in_chain1", "abs_out", "loop_a", "missing/x", "..", "."]:
            with contextlib.suppress(PathRefused, FileNotFoundError):
                ws.open_for_read(path).close()
            with contextlib.suppress(PathRefused, FileNotFoundError):
                ws.open_dir_for_write(path).close()
    assert len(os.listdir("/proc/self/fd")) == before


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
