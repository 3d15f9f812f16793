"""Credential files of the workspace are unreadable inside bwrap, whatever program reads them:
the rule keys on the file, not on `cat`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanotui.config import DEFAULT_PROTECTED_PATHS, SandboxConfig
from nanotui.security.sandbox.bwrap import BwrapRunner, probe_bwrap
from nanotui.security.sandbox.choose import make_runner

pytestmark = pytest.mark.skipif(
    probe_bwrap() is not None, reason=f"bwrap does not start here: {probe_bwrap()}"
)

READERS = (
    "base64 {f}; od -c {f}; rev {f}; "
    "python3 -c \"print(open('{f}').read())\"; cp {f} /tmp/copy && cat /tmp/copy; "
)


def _git(workspace: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=workspace,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    (workspace / "config" / "deep").mkdir(parents=True)
    (workspace / ".env").write_text("TOKEN=planted-root-env\n")
    (workspace / "config" / "deep" / ".env.production").write_text("DB=planted-nested\n")
    (workspace / "server.pem").write_text("planted pem\n")
    (workspace / "app.py").write_text("print('app')\n")
    os.link(workspace / ".env", workspace / "innocent.txt")
    (workspace / "pointer.txt").symlink_to(".env")
    (workspace / ".env.test").write_text("TEST_ONLY=shared-on-purpose\n")
    return workspace


async def test_credential_files_cannot_be_read_by_any_program(planted: Path) -> None:
    names = [".env", "config/deep/.env.production", "server.pem", "innocent.txt", "pointer.txt"]
    script = "".join(READERS.format(f=name) for name in names) + "cat app.py"
    result = await BwrapRunner(planted).run(
        script, cwd=planted, timeout_s=30, max_output_bytes=200_000
    )
    assert result.stdout.endswith("print('app')\n"), result.stderr
    assert "planted" not in result.stdout
    assert "cGxhbnRlZ" not in result.stdout and "p   l   a   n" not in result.stdout
    assert "detnalp" not in result.stdout  # rev
    # Nothing was changed on the host.
    assert (planted / ".env").read_text() == "TOKEN=planted-root-env\n"


@pytest.fixture
def outside() -> Iterator[Path]:
    # Outside /tmp, which bwrap replaces by a private one: where a shared secret would be.
    folder = Path(tempfile.mkdtemp(prefix="nanotui-shared-", dir="/var/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def test_a_credential_link_to_a_secret_outside_the_workspace_hides_the_secret(
    planted: Path, outside: Path
) -> None:
    (outside / "project.env").write_text("SHARED=planted-outside\n")
    (outside / "keys").mkdir()
    (outside / "keys" / "id_ed25519").write_text("planted key outside\n")
    (outside / "home" / "vault").mkdir(parents=True)
    (outside / "home" / "vault" / "prod.env").write_text("HOME_SECRET=planted-in-home\n")
    (planted / "config" / ".env.shared").symlink_to(outside / "project.env")
    (planted / ".ssh").symlink_to(outside / "keys")
    (planted / ".env.home").symlink_to(outside / "home" / "vault" / "prod.env")
    script = (
        "base64 config/.env.shared; od -c .ssh/id_ed25519; cat .env.home; "
        f"cat {outside}/project.env {outside}/keys/id_ed25519; cat app.py"
    )
    result = await BwrapRunner(planted).run(
        script,
        cwd=planted,
        timeout_s=30,
        max_output_bytes=100_000,
        env={"HOME": str(outside / "home")},
    )
    assert result.stdout.endswith("print('app')\n"), result.stderr
    assert "planted" not in result.stdout
    assert "cGxhbnRlZ" not in result.stdout and "p   l   a   n" not in result.stdout
    assert (outside / "project.env").read_text() == "SHARED=planted-outside\n"


async def test_a_credential_link_to_a_folder_holding_the_workspace_hides_nothing(
    planted: Path,
) -> None:
    (planted / ".aws").symlink_to(planted.parent)
    result = await BwrapRunner(planted).run(
        "cat app.py", cwd=planted, timeout_s=30, max_output_bytes=10_000
    )
    assert result.stdout == "print('app')\n", result.stderr


async def test_a_credential_file_passed_on_purpose_is_readable(planted: Path) -> None:
    runner = BwrapRunner(planted, readable_credentials=[".env.test"])
    result = await runner.run(
        "cat .env.test; cat .env", cwd=planted, timeout_s=30, max_output_bytes=10_000
    )
    assert result.stdout == "TEST_ONLY=shared-on-purpose\n"


async def test_git_cannot_stage_or_diff_a_hidden_tracked_credential_file(planted: Path) -> None:
    _git(planted, "init", "-q")
    _git(planted, "add", ".env", "app.py")
    _git(planted, "commit", "-qm", "first")
    result = await BwrapRunner(planted).run(
        "git diff; git add -A; git -c user.name=t -c user.email=t@t commit -qam emptied; "
        "git status --short",
        cwd=planted,
        timeout_s=30,
        max_output_bytes=100_000,
    )
    # git refuses the unreadable file instead of showing the committed content as removed or
    # committing it emptied.
    assert "planted" not in result.stdout + result.stderr
    assert _git(planted, "log", "--oneline").count("\n") == 1
    assert _git(planted, "show", "HEAD:.env") == "TOKEN=planted-root-env\n"


async def test_the_runner_hides_what_the_policy_protects_and_passes_what_config_allows(
    planted: Path,
) -> None:
    (planted / "vault.secret").write_text("planted custom secret\n")
    settings = SandboxConfig(backend="bwrap", readable_credentials=[".env.test"])
    runner = make_runner(settings, planted, [*DEFAULT_PROTECTED_PATHS, "*.secret"])
    result = await runner.run(
        "cat vault.secret .env .env.test", cwd=planted, timeout_s=30, max_output_bytes=10_000
    )
    assert result.stdout == "TEST_ONLY=shared-on-purpose\n"
