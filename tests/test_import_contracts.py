"""The layers hold: import-linter checks the contracts in pyproject.toml on the real package.

A screen that imports the sandbox, a tool that imports the engine, or the protocol reaching
for anything of ours fails here, with import-linter's chain of imports as the message.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    program = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(program), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_every_import_contract_is_kept() -> None:
    done = lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def broken_by(tmp_path: Path, module: str, import_line: str) -> str:
    """lint-imports' output on a copy of the package with `module` (a path under nanotui/)
    holding one import; fails if every contract is still kept."""
    copy = tmp_path / "nanotui"
    subprocess.run(["cp", "-r", str(ROOT / "nanotui"), str(copy)], check=True)
    (copy / module).write_text(import_line + "\n")
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    program = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(program)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode != 0
    return done.stdout


def test_a_screen_importing_the_sandbox_breaks_a_contract(tmp_path: Path) -> None:
    # The check can fail: a copy of the package with one forbidden import is refused.
    out = broken_by(
        tmp_path, "tui/sneaky.py", "from nanotui.security.sandbox.choose import make_runner"
    )
    assert "nanotui.tui.sneaky -> nanotui.security.sandbox.choose" in out


@pytest.mark.parametrize(
    ("module", "import_line"),
    [
        ("tui/screens/sneaky.py", "from nanotui.engine.facade import EngineSession"),
        ("tui/widgets/sneaky.py", "from nanotui.client.remote_session import RemoteSession"),
    ],
)
def test_a_screen_reaching_past_the_session_port_breaks_a_contract(
    tmp_path: Path, module: str, import_line: str
) -> None:
    # The screens cannot tell a local session from a remote one: they may name neither.
    out = broken_by(tmp_path, module, import_line)
    assert "talk to a session only through its SessionPort" in out.replace("\n", " ")
