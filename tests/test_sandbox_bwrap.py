"""The bwrap backend's view of the machine: what is read-only, what is hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanotui.security.sandbox.bwrap import BwrapRunner, bwrap_argv, probe_bwrap

pytestmark = pytest.mark.skipif(
    probe_bwrap() is not None, reason=f"bwrap does not start here: {probe_bwrap()}"
)


def _workspace_with_git(root: Path) -> Path:
    ws = root / "ws"
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]\n")
    (ws / ".nanotui").mkdir()
    (ws / ".nanotui" / "config.toml").write_text("")
    return ws


async def test_git_hooks_git_config_and_project_config_are_read_only(tmp_path: Path) -> None:
    ws = _workspace_with_git(tmp_path)
    result = await BwrapRunner(ws).run(
        "echo evil > .git/hooks/pre-commit; echo evil >> .git/config; "
        "echo evil > .nanotui/config.toml; echo fine > .git/HEAD_NOTE; echo done",
        cwd=ws,
        timeout_s=10,
        max_output_bytes=10_000,
    )
    assert result.stdout == "done\n"
    assert result.stderr.count("Read-only file system") == 3
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()
    assert (ws / ".git" / "config").read_text() == "[core]\n"
    assert (ws / ".nanotui" / "config.toml").read_text() == ""
    assert (ws / ".git" / "HEAD_NOTE").read_text() == "fine\n"


async def test_credential_stores_in_home_are_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake home lives inside the workspace, which is the only host folder under /tmp
    # the sandbox sees: hiding is what keeps these files out, not the private /tmp.
    ws = tmp_path / "ws"
    home = ws / "home"
    for folder in (".ssh", ".aws", ".config/gcloud", ".kube", ".docker"):
        (home / folder).mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY")
    (home / ".aws" / "credentials").write_text("aws secret")
    (home / ".config" / "gcloud" / "token").write_text("gcloud secret")
    (home / ".docker" / "config.json").write_text("docker secret")
    (home / ".netrc").write_text("netrc secret")
    (home / ".git-credentials").write_text("git secret")
    (home / ".local" / "bin").mkdir(parents=True)  # toolchains' folders stay visible
    (home / ".local" / "bin" / "notes.txt").write_text("visible\n")
    nanotui_home = ws / "nanotui-home"
    nanotui_home.mkdir()
    (nanotui_home / "config.toml").write_text("nanotui secret")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NANOTUI_HOME", str(nanotui_home))
    result = await BwrapRunner(ws).run(
        "cat ~/.local/bin/notes.txt ~/.docker/config.json ~/.netrc ~/.git-credentials; "
        "cat ../ws/nanotui-home/config.toml; "
        "for d in ~/.ssh ~/.aws ~/.config/gcloud ../ws/nanotui-home; do ls -A $d; done | wc -l",
        cwd=ws,
        timeout_s=10,
        max_output_bytes=10_000,
    )
    assert result.stdout.split() == ["visible", "0"]
    assert "secret" not in result.stdout and "PRIVATE" not in result.stdout
    assert (home / ".ssh" / "id_ed25519").read_text() == "PRIVATE KEY"


async def test_the_root_is_read_only_and_tmp_is_private(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "host-file").write_text("host")
    result = await BwrapRunner(ws).run(
        f"touch /usr/nanotui-probe; cat {tmp_path}/host-file; ls -A /tmp; echo $$",
        cwd=ws,
        timeout_s=10,
        max_output_bytes=10_000,
    )
    assert "Read-only file system" in result.stderr
    assert "host" not in result.stdout
    # /tmp holds only the mount points leading to the workspace (and the Landlock launcher,
    # read-only, where it runs inside), and bash is PID 1 or 2.
    lines = result.stdout.split()
    assert [name for name in lines[:-1] if name != ".nanotui-launcher"] == [tmp_path.parts[2]]
    assert int(lines[-1]) <= 2


def test_the_command_line_isolates_everything_and_opens_network_on_request(
    tmp_path: Path,
) -> None:
    ws = _workspace_with_git(tmp_path)
    closed = bwrap_argv("bwrap", ws, ws, {"HOME": str(tmp_path)}, network=False, command="true")
    opened = bwrap_argv("bwrap", ws, ws, {"HOME": str(tmp_path)}, network=True, command="true")
    for flag in ("--unshare-pid", "--unshare-user", "--die-with-parent", "--new-session"):
        assert flag in closed
    assert closed[closed.index("--cap-drop") + 1] == "ALL"
    assert "--unshare-net" in closed and "--unshare-net" not in opened
    assert closed.index("--tmpfs") < closed.index("--bind")
    assert str(ws / ".git" / "hooks") in closed
    assert closed[-3:] == ["bash", "-c", "true"]


async def test_a_command_that_fails_to_be_planned_leaves_no_descriptor_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The no-network filter is opened for each command: a failure after that, before the
    # spawn, must close it (a session would otherwise leak one per failed command).
    import os

    from nanotui.security.sandbox import bwrap

    def filters_open() -> int:
        fds = os.listdir("/proc/self/fd")
        return sum("nanotui-seccomp" in os.path.realpath(f"/proc/self/fd/{fd}") for fd in fds)

    def broken(*args: object, **kwargs: object) -> object:
        raise OSError("the git config could not be read")

    monkeypatch.setattr(bwrap, "git_config_copies", broken)
    runner = BwrapRunner(tmp_path)
    before = filters_open()
    for _ in range(3):
        with pytest.raises(OSError, match="git config"):
            await runner.run("true", cwd=tmp_path, timeout_s=10, max_output_bytes=1000)
    assert filters_open() == before
