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
