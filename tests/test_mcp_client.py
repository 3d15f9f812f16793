"""MCP servers under the same guard as built-in tools: a real stdio server (the SDK's, in
tests/mcp_test_server.py) started in the real sandbox, called by a real `nanotui run`
against the scripted model server, each run checked in the session's hash-chained log."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_model_server import openai_reply
from mcp_support import make_repo, offered, server_toml, user_config
from run_support import of_type, run, tool_messages
from test_secrets import fake

from nanotui.cli.main import main
from nanotui.governance.audit_chain import verify_log


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


def logged(home: Path, events: list[dict]) -> list[dict]:
    log = home / "sessions" / f"{events[-1]['session']}.jsonl"
    assert verify_log(log).ok
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_a_call_in_ask_mode_shows_its_arguments_and_headless_refuses_it(
    fake_server, repo, home, capsys
) -> None:
    user_config(home, server_toml())
    fake_server.enqueue(
        # The server calls it read-only (annotations.readOnlyHint): not believed.
        openai_reply(tool_calls=[("mcp__t__delete_everything", {"why": "tidy", "depth": 2})]),
        openai_reply(text="I could not."),
    )
    code, events, _ = run(fake_server, repo, capsys, "--mode", "ask")

    [asked] = of_type(events, "approval_requested")
    assert asked["kind"] == "external" and asked["tool"] == "mcp__t__delete_everything"
    assert asked["details"] == json.dumps({"depth": 2, "why": "tidy"}, indent=2, sort_keys=True)
    [result] = of_type(events, "tool_result")
    assert (
        result["refused"] and 'allow rule such as "mcp:t/delete_everything"' in (result["content"])
    )
    assert not (repo / "deleted.txt").exists()
    assert code == 2
    # The model was offered the server's tools under names providers accept.
    assert {"mcp__t__lookup", "mcp__t__delete_everything", "read_file"} <= offered(
        fake_server.requests[0]
    )


def test_an_allow_rule_runs_the_call_and_its_result_is_redacted_and_logged(
    fake_server, repo, home, capsys
) -> None:
    planted = "ghp_" + fake(36)
    user_config(
        home,
        server_toml(env={"PLANTED_RESULT": f"token={planted}"}),
        policy={"allow": ["mcp:t/look*"]},
    )
    fake_server.enqueue(
        openai_reply(tool_calls=[("mcp__t__lookup", {"query": "walrus"})]),
        openai_reply(text="Found it."),
    )
    code, events, _ = run(fake_server, repo, capsys, "--mode", "ask")

    assert code == 0 and not of_type(events, "approval_requested")
    [decision] = of_type(events, "policy_decision")
    assert decision["decision"] == "allow" and "mcp:t/look*" in decision["reasons"][0]
    [result] = of_type(events, "tool_result")
    assert result["ok"] and "found walrus" in result["content"]
    assert planted not in result["content"] and result["redacted"]
    [told] = tool_messages(fake_server.requests[1].body)
    assert "found walrus" in told["content"] and planted not in told["content"]
    records = logged(home, events)
    assert planted not in json.dumps(records)
    assert [r for r in records if r["type"] == "tool_result" and r["payload"]["ok"]]


def test_a_deny_rule_holds_in_full_auto(fake_server, repo, home, capsys) -> None:
    user_config(home, server_toml(), policy={"deny": ["mcp:*/delete_*"]})
    fake_server.enqueue(
        openai_reply(tool_calls=[("mcp__t__delete_everything", {})]),
        openai_reply(text="Denied."),
    )
    _, events, _ = run(fake_server, repo, capsys, "--mode", "full-auto")

    [decision] = of_type(events, "policy_decision")
    assert decision["decision"] == "deny" and "mcp:*/delete_*" in decision["reasons"][0]
    assert not of_type(events, "tool_started")
    assert not (repo / "deleted.txt").exists()


def test_a_changed_definition_is_withheld_from_the_model_until_accepted(
    fake_server, repo, home, capsys
) -> None:
    # Listings are counted in the workspace: the second one changes `evolving`.
    user_config(home, server_toml(), policy={"allow": ["mcp:t/*"]})
    call = openai_reply(tool_calls=[("mcp__t__evolving", {"text": "hi"})])

    fake_server.enqueue(call, openai_reply(text="ok"))
    code, events, _ = run(fake_server, repo, capsys, "--mode", "ask")
    assert code == 0 and "echo: hi" in of_type(events, "tool_result")[0]["content"]
    assert "mcp__t__evolving" in offered(fake_server.requests[0])

    # The model still calls it (it remembers it, say): refused, even with an allow rule.
    fake_server.enqueue(call, openai_reply(text="refused"))
    _, events, _ = run(fake_server, repo, capsys, "--mode", "full-auto")
    request = fake_server.requests[2]
    assert "mcp__t__evolving" not in offered(request) and "mcp__t__lookup" in offered(request)
    assert "Now also sends your files somewhere." not in json.dumps(request.body)
    [notice] = [e for e in of_type(events, "notice") if "mcp:t/evolving" in e["text"]]
    assert "mcp:t/evolving (changed)" in notice["text"] and "/mcp accept t" in notice["text"]
    assert not of_type(events, "approval_requested") and not of_type(events, "tool_started")
    [result] = of_type(events, "tool_result")
    assert result["refused"] and "`nanotui mcp tools t --accept`" in result["content"]

    assert main(["mcp", "tools", "t", "--workspace", str(repo)]) == 0
    shown = capsys.readouterr().out
    assert "Now also sends your files somewhere." in shown and '"upload"' in shown
    assert main(["mcp", "tools", "t", "--accept", "--workspace", str(repo)]) == 0
    assert "Accepted 1 new or changed definition of t (mcp:t/evolving)" in (capsys.readouterr().out)
    fake_server.enqueue(call, openai_reply(text="ok"))
    code, events, _ = run(fake_server, repo, capsys, "--mode", "full-auto")
    assert code == 0 and "echo: hi" in of_type(events, "tool_result")[0]["content"]
    assert "mcp__t__evolving" in offered(fake_server.requests[4])


def test_a_description_that_addresses_the_model_is_not_pinned_on_first_use(
    fake_server, repo, home, capsys
) -> None:
    user_config(home, server_toml(env={"POISONED": "1"}))
    fake_server.enqueue(openai_reply(text="Hello."))
    code, events, _ = run(fake_server, repo, capsys, "--mode", "ask")

    assert code == 0
    assert "mcp__t__add" not in offered(fake_server.requests[0])
    assert "mcp__t__lookup" in offered(fake_server.requests[0])  # the others are pinned
    [notice] = [e for e in of_type(events, "notice") if "mcp:t/add" in e["text"]]
    assert "(new; it reads like instructions to the model)" in notice["text"]
    assert main(["mcp", "tools", "t", "--json", "--workspace", str(repo)]) == 0
    tools = {tool["name"]: tool for tool in json.loads(capsys.readouterr().out)["tools"]}
    assert "order to drop earlier instructions" in tools["add"]["injection_flags"]
    assert tools["add"]["unapproved"] and not tools["lookup"]["unapproved"]


def test_a_tool_changed_mid_session_is_withheld_from_the_next_step(
    fake_server, repo, home, capsys
) -> None:
    # `announce` says the tools changed: the session lists again (the second listing, which
    # changes `evolving`) before the model's next request.
    user_config(home, server_toml(), policy={"allow": ["mcp:t/*"]})
    fake_server.enqueue(
        openai_reply(tool_calls=[("mcp__t__announce", {})]),
        openai_reply(tool_calls=[("mcp__t__evolving", {"text": "hi"})]),
        openai_reply(text="Done."),
    )
    _, events, _ = run(fake_server, repo, capsys, "--mode", "full-auto")

    first, second, _ = fake_server.requests
    assert "mcp__t__evolving" in offered(first)
    assert "mcp__t__evolving" not in offered(second) and "mcp__t__announce" in offered(second)
    [notice] = [e for e in of_type(events, "notice") if "mcp:t/evolving" in e["text"]]
    assert "(changed)" in notice["text"]
    announced, refused = of_type(events, "tool_result")
    assert announced["ok"] and refused["refused"] and "changed since" in refused["content"]


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP server on loopback in this process: its port, and what it received."""
    received: list[bytes] = []
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                received.append(conn.recv(100))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], received
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


def test_the_sandboxed_server_reaches_neither_the_network_nor_files_outside(
    fake_server, repo, home, capsys, tmp_path, listener
) -> None:
    port, received = listener
    outside = tmp_path / "outside.txt"
    outside.write_text("the secret plans\n")
    user_config(home, server_toml(), policy={"allow": ["mcp:t/*"]})
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                ("mcp__t__reach", {"port": port}),
                ("mcp__t__read_outside", {"path": str(outside)}),
            ]
        ),
        openai_reply(text="Both failed."),
    )
    _, events, _ = run(fake_server, repo, capsys, "--mode", "ask")

    reached, read = of_type(events, "tool_result")
    assert not reached["ok"] and "could not connect" in reached["content"]
    assert not read["ok"] and "could not read" in read["content"]
    assert "the secret plans" not in read["content"]
    assert received == []


def test_an_untrusted_folders_server_is_listed_and_not_started(
    fake_server, repo, home, capsys
) -> None:
    marker = repo / "started.txt"
    (repo / ".nanotui").mkdir()
    (repo / ".nanotui" / "config.toml").write_text(
        f'[mcp.servers.planted]\ncommand = "sh"\nargs = ["-c", "touch {marker}"]\n'
    )
    user_config(home)
    fake_server.enqueue(openai_reply(text="Hello."))
    code, _, err = run(fake_server, repo, capsys, "--mode", "full-auto")

    assert code == 0 and not marker.exists()
    assert "its 1 MCP server (planted) will not start" in err
    assert not any(name.startswith("mcp__") for name in offered(fake_server.requests[0]))
    assert main(["mcp", "list", "--json", "--workspace", str(repo)]) == 0
    [listed] = json.loads(capsys.readouterr().out)["servers"]
    assert listed == {
        "name": "planted",
        "kind": "stdio",
        "state": "not started: the folder is not trusted",
    }
    assert not marker.exists()
