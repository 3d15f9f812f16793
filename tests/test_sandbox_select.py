"""Choosing a backend: auto's order, explicit choices, require, and the CLI's report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nanotui.cli import main as cli
from nanotui.config import SandboxConfig
from nanotui.security.sandbox import bwrap as sandbox_bwrap
from nanotui.security.sandbox import landlock as sandbox_landlock
from nanotui.security.sandbox.base import SandboxUnavailable
from nanotui.security.sandbox.choose import (
    make_runner,
    probe_backends,
)
from nanotui.security.sandbox.process import CommandStartError
from nanotui.security.sandbox.runners import (
    GuardedRunner,
    PlainRunner,
    UnavailableRunner,
)

NO_BWRAP = "no bwrap binary was found."
NO_LANDLOCK = "this kernel has no Landlock, or it is disabled."


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_bwrap, "probe_bwrap", lambda: NO_BWRAP)
    monkeypatch.setattr(sandbox_landlock, "probe_landlock", lambda: NO_LANDLOCK)


def test_probe_reports_each_backend_and_plain_always_starts() -> None:
    problems = probe_backends()
    assert set(problems) == {"bwrap", "landlock", "plain"}
    assert problems["plain"] is None
    for problem in problems.values():
        assert problem is None or problem.endswith(".")


def test_auto_takes_the_first_backend_that_starts(tmp_path: Path) -> None:
    problems = probe_backends()
    expected = next((name for name, problem in problems.items() if problem is None), "plain")
    runner = make_runner(SandboxConfig(), tmp_path)
    assert runner.backend == expected


def test_auto_skips_bwrap_for_landlock_when_only_landlock_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_bwrap, "probe_bwrap", lambda: NO_BWRAP)
    monkeypatch.setattr(sandbox_landlock, "probe_landlock", lambda: None)
    assert make_runner(SandboxConfig(), tmp_path).backend == "landlock"


async def test_require_with_no_backend_refuses_every_command(
    tmp_path: Path, nothing_starts: None
) -> None:
    runner = make_runner(SandboxConfig(require=True), tmp_path)
    with pytest.raises(SandboxUnavailable, match="require is on") as refused:
        await runner.run("echo hi", cwd=tmp_path, timeout_s=5, max_output_bytes=100)
    assert isinstance(refused.value, CommandStartError)
    assert NO_BWRAP.rstrip(".") in str(refused.value)


async def test_auto_without_require_falls_back_to_plain_and_says_so(
    tmp_path: Path, nothing_starts: None
) -> None:
    runner = make_runner(SandboxConfig(), tmp_path)
    assert isinstance(runner, GuardedRunner) and isinstance(runner.inner, PlainRunner)
    result = await runner.run("echo hi", cwd=tmp_path, timeout_s=5, max_output_bytes=100)
    assert result.stdout == "hi\n"
    assert "without isolation" in result.notice


async def test_an_explicit_backend_that_does_not_start_refuses(
    tmp_path: Path, nothing_starts: None
) -> None:
    runner = make_runner(SandboxConfig(backend="bwrap"), tmp_path)
    with pytest.raises(SandboxUnavailable, match="bwrap sandbox does not start"):
        await runner.run("echo hi", cwd=tmp_path, timeout_s=5, max_output_bytes=100)


def test_plain_is_used_when_chosen_even_where_sandboxes_start(tmp_path: Path) -> None:
    runner = make_runner(SandboxConfig(backend="plain", max_processes=9), tmp_path)
    assert isinstance(runner, GuardedRunner)
    plain = runner.inner
    assert isinstance(plain, PlainRunner) and plain.notice == ""
    assert plain.limits is not None and plain.limits.max_processes == 9


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object], str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_cli_sandbox_run_reports_the_backend_and_opens_network_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    ws = tmp_path / "ws"
    ws.mkdir()
    expected = make_runner(SandboxConfig(), ws).backend
    code, result, _ = _cli(
        capsys, "sandbox", "run", "--json", "-w", str(ws), "--", "sh", "-c", "exit 3"
    )
    assert code == 3
    assert result["backend"] == expected
    assert set(result) == {
        *("exit_code", "stdout", "stderr", "timed_out", "truncated", "stopped", "backend"),
        "limits_apply_to",
    }
    if expected == "bwrap":
        # Only a new network namespace has nothing but `lo`.
        listing = ["sh", "-c", "tail -n +3 /proc/net/dev | wc -l"]
        _, closed, _ = _cli(capsys, "sandbox", "run", "--json", "-w", str(ws), "--", *listing)
        _, opened, _ = _cli(
            capsys, "sandbox", "run", "--json", "--network", "-w", str(ws), "--", *listing
        )
        assert closed["stdout"] == "1\n"
        assert opened["stdout"] != "1\n"


def test_cli_sandbox_run_refuses_in_one_sentence_when_required_and_nothing_starts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    nothing_starts: None,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[sandbox]\nrequire = true\n")
    monkeypatch.setenv("NANOTUI_HOME", str(home))
    code = cli.main(["sandbox", "run", "--json", "-w", str(tmp_path), "--", "true"])
    captured = capsys.readouterr()
    assert code != 0
    assert captured.out == ""
    assert "require is on" in captured.err
    assert UnavailableRunner.backend == "none"
