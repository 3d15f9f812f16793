"""The API's session routes: create, message, follow (Server-Sent Events), approve,
interrupt, the patch, spend and close.

Each route finds the session through the hub with the caller's account, so another user's
session answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.server.accounts import list_users
from nanotui.server.app import User, project_path
from nanotui.server.hub import SessionHub
from nanotui.server.sessions import ServedSession, SessionRefused
from nanotui.server.worktrees import session_patch

MAX_MESSAGE_CHARS = 200_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewSession(Strict):
    project: str
    mode: str | None = None
    """A mode no looser than the server's; None: the server's."""
    model: str | None = None
    """One of the models the server offers; None: its own."""


class NewMessage(Strict):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class Answer(Strict):
    decision: Literal["approve", "reject", "always", "project"]
    """"always" approves, and approves its kind for the rest of the session, as in the app;
    "project" allows a network name for good in the session's project."""
    reason: str = Field(default="", max_length=4000)
    hunks: list[int] | None = None
    """For a write: the hunks to apply (0-based); None applies them all."""
    edited_text: str | None = None
    """For a write: the text to write instead of the proposal (an edit)."""
    shown_sha256: str | None = None
    """The hash of what the client showed (from the request): an answer to anything else is
    refused (409), so a stale view cannot approve a request it did not show."""
    headless: bool = False
    """True when no person answered (`nanotui run --server` refusing what needs one)."""


class Restore(Strict):
    checkpoint: str = Field(min_length=4, max_length=64)
    """A checkpoint's id or short id, from the session's list."""
    files: list[str] | None = None
    """Paths relative to the project; None restores them all."""
    delete_also: list[str] | None = None
    """Files that did not exist at the checkpoint to delete too (the agent's own always are)."""


def _hub(request: Request) -> SessionHub:
    return request.app.state.hub


def _log(request: Request, who: str, what: str) -> None:
    request.app.state.service_log.record(who, what)


def _last_event_id(request: Request, after: int | None) -> int:
    given = request.headers.get("last-event-id", "")
    from_header = int(given) if given.isdigit() else 0
    return max(from_header, after or 0)


def _sse(served: ServedSession, after: int, request: Request) -> AsyncIterator[str]:
    async def lines() -> AsyncIterator[str]:
        async for item in served.follow(after):
            if await request.is_disconnected():
                return
            if item is None:
                yield ": keep-alive\n\n"
                continue
            yield f"id: {item.id}\nevent: {item.type}\ndata: {item.data}\n\n"

    return lines()


def add_session_routes(app: FastAPI) -> None:
    @app.post("/v1/sessions", status_code=201)
    async def create_session(body: NewSession, request: Request, user: User) -> dict[str, Any]:
        """Start a session on a project, in a worktree and branch of its own."""
        hub = _hub(request)
        path = await asyncio.to_thread(project_path, request.app.state.engine, user, body.project)
        served = await hub.create(user, body.project, path, body.mode, body.model)
        _log(
            request,
            user.name,
            f"started session {served.id} on {body.project} ({served.engine.mode})",
        )
        return served.describe()

    @app.get("/v1/sessions")
    async def list_sessions(request: Request, user: User, every_user: bool = False) -> list[Any]:
        """The caller's sessions; an admin may ask for everyone's."""
        return [s.describe() for s in _hub(request).visible_to(user, every_user)]

    @app.get("/v1/sessions/{session_id}")
    async def show_session(session_id: str, request: Request, user: User) -> dict[str, Any]:
        return _hub(request).find(user, session_id, to_act=False).describe()

    @app.post("/v1/sessions/{session_id}/messages", status_code=202)
    async def send_message(
        session_id: str, body: NewMessage, request: Request, user: User
    ) -> dict[str, Any]:
        """Start a turn; its events follow the returned id on the event stream."""
        hub = _hub(request)
        served = hub.find(user, session_id)
        await asyncio.to_thread(hub.refuse_when_spent, served, user)
        wait = await asyncio.to_thread(hub.tokens_wait, user)
        if wait:
            raise HTTPException(
                429,
                f"Too many model tokens this minute; try again in {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        return {"after": served.send(body.text)}

    @app.get("/v1/sessions/{session_id}/events")
    async def follow_events(
        session_id: str, request: Request, user: User, after: int | None = None
    ) -> StreamingResponse:
        """The session's events as Server-Sent Events, after `Last-Event-ID` (or `after`)."""
        served = _hub(request).find(user, session_id, to_act=False)
        return StreamingResponse(
            _sse(served, _last_event_id(request, after), request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/v1/sessions/{session_id}/approvals")
    async def pending_approvals(session_id: str, request: Request, user: User) -> list[Any]:
        served = _hub(request).find(user, session_id)
        return [event.model_dump(mode="json") for event in served.pending.values()]

    @app.post("/v1/sessions/{session_id}/approvals/{call_id}")
    async def answer_approval(
        session_id: str, call_id: str, body: Answer, request: Request, user: User
    ) -> dict[str, Any]:
        """Approve (all hunks, some, or an edited text) or reject with a reason."""
        served = _hub(request).find(user, session_id)
        _log(request, user.name, f"{body.decision}d {call_id} in session {session_id}")
        served.answer(
            call_id,
            body.shown_sha256,
            ApprovalAnswer(
                decision=body.decision,
                reason=body.reason,
                hunks=body.hunks,
                edited_text=body.edited_text,
                by="headless" if body.headless else "user",
            ),
        )
        return {"answered": call_id}

    @app.post("/v1/sessions/{session_id}/interrupt")
    async def interrupt(session_id: str, request: Request, user: User) -> dict[str, Any]:
        served = _hub(request).find(user, session_id)
        _log(request, user.name, f"interrupted session {session_id}")
        return {"interrupted": served.interrupt()}

    @app.get("/v1/sessions/{session_id}/patch", response_class=PlainTextResponse)
    async def patch(session_id: str, request: Request, user: User) -> str:
        """What the session changed since it started, as a patch for `git apply`."""
        served = _hub(request).find(user, session_id, to_act=False)
        if served.closed:
            raise SessionRefused(409, "This session is closed; fetch its branch instead.")
        return await asyncio.to_thread(session_patch, served.worktree)

    @app.get("/v1/sessions/{session_id}/checkpoints")
    async def checkpoints(session_id: str, request: Request, user: User) -> list[Any]:
        """The session's checkpoints, newest first."""
        served = _hub(request).find(user, session_id, to_act=False)
        return await asyncio.to_thread(served.checkpoints)

    @app.post("/v1/sessions/{session_id}/restore")
    async def restore(
        session_id: str, body: Restore, request: Request, user: User
    ) -> dict[str, Any]:
        """Put the worktree back as a checkpoint had it (all files, or those named)."""
        served = _hub(request).find(user, session_id)
        _log(request, user.name, f"restored {body.checkpoint} in session {session_id}")
        return await served.restore(body.checkpoint, body.files, body.delete_also)

    @app.post("/v1/sessions/{session_id}/close")
    async def close_session(session_id: str, request: Request, user: User) -> dict[str, Any]:
        """End the session; its branch stays in the project."""
        served = _hub(request).find(user, session_id)
        await served.close()
        _log(request, user.name, f"closed session {session_id}")
        return served.describe()

    @app.get("/v1/admin/spend")
    async def everyones_spend(request: Request, user: User) -> dict[str, Any]:
        """For admins: every user's spending against their limits, and the team's."""
        if not user.admin:
            raise SessionRefused(403, "Only an admin sees everyone's spending.")
        hub = _hub(request)

        def gather() -> dict[str, Any]:
            accounts = list_users(request.app.state.engine)
            return {"team": hub.team_spend(), "users": [hub.spend_of(a) for a in accounts]}

        return await asyncio.to_thread(gather)

    @app.get("/v1/spend")
    async def my_spend(request: Request, user: User) -> dict[str, Any]:
        """The caller's spending today and this month, against their limits."""
        return await asyncio.to_thread(_hub(request).spend_of, user)
