"""End-to-end runs of `nanotui run` against a real loopback model server, in real git repos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_model_server import (
    anthropic_reply,
    cut_reply,
    error_reply,
    openai_raw_tool_call_reply,
    openai_reply,
)
from run_support import of_type, run, tool_messages

from nanotui.cli.main import main
from nanotui.governance.audit import UNLOGGED_TYPES
from nanotui.governance.audit_chain import verify_log
from nanotui.security.sandbox.choose import isolation_warning

FOO = "def foo():\n    return 1\n"
TEST_FOO = (
    "import unittest\n\nfrom foo import foo\n\n\n"
    "class FooTest(unittest.TestCase):\n    def test_foo(self):\n"
    "        self.assertEqual(foo(), 2)\n"
)
TEST_COMMAND = "python3 -m unittest -q test_foo"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "foo.py").write_text(FOO)
    (repo / "test_foo.py").write_text(TEST_FOO)
    (repo / "AGENTS.md").write_text("Run the tests with python3 -m unittest.\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "start"], cwd=repo, check=True)
    return repo


def test_read_edit_run_tests_and_finish(fake_server, repo, home, capsys) -> None:
    fake_server.enqueue(
        openai_reply(text="Let me read foo.", tool_calls=[("read_file", {"path": "foo.py"})]),
        openai_reply(
            tool_calls=[
                (
                    "edit_file",
                    {"path": "foo.py", "old_string": "return 1", "new_string": "return 2"},
                )
            ]
        ),
        openai_reply(tool_calls=[("run_command", {"command": TEST_COMMAND})]),
        openai_reply(
            text="foo now returns 2 and the test passes.",
            usage=dict(prompt=300, completion=12, cached=200, reasoning=4),
        ),
    )
    code, events, _ = run(fake_server, repo, capsys, "--mode", "full-auto")

    assert code == 0
    assert (repo / "foo.py").read_text() == "def foo():\n    return 2\n"
    result = events[-1]
    assert result["type"] == "result" and result["status"] == "done"
    assert result["files_changed"] == ["foo.py"]
    assert result["usage"]["input_tokens"] == 3 * 100 + 300
    assert result["usage"]["cached_input_tokens"] == 200
    assert result["cost_usd"] is None  # unpriced model: never a silent $0
    command_result = [e for e in of_type(events, "tool_result") if e["tool"] == "run_command"]
    assert command_result[0]["ok"] is True and command_result[0]["data"]["exit_code"] == 0

    first, second, _, last = (r.body for r in fake_server.requests)
    system = first["messages"][0]
    assert system["role"] == "system" and "python3 -m unittest" in system["content"]
    assert {t["function"]["name"] for t in first["tools"]} >= {"read_file", "edit_file"}
    assert first["stream_options"] == {"include_usage": True}
    [read_result] = tool_messages(second)
    assert read_result["tool_call_id"] == "call_1" and "return 1" in read_result["content"]
    assert "OK" in tool_messages(last)[-1]["content"]

    log = home / "sessions" / f"{result['session']}.jsonl"
    header, *records, closed = [json.loads(line) for line in log.read_text().splitlines()]
    assert header["type"] == "header" and header["payload"]["workspace"] == str(repo)
    assert header["payload"]["git_head"] and header["payload"]["model"] == "test-model"
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    # Every event is logged but the streamed pieces: the assistant_message holds the text.
    logged = [e["type"] for e in events if e["type"] not in UNLOGGED_TYPES]
    assert [r["type"] for r in records] == logged
    assert closed["type"] == "session_closed" and verify_log(log).ok
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_parallel_reads_and_arguments_split_over_many_chunks(fake_server, repo, home, capsys):
    fake_server.enqueue(
        openai_reply(
            tool_calls=[("read_file", {"path": "foo.py"}), ("read_file", {"path": "test_foo.py"})],
            arg_chunk_size=1,
        ),
        openai_reply(text="Both read."),
    )
    code, events, _ = run(fake_server, repo, capsys)
    assert code == 0
    kinds = [
        (e["type"], e.get("call_id"))
        for e in events
        if e["type"] in ("tool_started", "tool_result")
    ]
    # Both reads start before either finishes: they run together.
    assert [k for k, _ in kinds] == ["tool_started", "tool_started", "tool_result", "tool_result"]
    results = tool_messages(fake_server.requests[1].body)
    assert [m["tool_call_id"] for m in results] == ["call_1", "call_2"]
    assert "def foo" in results[0]["content"] and "class FooTest" in results[1]["content"]


def test_malformed_arguments_go_back_to_the_model(fake_server, repo, home, capsys) -> None:
    fake_server.enqueue(
        openai_raw_tool_call_reply("read_file", '{"path": "foo.py"'),
        openai_reply(tool_calls=[("read_file", {"path": "foo.py"})]),
        openai_reply(text="Read it."),
    )
    code, events, _ = run(fake_server, repo, capsys)
    assert code == 0
    [error] = tool_messages(fake_server.requests[1].body)
    assert "not valid JSON" in error["content"]
    assert of_type(events, "tool_result")[1]["ok"] is True


def test_three_malformed_calls_in_a_row_end_the_turn(fake_server, repo, home, capsys) -> None:
    fake_server.enqueue(*[openai_raw_tool_call_reply("read_file", '{"path": ') for _ in range(3)])
    code, events, _ = run(fake_server, repo, capsys)
    assert code == 1
    assert events[-1]["status"] == "stuck"
    assert len(fake_server.requests) == 3
    # The loop guard's count is the engine's own: a result's data is only what the tool said.
    assert [result["data"] for result in of_type(events, "tool_result")] == [{}, {}, {}]


def test_same_failing_call_three_times_ends_the_turn(fake_server, repo, home, capsys) -> None:
    missing = ("read_file", {"path": "nope.py"})
    fake_server.enqueue(*[openai_reply(tool_calls=[missing]) for _ in range(4)])
    code, events, _ = run(fake_server, repo, capsys)
    assert code == 1
    assert events[-1]["status"] == "stuck" and "failed 3 times" in events[-1]["message"]
    assert len(fake_server.requests) == 3
    assert all("arguments_key" not in r["data"] for r in of_type(events, "tool_result"))


def test_rate_limited_then_success(fake_server, repo, home, capsys) -> None:
    fake_server.enqueue(
        error_reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0"}),
        openai_reply(text="Hello."),
    )
    code, events, _ = run(fake_server, repo, capsys)
    assert code == 0
    [retry] = [e for e in of_type(events, "notice") if e["slot"] == "retry"]
    assert retry["text"].endswith("Attempt 1 of 5 failed; next in 0.0 s.")
    assert of_type(events, "assistant_message")[0]["text"] == "Hello."


def test_stream_cut_midway_leaves_no_half_written_file(fake_server, repo, home, capsys) -> None:
    big = "x = 1\n" * 200
    reply = openai_reply(
        text="Writing the new file now.",
        chunk_size=5,
        tool_calls=[("write_file", {"path": "new.py", "content": big})],
    )
    fake_server.enqueue(cut_reply(reply, after_events=12))
    code, events, _ = run(fake_server, repo, capsys, "--mode", "full-auto")
    assert code == 1
    assert not (repo / "new.py").exists()
    message = of_type(events, "assistant_message")[0]
    assert message["interrupted"] is True and message["text"].startswith("Writing")
    assert "broke off" in events[-1]["message"] or "interrupted" in events[-1]["message"].lower()
    assert not of_type(events, "tool_started")


def test_bad_key_is_one_clear_sentence(fake_server, repo, home, capsys) -> None:
    fake_server.enqueue(error_reply(401, {"error": {"message": "Incorrect API key provided"}}))
    code, events, _ = run(fake_server, repo, capsys)
    assert code == 1
    error = of_type(events, "error")[0]["text"]
    assert "key" in error.lower() and "\n" not in error
    assert len(fake_server.requests) == 1  # no retry on 401


def test_headless_refuses_what_needs_approval_and_exits_2(fake_server, repo, home, capsys):
    fake_server.enqueue(
        openai_reply(
            tool_calls=[
                (
                    "edit_file",
                    {"path": "foo.py", "old_string": "return 1", "new_string": "return 2"},
                )
            ]
        ),
        openai_reply(text="I could not edit without approval."),
    )
    code, events, _ = run(fake_server, repo, capsys, "--mode", "ask")
    assert code == 2
    assert (repo / "foo.py").read_text() == FOO
    [request] = of_type(events, "approval_requested")
    assert request["diff"].startswith("--- a/foo.py")
    resolved = of_type(events, "approval_resolved")[0]
    assert resolved["by"] == "headless" and resolved["decision"] == "reject"
    assert "needs approval" in tool_messages(fake_server.requests[1].body)[0]["content"]


def test_policy_refusal_then_giving_up_exits_4(fake_server, repo, home, capsys) -> None:
    fake_server.enqueue(
        openai_reply(tool_calls=[("run_command", {"command": "git push --force origin main"})]),
        openai_reply(text="I am not allowed to push."),
    )
    code, events, _ = run(fake_server, repo, capsys, "--mode", "full-auto")
    assert code == 4
    decision = of_type(events, "policy_decision")[0]
    assert decision["decision"] == "deny"
    assert "Refused by policy" in tool_messages(fake_server.requests[1].body)[0]["content"]


def test_budget_that_would_be_exceeded_exits_3(fake_server, repo, home, capsys) -> None:
    (home / "config.toml").write_text(
        '[budget]\nsession_usd = 0.01\n[prices."test-model"]\ninput_per_mtok = 3.0\n'
        "output_per_mtok = 15.0\n"
    )
    code, events, _ = run(fake_server, repo, capsys)
    assert code == 3
    assert "session budget" in of_type(events, "error")[0]["text"]
    assert fake_server.requests == []  # refused before anything was sent


def test_anthropic_end_to_end(fake_server, repo, home, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    fake_server.enqueue(
        anthropic_reply(
            text="Reading.",
            tool_calls=[("read_file", {"path": "foo.py"})],
            usage=dict(input=50, output=10, cache_read=1000, cache_write=200),
        ),
        anthropic_reply(text="foo returns 1."),
    )
    code, events, _ = run(fake_server, repo, capsys, anthropic=True)
    assert code == 0
    usage = events[-1]["usage"]
    assert usage["input_tokens"] == 50 + 1000 + 200 + 100
    assert usage["cached_input_tokens"] == 1000 and usage["cache_write_tokens"] == 200
    second = fake_server.requests[1]
    assert second.headers["x-api-key"] == "sk-ant-test"
    tool_result = second.body["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result" and "def foo" in str(tool_result["content"])


def test_console_script_runs_the_offline_demo(tmp_path: Path, home: Path) -> None:
    """The installed entry point walks the demo's whole scripted session."""
    env = {**os.environ, "NANOTUI_HOME": str(home)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nanotui.cli.main",
            "run",
            "--provider",
            "demo",
            "--mode",
            "full-auto",
            "--json",
            "fix the failing test",
            "--workspace",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["label"] == "offline demo"
    commands = [e for e in events if e["type"] == "tool_result" and e["tool"] == "run_command"]
    assert [c["ok"] for c in commands] == [False, True]
    assert events[-1]["files_changed"] == ["inventory.py"]
    assert "offline demo" in done.stderr


def test_a_refusal_after_a_success_in_the_same_reply_still_exits_4(
    fake_server, repo, home, capsys
) -> None:
    fake_server.enqueue(
        openai_reply(
            tool_calls=[("read_file", {"path": "foo.py"}), ("run_command", {"command": "curl x"})]
        ),
        openai_reply(text="I cannot fetch that."),
    )
    code, events, _ = run(fake_server, repo, capsys, "--mode", "full-auto")
    assert code == 4 and events[-1]["status"] == "refused"


def test_asking_again_and_again_for_approval_still_exits_2(fake_server, repo, home, capsys):
    change = ("edit_file", {"path": "foo.py", "old_string": "return 1", "new_string": "return 2"})
    fake_server.enqueue(*[openai_reply(tool_calls=[change]) for _ in range(4)])
    code, events, _ = run(fake_server, repo, capsys, "--mode", "ask")
    assert code == 2 and events[-1]["status"] == "needs_approval"
    assert len(fake_server.requests) == 3
    assert (repo / "foo.py").read_text() == FOO


def test_commands_without_a_sandbox_are_announced_in_output_and_log(
    fake_server, repo, home, capsys
) -> None:
    (home / "config.toml").write_text('[sandbox]\nbackend = "plain"\n')
    fake_server.enqueue(openai_reply(text="Nothing to do."))
    code, events, _ = run(fake_server, repo, capsys)
    assert code == 0
    warnings = [e["text"] for e in of_type(events, "notice") if e["level"] == "warning"]
    assert warnings == [isolation_warning("plain")]

    # The session log says it twice: in the header and as the event.
    log = home / "sessions" / f"{events[-1]['session']}.jsonl"
    header, *records = [json.loads(line) for line in log.read_text().splitlines()]
    assert header["payload"]["sandbox"] == "plain"
    assert header["payload"]["sandbox_isolates"] is False
    assert any(r["payload"].get("text") == isolation_warning("plain") for r in records)

    # The readable output puts it on stderr, before the reply.
    fake_server.enqueue(openai_reply(text="Still nothing."))
    argv = ["run", "hi", "--workspace", str(repo), "--base-url", fake_server.openai_base_url]
    code = main([*argv, "--model", "test-model"])
    err = capsys.readouterr().err
    assert code == 0 and "note: Commands run without a sandbox" in err


def test_an_isolating_sandbox_is_not_announced(fake_server, repo, home, capsys) -> None:
    (home / "config.toml").write_text('[sandbox]\nbackend = "auto"\n')
    fake_server.enqueue(openai_reply(text="Nothing to do."))
    code, events, _ = run(fake_server, repo, capsys)
    backend = events[0]["sandbox"]
    assert code == 0 and events[0]["type"] == "session_started"
    warnings = [e for e in of_type(events, "notice") if e["level"] == "warning"]
    assert (backend == "plain") == bool(warnings)
