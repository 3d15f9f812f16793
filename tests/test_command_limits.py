"""Limits hold for the whole command, not for each process: memory, the private /tmp, disk.

Each test runs real processes through the real backends, and is bounded so that a broken
limit cannot hurt the machine: at most three 250 MB processes for five seconds, at most
50 MB into a tmpfs, at most 180 MB of files in the test's folder, each with a timeout and a
kill of everything named by the test's marker afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sandbox_support import kill_all, runner_for

from nanotui.cli import main
from nanotui.security import sandbox_cgroup
from nanotui.security.sandbox import CommandResult
from nanotui.security.sandbox_cgroup import describe_limit_scopes
from nanotui.tools.run_command import describe_result

BACKENDS = ["plain", "landlock", "bwrap"]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


async def run(backend: str, workspace: Path, line: str, **settings: object) -> CommandResult:
    runner = runner_for(backend, workspace, **settings)
    return await runner.run(line, cwd=workspace, timeout_s=30, max_output_bytes=20_000)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_three_processes_cannot_take_three_times_the_memory_limit(
    backend: str, workspace: Path, marker: str
) -> None:
    if sandbox_cgroup.memory_cgroup_parent() is None:
        pytest.skip("no memory cgroup can be made here: memory is limited per process")
    # Each holds 250 MB of written pages, under the 400 MB each process may have on its own.
    hold = f"python3 -c 'import time; b = b\"x\" * (250 << 20); time.sleep(5.{marker})'"
    line = f"for i in 1 2 3; do {hold} & done; wait; echo all-done"
    try:
        result = await run(backend, workspace, line, memory_mb=400)
    finally:
        kill_all(marker)
    assert "all-done" not in result.stdout or result.stopped, result
    assert "400 MB memory limit" in result.stopped
    told = describe_result(result, 30, 20_000)
    assert told.startswith("stopped: the command's processes together passed the 400 MB")


async def test_one_process_under_the_limit_runs_as_before(workspace: Path) -> None:
    line = "python3 -c 'b = b\"x\" * (50 << 20); print(len(b))'"
    result = await run("plain", workspace, line, memory_mb=400)
    assert result.exit_code == 0 and result.stdout.strip() == str(50 << 20)
    assert result.stopped == ""


async def test_the_private_tmp_has_a_size_and_a_command_cannot_fill_memory_through_it(
    workspace: Path,
) -> None:
    line = "head -c 50M /dev/zero > /tmp/big; echo rc=$?; stat -c %s /tmp/big"
    result = await run("bwrap", workspace, line, tmp_mb=16)
    assert "No space left on device" in result.stderr, result
    assert "rc=1" in result.stdout
    assert int(result.stdout.split()[-1]) <= 16 << 20


@pytest.mark.parametrize("backend", BACKENDS)
async def test_many_files_each_under_the_file_limit_are_stopped_at_the_growth_budget(
    backend: str, workspace: Path
) -> None:
    # Twenty 9 MB files, each under max_file_mb = 10: 180 MB against a 40 MB budget.
    line = "for i in $(seq 1 20); do head -c 9M /dev/urandom > f$i.bin; sync; sleep 0.1; done"
    result = await run(backend, workspace, line, max_file_mb=10, max_workspace_growth_mb=40)
    written = sum(path.stat().st_size for path in workspace.glob("f*.bin"))
    assert "max_workspace_growth_mb" in result.stopped, result
    assert written < 100 << 20, f"{written >> 20} MB were written"
    assert describe_result(result, 30, 20_000).startswith("stopped: it added")


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
