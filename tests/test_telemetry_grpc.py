"""Telemetry over OTLP/gRPC: a real `nanotui run` process, told by the standard variables to
export over gRPC, delivers its spans and metrics to a loopback gRPC collector, and they agree
with what the run reports."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, openai_reply
from telemetry_support import PRICED, loopback_grpc_collector


def test_a_run_exports_its_spans_and_metrics_over_grpc(
    fake_server: FakeModelServer, workspace: Path, home: Path
) -> None:
    (home / "config.toml").write_text(PRICED)
    fake_server.enqueue(
        openai_reply(
            text="Looking.",
            tool_calls=[("read_file", {"path": "a.py"})],
            usage=dict(prompt=120, completion=30),
        ),
        openai_reply(text="Done.", usage=dict(prompt=200, completion=8)),
    )
    argv = [sys.executable, "-m", "nanotui.cli.main", "run", "read a.py", "--json"]
    argv += ["-w", str(workspace), "--base-url", fake_server.openai_base_url]
    argv += ["--model", "test-model", "--mode", "full-auto"]
    with loopback_grpc_collector() as collector:
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        }
        child = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = child.communicate(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
    assert child.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    result = events[-1]

    spans = collector.spans()
    assert {"invoke_agent", "chat test-model", "execute_tool read_file"} <= {
        span.name for span in spans
    }
    chats = [
        {a.key: a.value for a in span.attributes} for span in spans if span.name.startswith("chat")
    ]
    assert sum(c["gen_ai.usage.input_tokens"].int_value for c in chats) == 320
    assert (
        sum(c["gen_ai.usage.input_tokens"].int_value for c in chats)
        == (result["usage"]["input_tokens"])
    )
    assert (
        sum(c["gen_ai.usage.output_tokens"].int_value for c in chats)
        == (result["usage"]["output_tokens"])
    )
    cost = sum(p.as_double for p in collector.data_points("nanotui.cost"))
    assert cost == pytest.approx(result["cost_usd"]) and cost > 0
