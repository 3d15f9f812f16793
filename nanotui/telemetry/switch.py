"""Whether this process exports telemetry, decided without importing OpenTelemetry.

Without `[telemetry] enabled` or a collector named by the standard variables, nothing of
OpenTelemetry is imported and start-up stays as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from nanotui.config import TelemetryConfig
from nanotui.protocol.events import EventBase, Notice
from nanotui.protocol.observer import EventObserver
from nanotui.security.secrets.redaction import Redactor

ENDPOINT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)
MISSING_EXTRA = (
    "Telemetry is on ([telemetry] enabled or OTEL_EXPORTER_OTLP_ENDPOINT) but its packages "
    "are not installed: pip install 'nanotui[otel]'. The session runs without it."
)


def telemetry_wanted(config: TelemetryConfig, environ: Mapping[str, str] | None = None) -> bool:
    """True when the settings or the standard OTEL_* variables ask for export."""
    environ = os.environ if environ is None else environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return config.enabled or any(environ.get(name) for name in ENDPOINT_VARIABLES)


def session_observer(
    config: TelemetryConfig,
    *,
    session_id: str,
    user: str,
    redactor: Redactor,
    chain_position: Callable[[], tuple[int, str] | None],
) -> EventObserver | None:
    """The observer that turns a session's events into telemetry; None when none is wanted,
    and one that only says so when the extra is missing or cannot start."""
    if not telemetry_wanted(config):
        return None
    try:
        from nanotui.telemetry.exporting import TelemetryUnavailable, process_telemetry
        from nanotui.telemetry.session_observer import SessionTelemetry
    except ImportError:
        return Unavailable(MISSING_EXTRA)
    try:
        telemetry = process_telemetry(config)
    except TelemetryUnavailable as exc:
        return Unavailable(str(exc))
    return SessionTelemetry(
        telemetry,
        session_id=session_id,
        user=user,
        redactor=redactor if config.include_content else None,
        chain_position=chain_position,
    )


def scraped_telemetry(config: TelemetryConfig) -> Any | None:
    """For `nanotui serve`: the process's pipeline, with a reader `/metrics` collects from;
    None when telemetry is not wanted or its packages are missing."""
    if not telemetry_wanted(config):
        return None
    try:
        from nanotui.telemetry.exporting import TelemetryUnavailable, process_telemetry
    except ImportError:
        return None
    try:
        return process_telemetry(config, scrape=True)
    except TelemetryUnavailable:
        return None


class Unavailable:
    """Telemetry was asked for and cannot run: one warning, then nothing."""

    def __init__(self, why: str) -> None:
        self._why: str | None = why

    def observe(self, event: EventBase) -> None:
        return None

    def notice(self) -> Notice | None:
        why, self._why = self._why, None
        return Notice(level="warning", text=why) if why else None
