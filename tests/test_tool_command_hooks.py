"""`nanotui tool` runs the `[[hooks]]` around its one call as the agent does: real hook
scripts in the real sandbox, the same dispatcher, the same exit codes as the call alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanotui.cli.main import main


@pytest.fixture
def ws(home: Path, tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("hello from the notes\n")
    (ws / "other.txt").write_text("the other file\n")
    return ws


def hooks(home: Path, *entries: dict[str, str]) -> None:
    lines = []
    for entry in entries:
        lines.append("[[hooks]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in entry.items()]
    (home / "config.toml").write_text("\n".join(lines) + "\n")


def tool(capsys: pytest.CaptureFixture[str], ws: Path, *argv: str) -> tuple[int, dict]:
    code = main(["tool", *argv, "--json", "-w", str(ws)])
    return code, json.loads(capsys.readouterr().out)


def test_a_pre_tool_hook_blocks_a_command_run_by_hand(home: Path, ws: Path, capsys) -> None:
    block = "cat >/dev/null; echo 'no commands on Fridays' >&2; exit 2"
    hooks(home, {"event": "pre_tool", "matcher": "run_command", "command": block})
    code, out = tool(
        capsys, ws, "run_command", "--args", '{"command": "touch ran.txt"}', "--mode", "full-auto"
    )
    assert code == 4 and "Blocked by a hook before it ran: no commands on Fridays" in out["error"]
    assert not (ws / "ran.txt").exists()
    # The hook matches run_command only: a read goes on.
    code, out = tool(capsys, ws, "read_file", "--args", '{"path": "notes.txt"}')
    assert code == 0 and "hello from the notes" in out["content"]


def test_a_pre_tool_hook_hands_back_arguments_that_are_judged_and_run(
    home: Path, ws: Path, capsys
) -> None:
    answer = json.dumps({"tool_input": {"path": "other.txt"}})
    hooks(home, {"event": "pre_tool", "command": f"cat >/dev/null; printf '%s' '{answer}'"})
    code, out = tool(capsys, ws, "read_file", "--args", '{"path": "notes.txt"}')
    assert code == 0 and "the other file" in out["content"]
    assert "A hook changed the arguments of this call" in out["content"]


def test_a_post_tool_hook_withholds_what_a_command_printed(home: Path, ws: Path, capsys) -> None:
    withhold = "grep -q notes && { echo 'kept from view' >&2; exit 2; }; :"
    hooks(home, {"event": "post_tool", "command": withhold})
    code, out = tool(
        capsys, ws, "run_command", "--args", '{"command": "cat notes.txt"}', "--mode", "full-auto"
    )
    # What the model would read is withheld; the result keeps the command's own record, as
    # the session log does for the person.
    assert code == 4 and "withheld its result: kept from view" in out["content"]
    assert "hello from the notes" not in out["content"]
