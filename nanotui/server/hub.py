"""Every session the service runs, and the rules for who reaches which with what settings:
a session belongs to the user who made it; it runs with the server's settings, tightened by
the user's limits and the mode they chose, and a model the server offers.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from sqlalchemy import Engine

from nanotui.config import Settings
from nanotui.engine.assembly import build_session
from nanotui.engine.facade import EngineSession
from nanotui.governance.ledger import Ledger
from nanotui.protocol.basics import MODE_ORDER, UserFacingError, new_session_id
from nanotui.server.accounts import Account
from nanotui.server.placement import Placements
from nanotui.server.sessions import ServedSession, SessionRefused, without_folders
from nanotui.server.shared_ledger import SharedLedger
from nanotui.server.team_ledger import TeamLedger
from nanotui.server.worktrees import Worktree, add_worktree, remove_worktree

WINDOW_S = 60.0
"""The window of a tokens-per-minute limit."""


def allowed_mode(server: Settings, asked: str | None) -> str:
    """The mode a session runs in: the one asked for if it is no looser than the server's."""
    ceiling = server.approval.mode
    if asked is None:
        return ceiling
    if asked not in MODE_ORDER:
        raise SessionRefused(422, f"{asked!r} is no mode; use one of {', '.join(MODE_ORDER)}.")
    if MODE_ORDER.index(asked) > MODE_ORDER.index(ceiling):
        raise SessionRefused(
            403, f"This server allows at most {ceiling} mode; ask for {ceiling} or a stricter one."
        )
    return asked


def allowed_model(server: Settings, asked: str | None) -> str | None:
    """The model a session uses: the server's, or one of `[server] models` if asked for."""
    offered = [m for m in [server.provider.model, *server.server.models] if m]
    if asked is None or asked == server.provider.model:
        return server.provider.model
    if asked not in offered:
        raise SessionRefused(
            403, f"This server does not offer {asked!r}; ask for one of: {', '.join(offered)}."
        )
    return asked


def _tighter(server_value: float | None, user_value: float | int | None) -> float | None:
    values = [v for v in (server_value, user_value) if v is not None]
    return float(min(values)) if values else None


def session_settings(
    server: Settings, account: Account, mode: str, model: str | None = None
) -> Settings:
    """The server's settings with the user's budgets, the chosen mode (only tighter) and
    the chosen model (one the server offers)."""
    budget = server.budget
    limits = account.limits
    tightened = budget.model_copy(
        update={
            "session_usd": _tighter(budget.session_usd, limits.get("session_usd")),
            "day_usd": _tighter(budget.day_usd, limits.get("day_usd")),
            "month_usd": _tighter(budget.month_usd, limits.get("month_usd")),
        }
    )
    approval = server.approval.model_copy(update={"mode": mode})
    provider = server.provider.model_copy(update={"model": model or server.provider.model})
    return server.model_copy(
        update={"budget": tightened, "approval": approval, "provider": provider}
    )


class SessionHub:
    """Every session the service runs, and the rules for who reaches which."""

    def __init__(
        self,
        settings: Settings,
        state: Path,
        shared: Engine | None = None,
        placements: Placements | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.shared = shared
        """The database replicas share, which then keeps the ledgers; None: files in `state`."""
        self.placements = placements
        """Which replica holds each session, when there may be several."""
        self.sessions: dict[str, ServedSession] = {}
        self._starting: dict[str, int] = {}
        """Sessions being set up, per user."""
        self._ledgers: dict[Path, Ledger] = {}
        """Opened once each (opening one checks its schema): by file."""

    def ledger_path(self, user: str) -> Path:
        """Each user's spending has a ledger of its own, so their day and month add up."""
        return self.state / "ledgers" / f"{user}.sqlite3"

    def _ledger(self, path: Path) -> Ledger:
        if path not in self._ledgers:
            self._ledgers[path] = Ledger(path)
        return self._ledgers[path]

    def user_ledger(self, user: str) -> Ledger:
        if self.shared is not None:
            return SharedLedger(self.shared, f"user:{user}")
        return self._ledger(self.ledger_path(user))

    def team_ledger(self) -> Ledger:
        """Every request of every user, for the team's day budget."""
        if self.shared is not None:
            return SharedLedger(self.shared, "team")
        return self._ledger(self.state / "ledgers" / "team.sqlite3")

    def ledger_for(self, user: str) -> Ledger:
        """The user's ledger, which also records (and, with a team budget, reserves) each
        request in the team's."""
        team_day = self.settings.server.team_day_usd
        limit = math.inf if team_day is None else team_day
        return TeamLedger(self.user_ledger(user), self.team_ledger(), limit)

    def tokens_wait(self, account: Account) -> int:
        """0, or the seconds until the user (or the whole service) is back under their model
        tokens per minute."""
        own = account.limits.get("tpm")
        checks = [
            (self.user_ledger(account.name), int(own) if own is not None else 0),
            (self.team_ledger(), self.settings.server.tokens_per_minute),
        ]
        waits = [0.0]
        for ledger, limit in checks:
            if limit <= 0:
                continue
            recent = ledger.tokens_in_last(WINDOW_S)
            total = sum(tokens for _, tokens in recent)
            for age, tokens in recent:  # oldest first: how long until enough have aged out
                if total < limit:
                    break
                total -= tokens
                waits.append(WINDOW_S - age)
        return math.ceil(max(waits))

    def team_spend(self) -> dict[str, object]:
        today = self.team_ledger().spend_today()
        return {
            "today_usd": today.cost_usd,
            "today_unpriced_requests": today.unpriced_requests,
            "day_usd_limit": self.settings.server.team_day_usd,
        }

    def spend_of(self, account: Account) -> dict[str, object]:
        ledger = self.user_ledger(account.name)
        budget = session_settings(self.settings, account, self.settings.approval.mode).budget
        today = ledger.spend_today()
        return {
            "user": account.name,
            "today_usd": today.cost_usd,
            "today_unpriced_requests": today.unpriced_requests,
            "month_usd": ledger.spent_this_month(),
            "limits": {
                "session_usd": budget.session_usd,
                "day_usd": budget.day_usd,
                "month_usd": budget.month_usd,
            },
        }

    def refuse_when_spent(self, served: ServedSession, account: Account) -> None:
        """402 before a turn starts when one of the user's budgets is already used up."""
        spend = self.spend_of(account)
        limits = spend["limits"]
        assert isinstance(limits, dict)
        used = [
            ("this session's", served.engine.spend.cost_usd or 0.0, limits["session_usd"]),
            ("today's", spend["today_usd"] or 0.0, limits["day_usd"]),
            ("this month's", spend["month_usd"], limits["month_usd"]),
        ]
        team = self.team_spend()
        used.append(("The team's day", team["today_usd"] or 0.0, team["day_usd_limit"]))
        for which, spent, limit in used:
            if limit is not None and spent >= limit:  # type: ignore[operator]
                raise SessionRefused(
                    402,
                    f"{which.capitalize()} budget is spent (${spent:.4f} of ${limit:.2f}); "
                    "ask an admin to raise it.",
                )

    async def create(
        self,
        account: Account,
        project: str,
        path: Path,
        mode: str | None,
        model: str | None = None,
    ) -> ServedSession:
        chosen = allowed_mode(self.settings, mode)
        chosen_model = allowed_model(self.settings, model)
        open_ones = [s for s in self.sessions.values() if s.owner == account.name and not s.closed]
        starting = self._starting.get(account.name, 0)
        if len(open_ones) + starting >= self.settings.server.max_sessions_per_user:
            raise SessionRefused(
                429,
                f"You have {len(open_ones)} sessions open, the most allowed; close one first.",
            )
        session_id = new_session_id()
        settings = session_settings(self.settings, account, chosen, chosen_model)

        def build() -> tuple[EngineSession, Worktree]:
            worktree = add_worktree(path, session_id, self.state / "worktrees" / session_id)
            try:
                engine = build_session(
                    settings,
                    worktree.path,
                    session_id=session_id,
                    ledger=self.ledger_for(account.name),
                    user=account.name,
                )
            except BaseException:
                remove_worktree(path, worktree)
                raise
            return engine, worktree

        # Counted while it is set up, so parallel requests cannot pass the limit together.
        self._starting[account.name] = starting + 1
        try:
            if self.placements is not None:  # an id no other replica has, placed here
                session_id = await asyncio.to_thread(self.placements.claim_new, account.name)
            engine, worktree = await asyncio.to_thread(build)
        except UserFacingError as exc:
            if isinstance(exc, SessionRefused):
                raise
            # The server's own set-up (its model, a project without commits): the user can
            # only pass it on to the admin, and is told no folder of the server's.
            sentence = without_folders(str(exc), [self.state, path])
            raise SessionRefused(503, f"The server cannot start a session: {sentence}") from exc
        finally:
            self._starting[account.name] -= 1
        served = ServedSession(engine, account.name, project, worktree, path)
        self.sessions[served.id] = served
        return served

    def find(self, account: Account, session_id: str, *, to_act: bool = True) -> ServedSession:
        """The user's session; an admin may also look at anyone's. Another user's session is
        answered exactly as one that does not exist."""
        served = self.sessions.get(session_id)
        if served is None and self.placements is not None:
            self.placements.check_elsewhere(account, session_id, to_act=to_act)
        if served is None or (served.owner != account.name and (to_act or not account.admin)):
            raise SessionRefused(404, f"There is no session {session_id!r}.")
        return served

    def visible_to(self, account: Account, every_user: bool = False) -> list[ServedSession]:
        return [
            s
            for s in self.sessions.values()
            if s.owner == account.name or (every_user and account.admin)
        ]

    async def close_all(self) -> None:
        """At shutdown: every session's log ends cleanly; worktrees stay for a look."""
        for served in list(self.sessions.values()):
            await served.close(remove_worktree_folder=False)
