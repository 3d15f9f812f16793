"""A session that runs on a team server, offered to the screens as a `SessionPort`.

The engine, the files, the keys and the log are the server's; this side sends commands over
its API and follows the session's event stream. One follower reads the stream for the whole
session and hands each event on: to the turn this app is running, or, between turns, to the
watcher the main screen keeps (a restore or an interrupt from the web console). A dropped
stream says "reconnecting…" and resumes after the last event id it delivered, so nothing
is lost or shown twice; an approval answered elsewhere arrives as its `approval_resolved`
event and leaves the approval pane at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from nanotui.client.remote_checkpoints import RemoteCheckpoints
from nanotui.client.service_api import (
    ServerRefused,
    call,
    call_sync,
    event_stream,
    open_client,
    open_sync_client,
    pick_project,
)
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.basics import UserFacingError
from nanotui.protocol.events import (
    ApprovalRequested,
    CostUpdated,
    ErrorEvent,
    EventBase,
    Notice,
    RunResult,
    TurnFinished,
    parse_event,
)
from nanotui.protocol.log_verdict import Verdict
from nanotui.protocol.mcp_status import ServerStatus, ToolStatus
from nanotui.protocol.model_io import Usage
from nanotui.protocol.session_port import SessionSummary
from nanotui.protocol.setting_origins import SettingOrigins

RECONNECT_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Waits before each reconnection in a row; the last repeats for as long as it takes."""
CONNECTION_SLOT = "connection"
"""The notices about the connection replace each other in the chat."""
LOST_FOR_GOOD = (401, 403, 404, 421)
"""Answers that no reconnection will change: the token or the session is gone, or lives on
another replica (the sentence names it)."""


def server_label(url: str) -> str:
    """How the app names the server: its host and port."""
    parts = urlsplit(url)
    return parts.netloc or url


@dataclass(frozen=True)
class ServerTarget:
    """What `nanotui --server URL` was asked to open: a new session, or one to attach to."""

    url: str
    token: str
    project: str | None = None
    mode: str | None = None
    model: str | None = None
    attach: str | None = None
    """A session id (or its start) of the user's to attach to."""
    continue_latest: bool = False
    """Attach to the user's latest open session (on `project`, if named)."""


class _Stop:
    """Put in a queue to wake its reader for good."""


class RemoteSession:
    """One of the user's sessions on the server (a `SessionPort`)."""

    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        sync_client: httpx.Client,
        described: dict[str, Any],
        *,
        resumed: bool = False,
        cost: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self._client = client
        self._sync = sync_client
        self._described = described
        self._resumed = resumed
        self._after = int(described.get("last_event_id", 0))
        """The id of the last event delivered: a reconnection resumes after it."""
        self._cost = CostUpdated.model_validate(cost["status"]) if cost else _no_cost()
        self._message_count = int(cost.get("message_count", 0)) if cost else 0
        self._turn_queue: asyncio.Queue[tuple[int, EventBase | _Stop]] | None = None
        self._idle: asyncio.Queue[EventBase | _Stop] = asyncio.Queue()
        self._follower: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    # ---- opening ------------------------------------------------------------------------

    @classmethod
    async def open(cls, target: ServerTarget) -> RemoteSession:
        """A new session on the target's project, or one of the user's open sessions there;
        raises UserFacingError with the server's sentence."""
        client = open_client(target.url, target.token)
        sync_client = open_sync_client(target.url, target.token)
        try:
            resumed = False
            if target.attach or target.continue_latest:
                described = await _existing(client, target.attach, target.project)
                resumed = True
            else:
                name = await pick_project(client, target.project)
                body: dict[str, Any] = {"project": name}
                asked = (("mode", target.mode), ("model", target.model))
                body.update({key: value for key, value in asked if value})
                described = await call(client, "POST", "/v1/sessions", json=body)
            cost = await call(client, "GET", f"/v1/sessions/{described['id']}/cost")
        except BaseException:
            await client.aclose()
            sync_client.close()
            raise
        return cls(target.url, client, sync_client, described, resumed=resumed, cost=cost)

    # ---- what the session is ------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return str(self._described["id"])

    @property
    def workspace(self) -> Path:
        """The project's name: its folder is on the server, never named to clients."""
        return Path(str(self._described["project"]))

    @property
    def workspace_is_local(self) -> bool:
        return False

    @property
    def runs_at(self) -> str:
        return server_label(self.url)

    @property
    def branch(self) -> str:
        return str(self._described.get("branch", ""))

    @property
    def model_label(self) -> str:
        return str(self._described.get("model", ""))

    @property
    def is_demo(self) -> bool:
        return self.model_label.startswith("demo")

    @property
    def sandbox_backend(self) -> str:
        return "on the server"

    @property
    def isolation_warning(self) -> str | None:
        return None  # the server's own; it refuses to start sessions it cannot isolate

    @property
    def log_path(self) -> Path | None:
        return None  # on the server: `nanotui audit` there, or the side timeline here

    @property
    def resumed(self) -> bool:
        return self._resumed

    @property
    def message_count(self) -> int:
        return self._message_count

    @property
    def busy(self) -> bool:
        return self._turn_queue is not None

    @property
    def mode(self) -> str:
        return str(self._described.get("mode", "ask"))

    @property
    def max_mode(self) -> str:
        return "full-auto"  # the server refuses a mode above its own, and says so

    # ---- the event stream ---------------------------------------------------------------

    def _deliver(self, event: EventBase | _Stop, event_id: int = 0) -> None:
        """Hand an event on: to the running turn, else to the watcher between turns.
        `event_id` is its id on the server's stream (0 for what this side says itself)."""
        if isinstance(event, CostUpdated):
            self._cost = event
        queue = self._turn_queue
        if queue is not None:
            queue.put_nowait((event_id, event))
        elif not isinstance(event, RunResult):  # a turn another client ran: its end
            self._idle.put_nowait(event)

    def _follow(self) -> None:
        if self._follower is None or self._follower.done():
            self._follower = asyncio.create_task(self._follow_stream())

    async def _follow_stream(self) -> None:
        """Read the stream for the session's life, resuming after every drop; a session
        closed or gone on the server ends it for good."""
        drops = 0
        where = server_label(self.url)
        while not self._closed:
            try:
                async for event_id, data in event_stream(
                    self._client, self.session_id, self._after
                ):
                    self._after = event_id
                    if drops:  # a stream that delivers again, not one that only opens
                        drops = 0
                        self._deliver(Notice(text=f"Reconnected to {where}.", slot=CONNECTION_SLOT))
                    self._deliver(_readable(data, self.session_id), event_id)
                # Ended without an error: the server closes the stream of a closed session.
                if await self._closed_on_server():
                    self._end(f"Session {self.session_id} was closed on the server.")
                    return
            except ServerRefused as refused:
                if refused.status in LOST_FOR_GOOD:
                    self._end(str(refused))
                    return
            except (httpx.TransportError, UserFacingError):
                pass
            if self._closed:
                return
            delay = RECONNECT_DELAYS_S[min(drops, len(RECONNECT_DELAYS_S) - 1)]
            drops += 1
            self._deliver(
                Notice(
                    text=f"The connection to {where} dropped; reconnecting… (attempt {drops})",
                    level="warning",
                    slot=CONNECTION_SLOT,
                )
            )
            await asyncio.sleep(delay)

    async def _closed_on_server(self) -> bool:
        try:
            described = await call(self._client, "GET", f"/v1/sessions/{self.session_id}")
        except UserFacingError:
            return False  # unreachable for now: the reconnection finds out
        return described.get("state") == "closed"

    def _end(self, sentence: str) -> None:
        """The session cannot go on here: say why, end the turn and the watcher."""
        self._deliver(ErrorEvent(text=sentence))
        self._deliver(_Stop())
        self._idle.put_nowait(_Stop())

    # ---- commands -----------------------------------------------------------------------

    async def turn(self, prompt: str) -> AsyncIterator[EventBase]:
        """Send the message; yield the turn's events until the server says it ended (its
        `result`, after the id the message was accepted at: an older one, replayed after a
        reconnection, belongs to an earlier turn)."""
        queue: asyncio.Queue[tuple[int, EventBase | _Stop]] = asyncio.Queue()
        self._turn_queue = queue
        try:
            self._follow()
            try:
                sent = await call(
                    self._client,
                    "POST",
                    f"/v1/sessions/{self.session_id}/messages",
                    json={"text": prompt},
                )
            except UserFacingError as exc:
                status = getattr(exc, "status", 0)
                yield ErrorEvent(text=str(exc))
                yield TurnFinished(status="budget" if status == 402 else "refused", reason=str(exc))
                return
            after = int(sent.get("after", 0))
            while True:
                event_id, event = await queue.get()
                if isinstance(event, _Stop):
                    yield TurnFinished(status="error", reason="The session ended on the server.")
                    return
                if isinstance(event, RunResult):
                    if event_id > after:
                        return
                    continue
                yield event
        finally:
            self._turn_queue = None
            # What came after the turn ended belongs to the time between turns.
            while not queue.empty():
                _, leftover = queue.get_nowait()
                if not isinstance(leftover, RunResult | _Stop):
                    self._idle.put_nowait(leftover)

    def _in_background(
        self,
        work: Any,
        failure: str,
        then: Callable[[UserFacingError], None] | None = None,
    ) -> None:
        """Run an API call without holding the screen; a refusal comes back as a notice (and
        goes to `then`)."""

        async def run() -> None:
            try:
                await work
            except UserFacingError as exc:
                self._deliver(Notice(text=f"{failure}: {exc}", level="warning"))
                if then is not None:
                    then(exc)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        self._in_background(
            call(self._client, "POST", f"/v1/sessions/{self.session_id}/interrupt"),
            "The interrupt did not reach the server",
        )

    def resolve_approval(self, request: ApprovalRequested, answer: ApprovalAnswer) -> bool:
        """Send the answer; the server's `approval_resolved` event confirms it. An answer that
        comes too late (given elsewhere already) or to a view gone stale is refused there,
        and said here."""
        body = {
            "decision": answer.decision,
            "reason": answer.reason,
            "hunks": answer.hunks,
            "edited_text": answer.edited_text,
            "shown_sha256": request.shown_sha256,
        }
        path = f"/v1/sessions/{self.session_id}/approvals/{request.call_id}"

        def ask_again(refusal: UserFacingError) -> None:
            # Answered elsewhere (404) or changed since it was shown (409): nothing waits for
            # this answer any more. Anything else (the network, a rate limit): the server
            # still waits, so the request goes back to the pane instead of waiting unseen.
            if getattr(refusal, "status", 0) not in (404, 409):
                self._deliver(request)

        work = call(self._client, "POST", path, json=body)
        self._in_background(work, "The answer was not taken", ask_again)
        return True

    def _command(self, method: str, path: str, **kwargs: Any) -> Any:
        """A short call between turns (a mode, a model, /clear): made at once, so the screen
        shows its outcome; the server's refusal raises UserFacingError."""
        return call_sync(self._sync, method, f"/v1/sessions/{self.session_id}{path}", **kwargs)

    def set_mode(self, new: str) -> Notice | None:
        if new == self.mode:
            return None
        answer = self._command("POST", "/mode", json={"mode": new})
        self._described["mode"] = answer["mode"]
        return Notice.model_validate(answer["notice"]) if answer["notice"] else None

    def switch_model(self, name: str) -> None:
        self._described = self._command("POST", "/model", json={"model": name})
        self.refresh_cost()

    def clear_conversation(self) -> None:
        self._described = self._command("POST", "/clear")
        self._message_count = 0

    def resume_conversation(self, session_id: str) -> int:
        answer = self._command("POST", "/resume", json={"session": session_id})
        self._message_count = int(answer["messages"])
        return self._message_count

    def record(self, event: EventBase) -> EventBase:
        """The server logs what happens to its sessions; nothing is logged here."""
        return event

    async def watch_workspace(self) -> AsyncIterator[EventBase]:
        """Between turns: what happened to the session from elsewhere (the web console)."""
        self._follow()
        while not self._closed:
            event = await self._idle.get()
            if isinstance(event, _Stop):
                return
            yield event

    def stop_watching(self) -> None:
        self._idle.put_nowait(_Stop())

    async def close(self) -> None:
        """Leave the session: it stays open on the server (`--continue` comes back to it;
        the web console or `POST .../close` ends it)."""
        self._closed = True
        for task in [self._follower, *self._tasks]:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._client.aclose()
        self._sync.close()

    # ---- cost ---------------------------------------------------------------------------

    def cost_status(self) -> CostUpdated:
        """The latest figures the server sent (each turn sends them; between turns they are
        asked for again in the background)."""
        if not self.busy and not self._closed:
            self.refresh_cost()
        return self._cost

    def refresh_cost(self) -> None:
        async def fetch() -> None:
            answer = await call(self._client, "GET", f"/v1/sessions/{self.session_id}/cost")
            self._cost = CostUpdated.model_validate(answer["status"])

        try:
            asyncio.get_running_loop()
        except RuntimeError:  # not on the app's loop: the next call asks
            return
        self._in_background(fetch(), "The cost meter could not be brought up to date")

    def cost_summary(self) -> str:
        return str(self._command("GET", "/cost")["summary"])

    # ---- past sessions, logs, checkpoints, trust ----------------------------------------

    def past_sessions(self, limit: int) -> list[SessionSummary]:
        rows = call_sync(self._sync, "GET", "/v1/sessions")
        found = [
            SessionSummary(
                session=row["id"],
                path=None,
                workspace=f"{row['project']} (on {self.runs_at})",
                label=row.get("model", ""),
                first_prompt=f"{row['state']} · branch {row.get('branch', '')}",
            )
            for row in reversed(rows)
            if row["id"] != self.session_id
        ]
        return found[:limit]

    def session_ids(self) -> list[str]:
        return [row["id"] for row in call_sync(self._sync, "GET", "/v1/sessions")]

    def earlier_events(self, session_id: str) -> list[EventBase]:
        rows = call_sync(self._sync, "GET", f"/v1/sessions/{session_id}/conversation")
        return [parse_event({k: v for k, v in row.items() if k != "user"}) for row in rows]

    def verify_log(self, path: Path) -> Verdict:
        raise UserFacingError(
            "The session's log is on the server; `nanotui audit verify` there checks it."
        )

    def checkpoint_browsing(self) -> RemoteCheckpoints:
        return RemoteCheckpoints(self._sync, self.session_id, self.workspace)

    def setting_origins(self) -> SettingOrigins:
        return SettingOrigins()  # the server's settings, which it does not show

    def mcp_servers(self) -> list[ServerStatus]:
        return []  # the server's own, which it does not show

    def accept_mcp_tools(self, server: str, shown: list[ToolStatus]) -> Notice:
        raise UserFacingError(
            "This session runs on a server, whose admin accepts its MCP servers' tools there."
        )

    def workspace_trusted(self) -> bool:
        return True  # the project's settings are the server's, as its admin set them

    def may_trust_workspace(self) -> None:
        raise UserFacingError(
            "This session runs on a server, whose admin decides what the project's settings "
            "may do; there is nothing to trust here."
        )

    def trust_workspace(self) -> Notice:
        self.may_trust_workspace()
        raise AssertionError("unreachable")


async def _existing(client: httpx.AsyncClient, wanted: str | None, project: str | None) -> Any:
    """The session to attach to: the one named (by id or its start), or the user's latest
    open one (on `project`, if named)."""
    rows = await call(client, "GET", "/v1/sessions")
    open_ones = [r for r in rows if r["state"] != "closed"]
    if wanted:
        matches = [r for r in rows if r["id"] == wanted] or [
            r for r in rows if r["id"].startswith(wanted)
        ]
        if len(matches) != 1:
            problem = "No session of yours" if not matches else "More than one session"
            raise UserFacingError(f"{problem} on the server matches {wanted!r}.")
        return matches[0]
    if project:
        open_ones = [r for r in open_ones if r["project"] == project]
    if not open_ones:
        where = f" on project {project}" if project else ""
        raise UserFacingError(
            f"You have no open session{where} on the server to continue; start one without "
            "--continue."
        )
    return open_ones[-1]


def _readable(data: dict[str, Any], session_id: str) -> EventBase:
    """An event from the stream; one this version cannot read is skipped with a notice, except
    a turn's `result`, which still ends the turn (a newer server may add fields)."""
    data.pop("user", None)
    try:
        return parse_event(data)
    except ValueError:
        if data.get("type") == "result":
            return RunResult(
                status=str(data.get("status", "done")),
                exit_code=0,
                usage=Usage(),
                cost_usd=None,
                session=session_id,
            )
        return Notice(
            text=f"An event of type {data.get('type')!r} from the server could not be read here; "
            "nanotui on this machine may be older than the server's.",
            level="warning",
        )


def _no_cost() -> CostUpdated:
    return CostUpdated(
        request_usd=None, session_usd=None, session_usage=Usage(), priced=False, price_source=""
    )
