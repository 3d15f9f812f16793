"""When the sandbox in use cannot hold commands to the network allowlist: said at the start
of each session and by `nanotui doctor`, and, when an organisation's managed settings hold
the network, commands are refused rather than run with it open.

Real parts: `nanotui run` against the scripted model server, the real sandbox choice (only
the probes are told that no sandbox starts, for the last test), real commands.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_model_server import openai_reply
from run_support import of_type, run

from nanotui.cli.doctor import run_doctor
from nanotui.config_loading import load_settings
from nanotui.security.sandbox import bwrap as sandbox_bwrap
from nanotui.security.sandbox import landlock as sandbox_landlock
from nanotui.security.sandbox.choose import probe_backends

ALLOWLIST = '[sandbox]\nnetwork = "allowlist"\nallowed_domains = ["pypi.org"]\n'


@pytest.mark.parametrize(
    ("backend", "consequence"),
    [("plain", "commands reach the whole network"), ("landlock", "commands get no network")],
)
def test_a_session_and_doctor_say_the_backend_does_not_enforce_the_allowlist(
    fake_server,
    home: Path,
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    backend: str,
    consequence: str,
) -> None:
    if problem := probe_backends()[backend]:
        pytest.skip(f"needs {backend}: {problem}")
    (home / "config.toml").write_text(ALLOWLIST + f'backend = "{backend}"\n')
    fake_server.enqueue(openai_reply(text="Nothing to do."))
    _, events, _ = run(fake_server, workspace, capsys)
    said = [e["text"] for e in of_type(events, "notice") if e["level"] == "warning"]
    sentence = (
        'The network allowlist ([sandbox] network = "allowlist") is not enforced by the '
        f"{backend} backend"
    )
    assert any(sentence in text and consequence in text for text in said), said
    assert any('set [sandbox] backend = "bwrap"' in text for text in said)

    assert run_doctor(workspace, {"provider": {"kind": "demo"}}) == 1
    assert f"FAIL  network          {sentence}" in capsys.readouterr().out


def test_bwrap_enforces_the_allowlist_so_nothing_is_said(
    fake_server, home: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if problem := probe_backends()["bwrap"]:
        pytest.skip(f"needs bwrap: {problem}")
    (home / "config.toml").write_text(ALLOWLIST + 'backend = "bwrap"\n')
    fake_server.enqueue(openai_reply(text="Nothing to do."))
    _, events, _ = run(fake_server, workspace, capsys)
    assert not [e for e in of_type(events, "notice") if "allowlist" in e["text"]]


@pytest.mark.parametrize("network", ["none", "allowlist"])
def test_a_managed_network_is_held_by_a_sandbox_or_commands_are_refused(
    fake_server,
    home: Path,
    workspace: Path,
    managed_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    network: str,
) -> None:
    managed_file.write_text(f'[sandbox]\nnetwork = "{network}"\n')
    # The user picks the plain backend, which would run commands with the network open.
    (home / "config.toml").write_text(
        '[sandbox]\nbackend = "plain"\n[policy]\nallow = ["touch *"]\n'
    )
    loaded = load_settings(workspace, environ={})
    assert loaded.settings.sandbox.backend == "auto" and loaded.settings.sandbox.require
    [notice] = loaded.conflicts
    assert f"sandbox.network is managed by your organisation ({managed_file})" in notice
    assert "the plain backend cannot hold commands to it" in notice

    # Where no sandbox starts, the command is refused, not run without one.
    monkeypatch.setattr(sandbox_bwrap, "probe_bwrap", lambda: "no bwrap binary was found.")
    monkeypatch.setattr(sandbox_landlock, "probe_landlock", lambda: "no Landlock here.")
    fake_server.enqueue(
        openai_reply(tool_calls=[("run_command", {"command": "touch ran.txt"})]),
        openai_reply(text="It was refused."),
    )
    run(fake_server, workspace, capsys, "--mode", "full-auto")
    assert not (workspace / "ran.txt").exists()
    [told] = [m for m in fake_server.requests[1].body["messages"] if m["role"] == "tool"]
    assert "[sandbox] require is on, so commands are refused" in told["content"]
