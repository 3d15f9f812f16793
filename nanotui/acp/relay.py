"""One `session/prompt`: the turn's events relayed to the editor, its approvals asked there.

Each approval goes to the editor as a `session/request_permission` of its own, answered
while the turn waits; when the turn ends (done, or cancelled with `session/cancel`) the
requests still open are dropped, and the engine has already recorded them as interrupted.
The turn's result is logged as `nanotui run` logs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from acp import RequestError
from acp.interfaces import Client
from pydantic import ValidationError

from nanotui.acp import updates
from nanotui.acp.permissions import answer_for, options_for, refused
from nanotui.engine.facade import EngineSession
from nanotui.engine.run_result import turn_result
from nanotui.protocol.basics import clipped
from nanotui.protocol.events import (
    ApprovalRequested,
    ErrorEvent,
    EventBase,
    Notice,
    TextDelta,
    ToolCallProposed,
    ToolResult,
    ToolStarted,
    TurnFinished,
    UserMessage,
)
from nanotui.protocol.reply_stream import ReplyStream

logger = logging.getLogger(__name__)


class TurnRelay:
    """Runs one turn of `session` for the editor at the other end of `client`."""

    def __init__(self, session: EngineSession, client: Client, turn: int) -> None:
        self._session = session
        self._client = client
        self._turn = turn
        """The turn's number in the session: the editor's tool call ids carry it."""
        self._reply = ReplyStream(session.redacted)
        """The reply streaming now, redacted over whole words (pieces split secrets)."""
        self._announced: set[str] = set()
        """Tool calls the editor has been told of (a `tool_call` update)."""
        self._asking: set[asyncio.Task[None]] = set()
        self._finished: TurnFinished | None = None
        self._errors: list[str] = []
        self._prompt_reached_model = False
        self._cut_off = False

    async def run(self, prompt: str) -> str:
        """Run the turn; its ACP stop reason."""
        try:
            # Closed here, not when collected: an editor gone mid-turn stops the turn now.
            async with contextlib.aclosing(self._session.turn(prompt)) as events:
                async for event in events:
                    await self._relay(event)
        finally:
            for task in self._asking:
                task.cancel()
            await asyncio.gather(*self._asking, return_exceptions=True)
        await turn_result(self._session, self._finished, self._errors)
        return updates.stop_reason(
            self._finished,
            prompt_reached_model=self._prompt_reached_model,
            cut_off=self._cut_off,
        )

    async def _relay(self, event: EventBase) -> None:
        if isinstance(event, TextDelta):
            await self._say(self._reply.add(event.text))
            return
        await self._say(self._reply.end())  # a reply's pieces stop before any other event
        if isinstance(event, ApprovalRequested):
            await self._put_to_editor(event)
            return
        # What the editor shows may end up in its logs: redacted as the session's log is.
        # An approval is not: it shows exactly the change or command that would run.
        event = self._session.redacted_event(event)
        if isinstance(event, ToolCallProposed):
            await self._announce(event)
        elif isinstance(event, ToolStarted) and event.call_id in self._announced:
            await self._update(updates.started_call(self._acp_id(event.call_id)))
        elif isinstance(event, ToolResult) and event.call_id in self._announced:
            finished = updates.finished_call(
                event, self._session.workspace, self._acp_id(event.call_id)
            )
            # Its change's texts come from the file on disk, not from the redacted event.
            await self._update(updates.with_texts_redacted(finished, self._session.redacted))
        elif isinstance(event, Notice | ErrorEvent):
            if isinstance(event, ErrorEvent):
                self._errors.append(event.text)
                self._cut_off = self._cut_off or updates.is_cut_off(event)
            await self._update(updates.said_by_nanotui(event))
        elif isinstance(event, UserMessage):
            self._prompt_reached_model = True
        elif isinstance(event, TurnFinished):
            self._finished = event

    async def _put_to_editor(self, request: ApprovalRequested) -> None:
        """Show the request in the tool call, and ask the editor while the turn waits."""
        # Asked about without being proposed: a command's connection to an unlisted host.
        unproposed = ToolCallProposed(
            call_id=request.call_id, tool=request.tool, arguments="", summary=request.summary
        )
        await self._announce(unproposed)
        shown = updates.approval_call(
            request, self._session.workspace, self._acp_id(request.call_id)
        )
        await self._update(shown)
        task = asyncio.create_task(self._ask(request, shown))
        self._asking.add(task)
        task.add_done_callback(self._asking.discard)

    async def _announce(self, proposed: ToolCallProposed) -> None:
        """Tell the editor of a tool call once, before anything else is said of it."""
        if proposed.call_id in self._announced:
            return
        self._announced.add(proposed.call_id)
        kind = updates.tool_kind(proposed.tool, self._session.tool_kind(proposed.tool))
        acp_id = self._acp_id(proposed.call_id)
        await self._update(updates.proposed_call(proposed, kind, acp_id))

    def _acp_id(self, call_id: str) -> str:
        """The call's id for the editor: unique in the session, though models reuse theirs."""
        return f"{self._turn}/{call_id}"

    async def _ask(self, request: ApprovalRequested, shown: Any) -> None:
        """Put one approval to the editor and answer the engine with what came back."""
        try:
            response = await self._client.request_permission(
                session_id=self._session.session_id,
                tool_call=shown,
                options=options_for(request),
            )
            answer = answer_for(response)
        except RequestError as exc:
            detail = clipped(f"{exc.code} {exc}", 200)
            answer = refused(f"the editor answered the permission request with an error ({detail})")
        except ConnectionError:
            answer = refused("the editor went away before answering the permission request")
        except (ValidationError, ValueError, TypeError):
            answer = refused("the editor's answer to the permission request could not be read")
        except Exception:  # whatever broke, the engine must not wait for ever, nor hear yes
            logger.exception("asking the editor for permission failed")
            answer = refused("asking the editor for permission failed")
        self._session.resolve_approval(request, answer)

    async def _say(self, text: str) -> None:
        if text:
            await self._update(updates.message_text(text))

    async def _update(self, update: Any) -> None:
        await self._client.session_update(session_id=self._session.session_id, update=update)
