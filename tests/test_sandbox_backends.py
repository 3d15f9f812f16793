"""Every backend that starts here, with real commands: writes, network, limits, kills, secrets.

Tests that stress the machine are bounded twice: by the limit under test and by a short
timeout, and whatever they started is looked up by a unique marker and killed in a finally.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import signal
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from hang_guard import guarded
from sandbox_support import (
    BACKENDS,
    ISOLATING,
    bare_runner,
    kill_all,
    none_left,
    pids_with,
    runner_for,
)

from nanotui.security.sandbox.base import CommandRunner


@pytest.mark.parametrize("backend", ISOLATING)
async def test_writes_land_in_the_workspace_only(backend: str, workspace: Path) -> None:
    outside = workspace.parent / "outside"
    outside.mkdir()
    runner = runner_for(backend, workspace)
    result = await runner.run(
        f"echo in > inside.txt; echo out > {outside}/escaped.txt; echo $?",
        cwd=workspace,
        timeout_s=10,
        max_output_bytes=10_000,
    )
    assert (workspace / "inside.txt").read_text() == "in\n"
    assert not (outside / "escaped.txt").exists()
    assert result.stdout.strip() == "1"
    assert "escaped.txt" in result.stderr


@pytest.mark.parametrize("backend", ISOLATING)
async def test_temp_files_go_to_a_private_writable_folder(backend: str, workspace: Path) -> None:
    runner = runner_for(backend, workspace)
    result = await runner.run(
        'f=$(mktemp) && echo ok > "$f" && cat "$f" && echo "$TMPDIR"',
        cwd=workspace,
        timeout_s=10,
        max_output_bytes=10_000,
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.split()
    assert lines[0] == "ok"
    assert lines[1] != os.environ.get("TMPDIR", "")


async def _temp_folder_after(runner: CommandRunner, workspace: Path, command: str) -> Path:
    """The TMPDIR the command ran with (it must succeed)."""
    result = await runner.run(
        f'{command} && echo "$TMPDIR"', cwd=workspace, timeout_s=10, max_output_bytes=10_000
    )
    assert result.exit_code == 0, result.stderr
    return Path(result.stdout.split()[-1])


SET_ATTRIBUTE = 'python3 -c \'import os; os.setxattr(os.environ["TMPDIR"], "user.a", b"1")\''


@pytest.mark.parametrize(
    ("leave", "kept"),
    [
        ("true", True),
        ("echo left > $TMPDIR/file", False),
        ("chmod 755 $TMPDIR", False),  # others let in
        ("chgrp nogroup $TMPDIR", False),
        (SET_ATTRIBUTE, False),  # as a default ACL would be, for what the next one makes
        ("chattr +i $TMPDIR", False),  # as root: the next could write nothing there
    ],
)
async def test_a_landlock_temp_folder_is_kept_for_the_next_command_only_as_it_was_made(
    workspace: Path, leave: str, kept: bool
) -> None:
    if leave.startswith("chattr") and (os.geteuid() != 0 or not shutil.which("chattr")):
        pytest.skip("setting the immutable flag needs root and chattr")
    runner = bare_runner("landlock", workspace)
    try:
        first = await _temp_folder_after(runner, workspace, leave)
    except AssertionError:
        pytest.skip(f"this machine's temp folder does not take: {leave}")
    try:
        second = await _temp_folder_after(runner, workspace, 'test -z "$(ls -A $TMPDIR)"')
        assert (second == first) == kept
        assert stat.S_IMODE(second.stat().st_mode) == 0o700
        assert not os.listxattr(second)
    finally:
        if leave.startswith("chattr"):
            subprocess.run(["chattr", "-i", str(first)], check=False)
            first.rmdir()  # nanotui cannot remove it, root or not, without changing it back
    assert first.exists() == kept  # one not kept is removed
    del runner
    gc.collect()
    assert not second.exists()  # the kept ones go with the runner


@pytest.mark.parametrize("backend", ISOLATING)
async def test_network_is_cut_unless_the_call_allows_it(backend: str, workspace: Path) -> None:
    runner = runner_for(backend, workspace)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        probe = f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected"
        closed = await runner.run(probe, cwd=workspace, timeout_s=10, max_output_bytes=10_000)
        opened = await runner.run(
            probe, cwd=workspace, timeout_s=10, max_output_bytes=10_000, network=True
        )
    assert "connected" not in closed.stdout and closed.exit_code != 0
    assert opened.stdout == "connected\n", opened.stderr
    assert closed.notice == ""


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_fork_bomb_is_contained_and_killed(
    backend: str, workspace: Path, marker: str
) -> None:
    runner = runner_for(backend, workspace, max_processes=24)
    # A binary tree 7 deep (at most ~250 processes even if nothing held it), each node
    # sleeping; the limit must refuse forks well before that.
    bomb = (
        f"f() {{ if [ $1 -gt 0 ]; then f $(($1-1)) & f $(($1-1)) & fi; sleep 20.{marker}; }}; f 7"
    )
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, len(pids_with(marker)))
            await asyncio.sleep(0.05)

    watcher = asyncio.ensure_future(watch())
    try:
        result = await runner.run(bomb, cwd=workspace, timeout_s=2, max_output_bytes=100_000)
        assert result.timed_out
        assert "Resource temporarily unavailable" in result.stderr
        assert peak <= 24 + 3, f"{peak} processes ran under a limit of 24"
        assert await none_left(marker), "processes of the fork bomb survived"
    finally:
        watcher.cancel()
        kill_all(marker)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_timeout_kills_the_command_and_its_children(
    backend: str, workspace: Path, marker: str, cgroup: str
) -> None:
    runner = runner_for(backend, workspace)
    line = f"sleep 600.{marker} & (sleep 601.{marker} &) ; sleep 602.{marker}; wait"
    try:
        result = await guarded(runner.run(line, cwd=workspace, timeout_s=1, max_output_bytes=1000))
        assert result.timed_out and result.exit_code is None
        assert await none_left(marker), "a child outlived the timeout"
    finally:
        kill_all(marker)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_endless_output_keeps_head_and_tail(backend: str, workspace: Path) -> None:
    runner = runner_for(backend, workspace)
    result = await runner.run(
        "echo FIRST; head -c 100000000 /dev/zero | tr '\\0' x; echo; echo LAST",
        cwd=workspace,
        timeout_s=20,
        max_output_bytes=100_000,
    )
    assert result.exit_code == 0 and result.truncated and not result.timed_out
    assert result.stdout.startswith("FIRST\nxxx")
    assert result.stdout.endswith("xxx\nLAST\n")
    assert "bytes cut ...]" in result.stdout
    assert len(result.stdout.encode()) <= 100_000


@pytest.mark.parametrize("backend", BACKENDS)
async def test_memory_and_file_size_are_limited(backend: str, workspace: Path) -> None:
    runner = runner_for(backend, workspace, memory_mb=300, max_file_mb=1)
    # calloc'd memory is not touched, so even an unlimited run would not use the gigabyte.
    result = await runner.run(
        "python3 -c 'bytearray(1 << 30)' 2>&1 | tail -1; head -c 2000000 /dev/zero > big; echo $?",
        cwd=workspace,
        timeout_s=10,
        max_output_bytes=10_000,
    )
    assert "MemoryError" in result.stdout
    assert result.stdout.split()[-1] == str(128 + signal.SIGXFSZ)
    assert (workspace / "big").stat().st_size <= 1024 * 1024


@pytest.mark.parametrize("backend", BACKENDS)
async def test_secrets_stay_out_unless_passed_on_purpose(
    backend: str, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-leak")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-leak")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-passed")
    runner = runner_for(backend, workspace, pass_env=["GITHUB_TOKEN"])
    result = await runner.run("env", cwd=workspace, timeout_s=10, max_output_bytes=100_000)
    assert "leak" not in result.stdout
    assert "GITHUB_TOKEN=ghp-passed" in result.stdout
    assert "PATH=" in result.stdout


@pytest.mark.parametrize("backend", BACKENDS)
async def test_stdin_is_closed(backend: str, workspace: Path) -> None:
    runner = runner_for(backend, workspace)
    result = await runner.run("cat; echo done", cwd=workspace, timeout_s=5, max_output_bytes=100)
    assert result.stdout == "done\n" and not result.timed_out


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_cancellation_during_the_spawn_leaves_no_process_and_no_task(
    backend: str, workspace: Path, marker: str, cgroup: str
) -> None:
    runner = runner_for(backend, workspace)
    task = asyncio.ensure_future(
        runner.run(f"sleep 43.{marker}", cwd=workspace, timeout_s=20, max_output_bytes=1000)
    )
    try:
        # Cancelled as soon as the child exists, while the spawn still connects its pipes.
        for _ in range(10_000):
            if pids_with(marker):
                break
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # A spawn left pending would start the command later, and hang the loop's close.
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        assert left == []
        assert await none_left(marker), "the command started after its cancellation"
    finally:
        kill_all(marker)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_cancellation_leaves_nothing_running(
    backend: str, workspace: Path, marker: str, cgroup: str
) -> None:
    runner = runner_for(backend, workspace)
    task = asyncio.ensure_future(
        runner.run(
            f"sleep 40.{marker} & sleep 41.{marker}",
            cwd=workspace,
            timeout_s=20,
            max_output_bytes=1000,
        )
    )
    try:
        for _ in range(100):
            if len(pids_with(f"sleep 41.{marker}")) >= 1:
                break
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await none_left(marker), "cancellation left the command running"
    finally:
        task.cancel()
        kill_all(marker)
