"""run_command through the plain runner: exit codes, limits, the jail and cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest
from hang_guard import guarded
from tools_support import call, make_ctx, process_alive

from nanotui.tools.run_command import RunCommandTool, trim_for_model

run = RunCommandTool()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def _dead_soon(pid: int) -> bool:
    for _ in range(200):
        if not process_alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_exit_codes_decide_ok(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    good = await call(run, ctx, command="echo hello")
    assert good.ok
    assert good.content == "exit code 0\n\nstdout:\nhello\n\nstderr: (empty)"
    assert good.data["exit_code"] == 0 and good.data["backend"] == "plain"
    bad = await call(run, ctx, command="echo oops >&2; exit 3")
    assert not bad.ok
    assert bad.content.startswith("exit code 3") and "stderr:\noops" in bad.content
    signalled = await call(run, ctx, command="kill -TERM $$")
    assert not signalled.ok and "killed by signal 15" in signalled.content


async def test_cwd_is_jailed(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    ctx = make_ctx(tmp_path)
    inside = await call(run, ctx, command="pwd", cwd="sub")
    assert inside.ok and inside.data["stdout"].strip() == str((tmp_path / "sub").resolve())
    outside = await call(run, ctx, command="pwd", cwd="..")
    assert not outside.ok and "outside the workspace" in outside.content
    missing = await call(run, ctx, command="pwd", cwd="nope")
    assert not missing.ok and "not a folder" in missing.content


async def test_timeout_is_capped_and_kills_the_process_group(tmp_path: Path, marker: str) -> None:
    ctx = make_ctx(tmp_path, command_timeout_s=1.0)
    line = f"sleep 600.{marker} & echo $!; sleep 600.{marker}; wait"
    out = await guarded(call(run, ctx, command=line, timeout_s=600))
    background = int(out.data["stdout"].split()[0])
    try:
        assert not out.ok
        assert out.data["timed_out"] and out.data["exit_code"] is None
        assert "timed out after 1 s" in out.content
        assert await _dead_soon(background), "a child of the timed-out command survived"
    finally:
        _kill(background)


async def test_endless_output_is_bounded(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, max_output_bytes=200_000, command_timeout_s=20)
    out = await call(run, ctx, command="yes | head -c 50000000")
    assert out.ok  # finished: not stopped at its 20 s timeout
    assert out.data["truncated"]
    assert len(out.data["stdout"]) <= 200_000
    assert "its middle was cut" in out.content
    assert "characters cut" in out.content
    assert len(out.content) < 25_000  # what the model reads is trimmed further


async def test_cancelling_the_tool_kills_the_group(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, command_timeout_s=20)
    pid_file = tmp_path / "pid"
    task = asyncio.ensure_future(
        call(run, ctx, command=f"sleep 30 & echo $! > {pid_file}; sleep 30")
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
        assert await _dead_soon(background)
    finally:
        task.cancel()
        if background:
            _kill(background)


def test_trim_for_model_keeps_head_and_tail() -> None:
    text = "H" * 1000 + "M" * 100_000 + "T" * 1000
    trimmed = trim_for_model(text, limit=3000)
    assert trimmed.startswith("H" * 1000) and trimmed.endswith("T" * 1000)
    assert "[... 99000 characters cut ...]" in trimmed
    assert trim_for_model("short") == "short"
