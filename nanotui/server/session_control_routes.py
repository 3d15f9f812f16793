"""The API behind a full-screen app attached to a server session: what the app does between
turns (mode, model, clear, resume, cost) and its checkpoint browser (compare, a file's
patch, take one by hand, preview a restore).

Each answers with the values `nanotui.protocol` defines, as JSON, so the app's
`RemoteSession` rebuilds exactly what a local session would have returned. Changes that
loosen nothing still follow the server's rules: a mode no looser than the server's, a model
the server offers.
"""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from nanotui.protocol.basics import UserFacingError
from nanotui.protocol.checkpoint_views import Comparison
from nanotui.protocol.checkpoints import Checkpoint, to_json
from nanotui.protocol.events import EventBase
from nanotui.server.app import User
from nanotui.server.hub import SessionHub, allowed_mode, allowed_model
from nanotui.server.sessions import ServedSession, SessionRefused, without_folders


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModeChange(_Strict):
    mode: str = Field(min_length=1, max_length=20)


class ModelChange(_Strict):
    model: str = Field(min_length=1, max_length=200)


class ResumeFrom(_Strict):
    session: str = Field(min_length=1, max_length=64)
    """One of the caller's sessions on this server, whose conversation this one goes on with."""


class TakeCheckpoint(_Strict):
    label: str = Field(default="taken by hand", max_length=200)


class RestorePreview(_Strict):
    checkpoint: str = Field(min_length=4, max_length=64)
    files: list[str] | None = None


def _checkpoint(served: ServedSession, wanted: str | None) -> Checkpoint | None:
    """The session's checkpoint with this id or short id (None: the work tree now)."""
    if wanted in (None, "", "now"):
        return None
    browsing = served.engine.checkpoint_browsing()
    try:
        for entry in browsing.entries():
            if wanted in (entry.checkpoint.id, entry.checkpoint.short_id):
                return entry.checkpoint
    finally:
        browsing.close()
    raise SessionRefused(404, f"This session has no checkpoint {wanted!r}.")


def add_session_control_routes(app: FastAPI) -> None:
    def hub(request: Request) -> SessionHub:
        return request.app.state.hub

    def log(request: Request, who: str, what: str) -> None:
        request.app.state.service_log.record(who, what)

    @app.post("/v1/sessions/{session_id}/mode")
    async def set_mode(
        session_id: str, body: ModeChange, request: Request, user: User
    ) -> dict[str, Any]:
        """Change the approval mode between turns (never looser than the server's)."""
        served = hub(request).find(user, session_id)
        served.refuse_unless_idle()
        mode = allowed_mode(hub(request).settings, body.mode)
        change = served.engine.set_mode(mode)
        log(request, user.name, f"set session {session_id} to {mode} mode")
        return {"mode": mode, "notice": change.model_dump(mode="json") if change else None}

    @app.post("/v1/sessions/{session_id}/model")
    async def switch_model(
        session_id: str, body: ModelChange, request: Request, user: User
    ) -> dict[str, Any]:
        """Use another of the models the server offers for the rest of the session."""
        served = hub(request).find(user, session_id)
        served.refuse_unless_idle()
        model = allowed_model(hub(request).settings, body.model)
        served.engine.switch_model(model or body.model)
        log(request, user.name, f"switched session {session_id} to model {model}")
        return served.describe()

    @app.post("/v1/sessions/{session_id}/clear")
    async def clear(session_id: str, request: Request, user: User) -> dict[str, Any]:
        """The model starts afresh (the session's log keeps everything)."""
        served = hub(request).find(user, session_id)
        served.refuse_unless_idle()
        served.engine.clear_conversation()
        return served.describe()

    @app.post("/v1/sessions/{session_id}/resume")
    async def resume(
        session_id: str, body: ResumeFrom, request: Request, user: User
    ) -> dict[str, Any]:
        """Go on with another of the caller's sessions' conversation."""
        served = hub(request).find(user, session_id)
        earlier = hub(request).find(user, body.session)  # the caller's own, even for an admin
        try:
            async with served.between_turns():
                count = await asyncio.to_thread(served.engine.resume_conversation, earlier.id)
        except SessionRefused:
            raise
        except UserFacingError as exc:
            sentence = without_folders(str(exc), [hub(request).state])
            raise SessionRefused(409, sentence) from exc
        return {"messages": count}

    @app.get("/v1/sessions/{session_id}/conversation")
    async def conversation(session_id: str, request: Request, user: User) -> list[Any]:
        """What the session said so far, from its log (for an app that attaches to it)."""
        served = hub(request).find(user, session_id, to_act=False)
        events = await asyncio.to_thread(served.engine.earlier_events, served.id)
        return [served.public_json(event) for event in events]

    @app.get("/v1/sessions/{session_id}/cost")
    async def cost(session_id: str, request: Request, user: User) -> dict[str, Any]:
        """The cost meter's figures against the user's server-side limits, and `/cost`'s
        sentence."""
        served = hub(request).find(user, session_id, to_act=False)

        def figures() -> dict[str, Any]:
            return {
                "status": served.engine.cost_status().model_dump(mode="json"),
                "summary": served.engine.cost_summary(),
                "message_count": served.engine.message_count,
            }

        return await asyncio.to_thread(figures)

    # ---- the checkpoint browser ---------------------------------------------------------

    @app.get("/v1/sessions/{session_id}/checkpoints/compare")
    async def compare(
        session_id: str, request: Request, user: User, old: str, new: str | None = None
    ) -> list[Any]:
        """Per-file changes from checkpoint `old` to `new` (absent: the work tree now)."""
        served = hub(request).find(user, session_id, to_act=False)

        def work() -> list[Any]:
            older = _checkpoint(served, old)
            assert older is not None
            browsing = served.engine.checkpoint_browsing()
            try:
                found = browsing.compare(older, _checkpoint(served, new))
            finally:
                browsing.close()
            return [to_json(diff) for diff in found.files]

        return await asyncio.to_thread(work)

    @app.get("/v1/sessions/{session_id}/checkpoints/patch", response_class=PlainTextResponse)
    async def file_patch(
        session_id: str, request: Request, user: User, old: str, path: str, new: str | None = None
    ) -> str:
        """One file's patch from checkpoint `old` to `new` (absent: the work tree now)."""
        served = hub(request).find(user, session_id, to_act=False)
        parts = PurePosixPath(path).parts
        if not parts or parts[0] == "/" or ".." in parts:
            raise SessionRefused(422, f"{path!r} is not a path inside the project.")

        def work() -> str:
            older = _checkpoint(served, old)
            assert older is not None
            browsing = served.engine.checkpoint_browsing()
            try:
                return browsing.file_patch(Comparison(older, _checkpoint(served, new), []), path)
            finally:
                browsing.close()

        return await asyncio.to_thread(work)

    @app.post("/v1/sessions/{session_id}/checkpoints", status_code=201)
    async def take(
        session_id: str, body: TakeCheckpoint, request: Request, user: User
    ) -> dict[str, Any]:
        """A checkpoint of the work tree now, taken by hand (between turns)."""
        served = hub(request).find(user, session_id)

        def work() -> tuple[Checkpoint, EventBase]:
            browsing = served.engine.checkpoint_browsing()
            try:
                return browsing.take(body.label)
            finally:
                browsing.close()

        async with served.between_turns():
            checkpoint, event = await asyncio.to_thread(work)
        # Logged here; the app that asked shows the event itself (its copy of the stream
        # would show it twice).
        served.engine.record(event)
        return to_json(checkpoint)

    @app.post("/v1/sessions/{session_id}/restore/preview")
    async def preview(
        session_id: str, body: RestorePreview, request: Request, user: User
    ) -> dict[str, Any]:
        """What restoring the checkpoint (or these files of it) would do; nothing is changed."""
        served = hub(request).find(user, session_id)

        def work() -> dict[str, Any]:
            target = _checkpoint(served, body.checkpoint)
            assert target is not None
            browsing = served.engine.checkpoint_browsing()
            try:
                plan = browsing.preview(target, body.files)
            finally:
                browsing.close()
            return to_json(plan)

        try:
            return await asyncio.to_thread(work)
        except SessionRefused:
            raise
        except UserFacingError as exc:
            sentence = without_folders(str(exc), [served.worktree.path], "the session's folder")
            raise SessionRefused(409, sentence) from exc
