"""The offline demo: its sample project really has one bug, and the scripted walk fixes it.

The walk is driven by a small executor in this file that performs each tool call for real on
a copy of the sample project, so the demo's edits must apply and its test command must run.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from nanotui.protocol.model_io import (
    ChatRequest,
    Message,
    StreamDone,
    TextPiece,
    ToolCall,
    ToolCallPiece,
    ToolSpec,
    UsagePiece,
)
from nanotui.providers.base import Provider
from nanotui.providers.demo import (
    TEST_COMMAND,
    DemoProvider,
    copy_sample_project,
    is_sample_project,
    sample_project_path,
)

Executor = Callable[[ToolCall], Message]


def run_tests(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        TEST_COMMAND,
        shell=True,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def real_executor(project: Path) -> Executor:
    """Perform the demo's tool calls on `project`, as the real tools would."""

    def execute(call: ToolCall) -> Message:
        args = json.loads(call.arguments)
        if call.name == "list_dir":
            content = "\n".join(sorted(os.listdir(project / args["path"])))
        elif call.name == "read_file":
            content = (project / args["path"]).read_text()
        elif call.name == "edit_file":
            path = project / args["path"]
            text = path.read_text()
            assert text.count(args["old_string"]) == 1, args["old_string"]
            path.write_text(text.replace(args["old_string"], args["new_string"]))
            content = f"Edited {args['path']}."
        elif call.name == "run_command":
            done = run_tests(project) if args["command"] == TEST_COMMAND else None
            assert done is not None, f"unexpected command {args['command']!r}"
            content = f"exit code {done.returncode}\n{done.stdout}{done.stderr}"
        else:
            raise AssertionError(f"unexpected tool {call.name}")
        return Message(role="tool", content=content, tool_call_id=call.id, tool_name=call.name)

    return execute


async def collect(provider: DemoProvider, messages: list[Message]) -> tuple[str, list[ToolCall]]:
    text, calls, items = "", [], []
    async for item in provider.stream(ChatRequest(messages=messages)):
        items.append(item)
        if isinstance(item, TextPiece):
            text += item.text
        elif isinstance(item, ToolCallPiece):
            calls.append(item.call)
    assert isinstance(items[-2], UsagePiece) and items[-2].usage.output_tokens > 0
    assert items[-1] == StreamDone("tool_calls" if calls else "end")
    return text, calls


async def walk(execute: Executor, max_replies: int = 12) -> tuple[list[Message], list[list[str]]]:
    """Run the demo to its end; return the conversation and the tool names of each reply."""
    provider = DemoProvider(delay_s=0)
    messages = [Message(role="user", content="Tidy this project up, please.")]
    order: list[list[str]] = []
    for _ in range(max_replies):
        text, calls = await collect(provider, messages)
        messages.append(Message(role="assistant", content=text, tool_calls=calls))
        if not calls:
            return messages, order
        order.append([call.name for call in calls])
        messages.extend(execute(call) for call in calls)
    raise AssertionError("the demo did not finish")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_sample_project(tmp_path / "sample")


def test_sample_project_tests_fail_once_before_the_demo(project: Path) -> None:
    done = run_tests(project)
    assert done.returncode == 1
    assert "Ran 6 tests" in done.stderr
    assert "FAILED (failures=1)" in done.stderr
    assert is_sample_project(project)
    assert not is_sample_project(project / "tests")


def test_copy_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        copy_sample_project(tmp_path)
    assert copy_sample_project(tmp_path / "empty") == tmp_path / "empty"
    assert not list((tmp_path / "empty").rglob("__pycache__"))


async def test_full_walk_improves_fixes_and_ends_with_passing_tests(project: Path) -> None:
    messages, order = await walk(real_executor(project))

    assert order == [
        ["list_dir"],
        ["read_file", "read_file"],
        ["edit_file"],
        ["run_command"],
        ["edit_file"],
        ["run_command"],
    ]
    first_run, second_run = (m for m in messages if m.tool_name == "run_command")
    assert "FAILED (failures=1)" in first_run.content
    assert "exit code 0" in second_run.content
    assert run_tests(project).returncode == 0
    source = (project / "inventory.py").read_text()
    assert "item.quantity <= threshold" in source
    assert '"""Add `quantity` units' in source
    final = messages[-1]
    assert final.role == "assistant" and not final.tool_calls
    assert final.content.startswith("The tests pass now.")
    assert "offline demo" in final.content
    assert messages[1].content.startswith("Offline demo:")
    ids = [call.id for m in messages for call in m.tool_calls]
    assert ids[:3] == ["demo_1_1", "demo_2_1", "demo_2_2"] and len(set(ids)) == len(ids)


async def test_second_walk_on_a_fixed_project_finds_nothing_to_fix(project: Path) -> None:
    await walk(real_executor(project))
    messages, order = await walk(real_executor(project))
    assert order == [["list_dir"], ["read_file", "read_file"], ["run_command"]]
    assert "there is no bug to fix" in messages[-1].content


@pytest.mark.parametrize(
    "rejection",
    [
        "The user rejected this change. Their reason: keep restock as it is",
        "The user rejected this change: keep restock as it is",
    ],
)
async def test_rejected_edit_is_acknowledged_and_the_walk_stops(
    project: Path, rejection: str
) -> None:
    execute = real_executor(project)

    def reject_edits(call: ToolCall) -> Message:
        if call.name != "edit_file":
            return execute(call)
        content = rejection
        return Message(
            role="tool", content=content, tool_call_id=call.id, tool_name=call.name, is_error=True
        )

    messages, order = await walk(reject_edits)
    assert order == [["list_dir"], ["read_file", "read_file"], ["edit_file"]]
    assert '"keep restock as it is"' in messages[-1].content
    assert "No files were changed" in messages[-1].content
    assert (project / "inventory.py").read_text() == (
        sample_project_path() / "inventory.py"
    ).read_text()


async def test_refused_command_ends_with_a_summary_that_tests_were_not_run(project: Path) -> None:
    execute = real_executor(project)
    refusal = "Refused: `python3` needs approval and mode 'plan' does not give it."

    def refuse_commands(call: ToolCall) -> Message:
        if call.name != "run_command":
            return execute(call)
        return Message(
            role="tool", content=refusal, tool_call_id=call.id, tool_name=call.name, is_error=True
        )

    messages, order = await walk(refuse_commands)
    assert order[-1] == ["run_command"] and len(order) == 4
    final = messages[-1].content
    assert final.startswith("I could not run the tests: Refused:")
    assert "The tests could not be run" in final
    assert "`restock` is documented" in final


async def test_without_an_edit_tool_the_demo_reads_then_stops(project: Path) -> None:
    provider = DemoProvider(delay_s=0)
    tools = [ToolSpec(name=n, description="", parameters={}) for n in ("list_dir", "read_file")]
    execute = real_executor(project)
    messages = [Message(role="user", content="plan only")]
    for _ in range(3):
        text, calls = "", []
        async for item in provider.stream(ChatRequest(messages=messages, tools=tools)):
            if isinstance(item, TextPiece):
                text += item.text
            elif isinstance(item, ToolCallPiece):
                calls.append(item.call)
        messages.append(Message(role="assistant", content=text, tool_calls=calls))
        if not calls:
            break
        messages.extend(execute(call) for call in calls)
    names = [call.name for m in messages for call in m.tool_calls]
    assert names == ["list_dir", "read_file", "read_file"]
    assert "does not offer the `edit_file` tool" in messages[-1].content
    assert "No files were changed" in messages[-1].content


async def test_outside_the_sample_project_the_demo_says_so_and_stops(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print('hi')\n")
    messages, order = await walk(real_executor(tmp_path))
    assert order == [["list_dir"]]
    assert "not nanotui's sample project" in messages[-1].content


def test_demo_is_labelled_and_satisfies_the_protocol() -> None:
    provider = DemoProvider()
    assert isinstance(provider, Provider)
    assert (provider.kind, provider.model, provider.label, provider.is_demo) == (
        "demo",
        "demo",
        "offline demo",
        True,
    )


async def test_cancelling_mid_stream_stops_at_once() -> None:
    provider = DemoProvider(delay_s=0)
    pieces: list[str] = []
    first = asyncio.Event()

    async def consume() -> None:
        request = ChatRequest(messages=[Message(role="user", content="hi")])
        async for item in provider.stream(request):
            if isinstance(item, TextPiece):
                pieces.append(item.text)
                provider.delay_s = 600  # the next piece is ten minutes away
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 10)
    task.cancel()
    try:
        # Cancelled in its wait for the next piece, not after it.
        done, _ = await asyncio.wait({task}, timeout=30)
        assert task in done and task.cancelled()
    finally:
        provider.delay_s = 0  # a stream that ignored the cancel ends at once
        task.cancel()
    assert len(pieces) == 1
    await provider.aclose()
