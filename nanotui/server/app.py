"""The service's HTTP API: bearer tokens on every route but `/healthz`, no foreign origins,
bounded bodies, and errors as one sentence.

Routes so far: who am I (`/v1/me`) and which projects I may use (`/v1/projects`). Sessions,
their events and approvals build on these checks.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, select
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from nanotui import __version__
from nanotui.server.accounts import Account, authenticate
from nanotui.server.store import projects

MAX_BODY_BYTES = 1_000_000
OPEN_ROUTES = frozenset({"/healthz"})
"""The only routes that answer without a token."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def error(status: int, sentence: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": sentence}, status_code=status, headers=headers)


class Guard(BaseHTTPMiddleware):
    """What every request passes before a route sees it: a limit on the body size it
    declares (no route reads a body yet; those that will must count a chunked one), and no
    state-changing request from a web page of another origin (a local page must not be able
    to drive the service with a token the browser does not even have, nor probe it)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return error(413, f"The request body is over {MAX_BODY_BYTES:,} bytes.")
        origin = request.headers.get("origin")
        if request.method not in SAFE_METHODS and origin is not None:
            own = f"{request.url.scheme}://{request.url.netloc}"
            if origin != own:
                return error(403, f"Requests from {origin} are refused; call the API directly.")
        return await call_next(request)


def current_account(request: Request) -> Account:
    """The account the request's bearer token belongs to; 401 for any other request."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    engine: Engine = request.app.state.engine
    found = authenticate(engine, token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        raise HTTPException(
            401,
            "A valid token is needed: send `Authorization: Bearer <token>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


User = Annotated[Account, Depends(current_account)]


def create_app(engine: Engine) -> FastAPI:
    """The API over the service's database."""
    # No open documentation pages: every route but /healthz asks for a token.
    app = FastAPI(
        title="nanotui serve", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.add_middleware(Guard)
    app.state.engine = engine

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

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

    return app
