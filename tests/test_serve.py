"""`nanotui serve`, first part: accounts, projects and the authenticated API, driven over
real HTTP against the real server (uvicorn on a free loopback port, a child process)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_support import bearer, free_port, nanotui, running_server

from nanotui.server.app import OPEN_ROUTES, create_app


def _service(folder: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A running service with a project `web`, an admin, alice (granted web) and bob, all
    made by the admin's commands."""
    home = folder / "server-home"
    project = folder / "web"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    assert nanotui(home, "serve", "project", "add", "web", str(project)).returncode == 0
    tokens = {}
    for name, extra in [("root", ["--admin"]), ("alice", ["--project", "web"]), ("bob", [])]:
        made = nanotui(home, "serve", "user", "add", name, *extra)
        assert made.returncode == 0, made.stderr
        tokens[name] = made.stdout.strip()
    with running_server(home) as url:
        yield url, home, tokens


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A service of the test's own, for a test that revokes a token or floods one."""
    yield from _service(tmp_path)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """One service for the tests that change nothing in it (each start costs seconds)."""
    yield from _service(tmp_path_factory.mktemp("shared-service"))


def test_every_route_but_healthz_refuses_a_missing_wrong_or_revoked_token(served) -> None:
    url, home, tokens = served
    # Every route the app has, with each of its methods, so that a new one cannot ship open.
    routes = [
        (method, route.path)
        for route in create_app(_engine_for_listing()).routes
        for method in getattr(route, "methods", ()) - {"HEAD"}
    ]
    paths = {path for _, path in routes}
    assert {"/v1/me", "/healthz", "/v1/sessions/{session_id}/events", "/docs"} <= paths
    wrong = tokens["alice"][:-4] + "AAAA"
    for method, path in sorted(routes):
        if path in OPEN_ROUTES:
            assert httpx.request(method, url + path).status_code == 200
            continue
        for headers in ({}, bearer(wrong), bearer("nt_nonsense"), {"Authorization": "Basic x"}):
            answer = httpx.request(
                method, url + path.replace("{", "x").replace("}", ""), headers=headers, json={}
            )
            assert answer.status_code == 401, (method, path, headers, answer.text)
            assert answer.json() == {
                "error": "A valid token is needed: send `Authorization: Bearer <token>`."
            }
    assert httpx.get(f"{url}/v1/me", headers=bearer(tokens["alice"])).status_code == 200
    assert nanotui(home, "serve", "user", "revoke", "alice").returncode == 0
    # Effective at once, without restarting the server.
    assert httpx.get(f"{url}/v1/me", headers=bearer(tokens["alice"])).status_code == 401

    # Every refusal is in the service's audit trail (never a secret), the admin's commands
    # in theirs, and both are hash-chained logs that verify.
    refused = (home / "sessions" / "service-api.jsonl").read_text()
    closed = [route for route in routes if route[1] not in OPEN_ROUTES]
    assert refused.count("refused from 127.0.0.1") >= 4 * len(closed)
    assert f"token id {tokens['alice'][3:15]!r}" in refused
    admin = (home / "sessions" / "service-admin.jsonl").read_text()
    assert "added user alice" in admin and "revoked user alice" in admin
    for log in ("service-api", "service-admin"):
        verified = nanotui(home, "audit", "verify", log)
        assert verified.returncode == 0, verified.stdout + verified.stderr


def _engine_for_listing():  # an in-memory database: only the route table is read
    from nanotui.server.store import open_database

    return open_database("sqlite://")


def test_each_user_sees_only_their_projects_and_never_a_path(shared) -> None:
    url, _, tokens = shared
    me = httpx.get(f"{url}/v1/me", headers=bearer(tokens["alice"])).json()
    assert me["name"] == "alice" and me["projects"] == ["web"] and not me["admin"]
    assert httpx.get(f"{url}/v1/projects", headers=bearer(tokens["alice"])).json() == [
        {"name": "web"}
    ]
    assert httpx.get(f"{url}/v1/projects", headers=bearer(tokens["bob"])).json() == []
    assert httpx.get(f"{url}/v1/projects", headers=bearer(tokens["root"])).json() == [
        {"name": "web"}
    ]


def test_a_foreign_origin_and_an_oversized_body_are_refused(shared) -> None:
    url, _, tokens = shared
    headers = {**bearer(tokens["alice"]), "Origin": "http://evil.example"}
    refused = httpx.post(f"{url}/v1/me", headers=headers, content=b"{}")
    assert refused.status_code == 403
    assert "Requests from http://evil.example are refused" in refused.json()["error"]
    big = httpx.post(f"{url}/v1/me", headers=bearer(tokens["alice"]), content=b"x" * 1_000_001)
    assert big.status_code == 413
    # A page on a domain re-pointed at 127.0.0.1 (DNS rebinding) is not served.
    rebound = httpx.get(f"{url}/v1/me", headers={**bearer(tokens["alice"]), "Host": "evil.example"})
    assert rebound.status_code == 421
    assert rebound.json() == {"error": "This service does not answer to the host 'evil.example'."}
    assert httpx.get(f"{url}/healthz").status_code == 200  # still serving


def test_tokens_are_shown_once_and_stored_nowhere_in_clear(shared) -> None:
    url, home, tokens = shared
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


def test_a_session_the_server_cannot_start_is_one_sentence(shared) -> None:
    url, _, tokens = shared
    # The project has no commit yet: a worktree needs one.
    made = httpx.post(
        f"{url}/v1/sessions", headers=bearer(tokens["alice"]), json={"project": "web"}
    )
    assert made.status_code == 503
    assert made.json() == {
        "error": "The server cannot start a session: The project at web has no commit yet; "
        "commit something first."
    }
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_a_flood_of_wrong_secrets_is_refused_before_hashing(served) -> None:
    url, _, tokens = served
    wrong = tokens["bob"][:-4] + "AAAA"
    answers = [httpx.get(f"{url}/v1/me", headers=bearer(wrong)).status_code for _ in range(31)]
    assert answers == [401] * 30 + [429]
    refused = httpx.get(f"{url}/v1/me", headers=bearer(wrong))
    assert refused.json()["error"].startswith("Too many failed sign-ins with this token")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
