"""The README's set-up commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _commands(text: str) -> list[str]:
    return re.findall(r"^python3 -m venv .*$", text, flags=re.MULTILINE)


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(commands) == 2, commands
    assert "nanotui" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme_test_command = _commands((ROOT / "README.md").read_text(encoding="utf-8"))[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_test_command in ci.splitlines()


def test_readme_documents_every_sub_command() -> None:
    from nanotui.cli.parser import build_parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    sub_actions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    for name in sub_actions[0].choices:
        assert f"nanotui {name}" in readme, f"README does not document `nanotui {name}`"
