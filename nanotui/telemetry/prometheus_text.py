"""Metrics as Prometheus scrapes them (text format 0.0.4), named as the OpenTelemetry
specification maps its names: dots to underscores, the unit as a suffix (`{token}`-style
annotations dropped, `s` as `seconds`), and `_total` on counters. Attributes become labels
the same way: invalid characters to underscores, `key_` before a leading digit, the values
of two attributes that clean to one label joined with `;`, lists as JSON."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.sdk.metrics.export import Gauge, Histogram, MetricsData, Sum

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "1": "ratio"}
NOT_A_NAME = re.compile(r"[^a-zA-Z0-9_:]")
NOT_A_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")  # no colons in label names


def render(data: MetricsData | None) -> str:
    """Every metric of `data`, one family after another (an empty page when there is none)."""
    lines: list[str] = []
    metrics = (
        metric
        for resource in (data.resource_metrics if data else ())
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )
    for metric in metrics:
        lines += _family(metric)
    return "\n".join(lines) + "\n" if lines else ""


def prometheus_name(name: str, unit: str, *, counter: bool) -> str:
    base = NOT_A_NAME.sub("_", name)
    if base[:1].isdigit():
        base = f"_{base}"
    suffix = "" if unit.startswith("{") or not unit else UNIT_WORDS.get(unit, unit)
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{NOT_A_NAME.sub('_', suffix)}"
    return f"{base}_total" if counter else base


def _family(metric: Any) -> list[str]:
    data = metric.data
    counter = isinstance(data, Sum) and data.is_monotonic
    name = prometheus_name(metric.name, metric.unit or "", counter=counter)
    if isinstance(data, Histogram):
        kind = "histogram"
    elif counter:
        kind = "counter"
    elif isinstance(data, Sum | Gauge):
        kind = "gauge"
    else:
        return []  # exponential histograms: nanotui makes none
    lines = [f"# HELP {name} {_escape_help(metric.description or metric.name)}"]
    lines.append(f"# TYPE {name} {kind}")
    for point in data.data_points:
        labels = point.attributes or {}
        if kind == "histogram":
            lines += _histogram(name, labels, point)
        else:
            lines.append(f"{name}{_labels(labels)} {_number(point.value)}")
    return lines


def _histogram(name: str, labels: Mapping[str, Any], point: Any) -> Iterable[str]:
    running = 0
    for bound, count in zip(point.explicit_bounds, point.bucket_counts, strict=False):
        running += count
        yield f"{name}_bucket{_labels(labels, le=_number(bound))} {running}"
    yield f"{name}_bucket{_labels(labels, le='+Inf')} {point.count}"
    yield f"{name}_sum{_labels(labels)} {_number(point.sum)}"
    yield f"{name}_count{_labels(labels)} {point.count}"


def _labels(attributes: Mapping[str, Any], **extra: str) -> str:
    values: dict[str, list[tuple[str, str]]] = {}
    for key, value in attributes.items():
        values.setdefault(_label_name(key), []).append((key, _label_value(value)))
    # Attributes that clean to one label name: their values in the order of their keys.
    pairs = [(name, ";".join(v for _, v in sorted(same))) for name, same in values.items()]
    pairs += list(extra.items())
    if not pairs:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in pairs) + "}"


def _label_name(key: str) -> str:
    name = NOT_A_LABEL_NAME.sub("_", key)
    return f"key_{name}" if name[:1].isdigit() else name


def _label_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return json.dumps(list(value), separators=(",", ":"))
    return str(value)


def _number(value: float) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if value.is_integer():
            return str(int(value)) if abs(value) < 1e15 else repr(value)
        return repr(value)
    return str(value)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
