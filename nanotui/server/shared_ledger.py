"""The spending ledger in the service's database, for replicas that share one (PostgreSQL).

The ledger file's interface and rules (`governance/ledger.py`): a request reserves its worst
case, settles it with its real cost, and a reservation left by a dead process lapses after
`RESERVATION_TTL_S`. The check and the reservation it allows are one transaction under a
lock on the ledger's name (`store.lock`), so two replicas reserving for one user at once
take turns, never both on the same total. Each ledger is a name in shared tables:
`user:<name>` for a user's, `team` for the whole service's.
"""

from __future__ import annotations

import time

from sqlalchemy import ColumnElement, Connection, Engine, case, delete, func, insert, select

from nanotui.governance.ledger import (
    RESERVATION_TTL_S,
    Ledger,
    SpendRow,
    ledger_day,
    refuse_past,
)
from nanotui.protocol.model_io import Usage
from nanotui.protocol.spend import Spend
from nanotui.server.store import ledger_requests, ledger_reservations, lock

requests, held = ledger_requests.c, ledger_reservations.c


class SharedLedger(Ledger):
    """One ledger (a user's or the team's) in the service's database; each method is one
    short transaction."""

    def __init__(self, engine: Engine, name: str) -> None:
        # Not the file's set-up: the tables are the database's, made by its migrations.
        self.engine = engine
        self.name = name

    def reserve(
        self,
        session: str,
        amount_usd: float,
        day_limit_usd: float,
        month_limit_usd: float | None = None,
    ) -> int:
        today = ledger_day()
        with self.engine.begin() as db:
            lock(db, f"ledger:{self.name}")
            # The first statement writes, which is SQLite's lock (see `store.lock`).
            db.execute(
                delete(ledger_reservations).where(
                    held.ledger == self.name, held.created < time.time() - RESERVATION_TTL_S
                )
            )
            refuse_past(amount_usd, self._used_since(db, today), day_limit_usd, "day")
            if month_limit_usd is not None:
                used = self._used_since(db, f"{today[:7]}-01")
                refuse_past(amount_usd, used, month_limit_usd, "month")
            made = db.execute(
                insert(ledger_reservations).values(
                    ledger=self.name,
                    day=today,
                    session=session,
                    amount_usd=amount_usd,
                    created=time.time(),
                )
            )
            return int(made.inserted_primary_key[0])

    def _used_since(self, db: Connection, first_day: str) -> float:
        """Spent and held (by running requests) from `first_day` on."""
        spent = db.execute(
            select(func.coalesce(func.sum(requests.cost_usd), 0.0)).where(
                requests.ledger == self.name, requests.day >= first_day
            )
        ).scalar_one()
        holding = db.execute(
            select(func.coalesce(func.sum(held.amount_usd), 0.0)).where(
                held.ledger == self.name, held.day >= first_day
            )
        ).scalar_one()
        return float(spent) + float(holding)

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
        with self.engine.begin() as db:
            if reservation is not None:
                db.execute(delete(ledger_reservations).where(held.id == reservation))
            db.execute(
                insert(ledger_requests).values(
                    ledger=self.name,
                    at=time.time(),
                    day=ledger_day(),
                    session=session,
                    model=model,
                    input_tokens=usage.input_tokens,
                    cached_input_tokens=usage.cached_input_tokens,
                    cache_write_tokens=usage.cache_write_tokens,
                    output_tokens=usage.output_tokens,
                    reasoning_tokens=usage.reasoning_tokens,
                    cost_usd=cost_usd,
                    price_source=price_source,
                )
            )

    def release(self, reservation: int) -> None:
        with self.engine.begin() as db:
            db.execute(delete(ledger_reservations).where(held.id == reservation))

    def spent_today(self) -> float:
        return self._spent_since(ledger_day())

    def spent_this_month(self) -> float:
        return self._spent_since(f"{ledger_day()[:7]}-01")

    def _spent_since(self, first_day: str) -> float:
        with self.engine.connect() as db:
            spent = db.execute(
                select(func.coalesce(func.sum(requests.cost_usd), 0.0)).where(
                    requests.ledger == self.name, requests.day >= first_day
                )
            ).scalar_one()
        return float(spent)

    def tokens_in_last(self, seconds: float) -> list[tuple[float, int]]:
        now = time.time()
        with self.engine.connect() as db:
            rows = db.execute(
                select(requests.at, requests.input_tokens + requests.output_tokens)
                .where(requests.ledger == self.name, requests.at >= now - seconds)
                .order_by(requests.at, requests.id)
            ).all()
        return [(now - at, int(tokens)) for at, tokens in rows]

    def spend_today(self) -> Spend:
        with self.engine.connect() as db:
            count, usd, unpriced = db.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(requests.cost_usd), 0.0),
                    _unpriced(),
                ).where(requests.ledger == self.name, requests.day == ledger_day())
            ).one()
        return Spend.of(float(usd), count, unpriced or 0)

    def report(self, by: str, day: str | None = None) -> list[SpendRow]:
        column = {"day": requests.day, "session": requests.session, "model": requests.model}[by]
        query = (
            select(
                column,
                func.count(),
                func.sum(requests.input_tokens),
                func.sum(requests.cached_input_tokens),
                func.sum(requests.output_tokens),
                func.coalesce(func.sum(requests.cost_usd), 0.0),
                _unpriced(),
            )
            .where(requests.ledger == self.name)
            .group_by(column)
            .order_by(func.min(requests.at))
        )
        if day:
            query = query.where(requests.day == day)
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        return [
            SpendRow(*counts, Spend.of(float(usd), counts[1], unpriced).cost_usd, unpriced)
            for *counts, usd, unpriced in rows
        ]


def _unpriced() -> ColumnElement[int]:
    return func.sum(case((requests.cost_usd.is_(None), 1), else_=0))
