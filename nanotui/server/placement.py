"""Where each session lives when replicas share a database: on the replica that created it.

A session's worktree, running turn and event stream are in one process, so every request
for it must reach that replica (the load balancer's session affinity sends them there). One
that reaches another replica is answered 421 Misdirected Request with the right replica's
URL, in the body and as `Location`; never served from a copy. Another user's session is
still answered 404, as one that does not exist.
"""

from __future__ import annotations

import time

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from nanotui.protocol.basics import new_session_id
from nanotui.server.accounts import Account
from nanotui.server.sessions import SessionRefused
from nanotui.server.store import session_placements

placed = session_placements.c


class Misdirected(SessionRefused):
    """The session lives on another replica, `replica`."""

    def __init__(self, session_id: str, replica: str) -> None:
        super().__init__(
            421,
            f"Session {session_id!r} lives on {replica}; send its requests there "
            "(use session affinity in the load balancer).",
        )
        self.replica = replica


class Placements:
    """The replicas' shared record of which holds each session; this one is `replica`."""

    def __init__(self, engine: Engine, replica: str) -> None:
        self.engine = engine
        self.replica = replica.rstrip("/")

    def claim_new(self, user: str) -> str:
        """A new session id, recorded as `user`'s on this replica."""
        # Ids are unique per second to 1 in 65,536: two replicas may draw one at once.
        for _ in range(5):
            session_id = new_session_id()
            try:
                with self.engine.begin() as db:
                    db.execute(
                        insert(session_placements).values(
                            session=session_id,
                            owner=user,
                            replica=self.replica,
                            created=time.time(),
                        )
                    )
            except IntegrityError:
                continue
            return session_id
        raise SessionRefused(503, "No unused session id was found; try again.")

    def check_elsewhere(self, account: Account, session_id: str, *, to_act: bool) -> None:
        """Raise Misdirected when another replica holds this session and the caller may
        reach it (their own; anyone's for an admin only looking)."""
        with self.engine.connect() as db:
            row = db.execute(
                select(placed.owner, placed.replica).where(placed.session == session_id)
            ).first()
        if row is None or row.replica == self.replica:
            return
        if row.owner == account.name or (account.admin and not to_act):
            raise Misdirected(session_id, row.replica)


def misdirected(request: Request, exc: Misdirected) -> JSONResponse:
    """The 421 answer: the sentence (as `error`, like every error here, and `detail`), the
    replica, and the same request's URL there."""
    query = f"?{request.url.query}" if request.url.query else ""
    return JSONResponse(
        {"error": str(exc), "detail": str(exc), "replica": exc.replica},
        status_code=421,
        headers={"Location": f"{exc.replica}{request.url.path}{query}"},
    )
