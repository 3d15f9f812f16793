"""`nanotui run`'s result counts every file the run changed, by file tools and by commands."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fake_model_server import openai_reply
from run_support import of_type, run

from nanotui.cli.main import main


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> Path:
    # Redirections need a rule that allows them, even in full-auto mode.
    (home / "config.toml").write_text('[policy]\nallow = ["echo *"]\n')
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "foo.py").write_text("x = 1\n")
    (repo / "gone.py").write_text("y = 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=repo, check=True)
    return repo


def test_files_a_command_created_changed_or_deleted_are_in_files_changed(
    fake_server, repo, home, capsys
) -> None:
    fake_server.enqueue(
        openai_reply(tool_calls=[("write_file", {"path": "written.py", "content": "w = 1\n"})]),
        openai_reply(
            tool_calls=[
                ("run_command", {"command": "echo x > new.txt && echo 2 >> foo.py && rm gone.py"})
            ]
        ),
        openai_reply(text="Done."),
    )
    code, events, _ = run(fake_server, repo, capsys, "--mode", "full-auto", "--trust")
    [command] = [e for e in of_type(events, "tool_result") if e["tool"] == "run_command"]
    assert command["ok"], command
    assert (repo / "new.txt").read_text() == "x\n" and not (repo / "gone.py").exists()
    result = events[-1]
    assert code == 0 and result["type"] == "result"
    assert result["files_changed"] == ["written.py", "foo.py", "gone.py", "new.txt"]


def test_the_readable_summary_names_a_file_only_a_command_created(
    fake_server, repo, home, capsys
) -> None:
    fake_server.enqueue(
        openai_reply(tool_calls=[("run_command", {"command": "echo x > new.txt"})]),
        openai_reply(text="Made it."),
    )
    code = main(
        [
            "run",
            "make new.txt",
            "--workspace",
            str(repo),
            "--model",
            "test-model",
            "--base-url",
            fake_server.openai_base_url,
            "--mode",
            "full-auto",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0
    assert "files changed: new.txt" in err
    assert "To undo this run: nanotui checkpoints restore" in err
