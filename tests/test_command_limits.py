"""Limits hold for the whole command, not for each process: memory, the private /tmp, disk.

Each test runs real processes through the real backends and is bounded, so that a broken
limit cannot hurt the shared machine: the memory hogs run inside a test cgroup of 1 GB (the
commands' own cgroups are made inside it) and sleep at most six seconds; at most 100 MB go
into a tmpfs and at most 200 MB of files into the test's folders, which are removed
afterwards; every command has a timeout, and everything named by the test's marker is
killed at the end.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import (
    bounded_memory_cgroup,
    cgroup_parent_or_skip,
    kill_all,
    runner_for,
    settle_cgroup_cleaner,
)

from nanotui.cli.main import main
from nanotui.security.sandbox import cgroup as sandbox_cgroup
from nanotui.security.sandbox import memory_cgroup
from nanotui.security.sandbox.base import CommandResult
from nanotui.security.sandbox.cgroup import describe_limit_scopes
from nanotui.tools.run_command import describe_result

BACKENDS = ["plain", "landlock", "bwrap"]
TEST_MEMORY_MB = 1024
"""What everything a memory test starts may take together, whatever the code under test does."""


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    ws = tmp_path / "ws"
    ws.mkdir()
    yield ws
    shutil.rmtree(ws, ignore_errors=True)  # the bulky files go now, not with old tmp dirs


@pytest.fixture
def bounded_memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A memory cgroup of TEST_MEMORY_MB (swap included) in which commands' cgroups are made."""
    with bounded_memory_cgroup("limits", TEST_MEMORY_MB) as bound:
        monkeypatch.setitem(sandbox_cgroup._usable, "memory", bound)
        yield bound


@pytest.fixture
def tmpfs_temp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Python's temp folder on a tmpfs (as /tmp is on many machines): another filesystem."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize < 512 << 20:
        pytest.skip("no tmpfs with room at /dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="nanotui-test-", dir=shm))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def run(backend: str, workspace: Path, line: str, **settings: object) -> CommandResult:
    runner = runner_for(backend, workspace, **settings)
    return await runner.run(line, cwd=workspace, timeout_s=30, max_output_bytes=20_000)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_three_processes_of_400_mb_are_stopped_at_a_512_mb_limit(
    backend: str, workspace: Path, marker: str, bounded_memory: Path
) -> None:
    # Each holds 400 MB of written pages, under the 512 MB each process may have on its own
    # (RLIMIT_AS): only a limit on the command as a whole stops them.
    hold = f"python3 -c 'import time; b = b\"x\" * (400 << 20); time.sleep(5.{marker})'"
    line = f"for i in 1 2 3; do {hold} & done; wait; echo all-done"
    try:
        result = await run(backend, workspace, line, memory_mb=512)
    finally:
        kill_all(marker)
    assert "all-done" not in result.stdout, result
    assert result.stopped.startswith("the command's processes together passed the 512 MB"), result
    told = describe_result(result, 30, 20_000)
    assert told.startswith("stopped: the command's processes together passed the 512 MB")
    assert "[sandbox] memory_mb" in told


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_command_that_loses_a_process_to_the_memory_limit_does_not_carry_on(
    backend: str, workspace: Path, marker: str, bounded_memory: Path
) -> None:
    # The kernel kills one process past the limit; the rest of the command (here the shell
    # that goes on to write a file) is stopped with it rather than carrying on half done.
    hold = f"python3 -c 'import time; b = b\"x\" * (300 << 20); time.sleep(1.{marker})'"
    line = f"{hold} & {hold} & wait; sleep 600.{marker}; echo carried on > after.txt"
    try:
        result = await run(backend, workspace, line, memory_mb=400)
    finally:
        kill_all(marker)
    assert "400 MB memory limit" in result.stopped, result
    assert not (workspace / "after.txt").exists()
    assert not result.timed_out, result  # stopped at once, not at its 30 s timeout


async def test_one_process_under_the_limit_runs_as_before(workspace: Path) -> None:
    line = "python3 -c 'b = b\"x\" * (50 << 20); print(len(b))'"
    result = await run("plain", workspace, line, memory_mb=400)
    assert result.exit_code == 0 and result.stdout.strip() == str(50 << 20)
    assert result.stopped == ""


async def test_the_private_tmp_has_a_size_and_a_command_cannot_fill_memory_through_it(
    workspace: Path,
) -> None:
    line = "head -c 100M /dev/zero > /tmp/big; echo rc=$?; stat -c %s /tmp/big"
    result = await run("bwrap", workspace, line, tmp_mb=64)
    assert "No space left on device" in result.stderr, result
    assert "rc=1" in result.stdout
    assert int(result.stdout.split()[-1]) <= 64 << 20


@pytest.mark.parametrize("backend", BACKENDS)
async def test_many_files_each_under_the_file_limit_are_stopped_at_the_growth_budget(
    backend: str, workspace: Path
) -> None:
    # Twenty 10 MB files, each under max_file_mb = 16: 200 MB against a 50 MB budget. No
    # sync: pages not yet on the disk count as used already.
    line = "for i in $(seq 1 20); do head -c 10M /dev/urandom > f$i.bin; sleep 0.1; done"
    result = await run(backend, workspace, line, max_file_mb=16, max_workspace_growth_mb=50)
    written = sum(path.stat().st_size for path in workspace.glob("f*.bin"))
    assert "max_workspace_growth_mb" in result.stopped, result
    assert written < 100 << 20, f"{written >> 20} MB were written"
    told = describe_result(result, 30, 20_000)
    assert told.startswith("stopped: it added") and "more than the 50 MB" in told


@pytest.mark.parametrize("backend", ["plain", "landlock"])
async def test_files_in_the_temp_folder_on_another_filesystem_count_towards_the_budget(
    backend: str, workspace: Path, tmpfs_temp: Path
) -> None:
    # Landlock's private temp folder (TMPDIR) and plain's host temp folder live on a tmpfs
    # here, not on the workspace's disk; what goes there counts all the same.
    folder = "$TMPDIR" if backend == "landlock" else str(tmpfs_temp)
    line = f"for i in $(seq 1 20); do head -c 10M /dev/zero > {folder}/f$i; sleep 0.1; done"
    result = await run(backend, workspace, line, max_file_mb=16, max_workspace_growth_mb=50)
    assert "max_workspace_growth_mb" in result.stopped, result


def test_sandbox_run_says_whether_memory_is_limited_per_command_or_per_process(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NANOTUI_HOME", str(workspace.parent / "home"))
    monkeypatch.setitem(sandbox_cgroup._usable, "memory", None)  # a machine without one
    args = ["sandbox", "run", "--workspace", str(workspace), "--json", "--", "true"]
    assert main(args) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["limits_apply_to"]["memory"] == "process" and said["stopped"] is None
    assert "memory per process only" in describe_limit_scopes()


def test_a_killed_nanotui_leaves_no_memory_cgroup_behind_for_long(
    workspace: Path, marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = sandbox_cgroup.memory_cgroup_parent()
    if parent is None:
        pytest.skip("no memory cgroup can be made here")
    env = {**os.environ, "NANOTUI_HOME": str(workspace.parent / "home")}
    argv = [
        sys.executable,
        "-m",
        "nanotui.cli.main",
        "sandbox",
        "run",
        "--workspace",
        str(workspace),
    ]
    child = subprocess.Popen(
        [*argv, "--", "sleep", f"20.{marker}"], env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 20
        while not (left := [*parent.glob(f"nanotui-{child.pid}-mem-*")]):
            assert time.monotonic() < deadline and child.poll() is None, "no cgroup was made"
            time.sleep(0.05)
    finally:
        # Killed as a user's kill -9 would: it cannot remove its cgroup.
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        kill_all(marker)
    deadline = time.monotonic() + 30
    while any((folder / "cgroup.procs").read_text().strip() for folder in left):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert all(folder.exists() for folder in left)
    monkeypatch.delitem(sandbox_cgroup._usable, "memory")  # the next nanotui process
    assert sandbox_cgroup.memory_cgroup_parent() == parent
    assert not any(folder.exists() for folder in left)


def test_the_next_memory_cgroup_is_made_ahead_fresh_for_the_same_limit() -> None:
    cgroup_parent_or_skip("memory")

    def limit_mb(made: memory_cgroup.MemoryCgroup) -> int:
        name = "memory.limit_in_bytes" if made.v1 else "memory.max"
        return int((made.path / name).read_text()) >> 20

    made: list[memory_cgroup.MemoryCgroup] = []
    try:
        made.append(memory_cgroup.MemoryCgroup.create(256))  # type: ignore[arg-type]
        settle_cgroup_cleaner()
        ahead = list(memory_cgroup._made_ahead)
        assert len(ahead) == 1 and ahead[0].path.is_dir() and ahead[0].path != made[0].path
        made.append(memory_cgroup.MemoryCgroup.create(256))  # type: ignore[arg-type]
        assert made[1] is ahead[0]
        assert limit_mb(made[1]) == 256 and made[1].oom_kills() == 0
        settle_cgroup_cleaner()
        made.append(memory_cgroup.MemoryCgroup.create(128))  # type: ignore[arg-type]
        assert made[2] not in ahead and limit_mb(made[2]) == 128  # other settings: made now
    finally:
        for cgroup in made:
            cgroup.release()
        settle_cgroup_cleaner()


def test_a_pooled_pids_cgroup_is_written_only_for_another_limit() -> None:
    cgroup_parent_or_skip("pids")
    first = sandbox_cgroup.PidsCgroup.create(64)
    assert first is not None
    first.release()
    again = sandbox_cgroup.PidsCgroup.create(64)
    assert again is first and (first.path / "pids.max").read_text().strip() == "64"
    again.release()
    other = sandbox_cgroup.PidsCgroup.create(32)
    assert other is not None and (other.path / "pids.max").read_text().strip() == "32"
    other.release()


def test_a_memory_cgroup_made_ahead_and_removed_meanwhile_is_not_used() -> None:
    """Empty between commands, it looks like a dead nanotui's to one in another PID
    namespace, which removes such folders: the next command gets a new one."""
    cgroup_parent_or_skip("memory")
    first = memory_cgroup.MemoryCgroup.create(256)
    assert first is not None
    settle_cgroup_cleaner()
    (ahead,) = memory_cgroup._made_ahead
    ahead.path.rmdir()
    second = memory_cgroup.MemoryCgroup.create(256)
    try:
        assert second is not None and second is not ahead and second.path.is_dir()
    finally:
        first.release()
        if second is not None:
            second.release()
        settle_cgroup_cleaner()


def test_a_cgroup_name_left_taken_is_passed_over_not_given_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A nanotui killed with our pid (here, or in another PID namespace) left its folder:
    the command still gets a pids cgroup, under the next name."""
    parent = cgroup_parent_or_skip("pids")
    monkeypatch.setattr(sandbox_cgroup, "_pool", [])
    monkeypatch.setattr(sandbox_cgroup, "_counter", itertools.count(10_000))
    taken = parent / f"nanotui-{os.getpid()}-10000"
    taken.mkdir()
    made = None
    try:
        made = sandbox_cgroup.PidsCgroup.create(8)
        assert made is not None and made.path == parent / f"nanotui-{os.getpid()}-10001"
        assert (made.path / "pids.max").read_text().strip() == "8"
    finally:
        taken.rmdir()
        if made is not None:
            sandbox_cgroup.remove_folder(made.path)


def test_a_pooled_pids_cgroup_removed_meanwhile_is_not_used() -> None:
    """Empty in the pool, it looks like a dead nanotui's to one in another PID namespace,
    which removes such folders: the next command gets a new one, and none after it fails."""
    cgroup_parent_or_skip("pids")
    pooled = sandbox_cgroup.PidsCgroup.create(64)
    assert pooled is not None
    pooled.release()
    pooled.path.rmdir()
    made = sandbox_cgroup.PidsCgroup.create(64)
    try:
        assert made is not None and made is not pooled and made.procs_file.exists()
    finally:
        if made is not None:
            made.release()
    assert pooled not in sandbox_cgroup._pool
