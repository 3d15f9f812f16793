"""A sandboxed command writes nothing to a FIFO of the host: a read-only bind does not stop
writes to a named pipe, and a service reading one (`/run/initctl`, where root asks init to
power off) acts on what it gets."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanotui.security.sandbox import bwrap
from nanotui.security.sandbox.base import CommandRunner
from nanotui.security.sandbox.bwrap import BwrapRunner, _landlock_inside, probe_bwrap
from nanotui.security.sandbox.home import HomeView
from nanotui.security.sandbox.landlock import LandlockRunner, probe_landlock


@pytest.fixture
def host_fifo() -> Iterator[tuple[Path, int]]:
    # Outside /tmp (bwrap has a private one) and outside the workspace, as /run is.
    folder = Path(tempfile.mkdtemp(prefix="nanotui-fifo-", dir="/var/tmp"))
    fifo = folder / "control"
    os.mkfifo(fifo)
    # Open for reading without blocking: a writer then gets through at once, if it may.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        yield fifo, reader
    finally:
        os.close(reader)
        shutil.rmtree(folder, ignore_errors=True)


def _runner(
    backend: str, workspace: Path, monkeypatch: pytest.MonkeyPatch, *, network: bool
) -> CommandRunner:
    """`bwrap` with the compiled launcher inside, `bwrap-python` with the Python one (where
    the machine has no C compiler), or `landlock`."""
    problem = probe_landlock() if backend == "landlock" else probe_bwrap()
    if problem:
        pytest.skip(f"the {backend} backend does not start here: {problem}")
    if backend == "landlock":
        return LandlockRunner(workspace, network=network)
    if backend == "bwrap-python":
        monkeypatch.setattr(bwrap, "compiled_launcher", lambda: None)
    elif bwrap.compiled_launcher(wait=True) is None:
        pytest.skip("no C compiler here: bwrap runs the Python launcher (bwrap-python)")
    return BwrapRunner(workspace, network=network)


def _received(reader: int) -> bytes:
    with contextlib.suppress(BlockingIOError):
        return os.read(reader, 4096)
    return b""


@pytest.mark.parametrize("network", [False, True])
@pytest.mark.parametrize("backend", ["bwrap", "bwrap-python", "landlock"])
async def test_a_command_cannot_write_to_a_fifo_of_the_host(
    backend: str,
    network: bool,
    tmp_path: Path,
    host_fifo: tuple[Path, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fifo, reader = host_fifo
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("runlevel 0\n")
    runner = _runner(backend, workspace, monkeypatch, network=network)
    script = (
        f"python3 -c \"open({str(fifo)!r}, 'w').write(open('notes.txt').read())\" && "
        "echo written; echo done"
    )
    result = await runner.run(script, cwd=workspace, timeout_s=20, max_output_bytes=10_000)
    assert result.stdout == "done\n", result.stderr
    assert "Permission denied" in result.stderr
    assert _received(reader) == b""


def test_bwrap_runs_without_landlock_inside_when_the_interpreter_is_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No C compiler, and nanotui installed in a home folder the command does not see: the
    # mounts alone hold, and the command still starts (a launcher it cannot find would fail
    # every command).
    if probe_landlock():
        pytest.skip(f"Landlock does not work here: {probe_landlock()}")
    monkeypatch.setattr(bwrap, "compiled_launcher", lambda: None)
    interpreter_home = Path(sys.base_prefix).resolve()
    hidden = HomeView(hidden=[interpreter_home], shown=[], exposed_homes=[])
    assert _landlock_inside(hidden, tmp_path) == ([], [])
    shown = HomeView(hidden=[interpreter_home.parent], shown=[interpreter_home], exposed_homes=[])
    assert _landlock_inside(shown, tmp_path)[0][:2] == [os.path.realpath(sys.executable), "-I"]
