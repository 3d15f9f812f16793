"""`nanotui run --server URL`: one prompt run on the team service, printed as a local run.

The session runs on the server (its worktree, its keys, its policy and budgets); this side
follows its events over Server-Sent Events, resuming from the last event id if the
connection drops, refuses what needs approval as a local headless run does, and ends with
the same `result` line and exit code.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

import httpx

from nanotui.cli.headless import print_result, show_event
from nanotui.cli.workspace import UserError
from nanotui.client.service_api import (
    ServerRefused,
    call,
    event_stream,
    open_client,
    pick_project,
    server_token,
)
from nanotui.engine.run_result import headless_refusal
from nanotui.protocol.events import (
    ApprovalRequested,
    EventBase,
    RunResult,
    parse_event,
)

RECONNECTS = 5
"""Dropped event streams resumed in a row before the run gives up."""
BUDGET_EXIT = 3


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
    async with open_client(url, server_token()) as client:
        try:
            name = await pick_project(client, project)
            body = {"project": name, **({"mode": mode} if mode else {})}
            session = await call(client, "POST", "/v1/sessions", json=body)
            sid = session["id"]
            try:
                sent = await call(
                    client, "POST", f"/v1/sessions/{sid}/messages", json={"text": prompt}
                )
                result, errors, at_line_start = await _follow(
                    client, sid, session["mode"], sent["after"], as_json, out, err
                )
            finally:
                await call(client, "POST", f"/v1/sessions/{sid}/close")
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
            async for event_id, data in event_stream(client, sid, after):
                after, drops = event_id, 0
                data.pop("user", None)
                event: EventBase = parse_event(data)
                if isinstance(event, RunResult):
                    return event, errors, at_line_start
                if isinstance(event, ApprovalRequested):
                    refusal = headless_refusal(event, mode)
                    await call(
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
