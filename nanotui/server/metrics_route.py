"""`GET /metrics`: the service's telemetry in the Prometheus text format, for admins.

The same metrics the OTLP export sends (the process's one meter, every session's), read
from the pipeline's own reader when a scraper asks. The figures name users and models, so
only an admin's token may read them, as with `/v1/admin/spend`.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from nanotui.server.app import User
from nanotui.server.sessions import SessionRefused

TELEMETRY_OFF = (
    "Telemetry is off on this server: set [telemetry] enabled = true in its config "
    "(with the otel extra installed: pip install 'nanotui[otel]') and restart it."
)


def add_metrics_route(app: FastAPI) -> None:
    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics(request: Request, user: User) -> PlainTextResponse:
        """Every metric, as Prometheus scrapes them (admins only)."""
        if not user.admin:
            raise SessionRefused(403, "Only an admin may read the service's metrics.")
        telemetry = request.app.state.telemetry
        if telemetry is None or telemetry.scrape is None:
            raise SessionRefused(404, TELEMETRY_OFF)
        from nanotui.telemetry.prometheus_text import CONTENT_TYPE, render

        # Collecting walks every instrument's series: off the event loop.
        text = await asyncio.to_thread(lambda: render(telemetry.scrape.get_metrics_data()))
        return PlainTextResponse(text, media_type=CONTENT_TYPE)
