"""Two `nanotui serve` replicas on one PostgreSQL database, as behind a load balancer: a
user's day budget and requests per minute hold across both, raced at once; a session lives
on the replica that made it, and the other one says where (421), never whose it is not. And
the database's ledger keeps the ledger file's rules.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fake_model_server import FakeModelServer, openai_reply, stalled_reply
from postgres_support import throwaway_cluster
from serve_support import bearer, git_project, read_events, running_server
from sqlalchemy import create_engine, text

from nanotui.governance.ledger import RESERVATION_TTL_S, DailyBudgetExceeded
from nanotui.protocol.model_io import Usage
from nanotui.server.accounts import add_project, add_user
from nanotui.server.shared_ledger import SharedLedger
from nanotui.server.store import open_database

PROVIDER_KEY = "sk-" + "replicakey" * 3
DAY_USD = 0.05
CONFIG = """
[provider]
base_url = "{base_url}"
model = "test-model"
api_key_env = "NANOTUI_TEST_PROVIDER_KEY"
max_output_tokens = 100

[approval]
mode = "auto-edit"

[prices."test-model"]
input_per_mtok = 1
output_per_mtok = 100
"""
"""Output is dear and capped at 100 tokens, so a request's worst case (about $0.013) is
near what it really costs ($0.0101): a $0.05 day holds four, and one replica alone could
spend it all."""


@dataclass
class Replicas:
    urls: list[str]
    homes: list[Path]
    database_url: str
    model: FakeModelServer
    tokens: dict[str, str]

    def get(self, replica: int, user: str, path: str) -> httpx.Response:
        return httpx.get(self.urls[replica] + path, headers=bearer(self.tokens[user]), timeout=30)

    def post(self, replica: int, user: str, path: str, **body) -> httpx.Response:
        return httpx.post(
            self.urls[replica] + path, headers=bearer(self.tokens[user]), json=body, timeout=30
        )

    def new_session(self, replica: int, user: str) -> str:
        made = self.post(replica, user, "/v1/sessions", project="web")
        assert made.status_code == 201, made.text
        return made.json()["id"]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """Replicas A and B (homes, state folders and ports of their own) on one cluster, with
    project `web` and its users: racer (a $0.05 day), limited (5 requests a minute), alice
    and bob."""
    root = tmp_path_factory.mktemp("replicas")
    project = git_project(root / "web")
    with throwaway_cluster() as url, FakeModelServer() as model:
        database = open_database(url)
        add_project(database, "web", project)
        tokens = {
            "racer": add_user(
                database, "racer", project_names=["web"], limits={"day_usd": DAY_USD}
            ),
            "limited": add_user(database, "limited", limits={"rpm": 5}),
            "alice": add_user(database, "alice", project_names=["web"]),
            "bob": add_user(database, "bob", project_names=["web"]),
        }
        database.dispose()
        homes = [root / "home-a", root / "home-b"]
        for home in homes:
            home.mkdir()
            (home / "config.toml").write_text(CONFIG.format(base_url=model.openai_base_url))
        env = {"NANOTUI_TEST_PROVIDER_KEY": PROVIDER_KEY}
        with (
            running_server(homes[0], "--database-url", url, env=env) as a,
            running_server(homes[1], "--database-url", url, env=env) as b,
        ):
            yield Replicas([a, b], homes, url, model, tokens)


def _turn(replicas: Replicas, replica: int, session: str) -> str:
    """One message in `session`: "done", or "refused" (402, or the turn stopped by a budget)."""
    sent = replicas.post(replica, "racer", f"/v1/sessions/{session}/messages", text="go")
    if sent.status_code == 402:
        return "refused"
    assert sent.status_code == 202, sent.text
    url, token = replicas.urls[replica], replicas.tokens["racer"]
    result = read_events(url, token, session, after=sent.json()["after"])[-1]
    if result["status"] == "budget":
        return "refused"
    assert result["exit_code"] == 0, result
    return "done"


def test_a_users_day_budget_holds_across_two_replicas_raced_at_once(replicas: Replicas) -> None:
    # Every reply is slow enough (0.3 s) that requests on both replicas hold at once.
    reply = openai_reply(text="ok", usage=dict(prompt=100, completion=100))
    replicas.model.responder = lambda _: stalled_reply(reply, after_events=1, stall_s=0.3)
    sessions = [(r, replicas.new_session(r, "racer")) for r in (0, 1) for _ in range(4)]
    outcomes: list[str] = []
    try:
        with concurrent.futures.ThreadPoolExecutor(len(sessions)) as pool:
            for _ in range(3):  # three rounds of eight messages at once, $0.24 if all ran
                outcomes += pool.map(lambda s: _turn(replicas, *s), sessions)
    finally:
        replicas.model.responder = None
    # What the sessions themselves counted, whatever ledger the replicas kept.
    spent = sum(
        s["cost_usd"] or 0.0
        for r in (0, 1)
        for s in replicas.get(r, "racer", "/v1/sessions").json()
    )
    database = create_engine(replicas.database_url)
    try:
        with database.connect() as db:
            settled = db.execute(
                text("SELECT SUM(cost_usd) FROM ledger_requests WHERE ledger = 'user:racer'")
            ).scalar_one()
    finally:
        database.dispose()
    assert spent <= DAY_USD + 1e-9, f"spent ${spent:.4f} of a ${DAY_USD} day"
    assert settled == pytest.approx(spent)
    assert outcomes.count("done") >= 3 and "refused" in outcomes, outcomes


def test_a_users_requests_per_minute_hold_across_two_replicas(replicas: Replicas) -> None:
    # limited may make 5 requests a minute: 10 at once, half on each replica, let 5 through.
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda i: replicas.get(i % 2, "limited", "/v1/me"), range(10)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 5 + [429] * 5
    refused = [a for a in answers if a.status_code == 429]
    assert all(1 <= int(a.headers["Retry-After"]) <= 60 for a in refused)
    assert replicas.get(1, "alice", "/v1/me").status_code == 200  # others are not held up


def test_a_session_lives_on_the_replica_that_made_it_and_the_other_says_where(
    replicas: Replicas,
) -> None:
    a = replicas.urls[0]
    sid = replicas.new_session(0, "alice")
    assert replicas.get(0, "alice", f"/v1/sessions/{sid}").status_code == 200
    for asked in (
        replicas.get(1, "alice", f"/v1/sessions/{sid}"),
        replicas.get(1, "alice", f"/v1/sessions/{sid}/events?after=3"),
        replicas.post(1, "alice", f"/v1/sessions/{sid}/messages", text="hello"),
    ):
        assert asked.status_code == 421, asked.text
        assert asked.json()["replica"] == a
        assert asked.json()["detail"] == (
            f"Session {sid!r} lives on {a}; send its requests there "
            "(use session affinity in the load balancer)."
        )
        assert asked.headers["Location"] == a + asked.request.url.raw_path.decode()
    # Another user's session is one that does not exist, on either replica.
    for replica in (0, 1):
        other = replicas.get(replica, "bob", f"/v1/sessions/{sid}")
        assert other.status_code == 404
        assert other.json()["error"] == f"There is no session {sid!r}."
    assert replicas.get(1, "alice", "/v1/sessions/20260101-000000-beef").status_code == 404
    # Each replica writes an API log of its own, named after its URL.
    replicas.new_session(1, "bob")
    for url, home in zip(replicas.urls, replicas.homes, strict=True):
        own = "service-api-" + url.removeprefix("http://").replace(":", "-") + ".jsonl"
        logs = {path.name for path in home.rglob("service-api*.jsonl")}
        assert logs == {own}


def test_the_shared_ledger_keeps_the_ledger_files_rules(replicas: Replicas) -> None:
    database = create_engine(replicas.database_url)
    ledger = SharedLedger(database, "user:rules")
    try:
        held = ledger.reserve("s1", 0.03, 0.05)
        with pytest.raises(DailyBudgetExceeded, match=r"pass today's budget \(\$0\.0300 of"):
            ledger.reserve("s2", 0.03, 0.05)
        # A reservation its process left behind lapses after the TTL, as in the file.
        with database.begin() as db:
            db.execute(
                text("UPDATE ledger_reservations SET created = created - :ttl WHERE id = :id"),
                {"ttl": RESERVATION_TTL_S + 1, "id": held},
            )
        second = ledger.reserve("s2", 0.03, 0.05)
        with pytest.raises(DailyBudgetExceeded, match="this month's budget"):
            ledger.reserve("s3", 0.01, 1.0, month_limit_usd=0.035)
        ledger.settle(
            second,
            session="s2",
            model="m",
            usage=Usage(input_tokens=10, output_tokens=5),
            cost_usd=0.02,
            price_source="config",
        )
        ledger.settle(
            None, session="s3", model="m", usage=Usage(), cost_usd=None, price_source="unpriced"
        )
        assert ledger.spent_today() == pytest.approx(0.02) == ledger.spent_this_month()
        assert ledger.spend_today().unpriced_requests == 1
        assert [tokens for _, tokens in ledger.tokens_in_last(60)] == [15, 0]
        rows = {row.key: row for row in ledger.report("session")}
        assert rows["s2"].cost_usd == pytest.approx(0.02) and rows["s3"].cost_usd is None
        released = ledger.reserve("s4", 0.03, 0.05)
        ledger.release(released)
        ledger.reserve("s4", 0.03, 0.05)  # the released hold no longer counts
    finally:
        database.dispose()
