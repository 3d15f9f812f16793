"""Who may use the service: accounts with their limits and projects, and checking a token.

Every change here is an admin's, made on the server's machine (`nanotui serve user ...`);
nothing a client sends reaches these functions but `authenticate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, insert, select, update

from nanotui.protocol.basics import UserFacingError
from nanotui.security.jail.git_runner import GitUnavailable, run_git_sync
from nanotui.server import tokens
from nanotui.server.store import grants, projects, users

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LIMITS = ("session_usd", "day_usd", "month_usd", "rpm", "tpm")


class AccountError(UserFacingError):
    """An admin command that cannot be done as asked."""


@dataclass(frozen=True)
class Account:
    name: str
    admin: bool
    revoked: bool
    projects: list[str] = field(default_factory=list)
    limits: dict[str, float | int | None] = field(default_factory=dict)


def _checked_name(name: str, what: str) -> str:
    if not NAME.match(name):
        raise AccountError(
            f"{name!r} is not a usable {what} name; use letters, digits, '.', '_' or '-'."
        )
    return name


def add_user(
    engine: Engine,
    name: str,
    *,
    admin: bool = False,
    project_names: list[str] | None = None,
    limits: dict[str, float | int | None] | None = None,
) -> str:
    """Make an account; returns its token, which is never shown again."""
    _checked_name(name, "user")
    made = tokens.new_token()
    with engine.begin() as db:
        if db.execute(select(users.c.id).where(users.c.name == name)).first():
            raise AccountError(
                f"There is a user {name} already (revoked or not); pick another name."
            )
        known = set(db.scalars(select(projects.c.name)))
        missing = [p for p in project_names or [] if p not in known]
        if missing:
            raise AccountError(
                f"There is no project {missing[0]!r}; add it with `nanotui serve project add`."
            )
        row = db.execute(
            insert(users).values(
                name=name,
                token_id=made.token_id,
                token_salt=made.salt,
                token_digest=made.digest,
                admin=admin,
                revoked=False,
                **{key: value for key, value in (limits or {}).items() if key in LIMITS},
            )
        )
        user_id = row.inserted_primary_key[0]
        for project in dict.fromkeys(project_names or []):
            db.execute(insert(grants).values(user_id=user_id, project=project))
    return made.token


def list_users(engine: Engine) -> list[Account]:
    with engine.connect() as db:
        granted: dict[int, list[str]] = {}
        for user_id, project in db.execute(select(grants.c.user_id, grants.c.project)):
            granted.setdefault(user_id, []).append(project)
        return [
            Account(
                name=row.name,
                admin=row.admin,
                revoked=row.revoked,
                projects=sorted(granted.get(row.id, [])),
                limits={key: getattr(row, key) for key in LIMITS},
            )
            for row in db.execute(select(users).order_by(users.c.name))
        ]


def revoke_user(engine: Engine, name: str) -> None:
    """Revoke the account's token at once; the account stays, for the audit trail."""
    with engine.begin() as db:
        done = db.execute(update(users).where(users.c.name == name).values(revoked=True))
    if done.rowcount == 0:
        raise AccountError(f"There is no user {name}; `nanotui serve user list` shows them.")


def set_limits(engine: Engine, name: str, limits: dict[str, float | int | None]) -> None:
    chosen = {key: value for key, value in limits.items() if key in LIMITS}
    if not chosen:
        raise AccountError(
            "Give at least one limit (--session-usd, --day-usd, --month-usd, --rpm, --tpm)."
        )
    with engine.begin() as db:
        done = db.execute(update(users).where(users.c.name == name).values(**chosen))
    if done.rowcount == 0:
        raise AccountError(f"There is no user {name}; `nanotui serve user list` shows them.")


def add_project(engine: Engine, name: str, path: Path) -> Path:
    """Register a git repository users may be granted; returns its resolved path."""
    _checked_name(name, "project")
    folder = path.expanduser().resolve()
    try:
        inside = (
            folder.is_dir()
            and run_git_sync(["rev-parse", "--is-inside-work-tree"], folder).stdout.strip()
            == b"true"
        )
    except GitUnavailable:
        inside = False
    if not inside:
        raise AccountError(f"{folder} is not a git repository; a project must be one.")
    with engine.begin() as db:
        if db.execute(select(projects.c.id).where(projects.c.name == name)).first():
            raise AccountError(f"There is a project {name} already.")
        db.execute(insert(projects).values(name=name, path=str(folder)))
    return folder


def authenticate(engine: Engine, token: str) -> Account | None:
    """The account a bearer token belongs to, or None (malformed, unknown, wrong or revoked)."""
    parts = tokens.split_token(token)
    if parts is None:
        return None
    token_id, secret = parts
    with engine.connect() as db:
        row = db.execute(select(users).where(users.c.token_id == token_id)).first()
        if row is None or row.revoked:
            return None
        if not tokens.matches_cached(token, secret, row.token_salt, row.token_digest):
            return None
        granted = sorted(db.scalars(select(grants.c.project).where(grants.c.user_id == row.id)))
    return Account(
        name=row.name,
        admin=row.admin,
        revoked=False,
        projects=granted,
        limits={key: getattr(row, key) for key in LIMITS},
    )
