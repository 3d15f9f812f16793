"""Talking to a team server (`nanotui serve`): its token, its calls and its event stream.

The one home of the client side of the API: `nanotui run --server` and the full-screen app
on a server session (`RemoteSession`) both call through here. A refusal becomes one
sentence (the server's own), a 429 is waited out as its Retry-After says, and an event
stream resumes from the last event id it delivered.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx

from nanotui.protocol.basics import UserFacingError

TOKEN_VARIABLE = "NANOTUI_TOKEN"
RATE_LIMIT_RETRIES = 3
CALL_TIMEOUT = httpx.Timeout(30.0, read=None)
"""Connecting and writing time out; reading does not (an event stream is quiet while a model
thinks, and the server sends a keep-alive every 15 s)."""


class ServerRefused(UserFacingError):
    """The server answered with an error; the message is its sentence, `status` its code."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status


class ServerUnreachable(UserFacingError):
    """The server did not answer at all (down, wrong address, network gone)."""


def server_token(environ: Mapping[str, str] | None = None) -> str:
    """The token from NANOTUI_TOKEN, else `[remote] token` of the user's own config file
    (never a project's: a repository must not be able to send the token elsewhere)."""
    token = (environ if environ is not None else os.environ).get(TOKEN_VARIABLE, "").strip()
    if not token:
        token = _user_config_token()
    if not token:
        raise UserFacingError(
            f"Set {TOKEN_VARIABLE}, or `token` under [remote] in your config.toml, to your "
            "token for the service (an admin makes it with `nanotui serve user add`)."
        )
    return token


def _user_config_token() -> str:
    from nanotui.config_loading import load_user_layer

    remote = load_user_layer().get("remote", {})
    token = remote.get("token") if isinstance(remote, dict) else None
    return token.strip() if isinstance(token, str) else ""


def _refusal(answer: httpx.Response) -> ServerRefused:
    try:
        sentence = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        sentence = f"The service answered {answer.status_code}."
    return ServerRefused(answer.status_code, sentence)


def _unreachable(url: httpx.URL, exc: Exception) -> ServerUnreachable:
    return ServerUnreachable(f"The service at {url} did not answer: {exc or type(exc).__name__}.")


def _retry_after(answer: httpx.Response) -> float:
    given = answer.headers.get("retry-after", "1")
    return float(min(60, int(given) if given.isdigit() else 1))


def open_client(url: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=CALL_TIMEOUT,
    )


def open_sync_client(url: str, token: str) -> httpx.Client:
    """For the few calls made from a thread or between frames (a mode change, checkpoints)."""
    return httpx.Client(
        base_url=url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(30.0),
    )


async def call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    """One API call; its JSON, or ServerRefused with the server's sentence."""
    for _ in range(RATE_LIMIT_RETRIES):
        try:
            answer = await client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _unreachable(client.base_url, exc) from exc
        if answer.status_code != 429:
            break
        await asyncio.sleep(_retry_after(answer))
    if answer.status_code >= 400:
        raise _refusal(answer)
    return answer.json() if answer.content else None


def call_sync(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    """`call` for a thread."""
    for _ in range(RATE_LIMIT_RETRIES):
        try:
            answer = client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise _unreachable(client.base_url, exc) from exc
        if answer.status_code != 429:
            break
        time.sleep(_retry_after(answer))
    if answer.status_code >= 400:
        raise _refusal(answer)
    return answer.json() if answer.content else None


async def event_stream(
    client: httpx.AsyncClient,
    session: str,
    after: int,
    on_open: Callable[[], None] | None = None,
) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """The session's events after id `after`, as (id, data); ends when the stream does.
    `on_open` is called once the server has accepted the stream."""
    headers = {"Last-Event-ID": str(after)}
    async with client.stream("GET", f"/v1/sessions/{session}/events", headers=headers) as stream:
        if stream.status_code != 200:
            await stream.aread()
            raise _refusal(stream)
        if on_open is not None:
            on_open()
        event_id = after
        async for line in stream.aiter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                yield event_id, json.loads(line[6:])


async def pick_project(client: httpx.AsyncClient, project: str | None) -> str:
    """The project named, or the caller's only one."""
    if project:
        return project
    names = [p["name"] for p in await call(client, "GET", "/v1/projects")]
    if len(names) == 1:
        return names[0]
    choice = ", ".join(names) if names else "none is granted to you"
    raise UserFacingError(f"Name the project with --project (yours: {choice}).")
