"""The service's HTTP API: bearer tokens on every route but `/healthz`, no foreign origins,
bounded bodies, requests per minute, and errors as one sentence.

Sessions live in the `SessionHub` (`sessions.py`); the routes for them are in
`session_routes.py`. This module holds what every request passes first.
"""

from __future__ import annotations

import contextlib
import html
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import Engine, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nanotui import __version__
from nanotui.config import Settings
from nanotui.server.accounts import Account, authenticate
from nanotui.server.console_routes import FILES as CONSOLE_FILES
from nanotui.server.console_routes import add_console_routes
from nanotui.server.hub import SessionHub
from nanotui.server.placement import Misdirected, Placements, misdirected
from nanotui.server.request_limits import RequestWindows, SharedWindows
from nanotui.server.service_log import ServiceLog, api_log_name
from nanotui.server.sessions import SessionRefused
from nanotui.server.store import is_shared, projects
from nanotui.server.tokens import split_token
from nanotui.telemetry.switch import scraped_telemetry

MAX_BODY_BYTES = 1_000_000
OPEN_ROUTES = frozenset({"/healthz", *CONSOLE_FILES})
"""The only routes that answer without a token: the health check and the console's files,
which hold no data."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FAILED_SIGN_INS = 30
"""Refused sign-ins a minute with one token id before the next is refused unchecked."""
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def error(status: int, sentence: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": sentence}, status_code=status, headers=headers)


class Guard:
    """What every request passes before a route sees it.

    - A body limit, on the length a request declares and on the bytes that really come
      (a chunked body declares none).
    - No state-changing request from a web page of another origin: a local page must not be
      able to drive the service, nor probe it.
    - A Host header the service answers to, so a page on a domain that re-points to
      127.0.0.1 (DNS rebinding) is not served.
    """

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None = None) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise HTTPException(413, f"The request body is over {MAX_BODY_BYTES:,} bytes.")
            return message

        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except HTTPException as exc:  # the body grew too big where no route could answer
            if started:
                raise
            await error(exc.status_code, str(exc.detail))(scope, receive, send)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> JSONResponse | None:
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return error(413, f"The request body is over {MAX_BODY_BYTES:,} bytes.")
        host = headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if self.hosts is not None and name not in self.hosts:
            return error(421, f"This service does not answer to the host {host!r}.")
        origin = headers.get("origin")
        if scope["method"] not in SAFE_METHODS and origin is not None:
            scheme = scope.get("scheme", "http")
            if origin != f"{scheme}://{host}":
                return error(403, f"Requests from {origin} are refused; call the API directly.")
        return None


def current_account(request: Request) -> Account:
    """The account the request's bearer token belongs to (401 for any other request),
    counted against its requests per minute and the service's (429 past either)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    state = request.app.state
    parts = split_token(token.strip())
    # A known token id with wrong secrets costs a scrypt each: after a few a minute from one
    # address, refuse before hashing, so a flood cannot take every worker thread.
    # Counted per address too, so that someone else's failures cannot lock a user out.
    client = request.client.host if request.client else "unknown"
    failures = f"refused:{client}:{parts[0]}" if parts else None
    if failures and (wait := state.windows.wait_needed([(failures, FAILED_SIGN_INS)], count=False)):
        raise HTTPException(
            429,
            f"Too many failed sign-ins with this token; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    found = authenticate(state.engine, token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        if failures:
            state.windows.count(failures)
        # Logged with what identifies the attempt, never the secret part of a token.
        token_id = token.strip()[3:15] if token.strip().startswith("nt_") else "none"
        state.service_log.record(
            f"refused from {client}",
            f"{request.method} {request.url.path} (token id {token_id!r})",
            warning=True,
        )
        raise HTTPException(
            401,
            "A valid token is needed: send `Authorization: Bearer <token>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    server = state.settings.server
    own = found.limits.get("rpm")
    wait = state.windows.wait_needed(
        [
            ("*", server.requests_per_minute),
            (found.name, int(own) if own is not None else server.user_requests_per_minute),
        ]
    )
    if wait:
        raise HTTPException(
            429,
            f"Too many requests; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    return found


User = Annotated[Account, Depends(current_account)]


def project_path(engine: Engine, account: Account, name: str) -> Path:
    """The folder of a project the user was granted; 404 for any other name, known or not."""
    if account.admin or name in account.projects:
        with engine.connect() as db:
            row = db.execute(select(projects.c.path).where(projects.c.name == name)).first()
        if row is not None:
            return Path(row.path)
    raise SessionRefused(404, f"There is no project {name!r} open to you.")


def create_app(
    engine: Engine,
    settings: Settings | None = None,
    state: Path | None = None,
    hosts: frozenset[str] | None = None,
    replica_url: str = "http://127.0.0.1:8765",
) -> FastAPI:
    """The API over the service's database; sessions keep their worktrees and ledgers in
    `state`. `hosts`: the Host names it answers to (None: any, for tests in-process).
    `replica_url`: where clients reach this replica (when the database is shared)."""
    from nanotui import paths
    from nanotui.server.metrics_route import add_metrics_route
    from nanotui.server.session_control_routes import add_session_control_routes
    from nanotui.server.session_routes import add_session_routes

    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.hub.close_all()  # each session's log ends cleanly
        app.state.service_log.close()

    # No open documentation pages: /docs and /openapi.json ask for a token like the rest.
    app = FastAPI(
        title="nanotui serve",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.add_middleware(Guard, hosts=hosts)
    app.state.engine = engine
    app.state.settings = settings
    # Several replicas may share this database: what they must agree on is kept in it.
    shared = engine if is_shared(engine) else None
    app.state.windows = SharedWindows(shared) if shared is not None else RequestWindows()
    placements = Placements(shared, replica_url) if shared is not None else None
    app.state.hub = SessionHub(settings, state or paths.state_dir() / "server", shared, placements)
    app.state.service_log = ServiceLog(api_log_name(replica_url if shared is not None else None))
    # Started before any session, so that `/metrics` reads the one pipeline they all feed.
    app.state.telemetry = scraped_telemetry(settings.telemetry)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(SessionRefused)
    async def refused(request: Request, exc: SessionRefused) -> JSONResponse:
        return error(exc.status, str(exc))

    app.add_exception_handler(Misdirected, misdirected)  # type: ignore[arg-type]

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server's log (uvicorn prints it), never to the client.
        logging.getLogger("nanotui.serve").exception(
            "%s %s failed", request.method, request.url.path
        )
        return error(500, "The server failed on this request; its log says why.")

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return error(
            422,
            f"The request is not valid{f' at {where}' if where else ''}: "
            f"{first.get('msg', 'check its fields')}.",
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "version": __version__}

    @app.get("/v1/me")
    async def me(user: User) -> dict[str, Any]:
        return {
            "name": user.name,
            "admin": user.admin,
            "projects": user.projects,
            "limits": user.limits,
        }

    # A plain def: FastAPI runs it on a worker thread, so the database read does not hold up
    # the event loop (the token check, scrypt and a read, runs on one too).
    @app.get("/v1/projects")
    def my_projects(user: User) -> list[dict[str, str]]:
        with engine.connect() as db:
            rows = db.execute(select(projects.c.name).order_by(projects.c.name))
            # Paths stay on the server: a client names projects, never folders.
            return [{"name": row.name} for row in rows if user.admin or row.name in user.projects]

    @app.get("/openapi.json")
    async def openapi(user: User) -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", response_class=HTMLResponse)
    async def docs(user: User) -> str:
        """The API's routes as a plain page (no scripts from elsewhere)."""
        rows = []
        for path, methods in app.openapi()["paths"].items():
            for method, spec in methods.items():
                summary = html.escape(spec.get("summary", ""))
                rows.append(
                    f"<tr><td>{method.upper()}</td><td>{html.escape(path)}</td>"
                    f"<td>{summary}</td></tr>"
                )
        return (
            "<!doctype html><title>nanotui serve API</title><h1>nanotui serve API</h1>"
            f"<table>{''.join(rows)}</table><p>The schema: /openapi.json.</p>"
        )

    add_session_routes(app)
    add_session_control_routes(app)
    add_console_routes(app)
    add_metrics_route(app)
    return app
