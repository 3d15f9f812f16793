"""Telemetry for tests: an in-memory pipeline the process's sessions use, and loopback
OTLP collectors (HTTP and gRPC) that decode what they are sent."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from nanotui.telemetry import exporting
from nanotui.telemetry.exporting import Telemetry
from nanotui.telemetry.quiet_failures import catch_export_failures

PRICED = '[prices."test-model"]\ninput_per_mtok = 2.0\noutput_per_mtok = 10.0\n'
"""A config pricing the scripted model, so that runs have a cost to compare."""


@dataclass
class InMemoryTelemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    telemetry: Telemetry

    def metric(self, name: str) -> Any:
        """The metric called `name`, as the reader collects it now."""
        data = self.metrics.get_metrics_data()
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        return metric
        raise AssertionError(f"no metric {name}")


@contextlib.contextmanager
def telemetry_in_memory(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryTelemetry]:
    """The process's telemetry, kept in memory, with [telemetry] enabled."""
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry = Telemetry([SimpleSpanProcessor(spans)], [reader], failures=catch_export_failures())
    monkeypatch.setattr(exporting, "_process_telemetry", telemetry)
    monkeypatch.setenv("NANOTUI_TELEMETRY__ENABLED", "true")
    try:
        yield InMemoryTelemetry(spans, reader, telemetry)
    finally:
        telemetry.shutdown()


@dataclass
class LoopbackCollector:
    """A real OTLP/HTTP endpoint on 127.0.0.1: what it was sent, decoded, and the raw bytes."""

    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    url: str = ""

    def spans(self) -> list[Any]:
        return [
            span
            for request in self.traces
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def data_points(self, name: str) -> list[Any]:
        """Every point of the metric `name` in every export (cumulative: the last one wins)."""
        points = []
        for request in self.metrics:
            for resource in request.resource_metrics:
                for scope in resource.scope_metrics:
                    for metric in scope.metrics:
                        if metric.name == name:
                            kind = metric.WhichOneof("data")
                            points += list(getattr(metric, kind).data_points)
        return points


@contextlib.contextmanager
def loopback_collector() -> Iterator[LoopbackCollector]:
    """A collector serving on a free port until the block ends."""
    received = LoopbackCollector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.raw.append(body)
            if self.path == "/v1/traces":
                received.traces.append(ExportTraceServiceRequest.FromString(body))
            elif self.path == "/v1/metrics":
                received.metrics.append(ExportMetricsServiceRequest.FromString(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def loopback_grpc_collector() -> Iterator[LoopbackCollector]:
    """A collector serving OTLP over gRPC (the TraceService and MetricsService) on a free
    port of 127.0.0.1 until the block ends."""
    received = LoopbackCollector()

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: ExportTraceServiceRequest, context: Any) -> Any:
            received.raw.append(request.SerializeToString())
            received.traces.append(request)
            return ExportTraceServiceResponse()

    class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request: ExportMetricsServiceRequest, context: Any) -> Any:
            received.raw.append(request.SerializeToString())
            received.metrics.append(request)
            return ExportMetricsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
    received.url = f"http://127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    try:
        yield received
    finally:
        server.stop(grace=None)
