"""An MCP server over streamable HTTP (the test server with the SDK's transport, on a
loopback port, in its own process): its calls go through the same guard as a stdio
server's, judged by the policy and redacted, in a real `nanotui run`."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_model_server import openai_reply
from mcp_support import SERVER_SCRIPT, make_repo, user_config
from run_support import of_type, run
from test_secrets import fake

PLANTED = "ghp_" + fake(36)


def first_line(process: subprocess.Popen[str], within_s: float) -> str:
    """The process's first line of output, or "" if none came in time (bounded)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        return process.stdout.readline() if selector.select(within_s) else ""


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The test server on http://127.0.0.1:PORT/mcp: its URL and the folder it runs in."""
    folder = tmp_path / "http-server"
    folder.mkdir()
    server = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--http"],
        cwd=folder,
        env={**os.environ, "PLANTED_RESULT": f"token={PLANTED}"},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        port = first_line(server, within_s=60).strip()
        assert port.isdigit(), "the HTTP server did not say its port"
        yield f"http://127.0.0.1:{port}/mcp", folder
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def test_an_http_servers_calls_are_judged_by_the_policy_and_redacted(
    fake_server, tmp_path, home, capsys, http_server
) -> None:
    url, folder = http_server
    repo = make_repo(tmp_path)
    server = f"[mcp.servers.web]\nurl = {json.dumps(url)}\ntimeout_s = 30\n"
    user_config(home, server, policy={"allow": ["mcp:web/lookup"]})
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                ("mcp__web__lookup", {"query": "walrus"}),
                ("mcp__web__delete_everything", {}),
            ]
        ),
        openai_reply(text="One of two."),
    )
    code, events, _ = run(fake_server, repo, capsys, "--mode", "ask")

    results = {result["tool"]: result for result in of_type(events, "tool_result")}
    looked_up, deleted = results["mcp__web__lookup"], results["mcp__web__delete_everything"]
    assert looked_up["ok"] and "found walrus" in looked_up["content"]
    assert PLANTED not in looked_up["content"] and looked_up["redacted"]
    [asked] = of_type(events, "approval_requested")  # no rule names it: ask mode asks
    assert asked["tool"] == "mcp__web__delete_everything" and asked["kind"] == "external"
    assert deleted["refused"] and not (folder / "deleted.txt").exists()
    assert code == 2
