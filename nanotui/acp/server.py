"""`nanotui acp`: nanotui as an Agent Client Protocol agent that an editor drives over stdio.

Another front end over the engine facade, like the terminal app and `nanotui run`: each
`session/new` opens a session assembled exactly as theirs are (policy, sandbox, checkpoints,
budgets, the session log), in the folder the editor names. What the user can fix comes back
as a JSON-RPC error whose message is one sentence.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from acp import PROTOCOL_VERSION, RequestError
from acp.interfaces import Client
from acp.schema import (
    AgentCapabilities,
    Implementation,
    InitializeResponse,
    LoadSessionResponse,
    NewSessionResponse,
    PromptCapabilities,
    PromptResponse,
    SessionMode,
    SessionModeState,
    SetSessionModeResponse,
)

import nanotui
from nanotui.acp.history import history_updates
from nanotui.acp.prompt_blocks import prompt_text
from nanotui.acp.relay import TurnRelay
from nanotui.acp.updates import said_by_nanotui
from nanotui.engine.facade import EngineSession
from nanotui.engine.session_logs import session_ids
from nanotui.protocol.basics import MODE_MEANINGS, MODE_ORDER, UserFacingError
from nanotui.protocol.events import Notice

SessionOpener = Callable[[Path, str | None, list[str]], EngineSession]
"""Opens a session in a folder, with the settings `nanotui acp` was started with, going on
with a logged session when given its id; what the settings had to say goes into the list."""

USER_ERROR = -32603
"""The code of an error the user can fix: JSON-RPC has none of its own, so the internal
error's, with the one sentence (what failed, what to do) as its message, which editors show."""

P = ParamSpec("P")
R = TypeVar("R")


def readable(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A request handler whose UserFacingError reaches the editor as its one sentence."""

    @functools.wraps(handler)
    async def answer(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await handler(*args, **kwargs)
        except UserFacingError as exc:
            raise RequestError(USER_ERROR, str(exc)) from None

    return answer


class NanotuiAgent:
    """The ACP agent: the sessions an editor opened in this process, by id."""

    def __init__(self, open_session: SessionOpener) -> None:
        self._open_session = open_session
        self._sessions: dict[str, EngineSession] = {}
        self._turns: dict[str, int] = {}
        """Prompts run so far in each session."""
        self._untold: dict[str, list[str]] = {}
        """Per session, the settings' notices (an untrusted folder's ignored config, ...): the
        editor shows stderr to nobody, so they open the session's first reply."""
        self._client: Client | None = None

    def on_connect(self, conn: Client) -> None:
        self._client = conn

    @readable
    async def initialize(self, protocol_version: int, **_: Any) -> InitializeResponse:
        return InitializeResponse(
            protocol_version=min(protocol_version, PROTOCOL_VERSION),
            agent_capabilities=AgentCapabilities(
                load_session=True,
                prompt_capabilities=PromptCapabilities(
                    image=False, audio=False, embedded_context=False
                ),
            ),
            agent_info=Implementation(name="nanotui", title="nanotui", version=nanotui.__version__),
        )

    @readable
    async def new_session(self, cwd: str, **_: Any) -> NewSessionResponse:
        said: list[str] = []
        session = self._open_session(_folder(cwd), None, said)
        self._sessions[session.session_id] = session
        self._untold[session.session_id] = said
        return NewSessionResponse(session_id=session.session_id, modes=_modes(session))

    @readable
    async def load_session(self, cwd: str, session_id: str, **_: Any) -> LoadSessionResponse:
        """Go on with a logged session, its conversation told to the editor first."""
        if session_id in self._sessions:
            raise UserFacingError(
                f"Session {session_id} is open in this nanotui already; go on in it."
            )
        # Only a logged session's own id: the id names a file under the sessions folder.
        if session_id not in session_ids():
            raise UserFacingError(
                f"There is no logged session {session_id}; `nanotui sessions list` shows them."
            )
        said: list[str] = []
        session = self._open_session(_folder(cwd), session_id, said)
        self._sessions[session_id] = session
        self._untold[session_id] = said
        told = history_updates(
            session.earlier_events(session_id), session.workspace, session.tool_kind
        )
        assert self._client is not None, "a connection calls on_connect first"
        for update in told:
            await self._client.session_update(session_id=session_id, update=update)
        return LoadSessionResponse(modes=_modes(session))

    @readable
    async def set_session_mode(
        self, session_id: str, mode_id: str, **_: Any
    ) -> SetSessionModeResponse:
        session = self._session(session_id)
        if mode_id not in MODE_ORDER:
            choices = ", ".join(MODE_ORDER)
            raise UserFacingError(f"There is no mode {mode_id!r}; choose one of {choices}.")
        session.set_mode(mode_id)
        return SetSessionModeResponse()

    @readable
    async def prompt(self, session_id: str, prompt: Sequence[Any], **_: Any) -> PromptResponse:
        session = self._session(session_id)
        if session.busy:
            raise UserFacingError(
                "A turn is already running in this session; wait for it or cancel it."
            )
        assert self._client is not None, "a connection calls on_connect first"
        text = prompt_text(prompt, session.workspace)
        self._turns[session_id] = turn = self._turns.get(session_id, 0) + 1
        for notice in self._untold.pop(session_id, []):
            update = said_by_nanotui(Notice(text=notice))
            await self._client.session_update(session_id=session_id, update=update)
        stop = await TurnRelay(session, self._client, turn).run(text)
        return PromptResponse(stop_reason=stop)

    async def cancel(self, session_id: str, **_: Any) -> None:
        """Interrupt the session's turn; its prompt then answers with stop reason `cancelled`."""
        if (session := self._sessions.get(session_id)) is not None:
            session.cancel()

    async def close(self) -> None:
        """End every session: its model client and its log."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.cancel()
            # A cancelled turn logs its end within a few steps of the loop; the log is
            # closed after that (bounded: closing must not hang on a turn that will not end).
            for _ in range(100):
                if not session.busy:
                    break
                await asyncio.sleep(0.05)
            await session.close()

    def _session(self, session_id: str) -> EngineSession:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise UserFacingError(
                f"There is no session {session_id} in this nanotui; start a new one."
            ) from None


def _folder(cwd: str) -> Path:
    """The folder an editor named. ACP asks for an absolute path: a relative one (or `~`)
    would be taken from wherever this process was started, a folder nobody chose."""
    folder = Path(cwd)
    if not folder.is_absolute():
        raise UserFacingError(
            f"The folder {cwd!r} is not an absolute path; the editor must name the folder whole."
        )
    return folder


def _modes(session: EngineSession) -> SessionModeState:
    """The approval modes the editor may switch between: up to the session's ceiling."""
    allowed = MODE_ORDER[: MODE_ORDER.index(session.max_mode) + 1]
    return SessionModeState(
        current_mode_id=session.mode,
        available_modes=[
            SessionMode(id=mode, name=mode, description=MODE_MEANINGS[mode]) for mode in allowed
        ],
    )
