"""The undo hints that `nanotui run` and `checkpoints restore` print work as printed."""

from __future__ import annotations

import os
import pty
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from nanotui.cli.checkpoint_commands import restore_command
from nanotui.providers.demo import sample_project_path

BIN = Path(sys.executable).parent


def nanotui_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOTUI_")}
    env["NANOTUI_HOME"] = str(home)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_in_a_terminal(command: str, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run a shell line with a terminal on stdin, answering yes to what it asks."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"y\ny\n")
        done = subprocess.run(
            command,
            shell=True,
            cwd=cwd,
            env=env,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    return done.returncode, done.stdout + done.stderr


def test_demo_runs_undo_hint_restores_the_demo_copy_when_typed_where_the_user_is(
    tmp_path: Path,
) -> None:
    # A space in the path: the printed command must quote it to work as typed.
    home, here = tmp_path / "nanotui home", tmp_path / "where I am"
    here.mkdir()
    env = nanotui_env(home)
    done = subprocess.run(
        [str(BIN / "nanotui"), "run", "--demo", "--mode", "full-auto", "fix the failing test"],
        cwd=here,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    [hint] = re.findall(r"^To undo this run: (.+)$", done.stderr, re.MULTILINE)
    copy = Path(shlex.split(hint)[shlex.split(hint).index("--workspace") + 1])
    original = (sample_project_path() / "inventory.py").read_text()
    assert (copy / "inventory.py").read_text() != original

    code, output = run_in_a_terminal(hint, here, env)

    assert code == 0, output
    assert "Restored 1 file" in output
    assert (copy / "inventory.py").read_text() == original


def test_restore_command_names_the_workspace_only_when_it_is_not_here(tmp_path: Path) -> None:
    elsewhere = tmp_path / "it's here"
    elsewhere.mkdir()
    assert restore_command("44be/1", tmp_path, cwd=tmp_path) == "nanotui checkpoints restore 44be/1"
    assert restore_command("44be/1", elsewhere, cwd=tmp_path) == (
        f"nanotui checkpoints restore 44be/1 --workspace {shlex.quote(str(elsewhere))}"
    )


def test_restores_own_undo_hint_names_the_workspace_it_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nanotui.cli.main import main
    from nanotui.vcs.checkpoints import Checkpoints

    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    ws, here = tmp_path / "ws", tmp_path / "here"
    ws.mkdir()
    here.mkdir()
    (ws / "a.txt").write_text("one\n")
    first = Checkpoints(ws, "20260101-000000-abcd").snapshot("before", turn=1)
    (ws / "a.txt").write_text("two\n")
    monkeypatch.chdir(here)

    code = main(["checkpoints", "restore", first.id, "--yes", "--workspace", str(ws)])

    assert code == 0
    [undo] = re.findall(
        r"`(nanotui checkpoints restore [^`]+)` undoes this", capsys.readouterr().out
    )
    assert shlex.split(undo)[-2:] == ["--workspace", str(ws)]
