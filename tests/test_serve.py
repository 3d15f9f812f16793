"""`nanotui serve`, first part: accounts, projects and the authenticated API, driven over
real HTTP against the real server (uvicorn on a free loopback port, a child process)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nanotui.server.app import OPEN_ROUTES, create_app

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


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A running service with a project `web`, an admin, alice (granted web) and bob."""
    home = tmp_path / "server-home"
    project = tmp_path / "web"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    assert nanotui(home, "serve", "project", "add", "web", str(project)).returncode == 0
    tokens = {}
    for name, extra in [("root", ["--admin"]), ("alice", ["--project", "web"]), ("bob", [])]:
        made = nanotui(home, "serve", "user", "add", name, *extra)
        assert made.returncode == 0, made.stderr
        tokens[name] = made.stdout.strip()
    port = free_port()
    env = {**os.environ, "NANOTUI_HOME": str(home)}
    server = subprocess.Popen(
        [str(BIN / "nanotui"), "serve", "--port", str(port)],
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
        yield url, home, tokens
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_route_but_healthz_refuses_a_missing_wrong_or_revoked_token(served) -> None:
    url, home, tokens = served
    # Every route the app has, so that a new one cannot ship open.
    routes = [route for route in create_app(_engine_for_listing()).routes]
    paths = sorted({route.path for route in routes})
    assert "/v1/me" in paths and "/healthz" in paths
    wrong = tokens["alice"][:-4] + "AAAA"
    for path in paths:
        if path in OPEN_ROUTES:
            assert httpx.get(url + path).status_code == 200
            continue
        for headers in ({}, bearer(wrong), bearer("nt_nonsense"), {"Authorization": "Basic x"}):
            answer = httpx.get(url + path, headers=headers)
            assert answer.status_code == 401, (path, headers, answer.text)
            assert answer.json() == {
                "error": "A valid token is needed: send `Authorization: Bearer <token>`."
            }
    assert httpx.get(f"{url}/v1/me", headers=bearer(tokens["alice"])).status_code == 200
    assert nanotui(home, "serve", "user", "revoke", "alice").returncode == 0
    # Effective at once, without restarting the server.
    assert httpx.get(f"{url}/v1/me", headers=bearer(tokens["alice"])).status_code == 401


def _engine_for_listing():  # an in-memory database: only the route table is read
    from nanotui.server.store import open_database

    return open_database("sqlite://")


def test_each_user_sees_only_their_projects_and_never_a_path(served) -> None:
    url, _, tokens = served
    me = httpx.get(f"{url}/v1/me", headers=bearer(tokens["alice"])).json()
    assert me["name"] == "alice" and me["projects"] == ["web"] and not me["admin"]
    assert httpx.get(f"{url}/v1/projects", headers=bearer(tokens["alice"])).json() == [
        {"name": "web"}
    ]
    assert httpx.get(f"{url}/v1/projects", headers=bearer(tokens["bob"])).json() == []
    assert httpx.get(f"{url}/v1/projects", headers=bearer(tokens["root"])).json() == [
        {"name": "web"}
    ]


def test_a_foreign_origin_and_an_oversized_body_are_refused(served) -> None:
    url, _, tokens = served
    headers = {**bearer(tokens["alice"]), "Origin": "http://evil.example"}
    refused = httpx.post(f"{url}/v1/me", headers=headers, content=b"{}")
    assert refused.status_code == 403
    assert "Requests from http://evil.example are refused" in refused.json()["error"]
    big = httpx.post(f"{url}/v1/me", headers=bearer(tokens["alice"]), content=b"x" * 1_000_001)
    assert big.status_code == 413
    assert httpx.get(f"{url}/healthz").status_code == 200  # still serving


def test_tokens_are_shown_once_and_stored_nowhere_in_clear(served) -> None:
    url, home, tokens = served
    httpx.get(f"{url}/v1/me", headers=bearer(tokens["alice"]))
    written = [path for path in home.rglob("*") if path.is_file()]
    assert written, "the server wrote nothing"
    for path in written:
        data = path.read_bytes()
        for token in tokens.values():
            secret = token.split("_", 2)[2]
            assert secret.encode() not in data, path


def test_admin_commands_say_what_is_wrong_in_one_sentence(tmp_path: Path) -> None:
    home = tmp_path / "home"
    not_git = tmp_path / "plain"
    not_git.mkdir()
    done = nanotui(home, "serve", "project", "add", "plain", str(not_git))
    assert done.returncode == 1
    assert done.stderr == f"nanotui: {not_git} is not a git repository; a project must be one.\n"
    done = nanotui(home, "serve", "user", "add", "carol", "--project", "nope")
    assert done.returncode == 1
    assert "There is no project 'nope'" in done.stderr and "Traceback" not in done.stderr
    assert nanotui(home, "serve", "user", "add", "carol", "--rpm", "5").returncode == 0
    assert nanotui(home, "serve", "user", "limits", "carol", "--day-usd", "2").returncode == 0
    listed = nanotui(home, "serve", "user", "list").stdout
    assert listed == "carol\tuser\tno projects\tday_usd=2.0, rpm=5\n"
    done = nanotui(home, "serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode == 1
    assert "without TLS would send tokens in clear" in done.stderr
