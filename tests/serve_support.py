"""Running the real `nanotui serve` (uvicorn on a free loopback port, a child process in its
own process group, killed in a finally) and talking to it over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def nanotui(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NANOTUI_HOME": str(home)}
    return subprocess.run(
        [str(BIN / "nanotui"), *args], env=env, capture_output=True, text=True, timeout=60
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def git_project(folder: Path, files: dict[str, str] | None = None) -> Path:
    """A git repository with one commit of `files` (default: a README)."""
    folder.mkdir(parents=True)
    run = lambda *args: subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)  # noqa: E731
    run("init", "-q", "-b", "main")
    for name, text in (files or {"README.md": "# project\n"}).items():
        (folder / name).write_text(text)
    run("add", "-A")
    run("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "start")
    return folder


@contextlib.contextmanager
def running_server(home: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`nanotui serve` with NANOTUI_HOME=home (and `env`); yields its URL once /healthz
    answers."""
    port = free_port()
    env = {**os.environ, "NANOTUI_HOME": str(home), **(env or {})}
    server = subprocess.Popen(
        [str(BIN / "nanotui"), "serve", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def read_events(
    url: str, token: str, session: str, *, after: int = 0, until: str = "result", timeout_s=30
) -> list[dict]:
    """Follow a session's event stream from `after` until an event of type `until`; each
    event's dict gets its SSE id as "_id"."""
    events: list[dict] = []
    headers = {**bearer(token), "Last-Event-ID": str(after)}
    with httpx.stream(
        "GET", f"{url}/v1/sessions/{session}/events", headers=headers, timeout=timeout_s
    ) as stream:
        assert stream.status_code == 200, stream.read()
        event_id = None
        for line in stream.iter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                event = json.loads(line[6:])
                event["_id"] = event_id
                events.append(event)
                if event["type"] == until:
                    break
    return events


class DroppingProxy:
    """A loopback TCP proxy to the service that cuts the first event stream after
    `cut_after` bytes of its response, as a flaky network would; other connections pass."""

    def __init__(self, target_port: int, cut_after: int) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        armed = threading.Event()  # this connection now carries the stream to cut
        with client, upstream:
            relay = threading.Thread(
                target=self._relay, args=(client, upstream, armed), daemon=True
            )
            relay.start()
            sent = 0
            while data := _recv(upstream):
                if armed.is_set():
                    if sent + len(data) >= self.cut_after:
                        client.sendall(data[: max(0, self.cut_after - sent)])
                        client.shutdown(socket.SHUT_RDWR)  # dropped mid-stream
                        return
                    sent += len(data)
                client.sendall(data)

    def _relay(
        self, client: socket.socket, upstream: socket.socket, armed: threading.Event
    ) -> None:
        # Requests, one after another on a kept-alive connection: the first event stream's
        # is the one to cut.
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                if b"/events" in data and self.cuts == 0:
                    self.cuts += 1
                    armed.set()
                upstream.sendall(data)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""
