"""Ways out that the first line of defence missed: `setsid` past the group kill, UDP past
Landlock's TCP-only rules. Real commands in every backend that starts here."""

from __future__ import annotations

import asyncio
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sandbox_support import (
    BACKENDS,
    ISOLATING,
    kill_all,
    none_left,
    runner_for,
    sleeps_with,
)

from nanotui.security.sandbox import cgroup as sandbox_cgroup
from nanotui.security.sandbox import landlock_exec, process_reaper, seccomp_net


@pytest.mark.parametrize("backend", BACKENDS)
async def test_setsid_does_not_outlive_the_timeout(
    backend: str, workspace: Path, marker: str, cgroup: str
) -> None:
    runner = runner_for(backend, workspace)
    # A new session straight away, and one two forks down whose parent then exits.
    line = (
        f"setsid sleep 30.{marker} & (setsid sh -c 'sleep 31.{marker} & exit' &); sleep 32.{marker}"
    )
    try:
        result = await runner.run(line, cwd=workspace, timeout_s=1, max_output_bytes=1000)
        assert result.timed_out
        assert await none_left(marker), "a process in its own session outlived the timeout"
    finally:
        kill_all(marker)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_setsid_does_not_outlive_a_finished_command(
    backend: str, workspace: Path, marker: str, cgroup: str
) -> None:
    runner = runner_for(backend, workspace)
    line = f"setsid sleep 33.{marker} >/dev/null 2>&1 < /dev/null & echo started"
    try:
        result = await runner.run(line, cwd=workspace, timeout_s=10, max_output_bytes=1000)
        assert result.stdout == "started\n" and result.exit_code == 0
        assert await none_left(marker), "a daemon outlived the command that started it"
    finally:
        kill_all(marker)


@pytest.mark.parametrize("backend", ISOLATING)
async def test_udp_and_ipv6_are_cut_without_network(backend: str, workspace: Path) -> None:
    runner = runner_for(backend, workspace)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        send = (
            'python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); '
            f"s.sendto(b'out', ('127.0.0.1', {port})); print('sent')\""
        )
        closed = await runner.run(send, cwd=workspace, timeout_s=10, max_output_bytes=10_000)
        with pytest.raises(TimeoutError):
            listener.recvfrom(100)
        opened = await runner.run(
            send, cwd=workspace, timeout_s=10, max_output_bytes=10_000, network=True
        )
        assert opened.stdout == "sent\n", opened.stderr
        assert listener.recvfrom(100)[0] == b"out"
    if backend == "landlock":  # refused outright; bwrap's datagram went to its own loopback
        assert "sent" not in closed.stdout and "Operation not permitted" in closed.stderr


async def test_landlock_refuses_ip_sockets_and_keeps_unix_ones(workspace: Path) -> None:
    # (bwrap's empty network namespace lets sockets be made; they just reach nothing.)
    runner = runner_for("landlock", workspace)
    check = (
        "python3 -c 'import socket; a, b = socket.socketpair(); a.send(b\"hi\"); print(b.recv(2))'"
        " && python3 -c 'import socket; socket.socket(socket.AF_INET6); print(\"made\")'"
    )
    result = await runner.run(check, cwd=workspace, timeout_s=10, max_output_bytes=1000)
    assert result.stdout == "b'hi'\n", result.stderr
    assert "PermissionError: [Errno 1] Operation not permitted" in result.stderr


@pytest.mark.parametrize("machine", list(seccomp_net.ARCHES))
def test_the_filter_kills_other_abis_and_refuses_ip_and_unix_sockets(machine: str) -> None:
    program = seccomp_net.no_network_program(machine)
    arch, socket_nr, io_uring_nr, _ = seccomp_net.ARCHES[machine]

    def run(nr: int, family: int = 0, audit_arch: int = arch) -> int:
        """Interpret the program for one system call, as the kernel would."""
        data = {seccomp_net.NR_OFFSET: nr, seccomp_net.ARCH_OFFSET: audit_arch}
        data[seccomp_net.ARG0_OFFSET] = family
        accumulator, pc = 0, 0
        while True:
            code, jt, jf, k = program[pc]
            if code == seccomp_net.RET_K:
                return k
            if code == seccomp_net.LD_W_ABS:
                accumulator = data[k]
                pc += 1
                continue
            taken = accumulator == k if code == seccomp_net.JEQ_K else accumulator >= k
            pc += 1 + (jt if taken else jf)

    deny = seccomp_net.RET_ERRNO | 1
    assert run(socket_nr, socket.AF_INET) == deny
    assert run(socket_nr, socket.AF_INET6) == deny
    assert run(socket_nr, seccomp_net.AF_PACKET) == deny
    assert run(socket_nr, seccomp_net.AF_VSOCK) == deny
    assert run(io_uring_nr) == deny
    assert run(socket_nr, socket.AF_UNIX) == deny  # socketpair() is another call
    assert run(socket_nr, socket.AF_NETLINK) == seccomp_net.RET_ALLOW
    assert run(0) == seccomp_net.RET_ALLOW  # read, or io_setup: anything else
    assert run(socket_nr, socket.AF_INET, audit_arch=0x40000003) == seccomp_net.RET_KILL_PROCESS
    if machine == "x86_64":
        x32_socket = seccomp_net.X32_SYSCALL_BIT | socket_nr
        assert run(x32_socket, socket.AF_INET) == seccomp_net.RET_KILL_PROCESS
    # What the kernel is given: 8 bytes an instruction.
    assert len(seccomp_net.pack(program)) == 8 * len(program)
    assert struct.unpack("=HBBI", seccomp_net.pack(program)[:8]) == program[0]


def test_descendants_are_listed_parents_first() -> None:
    shell = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"])
    try:
        deadline = time.monotonic() + 30
        while len(process_reaper.descendants_of(shell.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        found = process_reaper.descendants_of(shell.pid)
        assert len(found) == 2
        assert all(process_reaper.children_of(pid) == [] for pid in found)
    finally:
        for pid in process_reaper.descendants_of(shell.pid):
            process_reaper._signal(pid, signal.SIGKILL)
        shell.kill()
        shell.wait()


async def test_bwrap_commands_cannot_make_user_namespaces(workspace: Path) -> None:
    # A user namespace of its own would give the command capabilities again inside.
    runner = runner_for("bwrap", workspace)
    result = await runner.run(
        "unshare --user true && echo made",
        cwd=workspace,
        timeout_s=10,
        max_output_bytes=1000,
    )
    assert "made" not in result.stdout and result.exit_code != 0
    assert "unshare failed" in result.stderr, result.stderr


DRIVER = """
import asyncio, sys
from pathlib import Path
from nanotui.config import SandboxConfig
from nanotui.security.sandbox.choose import make_runner

backend, workspace, line = sys.argv[1:]
runner = make_runner(SandboxConfig(backend=backend), Path(workspace))
asyncio.run(runner.run(line, cwd=Path(workspace), timeout_s=60, max_output_bytes=1000))
"""


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""  # gone meanwhile


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_command_dies_when_nanotui_is_killed(
    backend: str, workspace: Path, marker: str
) -> None:
    runner_for(backend, workspace)  # skips a backend that does not start here
    line = f"sleep 50.{marker} & setsid sleep 51.{marker} & sleep 52.{marker}"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, backend, str(workspace), line])
    try:
        deadline = time.monotonic() + 10
        while len(sleeps_with(marker)) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(sleeps_with(marker)) == 3, "the command never started"
        driver.kill()  # SIGKILL: nanotui gets no chance to clean up
        driver.wait()
        assert await none_left(marker, within_s=3), "the command outlived nanotui"
    finally:
        driver.kill()
        driver.wait()
        kill_all(marker)


async def test_the_command_cannot_kill_its_reaper(
    workspace: Path, marker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No pids cgroup (a usual desktop): the reaper is all that holds what escapes the group.
    monkeypatch.setitem(sandbox_cgroup._usable, "parent", None)
    runner = runner_for("landlock", workspace)
    if landlock_exec.abi_version() < 6:
        pytest.skip("Landlock scopes signals from ABI 6 on; older kernels cannot stop this")
    line = f"setsid sleep 30.{marker} & sleep 0.2; kill -9 $PPID; kill -STOP $PPID; echo tried"
    try:
        result = await runner.run(line, cwd=workspace, timeout_s=10, max_output_bytes=1000)
        assert "Operation not permitted" in result.stderr, result.stderr
        assert await none_left(marker), "a process outlived its reaper"
    finally:
        kill_all(marker)


REAPED_WITH_A_FAILING_SANDBOX = """
import sys
sys.path.insert(0, sys.argv[1])
import process_reaper

def fail():
    raise OSError(1, "landlock_restrict_self failed: Operation not permitted")

sys.exit(process_reaper.run_reaped(["touch", sys.argv[2]], fail))
"""


def test_a_command_whose_sandbox_fails_is_never_started(tmp_path: Path) -> None:
    # The sandbox goes on the thread that starts the command; when it cannot, nothing may
    # start unrestricted. A process of its own: run_reaped makes its caller a subreaper.
    started = tmp_path / "started"
    folder = str(Path(process_reaper.__file__).parent)
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", REAPED_WITH_A_FAILING_SANDBOX, folder, str(started)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 126, done.stderr
    assert "the sandbox could not be applied" in done.stderr
    assert not started.exists()
