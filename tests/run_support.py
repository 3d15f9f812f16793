"""Running `nanotui run --json` in-process against the fake model server, and reading it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer

from nanotui.cli.main import main


def run(
    server: FakeModelServer,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
    prompt: str = "make foo return 2",
    anthropic: bool = False,
) -> tuple[int, list[dict], str]:
    """Run `nanotui run --json` in-process; return the exit code, the events and stderr."""
    provider = (
        ["--provider", "anthropic", "--base-url", server.anthropic_base_url]
        if anthropic
        else ["--base-url", server.openai_base_url]
    )
    code = main(
        [
            "run",
            prompt,
            "--json",
            "--workspace",
            str(repo),
            "--model",
            "test-model",
            *provider,
            *extra,
        ]
    )
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    return code, events, captured.err


def of_type(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]


def tool_messages(body: dict) -> list[dict]:
    return [m for m in body["messages"] if m["role"] == "tool"]
