"""A headless `nanotui run` against a model that never stops ends with a clear error.

Each test runs the real command line in its own process group against an endless stream from
the loopback server, and kills the group if it has not ended by itself in time: a run that
hangs fails the test instead of the CI job.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, endless_reply

from nanotui.protocol.model_io import CHARS_PER_TOKEN

LIMIT = 2000
RUN_TIMEOUT_S = 60
APIS = ["openai", "anthropic"]


def run_headless(
    server: FakeModelServer, home: Path, workspace: Path, api: str, config: str
) -> tuple[int, list[dict]]:
    """`nanotui run --json` in a process of its own; its exit code and its events."""
    (home / "config.toml").write_text(config)
    provider = (
        ["--provider", "anthropic", "--base-url", server.anthropic_base_url]
        if api == "anthropic"
        else ["--base-url", server.openai_base_url]
    )
    env = {**os.environ, "NANOTUI_HOME": str(home), "ANTHROPIC_API_KEY": "sk-ant-test"}
    for name in ("NANOTUI_PROVIDER", "NANOTUI_MODEL", "NANOTUI_BASE_URL", "NANOTUI_API_KEY"):
        env.pop(name, None)
    command = [sys.executable, "-m", "nanotui.cli.main", "run", "write a poem", "--json"]
    command += ["--workspace", str(workspace), "--model", "test-model", *provider]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"nanotui run was still running after {RUN_TIMEOUT_S} s")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert events, err
    return process.returncode, events


def streamed_chars(events: list[dict]) -> int:
    return sum(len(e["text"]) for e in events if e["type"] == "text_delta")


def error_text(events: list[dict]) -> str:
    return " ".join(e["text"] for e in events if e["type"] == "error")


@pytest.mark.parametrize("api", APIS)
def test_run_cuts_an_endless_reply_at_max_output_tokens_and_exits_1(
    fake_server: FakeModelServer, home: Path, tmp_path: Path, api: str
) -> None:
    fake_server.enqueue(endless_reply(api))
    # The setting: a $0.20 session budget that the reply alone would pass 100 times.
    config = (
        f"[provider]\nmax_output_tokens = {LIMIT}\n[budget]\nsession_usd = 0.20\n"
        '[prices."test-model"]\ninput_per_mtok = 3.0\noutput_per_mtok = 15.0\n'
    )

    code, events = run_headless(fake_server, home, tmp_path, api, config)

    assert code == 1
    assert streamed_chars(events) < 3 * LIMIT * CHARS_PER_TOKEN
    assert "past the limit of 2,000 tokens (provider.max_output_tokens)" in error_text(events)
    result = events[-1]
    assert result["type"] == "result" and result["status"] == "error"
    # The cut reply is paid for: its estimated output is counted, and stays in the budget.
    assert result["usage"]["output_tokens"] > LIMIT
    assert 0 < result["cost_usd"] < 0.20


@pytest.mark.parametrize("api", APIS)
def test_run_cuts_an_endless_reply_where_the_budget_ends_and_exits_3(
    fake_server: FakeModelServer, home: Path, tmp_path: Path, api: str
) -> None:
    fake_server.enqueue(endless_reply(api))
    # The worst case of a reply that stops at max_tokens fits ($0.02 of $0.025), so the
    # request is sent; the endless stream then runs into the budget before the 2x margin.
    config = (
        f"[provider]\nmax_output_tokens = {LIMIT}\n[budget]\nsession_usd = 0.025\n"
        '[prices."test-model"]\ninput_per_mtok = 0.0\noutput_per_mtok = 10.0\n'
    )

    code, events = run_headless(fake_server, home, tmp_path, api, config)

    assert code == 3
    assert streamed_chars(events) < 3 * LIMIT * CHARS_PER_TOKEN
    assert "more output would pass the session budget" in error_text(events)
    assert events[-1]["status"] == "budget"
    assert events[-1]["cost_usd"] <= 0.025 * 1.01


@pytest.mark.parametrize("api", APIS)
def test_run_cuts_a_trickling_reply_at_the_request_deadline(
    fake_server: FakeModelServer, home: Path, tmp_path: Path, api: str
) -> None:
    fake_server.enqueue(endless_reply(api, piece="tick ", interval_s=0.2))
    config = "[provider]\nrequest_deadline_s = 2\nread_timeout_s = 30\n"

    code, events = run_headless(fake_server, home, tmp_path, api, config)

    assert code == 1
    assert "ran for its whole 2 s (provider.request_deadline_s)" in error_text(events)
    assert events[-1]["status"] == "error"


def test_run_cuts_an_endless_reply_where_todays_budget_ends(
    fake_server: FakeModelServer, home: Path, tmp_path: Path
) -> None:
    fake_server.enqueue(endless_reply("openai"))
    config = (
        f"[provider]\nmax_output_tokens = {LIMIT}\n[budget]\nday_usd = 0.025\n"
        '[prices."test-model"]\ninput_per_mtok = 0.0\noutput_per_mtok = 10.0\n'
    )

    code, events = run_headless(fake_server, home, tmp_path, "openai", config)

    assert code == 3
    assert "more output would pass today's budget" in error_text(events)
