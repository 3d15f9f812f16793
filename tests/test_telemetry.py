"""Telemetry: a real `nanotui run` against the scripted model, seen as spans and metrics that
follow the GenAI conventions and agree with the session log."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_model_server import openai_reply
from run_support import of_type, run
from telemetry_support import (
    PRICED,
    InMemoryTelemetry,
    LoopbackCollector,
    loopback_collector,
    telemetry_in_memory,
)

from nanotui.config_loading import load_settings
from nanotui.engine.approvals import resolve
from nanotui.engine.assembly import build_agent
from nanotui.governance.audit import read_records, session_path
from nanotui.governance.audit_chain import encode, line_hash
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.events import ApprovalRequested
from nanotui.telemetry import exporting
from nanotui.telemetry.instruments import DURATION_BUCKETS, TOKEN_BUCKETS


@pytest.fixture
def in_memory_telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryTelemetry]:
    with telemetry_in_memory(monkeypatch) as telemetry:
        yield telemetry


@pytest.fixture
def collector() -> Iterator[LoopbackCollector]:
    with loopback_collector() as received:
        yield received


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "foo.py").write_text("def foo():\n    return 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=repo, check=True)
    return repo


def two_steps(server, *, first_calls) -> None:
    server.enqueue(
        openai_reply(
            text="Looking.",
            tool_calls=first_calls,
            usage=dict(prompt=120, completion=30, cached=20, reasoning=0),
        ),
        openai_reply(text="Done.", usage=dict(prompt=200, completion=8, cached=0, reasoning=0)),
    )


def log_lines(session: str) -> dict[int, str]:
    """The session log's line hashes by seq, as the chain computes them."""
    return {
        record["seq"]: line_hash(encode(record)) for record in read_records(session_path(session))
    }


def test_a_run_is_one_invoke_agent_span_with_chat_and_tool_spans_tied_to_the_log(
    fake_server, repo, home, capsys, in_memory_telemetry
) -> None:
    (home / "config.toml").write_text(PRICED)
    two_steps(
        fake_server,
        first_calls=[
            ("read_file", {"path": "foo.py"}),
            ("run_command", {"command": "curl https://example.com/leak"}),
        ],
    )
    code, events, _ = run(fake_server, repo, capsys, "--mode", "full-auto")
    assert code == 4  # refused by policy, and the model gave up
    session = events[-1]["session"]
    spans = {span.name: span for span in in_memory_telemetry.spans.get_finished_spans()}
    chats = [
        s for s in in_memory_telemetry.spans.get_finished_spans() if s.name == "chat test-model"
    ]
    assert set(spans) == {
        "invoke_agent",
        "chat test-model",
        "execute_tool read_file",
        "execute_tool run_command",
    }
    assert len(chats) == 2
    turn = spans["invoke_agent"]
    assert turn.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert turn.attributes["gen_ai.conversation.id"] == session
    assert turn.attributes["nanotui.turn.status"] == "refused"
    for span in [*chats, spans["execute_tool read_file"], spans["execute_tool run_command"]]:
        assert span.parent is not None and span.parent.span_id == turn.context.span_id
    # Token counts are the log's; the finish reasons say why each reply ended.
    logged = of_type(events, "usage_reported")
    assert [c.attributes["gen_ai.usage.input_tokens"] for c in chats] == [
        u["usage"]["input_tokens"] for u in logged
    ]
    assert [c.attributes["gen_ai.usage.output_tokens"] for c in chats] == [30, 8]
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in chats] == [
        ("tool_calls",),
        ("stop",),
    ]
    assert chats[0].attributes["gen_ai.provider.name"] == "openai"
    assert chats[0].attributes["gen_ai.response.model"] == "test-model"
    # Every span names the log record that closed it: its seq and the hash of its line.
    lines = log_lines(session)
    for span in spans.values():
        assert span.attributes["nanotui.session.id"] == session
        seq = span.attributes["nanotui.audit.seq"]
        assert span.attributes["nanotui.audit.line_hash"] == lines[seq]
    refused = spans["execute_tool run_command"]
    assert refused.attributes["nanotui.policy.decision"] == "deny"
    assert refused.status.status_code.name == "ERROR"
    # No content without include_content.
    assert not any("gen_ai.input.messages" in s.attributes for s in spans.values())
    assert not any("gen_ai.tool.call.result" in s.attributes for s in spans.values())

    usage = in_memory_telemetry.metric("gen_ai.client.token.usage")
    assert usage.unit == "{token}"
    points = {p.attributes["gen_ai.token.type"]: p for p in usage.data.data_points}
    assert points["input"].sum == 320 and points["output"].sum == 38
    assert tuple(points["input"].explicit_bounds) == TOKEN_BUCKETS
    assert points["input"].attributes["gen_ai.operation.name"] == "chat"
    duration = in_memory_telemetry.metric("gen_ai.client.operation.duration")
    assert duration.unit == "s"
    assert tuple(duration.data.data_points[0].explicit_bounds) == DURATION_BUCKETS
    assert duration.data.data_points[0].count == 2

    cost = in_memory_telemetry.metric("nanotui.cost")
    assert cost.unit == "USD"
    assert sum(p.value for p in cost.data.data_points) == pytest.approx(events[-1]["cost_usd"])
    decisions = {
        (p.attributes["gen_ai.tool.name"], p.attributes["nanotui.decision"]): p
        for p in in_memory_telemetry.metric("nanotui.tool.decisions").data.data_points
    }
    assert decisions[("read_file", "allow")].attributes["nanotui.decided_by"] == "policy"
    assert ("run_command", "deny") in decisions
    (denial,) = in_memory_telemetry.metric("nanotui.policy.denials").data.data_points
    # Why, by the rule; the command itself is content and stays out.
    assert "curl *" in denial.attributes["nanotui.reason"]
    assert "example.com" not in denial.attributes["nanotui.reason"]
    (checkpoints,) = in_memory_telemetry.metric("nanotui.checkpoints").data.data_points
    assert checkpoints.attributes["nanotui.checkpoint.kind"] == "turn"
    (remaining,) = [
        p
        for p in in_memory_telemetry.metric("nanotui.budget.remaining").data.data_points
        if p.attributes["nanotui.budget.scope"] == "session"
    ]
    assert remaining.value == pytest.approx(5.0 - events[-1]["cost_usd"])


def test_failed_exports_are_one_notice_in_the_session_and_nothing_on_stderr(
    fake_server, repo, home, capsys, in_memory_telemetry
) -> None:
    # What the OTLP exporters log when the collector refuses a batch, then its retry.
    exporter_log = logging.getLogger("opentelemetry.exporter.otlp.proto.http")
    exporter_log.warning("Failed to export span batch code: 503, reason: unavailable")
    exporter_log.warning("Transient error, retrying in 1.00s.")
    fake_server.enqueue(openai_reply(text="Hi.", usage=dict(prompt=10, completion=2)))
    code, events, stderr = run(fake_server, repo, capsys, "--mode", "full-auto")
    assert code == 0
    said = [e["text"] for e in of_type(events, "notice") if "Telemetry" in e["text"]]
    assert len(said) == 1 and "code: 503" in said[0]
    assert "503" not in stderr and "retrying" not in stderr
    exporter_log.warning("Failed again")
    fake_server.enqueue(openai_reply(text="Hi.", usage=dict(prompt=10, completion=2)))
    _, events, _ = run(fake_server, repo, capsys, "--mode", "full-auto")
    assert not [e for e in of_type(events, "notice") if "Telemetry" in e["text"]]


def test_the_loopback_collector_receives_what_the_log_records_with_content_redacted(
    fake_server, repo, home, capsys, collector, monkeypatch
) -> None:
    secret = "ghp_" + "a1B2c3D4" * 5  # made here: the tree holds no secret-looking literal
    (repo / "foo.py").write_text(f"TOKEN = '{secret}'\n")
    (home / "config.toml").write_text(PRICED + "[telemetry]\ninclude_content = true\n")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    monkeypatch.setattr(exporting, "_process_telemetry", None)
    two_steps(fake_server, first_calls=[("read_file", {"path": "foo.py"})])
    try:
        code, events, _ = run(
            fake_server, repo, capsys, "--mode", "full-auto", prompt=f"use {secret} to log in"
        )
    finally:
        telemetry = exporting.running_telemetry()
        assert telemetry is not None
        telemetry.shutdown()  # what the process does at exit
    assert code == 0

    spans = {span.name: span for span in collector.spans()}
    assert {"invoke_agent", "chat test-model", "execute_tool read_file"} <= set(spans)
    resource = collector.traces[0].resource_spans[0].resource
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == "nanotui"
    chats = [s for s in collector.spans() if s.name == "chat test-model"]
    attributes = [{a.key: a.value for a in chat.attributes} for chat in chats]
    input_tokens = sum(a["gen_ai.usage.input_tokens"].int_value for a in attributes)
    output_tokens = sum(a["gen_ai.usage.output_tokens"].int_value for a in attributes)
    assert input_tokens == events[-1]["usage"]["input_tokens"] == 320
    assert output_tokens == events[-1]["usage"]["output_tokens"]
    cost_points = collector.data_points("nanotui.cost")
    assert sum(p.as_double for p in cost_points) == pytest.approx(events[-1]["cost_usd"])
    token_points = collector.data_points("gen_ai.client.token.usage")
    assert sum(p.sum for p in token_points) == 320 + 38

    # The content went out (include_content), and the planted key did not.
    turn = {a.key: a.value.string_value for a in spans["invoke_agent"].attributes}
    assert (
        "[REDACTED:github_token]"
        in json.loads(turn["gen_ai.input.messages"])[0]["parts"][0]["content"]
    )
    tool = {a.key: a.value.string_value for a in spans["execute_tool read_file"].attributes}
    assert "TOKEN = " in tool["gen_ai.tool.call.result"]
    assert all(secret.encode() not in body for body in collector.raw)


BLOCKED_START = """
import importlib.abc, sys
from pathlib import Path

class NoTelemetry(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError("opentelemetry is not installed here")
        return None

sys.meta_path.insert(0, NoTelemetry())
from nanotui.config import Settings
from nanotui.engine.assembly import build_agent

workspace = Path(sys.argv[1])
quiet = build_agent(Settings(provider={"kind": "demo"}), workspace, log=False)
print("observers:", len(quiet.observers))
print("loaded:", any(m.startswith("opentelemetry") for m in sys.modules))
wanted = Settings(provider={"kind": "demo"}, telemetry={"enabled": True})
(observer,) = build_agent(wanted, workspace, log=False).observers
print("notice:", observer.notice().text)
print("then:", observer.notice())
"""


def test_without_the_extra_nothing_is_imported_and_asking_for_it_is_one_notice(
    workspace, home
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_START, str(workspace)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["observers: 0", "loaded: False"]
    assert lines[2].startswith("notice: ") and "nanotui[otel]" in lines[2]
    assert lines[3] == "then: None"


async def test_approvals_count_hunks_accepted_and_rejected_and_who_decided(
    fake_server, repo, home, in_memory_telemetry
) -> None:
    lines = [f"line{i} = {i}\n" for i in range(30)]
    (repo / "a.py").write_text("".join(lines))
    changed = list(lines)
    changed[1], changed[25] = "line1 = 'first'\n", "line25 = 'second'\n"
    fake_server.enqueue(
        openai_reply(tool_calls=[("write_file", {"path": "a.py", "content": "".join(changed)})]),
        openai_reply(text="ok"),
    )
    flags = {
        "provider": {"base_url": fake_server.openai_base_url, "model": "m"},
        "telemetry": {"enabled": True},
    }
    agent = build_agent(load_settings(repo, flags, environ={}).settings, repo)
    async for event in agent.turn("change a.py"):
        if isinstance(event, ApprovalRequested):
            resolve(event, ApprovalAnswer(decision="approve", hunks=[1]))
    agent.close()

    hunks = in_memory_telemetry.metric("nanotui.approval.hunks").data.data_points
    assert {p.attributes["nanotui.hunk.verdict"]: p.value for p in hunks} == {
        "accepted": 1,
        "rejected": 1,
    }
    (answer,) = in_memory_telemetry.metric("nanotui.approvals").data.data_points
    assert answer.attributes == {"nanotui.answer": "approve", "nanotui.decided_by": "user"}
    (waited,) = in_memory_telemetry.metric("nanotui.approval.wait").data.data_points
    assert waited.count == 1
    decisions = in_memory_telemetry.metric("nanotui.tool.decisions").data.data_points
    assert {
        (p.attributes["nanotui.decision"], p.attributes["nanotui.decided_by"]) for p in decisions
    } == {("ask", "policy"), ("allow", "user")}
