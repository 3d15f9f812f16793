"""Sessions on `nanotui serve`, driven over real HTTP: the real server (a child process)
against the scripted model server, on real git projects.

A session works in a worktree of its own on branch nanotui/<session>; its events come as
Server-Sent Events with ids; approvals, interrupts and the patch go through the API; and
another user's session is answered as if it did not exist.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fake_model_server import FakeModelServer, endless_reply, openai_reply
from serve_support import (
    BIN,
    DroppingProxy,
    bearer,
    free_port,
    git_project,
    nanotui,
    read_events,
    running_server,
)
from test_audit_anchor import rechain, records

from nanotui.server.accounts import add_project, add_user
from nanotui.server.store import open_database

# Assembled at run time: a key-shaped literal must not sit in the repository.
PROVIDER_KEY = "sk-" + "servekey" * 4


@dataclass
class Service:
    url: str
    home: Path
    project: Path
    model: FakeModelServer
    tokens: dict[str, str]

    def post(self, user: str, path: str, **kwargs) -> httpx.Response:
        return httpx.post(self.url + path, headers=bearer(self.tokens[user]), timeout=30, **kwargs)

    def get(self, user: str, path: str) -> httpx.Response:
        return httpx.get(self.url + path, headers=bearer(self.tokens[user]), timeout=30)

    def new_session(self, user: str = "alice", **body) -> dict:
        made = self.post(user, "/v1/sessions", json={"project": "web", **body})
        assert made.status_code == 201, made.text
        return made.json()


CONFIG = """
[provider]
base_url = "{base_url}"
model = "test-model"
api_key_env = "NANOTUI_TEST_PROVIDER_KEY"
max_output_tokens = 1000

[approval]
mode = "auto-edit"

[prices."test-model"]
input_per_mtok = 10
output_per_mtok = 10
"""


@contextlib.contextmanager
def started_service(
    tmp_path: Path, extra_config: str = "", files: dict[str, str] | None = None
) -> Iterator[Service]:
    """A service in auto-edit mode at most, with a project `web`, alice (granted web), bob
    (granted nothing), carol (web, a day budget of 5 cents, 10 requests a minute), root, an
    admin, and dave (web, 5,000 model tokens a minute)."""
    home = tmp_path / "server-home"
    home.mkdir()
    project = git_project(tmp_path / "web", files or {"app.py": "def answer():\n    return 1\n"})
    with FakeModelServer() as model:
        config = CONFIG.format(base_url=model.openai_base_url) + extra_config
        (home / "config.toml").write_text(config)
        # The admin's set-up in-process (the commands themselves are tested in test_serve).
        database_url = f"sqlite:///{home / 'server.db'}"
        database = open_database(database_url)
        add_project(database, "web", project)
        tokens = {
            "alice": add_user(database, "alice", project_names=["web"]),
            "bob": add_user(database, "bob"),
            "carol": add_user(
                database, "carol", project_names=["web"], limits={"day_usd": 0.05, "rpm": 10}
            ),
            "root": add_user(database, "root", admin=True),
            "dave": add_user(database, "dave", project_names=["web"], limits={"tpm": 5000}),
        }
        database.dispose()
        env = {"NANOTUI_TEST_PROVIDER_KEY": PROVIDER_KEY}
        with running_server(home, "--database-url", database_url, env=env) as url:
            yield Service(url, home, project, model, tokens)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with started_service(tmp_path) as running:
        yield running


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=folder, check=True, capture_output=True, text=True
    ).stdout


def test_a_session_edits_its_own_branch_with_approvals_over_the_api(service: Service) -> None:
    session = service.new_session(mode="ask")
    sid = session["id"]
    assert session["branch"] == f"nanotui/{sid}" and session["mode"] == "ask"
    new_file = "def greet():\n    return 'hi'\n"
    service.model.enqueue(
        openai_reply(tool_calls=[("write_file", {"path": "greet.py", "content": new_file})]),
        openai_reply(text="Added greet.py.", usage=dict(prompt=100, completion=20)),
    )
    sent = service.post("alice", f"/v1/sessions/{sid}/messages", json={"text": "add greet"})
    assert sent.status_code == 202, sent.text
    asked = read_events(service.url, service.tokens["alice"], sid, until="approval_requested")
    request = asked[-1]
    assert request["path"] == "greet.py" and "+def greet():" in request["diff"]

    # Bob cannot see, answer or interrupt alice's session: it is as if it did not exist.
    call = request["call_id"]
    for method, path in [
        ("GET", f"/v1/sessions/{sid}"),
        ("GET", f"/v1/sessions/{sid}/approvals"),
        ("GET", f"/v1/sessions/{sid}/events"),
        ("POST", f"/v1/sessions/{sid}/approvals/{call}"),
        ("POST", f"/v1/sessions/{sid}/interrupt"),
        ("POST", f"/v1/sessions/{sid}/messages"),
        ("GET", f"/v1/sessions/{sid}/patch"),
        ("GET", f"/v1/sessions/{sid}/checkpoints"),
        ("POST", f"/v1/sessions/{sid}/restore"),
        ("POST", f"/v1/sessions/{sid}/close"),
    ]:
        body = {"decision": "approve"} if "approvals/" in path else {"text": "x"}
        body = {"checkpoint": "abcd/1"} if path.endswith("/restore") else body
        answer = httpx.request(
            method, service.url + path, headers=bearer(service.tokens["bob"]), json=body
        )
        unknown = httpx.request(
            method,
            service.url + path.replace(sid, "no-such-session"),
            headers=bearer(service.tokens["bob"]),
            json=body,
        )
        assert answer.status_code == unknown.status_code == 404, (path, answer.text)
        assert answer.json() == {"error": f"There is no session {sid!r}."}

    # An admin may look at anyone's session, and do nothing in it.
    assert service.get("root", f"/v1/sessions/{sid}").json()["user"] == "alice"
    interrupted = service.post("root", f"/v1/sessions/{sid}/interrupt")
    assert interrupted.status_code == 404
    pending = service.get("alice", f"/v1/sessions/{sid}/approvals").json()
    assert [p["call_id"] for p in pending] == [call]
    stale = service.post(
        "alice",
        f"/v1/sessions/{sid}/approvals/{call}",
        json={"decision": "approve", "shown_sha256": "0" * 64},
    )
    assert stale.status_code == 409  # an answer to something else than was shown
    approved = service.post(
        "alice",
        f"/v1/sessions/{sid}/approvals/{call}",
        json={"decision": "approve", "shown_sha256": request["shown_sha256"]},
    )
    assert approved.status_code == 200, approved.text
    rest = read_events(service.url, service.tokens["alice"], sid, after=asked[-1]["_id"])
    assert rest[-1]["type"] == "result" and rest[-1]["exit_code"] == 0
    assert rest[-1]["files_changed"] == ["greet.py"]

    # Reconnecting from the start replays the same events, in order, with no gap.
    whole = read_events(service.url, service.tokens["alice"], sid)
    assert whole == asked + rest
    assert [e["_id"] for e in whole] == list(range(1, len(whole) + 1))
    assert {e["user"] for e in whole} == {"alice"}

    # The change is on the session's branch and in its patch, not in the project's checkout.
    patch = service.get("alice", f"/v1/sessions/{sid}/patch").text
    assert "+++ b/greet.py" in patch and "+def greet():" in patch
    assert not (service.project / "greet.py").exists()
    assert git(service.project, "status", "--porcelain") == ""
    checked = subprocess.run(
        ["git", "apply", "--check", "-"], cwd=service.project, input=patch, text=True
    )
    assert checked.returncode == 0
    # The turn can be taken back through the API, as in the app's checkpoint browser.
    listed = service.get("alice", f"/v1/sessions/{sid}/checkpoints").json()
    before = [c for c in listed if c["id"] == rest[-1]["checkpoint"]]
    assert before, listed
    bob_restores = httpx.post(
        f"{service.url}/v1/sessions/{sid}/restore",
        headers=bearer(service.tokens["bob"]),
        json={"checkpoint": before[0]["id"]},
    )
    assert bob_restores.status_code == 404
    outside = service.post(
        "alice",
        f"/v1/sessions/{sid}/restore",
        json={"checkpoint": before[0]["id"], "files": ["../../etc/passwd"]},
    )
    assert outside.status_code == 409
    assert outside.json()["error"].endswith("../etc/passwd is outside the session's folder.")
    assert str(service.home) not in outside.text  # no folder of the server's is named
    restored = service.post(
        "alice", f"/v1/sessions/{sid}/restore", json={"checkpoint": before[0]["short_id"]}
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["removed"] == ["greet.py"]
    assert service.get("alice", f"/v1/sessions/{sid}/patch").text == ""
    after_restore = read_events(
        service.url,
        service.tokens["alice"],
        sid,
        after=whole[-1]["_id"],
        until="checkpoint_restored",
    )
    assert after_restore[-1]["type"] == "checkpoint_restored"
    closed = service.post("alice", f"/v1/sessions/{sid}/close").json()
    assert closed["state"] == "closed"
    again = service.post("alice", f"/v1/sessions/{sid}/close")  # closing twice is no error
    assert again.status_code == 200 and again.json()["state"] == "closed"
    assert f"nanotui/{sid}" in git(service.project, "branch", "--list", "nanotui/*")
    # Following a closed session gives what it said, then ends (it does not hang open).
    ended = read_events(service.url, service.tokens["alice"], sid, until="no such event")
    assert ended[: len(whole)] == whole and ended[-1]["type"] == "checkpoint_restored"

    # The session's log is chained as locally, and says whose session it was.
    (log,) = service.home.rglob(f"{sid}.jsonl")
    header = json.loads(log.read_text().splitlines()[0])
    assert header["payload"]["user"] == "alice", header

    # The server keeps the chain's head: the log rewritten whole, without the approval and
    # with a valid chain, is caught.
    assert nanotui(service.home, "audit", "verify", sid).returncode == 0
    rows = records(log)
    rechain(log, [r for r in rows if not r["type"].startswith("approval_")])
    forged = nanotui(service.home, "audit", "verify", sid)
    assert forged.returncode == 1 and "TAMPERED" in forged.stdout, forged.stdout

    # The provider key was used, and is nowhere the service wrote nor in any event.
    assert service.model.requests[0].headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert PROVIDER_KEY not in str(whole)
    for path in service.home.rglob("*"):
        if path.is_file():
            assert PROVIDER_KEY.encode() not in path.read_bytes(), path


def test_two_users_on_one_project_never_touch_each_others_files(service: Service) -> None:
    first = service.new_session("alice", mode="auto-edit")
    second = service.new_session("carol", mode="auto-edit")
    for sid, user, text in [(first["id"], "alice", "one\n"), (second["id"], "carol", "two\n")]:
        service.model.enqueue(
            openai_reply(tool_calls=[("write_file", {"path": "notes.txt", "content": text})]),
            openai_reply(text="ok", usage=dict(prompt=10, completion=2)),
        )
        assert (
            service.post(user, f"/v1/sessions/{sid}/messages", json={"text": "w"}).status_code
            == 202
        )
        result = read_events(service.url, service.tokens[user], sid)[-1]
        assert result["exit_code"] == 0, result
    assert "+one" in service.get("alice", f"/v1/sessions/{first['id']}/patch").text
    assert "+two" in service.get("carol", f"/v1/sessions/{second['id']}/patch").text
    assert first["branch"] != second["branch"]


def test_an_interrupt_ends_an_endless_reply(service: Service) -> None:
    sid = service.new_session()["id"]
    service.model.enqueue(endless_reply("openai", interval_s=0.01))
    service.post("alice", f"/v1/sessions/{sid}/messages", json={"text": "talk"})
    read_events(service.url, service.tokens["alice"], sid, until="text_delta")
    assert service.post("alice", f"/v1/sessions/{sid}/interrupt").json() == {"interrupted": True}
    result = read_events(service.url, service.tokens["alice"], sid)[-1]
    assert result["status"] == "cancelled"
    busy = service.post("alice", f"/v1/sessions/{sid}/interrupt").json()
    assert busy == {"interrupted": False}


def test_what_a_client_asks_cannot_loosen_the_server(service: Service) -> None:
    looser = service.post("alice", "/v1/sessions", json={"project": "web", "mode": "full-auto"})
    assert looser.status_code == 403
    assert looser.json()["error"].startswith("This server allows at most auto-edit mode")
    unknown = service.post("alice", "/v1/sessions", json={"project": "web", "model": "big-one"})
    assert unknown.status_code == 403
    assert unknown.json() == {
        "error": "This server does not offer 'big-one'; ask for one of: test-model."
    }
    for user, project in [("bob", "web"), ("alice", "nope"), ("alice", "../web")]:
        refused = service.post(user, "/v1/sessions", json={"project": project})
        assert refused.status_code == 404
        assert refused.json() == {"error": f"There is no project {project!r} open to you."}
    # A path is no field: a client names projects, never folders.
    with_path = service.post("alice", "/v1/sessions", json={"project": "web", "path": "/"})
    assert with_path.status_code == 422 and "path" in with_path.json()["error"]
    bad_json = httpx.post(
        f"{service.url}/v1/sessions",
        headers={**bearer(service.tokens["alice"]), "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert bad_json.status_code == 422 and "Traceback" not in bad_json.text
    chunked = httpx.post(
        f"{service.url}/v1/sessions",
        headers=bearer(service.tokens["alice"]),
        content=iter([b'{"project": "' + b"x" * 600_000, b"y" * 600_000 + b'"}']),
    )
    assert chunked.status_code == 413, chunked.text
    assert httpx.get(f"{service.url}/healthz").status_code == 200


def test_a_spent_budget_is_402_and_too_many_requests_429(service: Service) -> None:
    sid = service.new_session("carol")["id"]
    # One reply costs 6 cents at the configured price: past carol's 5-cent day.
    service.model.enqueue(openai_reply(text="long answer", usage=dict(prompt=100, completion=6000)))
    assert (
        service.post("carol", f"/v1/sessions/{sid}/messages", json={"text": "go"}).status_code
        == 202
    )
    assert read_events(service.url, service.tokens["carol"], sid)[-1]["exit_code"] == 0
    spend = service.get("carol", "/v1/spend").json()
    assert spend["today_usd"] == pytest.approx(0.061) and spend["limits"]["day_usd"] == 0.05
    refused = service.post("carol", f"/v1/sessions/{sid}/messages", json={"text": "more"})
    assert refused.status_code == 402
    assert refused.json()["error"].startswith("Today's budget is spent ($0.0610 of $0.05)")
    # Five of carol's ten requests a minute are used: five more pass, the next is refused.
    answers = [service.get("carol", "/v1/me") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    assert service.get("alice", "/v1/me").status_code == 200  # others are not held up


def run_remote(service: Service, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NANOTUI_TOKEN": service.tokens[user], "NANOTUI_HOME": "/nonexistent"}
    return subprocess.run(
        [str(BIN / "nanotui"), "run", "--server", service.url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_on_the_server_prints_and_exits_as_a_local_run(service: Service) -> None:
    service.model.enqueue(openai_reply(text="All good.", usage=dict(prompt=10, completion=3)))
    done = run_remote(service, "alice", "--project", "web", "check it")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "All good.\n"
    assert done.stderr.startswith("[done] 10 in / 3 out tokens, $0.0001;")

    # In ask mode a write needs approval, which a headless run refuses: exit 2, as locally.
    service.model.enqueue(
        openai_reply(tool_calls=[("write_file", {"path": "x.py", "content": "x = 1\n"})]),
        openai_reply(text="I could not write it.", usage=dict(prompt=10, completion=3)),
    )
    refused = run_remote(service, "alice", "--mode", "ask", "--json", "write x")
    assert refused.returncode == 2, refused.stderr
    events = [json.loads(line) for line in refused.stdout.splitlines()]
    resolved = [e for e in events if e["type"] == "approval_resolved"]
    assert resolved[0]["decision"] == "reject" and resolved[0]["by"] == "headless"
    assert "needs approval, which ask mode cannot give" in resolved[0]["reason"]
    assert events[-1]["type"] == "result" and events[-1]["status"] == "needs_approval"
    assert all("user" not in e for e in events)  # the lines a local run prints

    missing = subprocess.run(
        [str(BIN / "nanotui"), "run", "--server", service.url, "hi"],
        env={k: v for k, v in os.environ.items() if k != "NANOTUI_TOKEN"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith("nanotui: Set NANOTUI_TOKEN, or `token` under [remote]")
    bob = run_remote(service, "bob", "--project", "web", "hi")
    assert bob.returncode == 1
    assert bob.stderr == "nanotui: There is no project 'web' open to you.\n"


def test_run_on_the_server_past_a_budget_exits_3(service: Service) -> None:
    service.model.enqueue(openai_reply(text="long", usage=dict(prompt=100, completion=6000)))
    assert run_remote(service, "carol", "spend").returncode == 0
    over = run_remote(service, "carol", "spend more")
    assert over.returncode == 3
    assert over.stderr.startswith("nanotui: Today's budget is spent")


def test_the_teams_day_budget_holds_across_users(tmp_path: Path) -> None:
    # Telemetry on, aimed at a collector that is not there: the sessions must not mind.
    dead_collector = f'[telemetry]\nenabled = true\nendpoint = "http://127.0.0.1:{free_port()}"\n'
    config = "\n[server]\nteam_day_usd = 0.07\n" + dead_collector
    with started_service(tmp_path, config) as service:
        alice = service.new_session("alice")["id"]
        service.model.enqueue(openai_reply(text="a", usage=dict(prompt=100, completion=6000)))
        service.post("alice", f"/v1/sessions/{alice}/messages", json={"text": "go"})
        assert read_events(service.url, service.tokens["alice"], alice)[-1]["exit_code"] == 0
        # Carol has spent nothing of her own day, but the team's is nearly used up.
        carol = service.new_session("carol")["id"]
        service.model.enqueue(openai_reply(text="c", usage=dict(prompt=100, completion=10)))
        service.post("carol", f"/v1/sessions/{carol}/messages", json={"text": "go"})
        result = read_events(service.url, service.tokens["carol"], carol)[-1]
        assert result["status"] == "budget" and result["exit_code"] == 3
        assert "would pass the team's budget for today ($0.0610 of $0.07" in result["message"]
        assert service.model.pending_replies == 1  # carol's request was never sent

        everyone = service.get("root", "/v1/admin/spend").json()
        assert everyone["team"]["today_usd"] == pytest.approx(0.061)
        assert everyone["team"]["day_usd_limit"] == 0.07
        by_user = {row["user"]: row for row in everyone["users"]}
        assert by_user["alice"]["today_usd"] == pytest.approx(0.061)
        assert by_user["carol"]["today_usd"] == 0 and by_user["carol"]["limits"]["day_usd"] == 0.05
        refused = service.get("alice", "/v1/admin/spend")
        assert refused.status_code == 403
        # Every session for an admin who asks; a user's own, whatever they ask.
        every = service.get("root", "/v1/sessions?every_user=true").json()
        assert {(s["user"], s["id"]) for s in every} == {("alice", alice), ("carol", carol)}
        own = service.get("alice", "/v1/sessions?every_user=true").json()
        assert [s["id"] for s in own] == [alice]

        # The same spending as Prometheus reads it, for admins only.
        scraped = service.get("root", "/metrics")
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith(
            "text/plain; version=0.0.4"
        )
        (cost,) = [
            line
            for line in scraped.text.splitlines()
            if line.startswith("nanotui_cost_USD_total{") and 'nanotui_user="alice"' in line
        ]
        assert float(cost.rsplit(" ", 1)[1]) == pytest.approx(0.061)
        assert "# TYPE gen_ai_client_token_usage histogram" in scraped.text
        assert service.get("alice", "/metrics").status_code == 403
        assert httpx.get(service.url + "/metrics", timeout=30).status_code == 401


def test_a_session_may_use_another_model_the_server_offers(tmp_path: Path) -> None:
    with started_service(tmp_path, '\n[server]\nmodels = ["small-model"]\n') as service:
        session = service.new_session("alice", model="small-model")
        assert session["model"].startswith("small-model")
        service.model.enqueue(openai_reply(text="hi", usage=dict(prompt=5, completion=1)))
        service.post("alice", f"/v1/sessions/{session['id']}/messages", json={"text": "hi"})
        read_events(service.url, service.tokens["alice"], session["id"])
        assert service.model.requests[-1].body["model"] == "small-model"


def test_run_on_the_server_resumes_a_dropped_stream_without_loss_or_repeat(
    service: Service,
) -> None:
    words = [f"word{i:03d} " for i in range(300)]
    service.model.enqueue(openai_reply(text="".join(words), chunk_size=8))
    proxy = DroppingProxy(int(service.url.rsplit(":", 1)[1]), cut_after=3000)
    try:
        env = {**os.environ, "NANOTUI_TOKEN": service.tokens["alice"]}
        done = subprocess.run(
            [str(BIN / "nanotui"), "run", "--server", f"http://127.0.0.1:{proxy.port}", "talk"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        proxy.close()
    assert proxy.cuts == 1
    assert done.returncode == 0, done.stderr
    assert "the event stream dropped; reconnecting from event" in done.stderr
    assert done.stdout == "".join(words) + "\n"  # every piece once, in order


def test_past_a_users_model_tokens_per_minute_a_message_is_429(service: Service) -> None:
    sid = service.new_session("dave")["id"]
    service.model.enqueue(openai_reply(text="long", usage=dict(prompt=100, completion=6000)))
    service.post("dave", f"/v1/sessions/{sid}/messages", json={"text": "go"})
    assert read_events(service.url, service.tokens["dave"], sid)[-1]["exit_code"] == 0
    refused = service.post("dave", f"/v1/sessions/{sid}/messages", json={"text": "more"})
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 50 <= wait <= 60
    assert refused.json() == {"error": f"Too many model tokens this minute; try again in {wait} s."}
    # Alice has no such limit, and the service none in all.
    alice = service.new_session("alice")["id"]
    service.model.enqueue(openai_reply(text="ok", usage=dict(prompt=1, completion=1)))
    assert (
        service.post("alice", f"/v1/sessions/{alice}/messages", json={"text": "x"}).status_code
        == 202
    )


def test_parallel_starts_cannot_pass_the_sessions_a_user_may_hold(tmp_path: Path) -> None:
    with started_service(tmp_path, "\n[server]\nmax_sessions_per_user = 2\n") as service:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(
                pool.map(
                    lambda _: service.post("alice", "/v1/sessions", json={"project": "web"}),
                    range(6),
                )
            )
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [201, 201, 429, 429, 429, 429], [a.text for a in answers]


def test_two_files_in_one_reply_are_answered_apart_one_hunk_kept_one_rejected(
    tmp_path: Path,
) -> None:
    before = "".join(f"row {n}\n" for n in range(1, 41))
    long_line = "x = '" + "y" * 5000 + "'\n"  # a long line goes through whole
    after = before.replace("row 3\n", "row three\n").replace("row 38\n", long_line)
    with started_service(tmp_path, files={"table.txt": before}) as service:
        sid = service.new_session("alice", mode="ask")["id"]
        service.model.enqueue(
            openai_reply(
                tool_calls=[
                    ("write_file", {"path": "table.txt", "content": after}),
                    ("write_file", {"path": "extra.py", "content": "import os\n"}),
                ]
            ),
            openai_reply(text="Done.", usage=dict(prompt=10, completion=2)),
        )
        service.post("alice", f"/v1/sessions/{sid}/messages", json={"text": "both"})
        read_events(service.url, service.tokens["alice"], sid, until="approval_requested")
        pending = []
        for _ in range(100):  # the second request follows the first at once
            pending = service.get("alice", f"/v1/sessions/{sid}/approvals").json()
            if len(pending) == 2:
                break
            time.sleep(0.05)
        by_path = {p["path"]: p for p in pending}
        assert set(by_path) == {"table.txt", "extra.py"}
        assert by_path["table.txt"]["diff"].count("\n@@ ") == 2  # two hunks
        assert long_line.strip() in by_path["table.txt"]["diff"]
        kept = service.post(
            "alice",
            f"/v1/sessions/{sid}/approvals/{by_path['table.txt']['call_id']}",
            json={"decision": "approve", "hunks": [1]},
        )
        refused = service.post(
            "alice",
            f"/v1/sessions/{sid}/approvals/{by_path['extra.py']['call_id']}",
            json={"decision": "reject", "reason": "no new modules"},
        )
        assert kept.status_code == refused.status_code == 200
        result = read_events(service.url, service.tokens["alice"], sid)[-1]
        assert result["files_changed"] == ["table.txt"]
        (written,) = service.home.rglob(f"worktrees/{sid}/table.txt")
        assert written.read_text() == before.replace("row 38\n", long_line)
        assert not list(service.home.rglob(f"worktrees/{sid}/extra.py"))
        # The model is told why, in the request after the batch.
        told = json.dumps(service.model.requests[-1].body["messages"])
        assert "no new modules" in told
