"""Model requests that were retried or failed, as telemetry sees a real `nanotui run`: each
retry counted with its reason and its wait, and a request that never got a reply still a
`chat {model}` span, in error, with the conventions' `error.type`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_model_server import cut_reply, error_reply, openai_reply
from first_run_support import closed_port_url
from run_support import of_type
from telemetry_support import InMemoryTelemetry, telemetry_in_memory

from nanotui.cli.main import main
from nanotui.governance.audit import read_records, session_path
from nanotui.telemetry.prometheus_text import render

RATE_LIMITED = {"error": {"message": "Rate limit reached for requests", "type": "requests"}}


@pytest.fixture
def telemetry(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryTelemetry]:
    """The process's telemetry in memory, with a NANOTUI_HOME of the test's own."""
    with telemetry_in_memory(monkeypatch) as in_memory:
        yield in_memory


def run_at(base_url: str, workspace: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list]:
    """`nanotui run --json` in-process against `base_url`: the exit code and the events."""
    code = main(
        ["run", "hi", "--json", "-w", str(workspace), "--base-url", base_url, "--model", "m"]
    )
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_429_with_retry_after_is_one_retry_counted_by_reason_with_the_seconds_waited(
    fake_server, workspace, capsys, telemetry
) -> None:
    fake_server.enqueue(
        error_reply(429, RATE_LIMITED, headers={"Retry-After": "1"}),
        openai_reply(text="Hi.", usage=dict(prompt=10, completion=2)),
    )
    code, events = run_at(fake_server.openai_base_url, workspace, capsys)
    assert code == 0
    (retried,) = [e for e in of_type(events, "notice") if e["retry"]]
    assert retried["retry"] == {"reason": "rate_limit", "wait_s": 1.0, "attempt": 1}
    # The figures are in the record too, not only in the sentence.
    logged = [
        r["payload"]
        for r in read_records(session_path(events[-1]["session"]))
        if r["type"] == "notice"
    ]
    assert [n["retry"] for n in logged if n["retry"]] == [retried["retry"]]

    labels = {"gen_ai.provider.name": "openai", "nanotui.retry.reason": "rate_limit"}
    (retries,) = telemetry.metric("nanotui.ratelimit.retries").data.data_points
    assert (retries.attributes, retries.value) == (labels, 1)
    waits = telemetry.metric("nanotui.ratelimit.wait")
    assert waits.unit == "s"
    (waited,) = waits.data.data_points
    assert (waited.attributes, waited.count, waited.sum) == (labels, 1, 1.0)
    # One request, retried and answered: one chat span, not in error.
    (chat,) = [s for s in telemetry.spans.get_finished_spans() if s.name == "chat m"]
    assert "error.type" not in chat.attributes

    # What a Prometheus scrape of `nanotui serve` would read.
    scraped = render(telemetry.metrics.get_metrics_data())
    said = '{gen_ai_provider_name="openai",nanotui_retry_reason="rate_limit"}'
    assert f"nanotui_ratelimit_retries_total{said} 1\n" in scraped
    assert f"nanotui_ratelimit_wait_seconds_sum{said} 1\n" in scraped


QUICK = {"NANOTUI_RATE_LIMIT__MAX_RETRIES": "1", "NANOTUI_RATE_LIMIT__MAX_RETRY_WAIT_S": "0.01"}


@pytest.mark.parametrize(
    ("failure", "error_type"),
    [("refused", "connection"), ("500 after a retry", "server"), ("bad key", "auth")],
)
def test_a_request_that_got_no_reply_is_a_chat_span_in_error_with_its_error_type(
    failure: str, error_type: str, fake_server, workspace, capsys, monkeypatch, telemetry
) -> None:
    for name, value in QUICK.items():
        monkeypatch.setenv(name, value)
    url = fake_server.openai_base_url
    if failure == "refused":
        monkeypatch.setenv("NANOTUI_RATE_LIMIT__MAX_RETRIES", "0")
        url = closed_port_url() + "/v1"
    elif failure == "500 after a retry":
        fake_server.enqueue(*[error_reply(500, {"error": {"message": "boom"}})] * 2)
    else:
        fake_server.enqueue(error_reply(401, {"error": {"message": "Incorrect API key"}}))
    code, events = run_at(url, workspace, capsys)
    assert code == 1
    (error,) = of_type(events, "error")
    assert error["kind"] == error_type
    spans = telemetry.spans.get_finished_spans()
    (chat,) = [s for s in spans if s.name.startswith("chat ")]
    (turn,) = [s for s in spans if s.name == "invoke_agent"]
    assert chat.name == "chat m" and chat.parent.span_id == turn.context.span_id
    assert chat.status.status_code.name == "ERROR"
    assert chat.attributes["error.type"] == error_type
    assert chat.attributes["gen_ai.request.model"] == "m"
    # No reply: no response model, no tokens, no finish reason.
    for absent in (
        "gen_ai.response.model",
        "gen_ai.usage.input_tokens",
        "gen_ai.response.finish_reasons",
    ):
        assert absent not in chat.attributes
    assert chat.attributes["nanotui.session.id"] == events[-1]["session"]
    (duration,) = telemetry.metric("gen_ai.client.operation.duration").data.data_points
    assert duration.count == 1
    assert duration.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "m",
        "error.type": error_type,
    }
    with pytest.raises(AssertionError, match="no metric"):
        telemetry.metric("gen_ai.client.token.usage")


def test_a_reply_that_broke_off_is_one_chat_span_in_error_with_what_it_used(
    fake_server, workspace, capsys, telemetry
) -> None:
    fake_server.enqueue(cut_reply(openai_reply(text="Hello there, " * 20), after_events=4))
    code, events = run_at(fake_server.openai_base_url, workspace, capsys)
    assert code == 1
    assert [e["kind"] for e in of_type(events, "error")] == ["interrupted"]
    (used,) = of_type(events, "usage_reported")
    (chat,) = [s for s in telemetry.spans.get_finished_spans() if s.name.startswith("chat ")]
    assert chat.status.status_code.name == "ERROR"
    assert chat.attributes["error.type"] == "interrupted"
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("interrupted",)
    assert chat.attributes["gen_ai.usage.output_tokens"] == used["usage"]["output_tokens"] > 0


def test_replies_from_a_server_that_sends_no_usage_are_a_chat_span_each_not_in_error(
    fake_server, workspace, capsys, telemetry
) -> None:
    read = ("read_file", {"path": "x.txt"}, "call_1")
    fake_server.enqueue(
        openai_reply(tool_calls=[read], include_usage=False),
        openai_reply(text="Done.", include_usage=False),
    )
    code, events = run_at(fake_server.openai_base_url, workspace, capsys)
    assert code == 0
    assert not of_type(events, "usage_reported")
    chats = [s for s in telemetry.spans.get_finished_spans() if s.name.startswith("chat ")]
    assert len(chats) == 2
    for chat in chats:
        assert chat.status.status_code.name == "UNSET"
        assert "error.type" not in chat.attributes
    finishes = [chat.attributes["gen_ai.response.finish_reasons"] for chat in chats]
    assert finishes == [("tool_calls",), ("stop",)]
