"""The process's telemetry pipeline: one tracer and one meter, exported in the background.

Every session of the process (one for the app and `run`, many for `nanotui serve`) shares
it. Export is batched on the SDK's own threads with bounded queues, so a slow or dead
collector costs a session nothing but the dropped data; at exit it gets a bounded moment to
flush, never the exporters' full retry schedule.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanProcessor

from nanotui import __version__
from nanotui.config import TelemetryConfig
from nanotui.telemetry.instruments import Instruments
from nanotui.telemetry.quiet_failures import FirstFailure, catch_export_failures

SCOPE = "nanotui"
EXPORT_TIMEOUT_S = 3.0
"""Longest one export may take, retries included, unless OTEL_EXPORTER_OTLP_TIMEOUT says:
a collector slower than this is treated as down."""
EXIT_FLUSH_S = 1.0
"""The longest the process waits at exit for the last spans and metrics to leave; less when
an export fails meanwhile (the collector is down: waiting would not help)."""
MAX_QUEUED_SPANS = 2048
"""Spans waiting for export; past this, new ones are dropped rather than kept in memory."""
METRICS_EVERY_MS = 30_000


class Telemetry:
    """A tracer, a meter with its instruments, and how to end them."""

    def __init__(
        self,
        span_processors: Sequence[SpanProcessor],
        metric_readers: Sequence[MetricReader],
        *,
        scrape: InMemoryMetricReader | None = None,
        failures: FirstFailure | None = None,
        exporters: Sequence[Any] = (),
    ) -> None:
        resource = Resource.create({"service.version": __version__})
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            # Neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES named one: ours.
            resource = resource.merge(Resource({"service.name": "nanotui"}))
        self.tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        for processor in span_processors:
            self.tracer_provider.add_span_processor(processor)
        self.meter_provider = MeterProvider(
            metric_readers=list(metric_readers), resource=resource, shutdown_on_exit=False
        )
        self.tracer = self.tracer_provider.get_tracer(SCOPE, __version__)
        self.meter = self.meter_provider.get_meter(SCOPE, __version__)
        self.instruments = Instruments.on(self.meter)
        self.scrape = scrape
        """The reader `/metrics` collects from (`nanotui serve`); None elsewhere."""
        self._failures = failures
        self._exporters = exporters
        self._closed = False

    def failure_notice(self) -> str | None:
        """The one sentence about a failed export, the first time it is asked after one."""
        first = self._failures.take() if self._failures else None
        if first is None:
            return None
        return (
            f"Telemetry could not be exported ({first.rstrip('.')}); the session goes on, "
            "and nothing more is said about it. Check [telemetry] endpoint or the collector."
        )

    def shutdown(self) -> None:
        """Send what is left, waiting at most `EXIT_FLUSH_S`, and less once an export fails:
        the exporters' retries (seconds of backoff) are then abandoned."""
        if self._closed:
            return
        self._closed = True

        def flush() -> None:
            self.tracer_provider.shutdown()
            self.meter_provider.shutdown()

        # On a thread of its own so that the wait can be cut short; a daemon, so that an
        # export stuck on the network cannot hold the process open.
        failed_before = self._failures.count if self._failures else 0
        flushing = threading.Thread(target=flush, name="nanotui-telemetry-flush", daemon=True)
        flushing.start()
        deadline = time.monotonic() + EXIT_FLUSH_S
        while flushing.is_alive() and time.monotonic() < deadline:
            if self._failures is not None and self._failures.count > failed_before:
                break  # the collector refuses the last batch too: retrying would not help
            flushing.join(0.01)
        for exporter in self._exporters:
            exporter.shutdown()  # wakes an export sleeping between retries


def otlp_telemetry(config: TelemetryConfig, *, scrape: bool = False) -> Telemetry:
    """Telemetry exported over OTLP as `config` and the OTEL_* variables say."""
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    failures = catch_export_failures()
    span_exporter, metric_exporter = _otlp_exporters(config)
    processor = BatchSpanProcessor(span_exporter, max_queue_size=MAX_QUEUED_SPANS)
    readers: list[MetricReader] = [
        PeriodicExportingMetricReader(
            metric_exporter,
            export_interval_millis=METRICS_EVERY_MS,
            export_timeout_millis=EXPORT_TIMEOUT_S * 1000,
        )
    ]
    scraped = InMemoryMetricReader() if scrape else None
    if scraped is not None:
        readers.append(scraped)
    return Telemetry(
        [processor],
        readers,
        scrape=scraped,
        failures=failures,
        exporters=[span_exporter, metric_exporter],
    )


def _otlp_exporters(config: TelemetryConfig) -> tuple[Any, Any]:
    protocol = config.protocol or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    timeout = None if os.environ.get("OTEL_EXPORTER_OTLP_TIMEOUT") else EXPORT_TIMEOUT_S
    base = config.endpoint.rstrip("/") if config.endpoint else None
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter,
            )
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise TelemetryUnavailable(
                "Telemetry over gRPC needs its exporter: pip install 'nanotui[otel-grpc]' "
                '(or use protocol = "http/protobuf").'
            ) from exc
        return (
            OTLPSpanExporter(endpoint=base, timeout=timeout),
            OTLPMetricExporter(endpoint=base, timeout=timeout),
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return (
        OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None, timeout=timeout),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics" if base else None, timeout=timeout),
    )


class TelemetryUnavailable(Exception):
    """Telemetry was asked for but cannot start; the message says what to install."""


_process_telemetry: Telemetry | None = None


def process_telemetry(config: TelemetryConfig, *, scrape: bool = False) -> Telemetry:
    """The process's one pipeline, started on first use and flushed at exit."""
    global _process_telemetry
    if _process_telemetry is None:
        _process_telemetry = otlp_telemetry(config, scrape=scrape)
        atexit.register(_process_telemetry.shutdown)
    return _process_telemetry


def running_telemetry() -> Telemetry | None:
    """The process's pipeline if one was started."""
    return _process_telemetry
