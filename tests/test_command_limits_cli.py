"""Whole-command limits as a user meets them: `nanotui sandbox run --json` and `nanotui doctor`.

The memory attack runs the real command line in a child process that first joins a test
memory cgroup of TEST_MEMORY_MB (swap included), so everything it starts, nanotui's own
per-command cgroup included, stays inside that bound whatever the code under test does: if
the per-command limit were gone, the test cgroup would stop the hogs and the test would fail
because nobody said why. Every child has a timeout and is killed by process group, and the
test cgroup's tasks are killed, in a `finally`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer
from sandbox_support import bounded_memory_cgroup, kill_all

from nanotui.cli.main import main
from nanotui.security.sandbox import cgroup as sandbox_cgroup
from nanotui.security.sandbox.bwrap import BwrapRunner, find_bwrap, probe_bwrap
from nanotui.security.sandbox.choose import probe_backends
from nanotui.security.sandbox.process import Limits

TEST_MEMORY_MB = 1024
"""What everything one memory test starts may take together."""
CHILD_TIMEOUT_S = 90


@pytest.fixture
def test_cgroup() -> Iterator[Path]:
    """A memory cgroup of TEST_MEMORY_MB beside nanotui's, for a child process to join."""
    with bounded_memory_cgroup("cli", TEST_MEMORY_MB) as bound:
        yield bound


def _bound_oom_kills(bound: Path) -> int:
    """How many processes the test cgroup's own limit killed (its children's not counted)."""
    name = "memory.oom_control" if (bound / "memory.oom_control").exists() else "memory.events"
    fields = dict(line.split() for line in (bound / name).read_text().splitlines())
    return int(fields.get("oom_kill", 0))


def _sandbox_run_json(
    tmp_path: Path, backend: str, line: str, sandbox: str, cgroup: Path | None = None
) -> dict[str, object]:
    """`nanotui sandbox run --json -- bash -c LINE` in a child (joined to `cgroup` first)."""
    home, ws = tmp_path / "home", tmp_path / "ws"
    home.mkdir(exist_ok=True)
    ws.mkdir(exist_ok=True)
    config = f'[sandbox]\nbackend = "{backend}"\ntimeout_s = 30\n{sandbox}\n'
    (home / "config.toml").write_text(config)
    cli = [sys.executable, "-m", "nanotui.cli.main", "sandbox", "run", "--json", "--workspace"]
    argv = [*cli, str(ws), "--", "bash", "-c", line]
    if cgroup is not None:
        # The child moves itself in before it becomes nanotui: all it starts is inside.
        argv = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(cgroup / "cgroup.procs"), *argv]
    env = {**os.environ, "NANOTUI_HOME": str(home)}
    child = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = child.communicate(timeout=CHILD_TIMEOUT_S)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert out, err.decode(errors="replace")
    return json.loads(out)


@pytest.mark.parametrize("backend", ["plain", "landlock", "bwrap"])
def test_sandbox_run_stops_three_processes_of_400_mb_at_a_512_mb_limit_and_says_so(
    backend: str, tmp_path: Path, marker: str, test_cgroup: Path
) -> None:
    if problem := probe_backends()[backend]:
        pytest.skip(f"the {backend} backend does not start here: {problem}")
    # Each holds 400 MB of written pages, under the 512 MB each process may have on its
    # own (RLIMIT_AS): together 1.2 GB, more than the command's 512 MB and the test's 1 GB.
    hold = f"python3 -c 'import time; b = b\"x\" * (400 << 20); time.sleep(6.{marker})'"
    line = f"for i in 1 2 3; do {hold} & done; wait; echo all-done"
    try:
        said = _sandbox_run_json(tmp_path, backend, line, "memory_mb = 512", test_cgroup)
    finally:
        kill_all(marker)
    assert said["limits_apply_to"] == {"memory": "command", "processes": "command"}
    assert "all-done" not in str(said["stdout"]), said
    assert "512 MB memory limit ([sandbox] memory_mb)" in str(said["stopped"]), said
    assert _bound_oom_kills(test_cgroup) == 0, "the test's bound stopped it, not memory_mb"


def test_sandbox_run_stops_a_command_past_the_workspace_growth_budget_and_says_so(
    tmp_path: Path,
) -> None:
    # Twenty 10 MB files, each under max_file_mb = 16: 200 MB against a 50 MB budget.
    line = "for i in $(seq 1 20); do head -c 10M /dev/zero > f$i.bin; sleep 0.1; done; echo end"
    limits = "max_file_mb = 16\nmax_workspace_growth_mb = 50"
    try:
        said = _sandbox_run_json(tmp_path, "plain", line, limits)
        written = sum(path.stat().st_size for path in (tmp_path / "ws").glob("f*.bin"))
    finally:
        shutil.rmtree(tmp_path / "ws", ignore_errors=True)
    assert "end" not in str(said["stdout"]), said
    assert "more than the 50 MB a command may add" in str(said["stopped"]), said
    assert written < 100 << 20, f"{written >> 20} MB were written"


@pytest.mark.skipif(probe_bwrap() is not None, reason="bwrap does not start here")
async def test_a_bwrap_without_size_for_tmpfs_still_runs_commands(tmp_path: Path) -> None:
    # bubblewrap releases before --size refuse it as an unknown option: the private /tmp
    # goes unsized there (still counted in the memory cgroup) rather than every command failing.
    real = find_bwrap()
    old = tmp_path / "old-bwrap"
    old.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = --help ]; then "{real}" --help | grep -v -e --size; exit 0; fi\n'
        'for a in "$@"; do\n'
        '  [ "$a" = --size ] && { echo "bwrap: Unknown option --size" >&2; exit 1; }\n'
        "done\n"
        f'exec "{real}" "$@"\n'
    )
    old.chmod(0o755)
    ws = tmp_path / "ws"
    ws.mkdir()
    runner = BwrapRunner(ws, Limits(tmp_mb=64), binary=str(old))
    result = await runner.run("echo ran", cwd=ws, timeout_s=20, max_output_bytes=10_000)
    assert result.stdout == "ran\n", result


def test_doctor_says_whether_memory_is_limited_per_command_or_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    ws = tmp_path / "ws"
    ws.mkdir()
    expected = "memory for the whole command (a cgroup)"
    if sandbox_cgroup.memory_cgroup_parent() is None:
        expected = "memory per process only"
    with FakeModelServer() as server:
        args = ["doctor", "-w", str(ws), "--base-url", server.openai_base_url, "--model", "m"]
        main(args)
        here = capsys.readouterr().out
        monkeypatch.setitem(sandbox_cgroup._usable, "memory", None)  # a machine without one
        main(args)
        elsewhere = capsys.readouterr().out
    assert expected in here
    assert "memory per process only (no cgroup can be made here)" in elsewhere
