"""The approval console at `/`: one page, one script, one style sheet, served as files.

They hold no data and answer without a token; everything the page shows it fetches from
the API with the token the user typed, kept in the tab's sessionStorage. The page may run
no script but its own and reach nothing but this service (its Content-Security-Policy).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

FOLDER = Path(__file__).parent / "console"
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/console/console.js": ("console.js", "text/javascript; charset=utf-8"),
    "/console/console.css": ("console.css", "text/css; charset=utf-8"),
}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def add_console_routes(app: FastAPI) -> None:
    for path, (name, media_type) in FILES.items():
        content = (FOLDER / name).read_bytes()

        def serve(content: bytes = content, media_type: str = media_type) -> Response:
            return Response(content, media_type=media_type, headers=HEADERS)

        app.add_api_route(path, serve, methods=["GET"], include_in_schema=False)
