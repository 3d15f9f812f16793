"""A user's ledger on the service that also holds the team's day budget.

Every request of a session reserves its worst case twice: in the user's own ledger (their
day and month) and in the team's (the whole service's day, `[server] team_day_usd`), each a
write transaction of its own ledger, so neither concurrent sessions of one user nor those of
many users can together pass a budget. If the team's reservation fails, the user's is given
back; settling and releasing go to both. Either ledger may be a file (one replica) or the
service's database (`shared_ledger.py`, several).
"""

from __future__ import annotations

from nanotui.governance.ledger import DailyBudgetExceeded, Ledger, SpendRow
from nanotui.protocol.model_io import Usage
from nanotui.protocol.spend import Spend


class TeamLedger(Ledger):
    """The user's ledger (what the session shows as today's spending) plus the team's."""

    def __init__(self, own: Ledger, team: Ledger, team_day_usd: float) -> None:
        # No store of its own: every call goes to the user's ledger, and the team's.
        self.own = own
        self.team = team
        self.team_day_usd = team_day_usd
        self._team_holds: dict[int, int] = {}
        """The user's reservation id -> the team's reservation for the same request."""

    def reserve(
        self,
        session: str,
        amount_usd: float,
        day_limit_usd: float,
        month_limit_usd: float | None = None,
    ) -> int:
        mine = self.own.reserve(session, amount_usd, day_limit_usd, month_limit_usd)
        try:
            self._team_holds[mine] = self.team.reserve(session, amount_usd, self.team_day_usd)
        except DailyBudgetExceeded:
            self.own.release(mine)
            spent = self.team.spent_today()
            raise DailyBudgetExceeded(
                f"The next request could cost up to ${amount_usd:.4f}, which would pass the "
                f"team's budget for today (${spent:.4f} of ${self.team_day_usd:.2f} spent, "
                "besides running requests); ask an admin, or wait until tomorrow."
            ) from None
        return mine

    def settle(
        self,
        reservation: int | None,
        *,
        session: str,
        model: str,
        usage: Usage,
        cost_usd: float | None,
        price_source: str,
    ) -> None:
        held = self._team_holds.pop(reservation, None) if reservation is not None else None
        for ledger, hold in ((self.team, held), (self.own, reservation)):
            ledger.settle(
                hold,
                session=session,
                model=model,
                usage=usage,
                cost_usd=cost_usd,
                price_source=price_source,
            )

    def release(self, reservation: int) -> None:
        held = self._team_holds.pop(reservation, None)
        if held is not None:
            self.team.release(held)
        self.own.release(reservation)

    def spent_today(self) -> float:
        return self.own.spent_today()

    def spent_this_month(self) -> float:
        return self.own.spent_this_month()

    def tokens_in_last(self, seconds: float) -> list[tuple[float, int]]:
        return self.own.tokens_in_last(seconds)

    def spend_today(self) -> Spend:
        return self.own.spend_today()

    def report(self, by: str, day: str | None = None) -> list[SpendRow]:
        return self.own.report(by, day)
