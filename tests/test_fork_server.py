"""The fork server that starts the plain and Landlock backends' commands: it comes back when
it dies, and nothing a command started outlives it or the copy that ran the command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sandbox_support import (
    cgroup_parent_or_skip,
    kill_all,
    none_left,
    pids_with,
    runner_for,
    settle_cgroup_cleaner,
    sleeps_with,
)

from nanotui.security.sandbox import cgroup as sandbox_cgroup
from nanotui.security.sandbox import fork_client
from nanotui.security.sandbox.fork_client import SERVER
from nanotui.security.sandbox.process import Limits, hold_with_sh, run_started
from nanotui.security.sandbox.runners import PlainRunner
from nanotui.security.sandbox.spawn import CommandStartError, Started, spawn_argv


@pytest.fixture
def no_cgroup(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pids cgroup, which would kill the leftovers on its own: the server must."""
    monkeypatch.setitem(sandbox_cgroup._usable, "parent", None)


async def _run(line: str, cwd: Path, timeout_s: float = 10) -> object:
    return await PlainRunner().run(line, cwd=cwd, timeout_s=timeout_s, max_output_bytes=1000)


async def test_a_dead_server_is_started_again_by_the_next_command(workspace: Path) -> None:
    await _run("true", workspace)
    first = SERVER.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    result = await _run("echo again", workspace)
    assert result.stdout == "again\n" and result.exit_code == 0  # type: ignore[attr-defined]
    assert SERVER.pid not in (None, first)


async def test_what_a_killed_copy_left_behind_is_killed(
    workspace: Path, marker: str, no_cgroup: None
) -> None:
    # The command kills its reaper (plain has no Landlock to stop it) before the reaper can
    # sweep; the setsid'd sleep is then the fork server's to kill.
    line = f"setsid sleep 30.{marker} >/dev/null 2>&1 < /dev/null & sleep 0.1; kill -9 $PPID"
    try:
        await _run(line, workspace)
        assert await none_left(marker), "an orphan of a killed copy outlived it"
    finally:
        kill_all(marker)


async def test_a_command_running_when_the_server_dies_is_stopped_and_says_so(
    workspace: Path, marker: str, no_cgroup: None
) -> None:
    task = asyncio.ensure_future(_run(f"setsid sleep 31.{marker} & sleep 32.{marker}", workspace))
    try:
        for _ in range(200):
            if len(sleeps_with(marker)) == 2:
                break
            await asyncio.sleep(0.02)
        assert len(sleeps_with(marker)) == 2, "the command never started"
        assert SERVER.pid is not None
        os.kill(SERVER.pid, signal.SIGKILL)
        result = await asyncio.wait_for(task, 10)
        assert "fork server stopped" in result.stopped  # type: ignore[attr-defined]
        assert await none_left(marker), "the command outlived its fork server"
    finally:
        task.cancel()
        kill_all(marker)


FORKING_DRIVER = """
import asyncio, os, sys, time
from pathlib import Path
from nanotui.security.sandbox.runners import PlainRunner
from nanotui.security.sandbox.spawn import CommandStartError, Started, spawn_argv

workspace, line = Path(sys.argv[1]), sys.argv[2]
runner = PlainRunner()
asyncio.run(runner.run("true", cwd=workspace, timeout_s=10, max_output_bytes=100))
if os.fork() == 0:  # a copy of nanotui that lingers (a forked worker, say)
    time.sleep(30)
    os._exit(0)
asyncio.run(runner.run(line, cwd=workspace, timeout_s=60, max_output_bytes=100))
"""


async def test_a_lingering_fork_of_nanotui_does_not_keep_commands_alive(
    workspace: Path, marker: str
) -> None:
    # The fork holds none of the server's socket, so nanotui's death still ends the command.
    line = f"sleep 53.{marker}"
    driver = subprocess.Popen(
        [sys.executable, "-c", FORKING_DRIVER, str(workspace), line], start_new_session=True
    )
    try:
        for _ in range(500):
            if sleeps_with(marker):
                break
            await asyncio.sleep(0.02)
        assert sleeps_with(marker), "the command never started"
        driver.kill()
        driver.wait()
        for _ in range(150):  # the fork's command line names the marker too: sleeps only
            if not sleeps_with(marker):
                break
            await asyncio.sleep(0.02)
        assert not sleeps_with(marker), "the command outlived nanotui"
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the lingering fork too
        driver.wait()
        kill_all(marker)


def _children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_the_next_command_is_run_by_the_copy_forked_ahead_for_it(workspace: Path) -> None:
    await _run("true", workspace)
    assert SERVER.pid is not None
    for _ in range(100):  # the spare for the next command, forked once the last one went
        spares = _children_of(SERVER.pid)
        if len(spares) == 1:
            break
        await asyncio.sleep(0.02)
    assert len(spares) == 1, f"the server's children: {spares}"
    # The copy stays as the command's parent: $PPID is the copy that ran it.
    result = await _run("echo $PPID", workspace)
    assert result.stdout == f"{spares[0]}\n"  # type: ignore[attr-defined]


async def _waiting_spares(workspace: Path) -> tuple[int, list[int]]:
    """The server and the copies waiting for its next command (after one has run)."""
    await _run("true", workspace)
    server = SERVER.pid
    assert server is not None
    await asyncio.sleep(0.1)  # the last copy gone, its successor waiting
    spares = _children_of(server)
    assert spares, "no copy waits for the next command"
    return server, spares


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def test_a_spare_killed_while_it_waits_is_replaced(workspace: Path) -> None:
    _kill((await _waiting_spares(workspace))[1])
    result = await _run("echo still", workspace)
    assert result.stdout == "still\n" and result.exit_code == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("stopped", [False, True], ids=["waiting", "stopped"])
async def test_the_spare_goes_with_its_server(workspace: Path, stopped: bool) -> None:
    server, spares = await _waiting_spares(workspace)
    try:
        if stopped:
            for spare in spares:
                os.kill(spare, signal.SIGSTOP)  # it can no longer read end-of-file
        os.kill(server, signal.SIGKILL)
        for _ in range(100):
            if not any(_running(spare) for spare in spares):
                break
            await asyncio.sleep(0.02)
        assert not any(_running(spare) for spare in spares), "a spare outlived its fork server"
    finally:
        _kill(spares)


async def test_a_spare_forked_for_a_request_in_hand_holds_none_of_its_descriptors(
    workspace: Path,
) -> None:
    _kill((await _waiting_spares(workspace))[1])
    await asyncio.sleep(0.1)  # seen gone by the server
    # The next request finds no spare: the one forked for it must not keep a second copy of
    # that request's pipes and socket (the copy is $PPID of the command). It holds its
    # standard three and the socket it answers on.
    listing = 'for fd in /proc/$PPID/fd/*; do echo "${fd##*/}" "$(readlink "$fd")"; done'
    result = await _run(listing, workspace)
    held = dict(line.split(" ", 1) for line in result.stdout.splitlines())  # type: ignore[attr-defined]
    assert {"0", "1", "2"} <= held.keys(), held
    others = [target for fd, target in held.items() if fd not in ("0", "1", "2")]
    assert len(others) == 1 and others[0].startswith("socket:"), held


@pytest.mark.parametrize(("line", "status"), [("exit 3", 3 << 8), ("kill -TERM $$", 15)])
async def test_the_copy_tells_how_it_will_end_before_the_server_has_reaped_it(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, line: str, status: int
) -> None:
    """ "D" comes from the copy once nothing of its command is left, before its own exit,
    and says what the server's "X" says after it: nanotui need not wait for the exit."""
    lines: list[str] = []
    heard = fork_client._Answers.data_received

    def recording(self: fork_client._Answers, data: bytes) -> None:
        lines.extend(data.decode().splitlines())
        heard(self, data)

    monkeypatch.setattr(fork_client._Answers, "data_received", recording)
    gate, release = os.pipe()
    argv = ["--no-landlock", "--reap", "--gate", "--", "bash", "-c", line]
    command = await fork_client.start_forked(argv, cwd=workspace, env={}, gate=gate)
    os.close(gate)
    try:
        os.write(release, b"\n")
        for _ in range(250):
            if any(said.startswith("X") for said in lines):
                break
            await asyncio.sleep(0.02)
        assert [said.split()[0] for said in lines] == ["S", "D", "X"], lines
        assert lines[1:] == [f"D {status}", f"X {status}"]
        assert command.swept and command.returncode == os.waitstatus_to_exitcode(status)
    finally:
        os.close(release)
        command.close()


LOAD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("loaded", sys.argv[1])
loaded = importlib.util.module_from_spec(spec)
spec.loader.exec_module(loaded)
"""
"""A driver's start: the sandbox module named by `_drive` loaded by path, as the fork server
loads its siblings, in a process of its own (the drivers change signals, limits, the
environment)."""


def _drive(module: str, driver: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `driver` with `loaded` the sandbox module `module`; `args` follow in sys.argv."""
    path = Path(fork_client.__file__).with_name(f"{module}.py")
    return subprocess.run(
        [sys.executable, "-c", LOAD + driver, str(path), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


REAPER_DRIVER = """
process_reaper = loaded
process_reaper.SWEEP_S = float(sys.argv[3])
if sys.argv[4] == "unlisted":  # a kernel that lists no process's children
    import builtins
    opened = builtins.open
    def refusing(path, *args, **kwargs):
        if str(path).endswith("/children"):
            raise FileNotFoundError(path)
        return opened(path, *args, **kwargs)
    builtins.open = refusing
said = []
def swept(status):  # before the reaper ends as its command did, by a signal maybe
    said.append(status)
    print(said, flush=True)
process_reaper.run_reaped(["bash", "-c", sys.argv[2]], swept=swept)
if not said:
    print(said, flush=True)
"""


LEFT_BEHIND = "setsid sleep 30.{marker} >/dev/null 2>&1 </dev/null"
TRACE_ME = "import ctypes, os; ctypes.CDLL(None).ptrace(0, 0, 0, 0); os.kill(os.getpid(), 10)"
"""PTRACE_TRACEME, then a signal: its parent, the reaper, is told it stopped."""


@pytest.mark.parametrize(
    ("line", "sweep_s", "said"),
    [
        ("exit 3", 2.0, [3 << 8]),
        (f"{LEFT_BEHIND} & exit 0", 2.0, [0]),
        (f"{LEFT_BEHIND} & exit 0", 0.0, []),  # not swept in time: nothing said
        (f"{LEFT_BEHIND} & exit 0", "unlisted", []),  # found none, but could not look
        (f"exec python3 -c '{TRACE_ME}'", 2.0, [9]),  # it made the reaper its tracer
    ],
)
def test_the_reaper_says_swept_only_once_nothing_is_left(
    marker: str, line: str, sweep_s: float | str, said: list[int]
) -> None:
    listing = "unlisted" if sweep_s == "unlisted" else "listed"
    seconds = str(2.0 if sweep_s == "unlisted" else sweep_s)
    try:
        done = _drive("process_reaper", REAPER_DRIVER, line.format(marker=marker), seconds, listing)
        assert done.stdout.strip() == str(said), done.stderr
    finally:
        kill_all(marker)


async def test_a_swept_commands_pids_cgroup_goes_back_to_the_pool(workspace: Path) -> None:
    """Its copy may still be exiting inside it when the result is in: the cgroup is taken
    back once the copy has gone, on the cleaner's thread, and none is left over."""
    parent = cgroup_parent_or_skip("pids")

    def this_process_cgroups() -> set[Path]:
        found = parent.glob(f"nanotui-{os.getpid()}-*")
        return {path for path in found if "-mem-" not in path.name}

    # One an earlier test in this process still holds (its runner or server alive) is not
    # this test's to judge; pooled ones are, as its commands take them.
    held_elsewhere = this_process_cgroups() - {pooled.path for pooled in sandbox_cgroup._pool}
    runner = PlainRunner(Limits(max_processes=64))
    for _ in range(12):
        result = await runner.run("true", cwd=workspace, timeout_s=10, max_output_bytes=100)
        assert result.exit_code == 0
    settle_cgroup_cleaner()
    ours = sorted(this_process_cgroups() - held_elsewhere)
    assert 0 < len(ours) <= sandbox_cgroup.POOL_SIZE, ours
    assert ours == sorted(pooled.path for pooled in sandbox_cgroup._pool)
    assert not any((path / "cgroup.procs").read_text().split() for path in ours)


PRACTICE_DRIVER = """
import os, time
launcher = loaded
launcher._sibling("process_reaper")  # loaded, as the server has it, before counting
before = sorted(os.listdir("/proc/self/fd"))
launcher.practise()
for _ in range(100):  # the thread may take a moment to end after it has said it is done
    if len(os.listdir("/proc/self/task")) == 2:
        break
    time.sleep(0.01)
print(sorted(os.listdir("/proc/self/fd")) == before, len(os.listdir("/proc/self/task")))
"""


def test_the_waiting_copys_practice_leaves_nothing_open_or_running() -> None:
    """What a spare does on nothing before its command: no descriptor or process is left
    from it (it makes a Landlock ruleset and starts a thread), and one thread waits to start
    the command."""
    done = _drive("landlock_exec", PRACTICE_DRIVER)
    assert done.stdout.split() == ["True", "2"], done.stderr


@pytest.mark.parametrize("backend", ["plain", "landlock"])
async def test_a_command_that_makes_its_reaper_its_tracer_ends_killed(
    workspace: Path, backend: str
) -> None:
    runner = runner_for(backend, workspace)
    line = f"exec python3 -c '{TRACE_ME}'"
    result = await runner.run(line, cwd=workspace, timeout_s=10, max_output_bytes=1000)
    assert result.exit_code == -signal.SIGKILL, result


async def test_what_a_swept_command_left_in_its_cgroup_is_killed(
    workspace: Path, marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command that says it left nothing (`swept`) while something of it runs in its pids
    cgroup (a look below its copy that missed it): the cgroup is killed all the same, by the
    call itself (not only by the cleaner's thread, a while later)."""
    cgroup_parent_or_skip("pids")
    killed_by_the_call: list[str] = []
    kill_all_tasks = sandbox_cgroup.PidsCgroup.kill_all

    def recorded(cgroup: sandbox_cgroup.PidsCgroup) -> None:
        killed_by_the_call.append(threading.current_thread().name)
        kill_all_tasks(cgroup)

    monkeypatch.setattr(sandbox_cgroup.PidsCgroup, "kill_all", recorded)
    loop_thread = threading.current_thread().name

    async def start(gate: int | None) -> Started:
        line = f"{LEFT_BEHIND.format(marker=marker)} & exit 0"
        spawned = await spawn_argv(hold_with_sh(["bash", "-c", line]), workspace, {}, gate)
        spawned.swept = True
        return spawned

    try:
        outcome = await run_started(
            start,
            cwd=workspace,
            timeout_s=10,
            max_output_bytes=1000,
            limits=Limits(max_processes=16),
        )
        assert outcome.exit_code == 0
        assert loop_thread in killed_by_the_call
        assert await none_left(marker), "what the swept command left outlived the call"
    finally:
        kill_all(marker)


async def test_a_status_that_is_not_an_end_is_not_taken_as_the_commands_end() -> None:
    """A stopped status (what a tracer hears) said as "D" is passed over for the X after it."""
    answers = fork_client._Answers(asyncio.get_running_loop())
    stopped = (signal.SIGUSR1 << 8) | 0x7F
    answers.data_received(f"S 4242\nD {stopped}\n".encode())
    assert answers.status is None and not answers.exited.is_set()
    answers.data_received(b"X 9\n")
    assert answers.status == 9 and answers.exited.is_set() and not answers.swept


def test_a_pids_cgroup_whose_task_lingers_is_killed_and_removed(marker: str) -> None:
    cgroup_parent_or_skip("pids")
    cgroup = sandbox_cgroup.PidsCgroup.create(8)
    assert cgroup is not None
    lingering = subprocess.Popen(["sleep", f"30.{marker}"])
    try:
        cgroup.add(lingering.pid)
        cgroup.release()  # a task still in it: left to the cleaner's thread
        settle_cgroup_cleaner()
        assert lingering.wait(timeout=5) == -signal.SIGKILL
        assert not cgroup.path.exists() and cgroup not in sandbox_cgroup._pool
    finally:
        lingering.kill()
        lingering.wait()


async def test_a_plain_commands_copy_keeps_no_thread_waiting_to_restrict(
    workspace: Path,
) -> None:
    """The thread a waiting copy starts ahead, to restrict and spawn a Landlock command, ends
    when the command is plain: left waiting it would be one of the command's tasks in its
    pids cgroup."""
    await _run("true", workspace)  # the next command's copy has waited and practised
    look = 'grep -E "^Threads:" /proc/$PPID/status'
    line = f"for _ in $(seq 50); do {look} | grep -qw 1 && break; sleep 0.02; done; {look}"
    result = await _run(line, workspace)
    assert result.stdout.split() == ["Threads:", "1"], result  # type: ignore[attr-defined]


WARM_UP_DRIVER = """
server = loaded
def practise():
    raise RuntimeError("can't start new thread")
server._warm_up(practise)  # clears the environment: only in a process of its own
print("waiting for the command")
"""


def test_a_waiting_copy_whose_practice_fails_still_waits_for_its_command() -> None:
    """Practice only makes the command quicker: a copy that could not practise (no thread to
    be had, say) still takes its command, whose own start then says what fails."""
    done = _drive("fork_server", WARM_UP_DRIVER)
    assert done.stdout.strip() == "waiting for the command", done.stderr


NO_THREAD_DRIVER = """
reaper = loaded
def refuse(*args):
    raise RuntimeError("can't start new thread")
reaper._thread.start_new_thread = refuse
print(reaper.run_reaped(["true"], prepare=lambda: None), flush=True)
"""


def test_a_command_with_no_thread_to_restrict_it_is_refused_with_a_reason() -> None:
    done = _drive("process_reaper", NO_THREAD_DRIVER)
    assert done.stdout.strip() == "126", done.stderr
    assert "the sandbox could not be applied: no thread could be started" in done.stderr


@pytest.mark.parametrize("backend", ["plain", "landlock"])
async def test_a_command_holds_no_socket_to_say_it_ended(workspace: Path, backend: str) -> None:
    """The copy keeps the command's answer socket to say "D" (close-on-exec): a command
    holding it could say it ended, and have nanotui skip the kill of what it left."""
    runner = runner_for(backend, workspace)
    listing = 'for fd in /proc/$$/fd/*; do echo "${fd##*/} $(readlink "$fd")"; done'
    result = await runner.run(listing, cwd=workspace, timeout_s=10, max_output_bytes=10_000)
    held = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert {"0", "1", "2"} <= held.keys(), result
    assert not [target for target in held.values() if target.startswith("socket:")], held


async def test_a_start_the_server_never_answers_ends_at_the_timeout(
    workspace: Path, marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stopped server (and its waiting copies) would hold a command's start forever: the
    start ends at the command's timeout, the stuck server is replaced, and the command that
    never started does not run later."""
    monkeypatch.setattr(fork_client, "UNANSWERED_S", 0.5)
    server, spares = await _waiting_spares(workspace)
    stopped = [server, *spares]
    try:
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        started = asyncio.get_running_loop().time()
        with pytest.raises(CommandStartError, match="did not start within its 1 s timeout"):
            await _run(f"touch {marker}", workspace, timeout_s=1)
        assert asyncio.get_running_loop().time() - started < 5
        result = await _run("echo anew", workspace)
        assert result.stdout == "anew\n"  # type: ignore[attr-defined]
        assert SERVER.pid not in (None, server)
        for _ in range(100):
            if not any(_running(pid) for pid in stopped):
                break
            await asyncio.sleep(0.02)
        assert not any(_running(pid) for pid in stopped), "the stuck server or a copy lingers"
        assert not (workspace / marker).exists()
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        _kill(stopped)


STOP_AT_DRIVER = """
import os, signal
process_reaper = loaded
moment = sys.argv[3]

class StopAt:
    # The signal module, but one more SIGTERM comes at `moment`: "sweep", just before the
    # sweep ignores SIGTERM (a death signal that comes again: the parent handed on once
    # more), or "start", once the stop handlers are in place, before the command starts.
    def __getattr__(self, name):
        return getattr(signal, name)

    def signal(self, signum, handler):
        if moment == "sweep" and signum == signal.SIGTERM and handler is signal.SIG_IGN:
            os.kill(os.getpid(), signal.SIGTERM)
        done = signal.signal(signum, handler)
        last = process_reaper.STOP_SIGNALS[-1]
        if moment == "start" and signum == last and handler is process_reaper.stop_once:
            os.kill(os.getpid(), signal.SIGTERM)
        return done

process_reaper.signal = StopAt()
print(process_reaper.run_reaped(["bash", "-c", sys.argv[2]]), flush=True)
"""


@pytest.mark.parametrize(
    ("ending", "moment", "code"),
    [
        ("exit 0", "sweep", "0"),  # the command ended on its own: no stop before the sweep
        ("kill -TERM $PPID; wait", "sweep", "143"),  # a stop, then another as the sweep begins
        ("exit 0", "start", "143"),  # stopped before the command started: as SIGTERM ends one
    ],
)
def test_a_stop_that_comes_as_the_reaper_starts_or_sweeps_leaves_nothing(
    marker: str, ending: str, moment: str, code: str
) -> None:
    try:
        line = f"{LEFT_BEHIND.format(marker=marker)} & {ending}"
        done = _drive("process_reaper", STOP_AT_DRIVER, line, moment)
        assert done.stdout.strip() == code, done.stderr
        assert pids_with(marker) == []
    finally:
        kill_all(marker)
