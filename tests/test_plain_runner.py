"""The plain command runner: real bash, real process groups, real limits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import pytest
from hang_guard import guarded
from tools_support import process_alive

from nanotui.security.sandbox.base import (
    CommandResult,
    CommandRunner,
)
from nanotui.security.sandbox.process import CommandStartError
from nanotui.security.sandbox.runners import PlainRunner
from nanotui.security.secrets.environment import scrubbed_environment


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def _wait_dead(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        await asyncio.sleep(0.05)
    return not process_alive(pid)


async def test_runs_bash_and_reports_streams_and_exit_code(tmp_path: Path) -> None:
    started = time.monotonic()
    result = await PlainRunner().run(
        "echo out; echo err >&2; pwd; exit 7",
        cwd=tmp_path,
        timeout_s=5,
        max_output_bytes=10_000,
    )
    assert isinstance(result, CommandResult)
    assert result.exit_code == 7
    assert result.stdout == f"out\n{tmp_path}\n"
    assert result.stderr == "err\n"
    assert result.backend == "plain"
    assert not result.timed_out and not result.truncated
    # The run's own time (rounded to the millisecond), within what the caller waited.
    assert 0 < result.duration_s <= time.monotonic() - started + 0.001
    assert isinstance(PlainRunner(), CommandRunner)


async def test_stdin_is_empty_so_readers_do_not_hang(tmp_path: Path) -> None:
    result = await PlainRunner().run(
        "cat; echo done", cwd=tmp_path, timeout_s=2, max_output_bytes=100
    )
    assert result.stdout == "done\n"
    assert not result.timed_out


async def test_a_command_killed_by_a_signal_reports_that_signal(tmp_path: Path) -> None:
    # SIGKILL among them, whose action its reaper cannot set before dying of it too.
    for signum in (signal.SIGKILL, signal.SIGTERM):
        result = await PlainRunner().run(
            f"kill -{int(signum)} $$", cwd=tmp_path, timeout_s=5, max_output_bytes=1000
        )
        assert (result.exit_code, result.stderr) == (-signum, "")


async def test_output_is_decoded_as_utf8_with_replacement(tmp_path: Path) -> None:
    result = await PlainRunner().run(
        r"printf 'caf\xc3\xa9 \xff\n'", cwd=tmp_path, timeout_s=2, max_output_bytes=100
    )
    assert result.stdout == "café \ufffd\n"


async def test_environment_is_scrubbed_of_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-leak")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-leak")
    monkeypatch.setenv("PYTHON_SECRET_THING", "leak")
    monkeypatch.setenv("SOME_RANDOM_VAR", "not-passed")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    result = await PlainRunner().run(
        "env", cwd=tmp_path, timeout_s=2, max_output_bytes=100_000, env={"EXTRA": "yes"}
    )
    assert "leak" not in result.stdout
    assert "SOME_RANDOM_VAR" not in result.stdout
    assert "PYTHONDONTWRITEBYTECODE=1" in result.stdout
    assert "LC_ALL=C.UTF-8" in result.stdout
    assert "EXTRA=yes" in result.stdout
    assert "PATH=" in result.stdout
    assert scrubbed_environment({"MY_PASSWORD": "x", "HOME": "/h"}) == {"HOME": "/h"}


async def _run_guarded(line: str, cwd: Path, timeout_s: float) -> CommandResult:
    """Run `line` (whose sleeps run ten minutes) within the hang guard."""
    return await guarded(
        PlainRunner().run(line, cwd=cwd, timeout_s=timeout_s, max_output_bytes=1000)
    )


async def test_timeout_kills_the_whole_process_group(tmp_path: Path, marker: str) -> None:
    line = f"sleep 600.{marker} & echo $!; sleep 600.{marker}; wait"
    result = await _run_guarded(line, tmp_path, timeout_s=1)
    background = int(result.stdout.split()[0])
    try:
        assert result.timed_out
        assert result.exit_code is None
        assert await _wait_dead(background), "the background sleep outlived the timeout"
    finally:
        _kill(background)


async def test_a_command_ignoring_sigterm_is_killed(tmp_path: Path, marker: str) -> None:
    line = f"trap '' TERM; sleep 600.{marker} & echo $!; wait"
    result = await _run_guarded(line, tmp_path, timeout_s=0.5)
    background = int(result.stdout.split()[0])
    try:
        assert result.timed_out
        assert await _wait_dead(background)
    finally:
        _kill(background)


async def test_background_children_do_not_outlive_the_command(tmp_path: Path, marker: str) -> None:
    # Waiting on the child holding the pipe would run into the 30 s timeout.
    result = await _run_guarded(f"sleep 600.{marker} & echo $!", tmp_path, timeout_s=30)
    background = int(result.stdout.split()[0])
    try:
        assert result.exit_code == 0 and not result.timed_out, "waited on a child holding the pipe"
        assert await _wait_dead(background)
    finally:
        _kill(background)


async def test_output_is_capped_to_head_and_tail_while_the_child_is_drained(
    tmp_path: Path,
) -> None:
    result = await PlainRunner().run(
        "yes | head -c 50000000; echo end; echo tail >&2",
        cwd=tmp_path,
        timeout_s=20,
        max_output_bytes=100_000,
    )
    assert result.truncated
    assert result.exit_code == 0 and not result.timed_out
    assert len(result.stdout.encode()) + len(result.stderr.encode()) <= 100_000
    assert result.stdout.startswith("y\ny\n")
    assert result.stdout.endswith("y\ny\nend\n")
    assert "bytes cut ...]" in result.stdout
    assert result.stderr == "tail\n"


async def test_cancellation_kills_the_group_and_propagates(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.ensure_future(
        PlainRunner().run(
            f"sleep 30 & echo $! > {pid_file}; sleep 30",
            cwd=tmp_path,
            timeout_s=20,
            max_output_bytes=1000,
        )
    )
    background = 0
    try:
        for _ in range(100):
            if pid_file.exists() and pid_file.read_text().strip():
                break
            await asyncio.sleep(0.02)
        background = int(pid_file.read_text())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await _wait_dead(background), "cancellation left the background sleep running"
    finally:
        task.cancel()
        if background:
            _kill(background)


async def test_a_missing_folder_is_a_start_error(tmp_path: Path) -> None:
    with pytest.raises(CommandStartError, match="could not start"):
        await PlainRunner().run("true", cwd=tmp_path / "nope", timeout_s=2, max_output_bytes=100)
