"""The service on PostgreSQL: the same schema (made by the same Alembic migrations) and the
same code path as on SQLite, against a throwaway cluster, driven over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
from postgres_support import throwaway_cluster
from serve_support import bearer, git_project, nanotui, running_server
from sqlalchemy import create_engine, inspect, text


def test_accounts_projects_and_sessions_work_on_postgresql(tmp_path: Path) -> None:
    home = tmp_path / "server-home"
    home.mkdir()
    (home / "config.toml").write_text('[provider]\nkind = "demo"\n')
    project = git_project(tmp_path / "web")
    with throwaway_cluster() as url:
        added = nanotui(home, "serve", "project", "add", "web", str(project), "--database-url", url)
        assert added.returncode == 0, added.stderr
        made = nanotui(
            home, "serve", "user", "add", "alice", "--project", "web", "--database-url", url
        )
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip()
        database = create_engine(url)
        with database.connect() as db:
            assert {"users", "projects", "grants", "alembic_version"} <= set(
                inspect(db).get_table_names()
            )
            # Only the salted hash is stored, never the token.
            stored = db.execute(text("SELECT * FROM users")).fetchall()
            assert token.split("_", 2)[2] not in str(stored)
        database.dispose()
        with running_server(home, "--database-url", url) as server:
            me = httpx.get(f"{server}/v1/me", headers=bearer(token))
            assert me.status_code == 200 and me.json()["projects"] == ["web"]
            session = httpx.post(
                f"{server}/v1/sessions", headers=bearer(token), json={"project": "web"}
            )
            assert session.status_code == 201, session.text
            sid = session.json()["id"]
            closed = httpx.post(f"{server}/v1/sessions/{sid}/close", headers=bearer(token))
            assert closed.json()["state"] == "closed"
            revoked = nanotui(home, "serve", "user", "revoke", "alice", "--database-url", url)
            assert revoked.returncode == 0
            assert httpx.get(f"{server}/v1/me", headers=bearer(token)).status_code == 401
