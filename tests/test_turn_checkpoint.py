"""The turn's first checkpoint is taken while the first request goes out to the model.

The model's first words do not wait for git, yet nothing may run before the checkpoint is
in, its events may not split a streaming reply, and an interrupt (one or two) or a failing
snapshot must still end the turn with everything paid for recorded. Real git repositories,
a loopback model server, and a snapshot held back on purpose.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_model_server import error_reply, openai_reply, stalled_reply
from run_support import run
from telemetry_support import PRICED, telemetry_in_memory
from test_checkpoints_helpers import make_repo
from test_safety_net import created, drive, edit, make_agent

from nanotui.cli.main import main
from nanotui.engine import turn_checkpoint
from nanotui.engine.agent import Agent
from nanotui.engine.safety_net import SafetyNet
from nanotui.protocol.events import TextDelta, ToolStarted, TurnFinished
from nanotui.vcs.checkpoints import Checkpoints

TOKEN = "ghp_" + "a" * 36
TEXT = f"Your token is {TOKEN} for now.\n"


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> Path:
    return make_repo(tmp_path / "repo", {"a.py": "a = 1\n", "b.py": "b = 1\n"})


def hold_snapshots(monkeypatch: pytest.MonkeyPatch, until: Callable[[], bool]) -> list[str]:
    """Hold every snapshot (in its thread) until `until()` holds or 5 s pass; what it saw."""
    seen: list[str] = []
    take = SafetyNet._snapshot

    def held(self: SafetyNet, label: str, kind: str, turn: int):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 5
        while not until() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append("in time" if until() else "waited 5 s")
        return take(self, label, kind, turn)

    monkeypatch.setattr(SafetyNet, "_snapshot", held)
    return seen


def hold_for(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    started = time.monotonic()
    hold_snapshots(monkeypatch, lambda: time.monotonic() - started > seconds)


def reply_stalled_inside_the_token():
    """TEXT in four-character events, the server silent for 1.5 s inside the token."""
    base = openai_reply(TEXT, chunk_size=4)
    index = next(i for i, e in enumerate(base.events) if b'"p_aa"' in e)
    return stalled_reply(base, index + 1, stall_s=1.5)


async def test_the_first_request_goes_out_while_the_turns_checkpoint_is_taken(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = hold_snapshots(monkeypatch, lambda: bool(fake_server.requests))
    fake_server.enqueue(openai_reply("hello"))
    agent = make_agent(fake_server, repo)
    events = await drive(agent, "hi")
    # The snapshot was still running when the model was asked; the log keeps its order.
    assert seen == ["in time"]
    kinds = [e.type for e in events if e.type != "text_delta"]
    assert kinds[1:4] == ["user_message", "checkpoint_created", "assistant_message"]
    agent.close()


async def test_a_tool_call_waits_for_the_turns_checkpoint(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Held until the model has been asked twice: a tool that did not wait would run meanwhile.
    slow = hold_snapshots(monkeypatch, lambda: len(fake_server.requests) >= 2)
    fake_server.enqueue(
        openai_reply(tool_calls=[edit("b.py", "b = 1", "b = 2")]), openai_reply("done")
    )
    agent = make_agent(fake_server, repo)
    events = await drive(agent, "change b")
    assert slow[0] == "waited 5 s"  # nothing went on before the checkpoint was taken
    turn = created(events)[0]
    first_tool = next(i for i, e in enumerate(events) if isinstance(e, ToolStarted))
    assert events.index(turn) < first_tool
    with Checkpoints(repo) as checkpoints:
        checkpoints.restore(turn.checkpoint)
    assert (repo / "b.py").read_text() == "b = 1\n"  # taken before the edit
    agent.close()


async def test_the_checkpoint_never_lands_inside_a_streaming_reply(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold_for(monkeypatch, 0.5)  # done while the reply is still streaming
    fake_server.enqueue(reply_stalled_inside_the_token())
    agent = make_agent(fake_server, repo)
    kinds = [e.type for e in await drive(agent, "hi")]
    first = kinds.index("text_delta")
    last = len(kinds) - 1 - kinds[::-1].index("text_delta")
    assert set(kinds[first : last + 1]) == {"text_delta"}
    assert kinds[last + 1 : last + 3] == ["checkpoint_created", "assistant_message"]
    agent.close()


def test_a_secret_split_where_the_checkpoint_was_taken_is_still_redacted(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `run --json` redacts the stream as one reply; an event in its middle would end it.
    hold_for(monkeypatch, 0.5)
    fake_server.enqueue(reply_stalled_inside_the_token())
    argv = ["run", "hi", "--json", "--workspace", str(repo), "--mode", "full-auto"]
    main([*argv, "--base-url", fake_server.openai_base_url, "--model", "m"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    streamed = "".join(line["text"] for line in lines if line["type"] == "text_delta")
    assert TOKEN not in streamed and "[REDACTED:github_token]" in streamed


async def test_a_second_interrupt_while_the_snapshot_runs_still_ends_the_turn(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold_for(monkeypatch, 1.0)
    fake_server.enqueue(stalled_reply(openai_reply("hello there"), 3, stall_s=5))
    agent = make_agent(fake_server, repo)
    events = []

    async def turn() -> None:
        async for event in agent.turn("hi"):
            events.append(event)

    task = asyncio.ensure_future(turn())
    try:
        while not any(isinstance(e, TextDelta) for e in events):
            await asyncio.sleep(0.01)
        agent.cancel()  # Esc
        await asyncio.sleep(0.05)
        agent.cancel()  # Esc again, or quitting, while the snapshot runs
        await asyncio.wait_for(task, 10)
        logged = await logged_in_time(agent, "checkpoint_created")
    finally:
        agent.close()
    finished = [e for e in events if isinstance(e, TurnFinished)]
    assert [f.status for f in finished] == ["cancelled"]
    last = agent.conversation.messages[-1]
    assert last.role == "assistant" and last.content.startswith("hel")  # what streamed is kept
    # The second interrupt left the snapshot to finish on its own; the log records it.
    assert any("still being taken" in e.text for e in events if e.type == "notice")
    assert logged


async def test_a_failing_snapshot_still_records_the_paid_reply(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: SafetyNet, label: str, kind: str):  # type: ignore[no-untyped-def]
        raise RuntimeError("unexpected failure in the snapshot")

    monkeypatch.setattr(SafetyNet, "_snapshot", broken)
    fake_server.enqueue(openai_reply("hello", usage={"prompt": 100, "completion": 20}))
    agent = make_agent(fake_server, repo)
    events = await drive(agent, "hi")
    agent.close()
    assert len(fake_server.requests) == 1
    assert agent.cost.usage.output_tokens == 20  # the request was paid for: it is counted
    assert agent.cost._reservation is None  # and its held worst case settled
    finished = [e for e in events if isinstance(e, TurnFinished)]
    assert [f.status for f in finished] == ["error"]


async def test_a_request_refused_at_once_still_ends_with_the_checkpoint_first(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold_for(monkeypatch, 0.3)
    fake_server.enqueue(error_reply(401, {"error": {"message": "bad key", "type": "auth"}}))
    agent = make_agent(fake_server, repo)
    kinds = [e.type for e in await drive(agent, "hi")]
    assert kinds[-3:] == ["checkpoint_created", "error", "turn_finished"]
    assert not agent._turn_checkpoint.pending
    agent.close()


def test_the_requests_span_starts_when_the_request_goes_out(
    fake_server, repo, home, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with telemetry_in_memory(monkeypatch) as telemetry:
        (home / "config.toml").write_text(PRICED)
        hold_for(monkeypatch, 0.4)
        # The model answers 1 s after the request: the span lasts about that long.
        fake_server.enqueue(stalled_reply(openai_reply("hello"), 1, stall_s=1.0))
        run(fake_server, repo, capsys, "--mode", "full-auto")
        (chat,) = [s for s in telemetry.spans.get_finished_spans() if s.name.startswith("chat")]
        assert (chat.end_time - chat.start_time) / 1e9 > 0.9


async def logged_in_time(agent: Agent, kind: str) -> bool:
    """Whether the session log holds a `kind` line within 10 s."""
    assert agent.log is not None
    deadline = time.monotonic() + 10
    while f'"type":"{kind}"' not in agent.log.path.read_text():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def run_turn(agent, prompt: str, events: list) -> None:  # type: ignore[no-untyped-def]
    async for event in agent.turn(prompt):
        events.append(event)


async def streaming(agent: Agent, prompt: str, events: list) -> asyncio.Task[None]:
    """The turn, running, once its reply has begun to stream."""
    task = asyncio.ensure_future(run_turn(agent, prompt, events))
    while not any(isinstance(e, TextDelta) for e in events):
        await asyncio.sleep(0.01)
    return task


async def test_an_interrupt_while_a_failed_turn_waits_for_the_checkpoint_still_ends_it(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold_for(monkeypatch, 1.0)

    def broken(self: Agent):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug while building the request")

    monkeypatch.setattr(Agent, "_build_request", broken)
    agent = make_agent(fake_server, repo)
    events: list = []
    task = asyncio.ensure_future(run_turn(agent, "hi", events))
    await asyncio.sleep(0.3)
    agent.cancel()  # Esc while the error's handling waits for the snapshot
    await asyncio.wait_for(task, 10)
    kinds = [e.type for e in events]
    assert kinds[-3:] == ["notice", "error", "turn_finished"]  # left to finish on its own
    assert not agent._turn_checkpoint.pending  # nothing carried over into the next turn
    assert await logged_in_time(agent, "checkpoint_created")
    agent.close()


async def test_a_snapshot_failing_during_an_interrupt_still_ends_the_turn(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: SafetyNet, label: str, kind: str):  # type: ignore[no-untyped-def]
        time.sleep(1.0)
        raise RuntimeError("unexpected failure in the snapshot")

    monkeypatch.setattr(SafetyNet, "_snapshot", broken)
    fake_server.enqueue(stalled_reply(openai_reply("hello there"), 3, stall_s=5))
    agent = make_agent(fake_server, repo)
    events: list = []
    task = await streaming(agent, "hi", events)
    agent.cancel()
    await asyncio.wait_for(task, 10)
    agent.close()
    notices = [e.text for e in events if e.type == "notice"]
    assert any("checkpoint failed" in text for text in notices)
    assert [e.status for e in events if isinstance(e, TurnFinished)] == ["cancelled"]
    assert agent.conversation.messages[-1].role == "assistant"  # the streamed text is kept


async def test_an_interrupt_as_the_snapshot_finishes_keeps_its_checkpoint(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold_for(monkeypatch, 0.5)
    fake_server.enqueue(openai_reply("hello"))  # the reply ends before the snapshot
    agent = make_agent(fake_server, repo)
    start = agent._turn_checkpoint.start

    def start_and_cancel_on_completion(safety, prompt):  # type: ignore[no-untyped-def]
        start(safety, prompt)
        # Esc handled in the turn of the loop in which the snapshot completes.
        agent._turn_checkpoint._task.add_done_callback(lambda _: agent.cancel())

    monkeypatch.setattr(agent._turn_checkpoint, "start", start_and_cancel_on_completion)
    events: list = []
    await run_turn(agent, "hi", events)
    agent.close()
    kinds = [e.type for e in events]
    assert kinds[-1] == "turn_finished" and events[-1].status == "cancelled"
    assert "checkpoint_created" in kinds


async def test_an_interrupt_ends_the_turn_while_another_process_holds_the_snapshot_lock(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turn_checkpoint, "ENDING_WAIT_S", 0.3)
    fake_server.enqueue(stalled_reply(openai_reply("hello there"), 3, stall_s=30))
    agent = make_agent(fake_server, repo)
    assert agent.safety is not None
    lock_file = await asyncio.to_thread(lambda: agent.safety.checkpoints().storage.lock_file)
    # Another nanotui on the same work tree holds the lock (stopped with ctrl-z mid-snapshot).
    holder = open(lock_file, "a")  # noqa: SIM115 (released in the finally)
    fcntl.flock(holder, fcntl.LOCK_EX)
    events: list = []
    task = asyncio.ensure_future(run_turn(agent, "hi", events))
    try:
        while not any(isinstance(e, TextDelta) for e in events):
            await asyncio.sleep(0.01)
        agent.cancel()
        await asyncio.wait_for(task, 5)  # ends without the snapshot
        assert "checkpoint_created" not in [e.type for e in events]
        assert any("still being taken" in e.text for e in events if e.type == "notice")
        assert events[-1].type == "turn_finished"
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        holder.close()
    # Once the lock is free the snapshot finishes, and the session log records it.
    assert await logged_in_time(agent, "checkpoint_created")
    agent.close()


async def test_a_snapshot_left_to_finish_keeps_its_turns_number_and_undoes_no_other_turn(
    fake_server, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(turn_checkpoint, "ENDING_WAIT_S", 0.3)
    free = {"go": True}
    hold_snapshots(monkeypatch, lambda: free["go"])
    fake_server.enqueue(
        openai_reply("one"),
        stalled_reply(openai_reply("hello there"), 3, stall_s=30),
        openai_reply("three"),
    )
    agent = make_agent(fake_server, repo)
    assert agent.safety is not None
    try:
        await run_turn(agent, "first", [])
        (repo / "a.py").write_text("a = 99\n")
        free["go"] = False  # the second turn's snapshot is held up
        events: list = []
        task = await streaming(agent, "second", events)
        agent.cancel()
        await asyncio.wait_for(task, 5)
        # Left to finish on its own: nothing claims to undo the second turn, least of all
        # the first turn's checkpoint (which would undo the first turn's work as well).
        assert agent.safety.first_of_turn is None
        third = asyncio.ensure_future(run_turn(agent, "third", []))
        await asyncio.sleep(0.3)
        free["go"] = True
        await asyncio.wait_for(third, 10)
        assert await logged_in_time(agent, "checkpoint_created")
        lines = [json.loads(line) for line in agent.log.path.read_text().splitlines()]
        turns = {
            line["payload"]["reason"]: line["payload"]["turn"]
            for line in lines
            if line["type"] == "checkpoint_created"
        }
        assert turns["before: second"] == 2  # not the turn that was running when it finished
    finally:
        agent.close()
