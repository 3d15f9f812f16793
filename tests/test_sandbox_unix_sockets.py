"""Without network, a command reaches no Unix socket of the host: not a socket file, not an
abstract one (D-Bus, docker.sock and ssh-agent are such sockets on a real machine)."""

from __future__ import annotations

import secrets
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import bare_runner


class Listener:
    """A real Unix socket server on the host that keeps whatever a client sends it."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.received = b""
        self.connections = 0
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(address)
        self.server.listen(4)
        self.server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            with client:
                client.settimeout(2)
                try:
                    while chunk := client.recv(4096):
                        self.received += chunk
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.server.close()


@pytest.fixture(params=["/var/tmp", "/tmp"])
def socket_folder(request: pytest.FixtureRequest) -> Iterator[Path]:
    # Outside the workspace, where a host service's socket would be: /var/tmp, which every
    # backend shows, and the host's /tmp, which Landlock shows (bwrap has a private one).
    yield from _folder_in(request.param)


@pytest.fixture
def service_folder() -> Iterator[Path]:
    yield from _folder_in("/var/tmp")


def _folder_in(parent: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="nanotui-sock-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _send_file_to(address: str, name: str = ".env") -> str:
    return (
        'python3 -c "import socket; s = socket.socket(socket.AF_UNIX); '
        f"s.connect({address!r}); s.sendall(open({name!r}, 'rb').read()); print('sent')\""
    )


@pytest.mark.parametrize("backend", ["bwrap", "landlock"])
@pytest.mark.parametrize("kind", ["path", "abstract"])
async def test_a_command_without_network_cannot_send_to_a_host_unix_socket(
    backend: str, kind: str, tmp_path: Path, socket_folder: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / ".env").write_text("API_TOKEN=leaked-through-a-socket\n")
    runner = bare_runner(backend, workspace)
    if kind == "path":
        address = str(socket_folder / "agent.sock")
    else:
        address = "\0nanotui-test-" + secrets.token_hex(8)
    listener = Listener(address)
    try:
        closed = await runner.run(
            _send_file_to(address), cwd=workspace, timeout_s=20, max_output_bytes=10_000
        )
    finally:
        listener.close()
    assert closed.exit_code != 0
    assert "sent" not in closed.stdout
    assert listener.connections == 0
    assert listener.received == b""


@pytest.mark.parametrize("backend", ["bwrap", "landlock"])
async def test_with_network_allowed_unix_sockets_still_work(
    backend: str, tmp_path: Path, service_folder: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("NOT_SECRET=shared-on-purpose\n")
    runner = bare_runner(backend, workspace)
    listener = Listener(str(service_folder / "service.sock"))
    try:
        opened = await runner.run(
            _send_file_to(listener.address, "notes.txt"),
            cwd=workspace,
            timeout_s=20,
            max_output_bytes=10_000,
            network=True,
        )
    finally:
        listener.close()
    assert opened.stdout == "sent\n", opened.stderr
    assert listener.received == b"NOT_SECRET=shared-on-purpose\n"


@pytest.mark.parametrize("backend", ["bwrap", "landlock"])
async def test_everyday_tools_run_without_unix_sockets(backend: str, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "test_small.py").write_text("def test_adds():\n    assert 1 + 1 == 2\n")
    runner = bare_runner(backend, workspace)
    python = sys.executable
    if backend == "bwrap" and Path(sys.prefix).resolve().is_relative_to("/tmp"):
        pytest.skip("this virtual environment lives under /tmp, which bwrap replaces")
    script = (
        "git init -q . && git add test_small.py && "
        "git -c user.name=t -c user.email=t@t commit -qm first && git log --oneline | wc -l && "
        "python3 -c 'import socket; a, b = socket.socketpair(); a.send(b\"hi\"); print(b.recv(2))'"
        f" && {python} -m pip --help | grep -c ^Usage"
        f" && {python} -m pytest -q -p no:cacheprovider test_small.py | tail -1"
    )
    result = await runner.run(script, cwd=workspace, timeout_s=60, max_output_bytes=100_000)
    lines = result.stdout.splitlines()
    assert lines[:3] == ["1", "b'hi'", "1"], result.stderr
    assert "1 passed" in lines[-1], result.stdout + result.stderr
