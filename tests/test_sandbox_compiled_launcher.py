"""The C Landlock launcher bwrap runs inside its sandbox: compiled once per machine from the
system's compiler, the same rights as the Python launcher, and never trusted on a doubt (the
Python launcher then runs, and commands still do)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nanotui.security.sandbox import compiled_launcher as compiled
from nanotui.security.sandbox import landlock_exec
from nanotui.security.sandbox.base import CommandResult
from nanotui.security.sandbox.bwrap import BwrapRunner, probe_bwrap
from nanotui.security.sandbox.landlock import probe_landlock

pytestmark = pytest.mark.skipif(
    probe_landlock() is not None, reason=f"Landlock does not work here: {probe_landlock()}"
)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own launcher folder, and nothing remembered from other tests."""
    where = tmp_path / "state" / "bin"
    monkeypatch.setattr(compiled, "launcher_folder", lambda: where)
    monkeypatch.setattr(compiled, "_known", {})
    return where


@pytest.fixture
def launcher(folder: Path) -> Path:
    made = compiled.compiled_launcher(wait=True)
    if made is None:
        pytest.skip("no C compiler in /usr/bin or /bin here")
    return made


def test_it_is_compiled_once_per_machine_under_its_architecture_and_hash(
    launcher: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert launcher.parent == folder and os.uname().machine in launcher.name
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert [p.name for p in folder.iterdir()] == [launcher.name]  # no temporary left
    monkeypatch.setattr(compiled, "_known", {})  # a new nanotui process, same machine
    monkeypatch.setattr(compiled, "_compile", lambda *args: pytest.fail("compiled again"))
    assert compiled.compiled_launcher(wait=True) == launcher


def test_the_first_ask_does_not_wait_for_the_compiler(folder: Path) -> None:
    # bwrap asks from the event loop: the Python launcher serves until the thread is done.
    assert compiled.compiled_launcher() is None
    assert compiled.compiled_launcher(wait=True) is not None or pytest.skip("no compiler")


def test_without_a_compiler_there_is_none_and_nothing_is_written(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compiled, "_system_compiler", lambda: None)
    assert compiled.compiled_launcher(wait=True) is None
    assert not folder.exists()


def test_a_compiler_that_fails_leaves_no_file_and_is_not_tried_again(
    folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "cc"
    broken.write_text("#!/bin/sh\necho 'half a binary' > \"$5\"; exit 1\n")
    broken.chmod(0o755)
    monkeypatch.setattr(compiled, "_system_compiler", lambda: str(broken))
    assert compiled.compiled_launcher(wait=True) is None
    assert list(folder.iterdir()) == []
    monkeypatch.setattr(compiled, "_find_or_compile", lambda f: pytest.fail("tried again"))
    assert compiled.compiled_launcher(wait=True) is None


def test_a_state_folder_it_cannot_write_leaves_commands_to_the_python_launcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if probe_bwrap():
        pytest.skip(f"bwrap does not start here: {probe_bwrap()}")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setattr(compiled, "launcher_folder", lambda: blocked / "bin")
    monkeypatch.setattr(compiled, "_known", {})
    assert compiled.compiled_launcher(wait=True) is None
    workspace = tmp_path / "ws"
    workspace.mkdir()
    result = run(BwrapRunner(workspace), "echo ran", workspace)
    assert result.stdout == "ran\n", result.stderr


@pytest.mark.parametrize("planted", ["junk", "group-writable"])
def test_a_launcher_it_cannot_trust_is_not_used(
    launcher: Path, folder: Path, monkeypatch: pytest.MonkeyPatch, planted: str
) -> None:
    # Another machine's binary sharing the home, a broken file, or a folder others may write
    # (where someone could plant a launcher that skips Landlock): the Python launcher runs.
    if planted == "junk":
        launcher.write_bytes(b"\x7fELF not really")
    else:
        folder.chmod(0o770)
    monkeypatch.setattr(compiled, "_known", {})
    assert compiled.compiled_launcher(wait=True) is None


# What both launchers must refuse and allow, run outside any other sandbox: writes beneath
# the --write folder only (truncate(2) by path and making folders are writes), /dev/null, and on
# Landlock ABI 6 no signal to a process outside and no abstract socket outside.
PROBE = (
    'echo a > "$IN/a" && echo wrote-inside; echo b > "$OUT/b" || echo refused-write; '
    '"$PYTHON" -c "import os,sys; os.truncate(sys.argv[1], 0)" "$OUT/kept" 2>/dev/null '
    '|| echo refused-truncate; mkdir "$OUT/d" || echo refused-mkdir; '
    "echo x > /dev/null && echo devnull; "
    'kill -0 "$HOST_PID" 2>/dev/null && echo signalled || echo refused-signal; '
    '"$PYTHON" -c "import socket,sys; s=socket.socket(socket.AF_UNIX); '
    's.connect(chr(0) + sys.argv[1])" "$ABSTRACT" 2>/dev/null && echo connected '
    "|| echo refused-socket"
)


def launched(argv: list[str], tmp_path: Path, kind: str) -> list[str]:
    inside, outside = tmp_path / f"in-{kind}", tmp_path / f"out-{kind}"
    inside.mkdir()
    outside.mkdir()
    (outside / "kept").write_text("kept\n")
    host = socket.socket(socket.AF_UNIX)
    name = f"nanotui-test-{os.getpid()}-{kind}"
    host.bind(f"\0{name}")
    host.listen(1)
    try:
        environ = {
            "PATH": os.environ["PATH"],
            "IN": str(inside),
            "OUT": str(outside),
            "HOST_PID": str(os.getpid()),
            "PYTHON": sys.executable,
            "ABSTRACT": name,
        }
        done = subprocess.run(
            [*argv, "--write", str(inside), "--", "sh", "-c", PROBE],
            capture_output=True,
            text=True,
            env=environ,
            timeout=60,
        )
    finally:
        host.close()
    assert (outside / "kept").read_text() == "kept\n" and not (outside / "b").exists()
    return done.stdout.split()


def test_both_launchers_refuse_and_allow_the_same(launcher: Path, tmp_path: Path) -> None:
    python = [sys.executable, "-I", "-S", landlock_exec.__file__]
    from_c = launched([str(launcher)], tmp_path, "c")
    from_python = launched(python, tmp_path, "python")
    assert from_c == from_python
    expected = ["wrote-inside", "refused-write", "refused-truncate", "refused-mkdir", "devnull"]
    if landlock_exec.abi_version() >= 6:
        expected += ["refused-signal", "refused-socket"]
    else:
        expected += ["signalled", "connected"]
    assert from_c == expected


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["--bogus", "--", "true"], 126, "unknown option --bogus"),
        (["--write", "/tmp"], 126, "give the command after --"),
        (["--", "no-such-program-here"], 127, "no-such-program-here"),
        ([*["--write", "/tmp"] * 100, "--", "true"], 0, ""),  # no fixed limit on folders
    ],
)
def test_its_use_is_checked_with_one_sentence_and_an_exit_code(
    launcher: Path, argv: list[str], code: int, said: str
) -> None:
    done = subprocess.run([str(launcher), *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == code and said in done.stderr


def run(runner: BwrapRunner, command: str, cwd: Path) -> CommandResult:
    import asyncio

    return asyncio.run(runner.run(command, cwd=cwd, timeout_s=30, max_output_bytes=10_000))
