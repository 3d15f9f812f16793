"""Telemetry: the session's events as OpenTelemetry traces and metrics (the live view; the
session log stays the record). Only `switch` may be imported without the `otel` extra."""
