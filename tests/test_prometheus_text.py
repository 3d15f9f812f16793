"""`/metrics`' text: a fixed set of metrics rendered to exactly the Prometheus text format
(0.0.4), and read back by the Prometheus project's own parser."""

from __future__ import annotations

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client.parser import text_string_to_metric_families

from nanotui.telemetry.prometheus_text import render

CUMULATIVE = AggregationTemporality.CUMULATIVE
AWKWARD_MODEL = 'say "hi" \\ then\nbye'
"""A label value with each character the format escapes: a quote, a backslash, a newline."""


def point(value: float, **attributes: object) -> NumberDataPoint:
    return NumberDataPoint(attributes, 0, 1, value)


def counter(name: str, unit: str, description: str, *points: NumberDataPoint) -> Metric:
    return Metric(name, description, unit, Sum(points, CUMULATIVE, is_monotonic=True))


FIXED = [
    counter(
        "nanotui.cost",
        "USD",
        "What priced model requests cost,\nper model \\ user.",
        point(0.25, **{"gen_ai.request.model": AWKWARD_MODEL, "nanotui.user": "alice"}),
        point(3, **{"gen_ai.request.model": "m", "nanotui.user": "bob"}),
    ),
    counter("nanotui.ratelimit.retries", "{retry}", "Model requests retried.", point(2)),
    Metric(
        "nanotui.sessions.open",
        "Sessions open now.",
        "{session}",
        Sum([point(-1)], CUMULATIVE, is_monotonic=False),
    ),
    Metric(
        "nanotui.budget.remaining",
        "",
        "USD",
        Gauge(
            [point(4.5, **{"nanotui.budget.scope": "day", "isolated": True, "tags": ("a", "b")})]
        ),
    ),
    Metric(
        "gen_ai.client.operation.duration",
        "GenAI operation duration.",
        "s",
        Histogram(
            [
                HistogramDataPoint(
                    {"error.type": "connection", "2fa:method": "totp"},
                    0,
                    1,
                    count=4,
                    sum=7.25,
                    bucket_counts=[1, 0, 2, 1],
                    explicit_bounds=[0.5, 1.0, 2.5],
                    min=0.1,
                    max=4.0,
                )
            ],
            CUMULATIVE,
        ),
    ),
    counter(
        "nanotui.odd-name",
        "{thing}",
        "Two attributes that are one label once cleaned.",
        point(1, **{"a.b": "dot", "a-b": "dash"}),
        point(float("nan")),
    ),
]

EXPECTED = r"""# HELP nanotui_cost_USD_total What priced model requests cost,\nper model \\ user.
# TYPE nanotui_cost_USD_total counter
nanotui_cost_USD_total{gen_ai_request_model="say \"hi\" \\ then\nbye",nanotui_user="alice"} 0.25
nanotui_cost_USD_total{gen_ai_request_model="m",nanotui_user="bob"} 3
# HELP nanotui_ratelimit_retries_total Model requests retried.
# TYPE nanotui_ratelimit_retries_total counter
nanotui_ratelimit_retries_total 2
# HELP nanotui_sessions_open Sessions open now.
# TYPE nanotui_sessions_open gauge
nanotui_sessions_open -1
# HELP nanotui_budget_remaining_USD nanotui.budget.remaining
# TYPE nanotui_budget_remaining_USD gauge
nanotui_budget_remaining_USD{nanotui_budget_scope="day",isolated="true",tags="[\"a\",\"b\"]"} 4.5
# HELP gen_ai_client_operation_duration_seconds GenAI operation duration.
# TYPE gen_ai_client_operation_duration_seconds histogram
gen_ai_client_operation_duration_seconds_bucket{error_type="connection",key_2fa_method="totp",le="0.5"} 1
gen_ai_client_operation_duration_seconds_bucket{error_type="connection",key_2fa_method="totp",le="1"} 1
gen_ai_client_operation_duration_seconds_bucket{error_type="connection",key_2fa_method="totp",le="2.5"} 3
gen_ai_client_operation_duration_seconds_bucket{error_type="connection",key_2fa_method="totp",le="+Inf"} 4
gen_ai_client_operation_duration_seconds_sum{error_type="connection",key_2fa_method="totp"} 7.25
gen_ai_client_operation_duration_seconds_count{error_type="connection",key_2fa_method="totp"} 4
# HELP nanotui_odd_name_total Two attributes that are one label once cleaned.
# TYPE nanotui_odd_name_total counter
nanotui_odd_name_total{a_b="dash;dot"} 1
nanotui_odd_name_total NaN
"""  # noqa: E501


def fixed_data() -> MetricsData:
    scope = ScopeMetrics(InstrumentationScope("nanotui", "0"), FIXED, "")
    return MetricsData([ResourceMetrics(Resource.create({}), [scope], "")])


def test_a_fixed_set_of_metrics_renders_to_exactly_the_exposition_text() -> None:
    assert render(fixed_data()) == EXPECTED


def test_nothing_to_say_is_an_empty_page() -> None:
    assert render(None) == ""
    assert render(MetricsData([])) == ""


def test_the_prometheus_parser_reads_back_every_family_sample_and_label() -> None:
    families = {f.name: f for f in text_string_to_metric_families(render(fixed_data()))}
    assert {name: f.type for name, f in families.items()} == {
        "nanotui_cost_USD": "counter",
        "nanotui_ratelimit_retries": "counter",
        "nanotui_sessions_open": "gauge",
        "nanotui_budget_remaining_USD": "gauge",
        "gen_ai_client_operation_duration_seconds": "histogram",
        "nanotui_odd_name": "counter",
    }
    cost = families["nanotui_cost_USD"]
    assert cost.documentation == "What priced model requests cost,\nper model \\ user."
    first = cost.samples[0]
    assert first.labels == {"gen_ai_request_model": AWKWARD_MODEL, "nanotui_user": "alice"}
    assert first.value == 0.25
    histogram = families["gen_ai_client_operation_duration_seconds"].samples
    buckets = {s.labels["le"]: s.value for s in histogram if s.name.endswith("_bucket")}
    assert buckets == {"0.5": 1, "1": 1, "2.5": 3, "+Inf": 4}
    assert [s.value for s in histogram if not s.name.endswith("_bucket")] == [7.25, 4]
    gauge = families["nanotui_budget_remaining_USD"].samples[0]
    assert gauge.labels["tags"] == '["a","b"]'
