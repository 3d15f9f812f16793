"""`nanotui run --server URL`: one prompt run on the team service, printed as a local run.

The session runs on the server (its worktree, its keys, its policy and budgets); this side
follows its events over Server-Sent Events, resuming from the last event id if the
connection drops, refuses what needs approval as a local headless run does, and ends with
the same `result` line and exit code.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

import httpx

from nanotui.cli.headless import print_result, show_event
from nanotui.cli.workspace import UserError
from nanotui.engine.run_result import headless_refusal
from nanotui.protocol.events import (
    ApprovalRequested,
    EventBase,
    RunResult,
    parse_event,
)

TOKEN_VARIABLE = "NANOTUI_TOKEN"
RECONNECTS = 5
"""Dropped event streams resumed in a row before the run gives up."""
BUDGET_EXIT = 3


class ServerRefused(UserError):
    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status


def server_token() -> str:
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise UserError(
            f"Set {TOKEN_VARIABLE} to your token for the service (an admin makes it with "
            "`nanotui serve user add`)."
        )
    return token


async def _call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    """One API call; its JSON, or ServerRefused with the server's sentence. A 429 is waited
    out (as the server's Retry-After says) a few times before it counts."""
    for _ in range(3):
        try:
            answer = await client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise UserError(f"The service at {client.base_url} did not answer: {exc}.") from exc
        if answer.status_code != 429:
            break
        await asyncio.sleep(min(60, int(answer.headers.get("retry-after", "1") or 1)))
    if answer.status_code >= 400:
        try:
            sentence = answer.json()["error"]
        except (ValueError, KeyError, TypeError):
            sentence = f"The service answered {answer.status_code}."
        raise ServerRefused(answer.status_code, sentence)
    return answer.json()


async def _stream(
    client: httpx.AsyncClient, session: str, after: int
) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """The session's events after id `after`, as (id, data)."""
    headers = {"Last-Event-ID": str(after)}
    async with client.stream("GET", f"/v1/sessions/{session}/events", headers=headers) as stream:
        if stream.status_code != 200:
            await stream.aread()
            raise ServerRefused(stream.status_code, stream.json().get("error", "refused"))
        event_id = after
        async for line in stream.aiter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                yield event_id, json.loads(line[6:])


async def _pick_project(client: httpx.AsyncClient, project: str | None) -> str:
    if project:
        return project
    names = [p["name"] for p in await _call(client, "GET", "/v1/projects")]
    if len(names) == 1:
        return names[0]
    choice = ", ".join(names) if names else "none is granted to you"
    raise UserError(f"Name the project with --project (yours: {choice}).")


async def run_on_server(
    url: str,
    prompt: str,
    *,
    project: str | None,
    mode: str | None,
    as_json: bool,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    headers = {"Authorization": f"Bearer {server_token()}"}
    timeout = httpx.Timeout(30.0, read=None)  # an event stream is quiet while a model thinks
    async with httpx.AsyncClient(
        base_url=url.rstrip("/"), headers=headers, timeout=timeout
    ) as client:
        try:
            name = await _pick_project(client, project)
            body = {"project": name, **({"mode": mode} if mode else {})}
            session = await _call(client, "POST", "/v1/sessions", json=body)
            sid = session["id"]
            try:
                sent = await _call(
                    client, "POST", f"/v1/sessions/{sid}/messages", json={"text": prompt}
                )
                result, errors, at_line_start = await _follow(
                    client, sid, session["mode"], sent["after"], as_json, out, err
                )
            finally:
                await _call(client, "POST", f"/v1/sessions/{sid}/close")
        except ServerRefused as refused:
            if refused.status == 402:  # a budget, as locally: one sentence and exit 3
                err.write(f"nanotui: {refused}\n")
                return BUDGET_EXIT
            raise
    print_result(
        result, errors, None, as_json=as_json, out=out, err=err, at_line_start=at_line_start
    )
    if not as_json and result.files_changed:
        err.write(f"The changes are on branch {session['branch']} of project {name}.\n")
    return result.exit_code


async def _follow(
    client: httpx.AsyncClient,
    sid: str,
    mode: str,
    after: int,
    as_json: bool,
    out: TextIO,
    err: TextIO,
) -> tuple[RunResult, list[str], bool]:
    """Print the turn's events until its result; resume a dropped stream where it broke."""
    errors: list[str] = []
    at_line_start = True
    drops = 0
    while True:
        try:
            async for event_id, data in _stream(client, sid, after):
                after, drops = event_id, 0
                data.pop("user", None)
                event: EventBase = parse_event(data)
                if isinstance(event, RunResult):
                    return event, errors, at_line_start
                if isinstance(event, ApprovalRequested):
                    refusal = headless_refusal(event, mode)
                    await _call(
                        client,
                        "POST",
                        f"/v1/sessions/{sid}/approvals/{event.call_id}",
                        json={"decision": "reject", "reason": refusal.reason, "headless": True},
                    )
                at_line_start = show_event(event, errors, as_json, out, err, at_line_start)
        except httpx.TransportError:
            pass
        # Broken off, or ended without the turn's result (a proxy gave up, the session was
        # closed from elsewhere): resume where it stopped, a few times, then give up.
        drops += 1
        if drops > RECONNECTS:
            raise UserError(
                f"The event stream of session {sid} kept breaking off before the turn ended; "
                "see it with GET /v1/sessions."
            )
        err.write(f"nanotui: the event stream dropped; reconnecting from event {after}…\n")
        await asyncio.sleep(min(5.0, 0.5 * drops))
