"""A live conversation equals the one its session log rebuilds, whatever the turns were.

Scripted turns (plain text, several tool calls, refusals, interrupts mid-stream and while an
approval waits, a retry, /clear, /resume) run in random orders against a fake model; after
each, the conversation the agent holds must be the one resume folds out of the log, and the
model must have been sent exactly that. A last check changes one rule of `apply` for the
rebuild only and expects every such change to be caught by the same turns.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fake_model_server import FakeModelServer, error_reply, openai_reply, stalled_reply

from nanotui.config_loading import load_settings
from nanotui.engine.agent import Agent
from nanotui.engine.approvals import resolve
from nanotui.engine.assembly import build_agent
from nanotui.engine.conversation import Conversation
from nanotui.engine.output_marker import marked
from nanotui.engine.session import load_conversation, rebuild_conversation
from nanotui.governance.audit import read_events
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.events import (
    ApprovalRequested,
    AssistantMessage,
    ConversationCleared,
    ConversationResumed,
    EventBase,
    ToolResult,
    UserMessage,
)
from nanotui.protocol.model_io import Message

Step = Callable[[Agent, FakeModelServer], Awaitable[None]]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NANOTUI_HOME", str(tmp_path / "home"))
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "a.py").write_text("one = 1\n")
    (folder / "b.py").write_text("two = 2\n")
    return folder


def make_agent(server: FakeModelServer, workspace: Path) -> Agent:
    flags = {
        "provider": {"base_url": server.openai_base_url, "model": "m", "tool_calling": "native"},
        "approval": {"mode": "ask"},
        "rate_limit": {"requests_per_minute": 0},
    }
    return build_agent(load_settings(workspace, flags, environ={}).settings, workspace)


async def drive(agent: Agent, prompt: str, answer: str = "approve") -> None:
    async with asyncio.timeout(20):
        async for event in agent.turn(prompt):
            if isinstance(event, ApprovalRequested):
                resolve(event, ApprovalAnswer(decision=answer))  # type: ignore[arg-type]


def read(path: str) -> tuple[str, dict[str, str]]:
    return ("read_file", {"path": path})


def command(line: str) -> tuple[str, dict[str, str]]:
    return ("run_command", {"command": line})


# ---- the scripted turns ---------------------------------------------------------------


async def says_text(agent: Agent, server: FakeModelServer) -> None:
    server.enqueue(openai_reply("A plain answer."))
    await drive(agent, "say something")


async def several_calls(agent: Agent, server: FakeModelServer) -> None:
    change = ("write_file", {"path": "c.py", "content": f"n = {random.random()}\n"})
    server.enqueue(
        openai_reply("Looking.", tool_calls=[read("a.py"), read("b.py"), change]),
        openai_reply("Read both, wrote one."),
    )
    await drive(agent, "read and write")


async def refused(agent: Agent, server: FakeModelServer) -> None:
    # One denied by policy, one rejected by the person.
    server.enqueue(
        openai_reply(tool_calls=[command("curl http://example.com"), command("make all")]),
        openai_reply("I may not."),
    )
    await drive(agent, "fetch it", answer="reject")


async def interrupted_mid_stream(agent: Agent, server: FakeModelServer) -> None:
    server.enqueue(stalled_reply(openai_reply("partial answer " * 10), after_events=3, stall_s=20))
    async with asyncio.timeout(20):
        async for event in agent.turn("tell me a long story"):
            if event.type == "text_delta":
                agent.cancel()


async def interrupted_while_asking(agent: Agent, server: FakeModelServer) -> None:
    # The read has a result; the command waits for approval when the turn is stopped.
    server.enqueue(openai_reply(tool_calls=[read("a.py"), command("make test")]))
    async with asyncio.timeout(20):
        async for event in agent.turn("test it"):
            if isinstance(event, ApprovalRequested):
                agent.cancel()


async def retried(agent: Agent, server: FakeModelServer) -> None:
    server.enqueue(
        error_reply(503, {"error": {"message": "busy"}}, headers={"Retry-After": "0"}),
        openai_reply("After a retry."),
    )
    await drive(agent, "again")


async def cleared(agent: Agent, server: FakeModelServer) -> None:
    agent.clear_conversation()


async def resumed(agent: Agent, server: FakeModelServer) -> None:
    agent.resume_conversation(EARLIER["session"])


STEPS: dict[str, Step] = {
    step.__name__: step
    for step in (
        says_text,
        several_calls,
        refused,
        interrupted_mid_stream,
        interrupted_while_asking,
        retried,
        resumed,
        cleared,
    )
}
EARLIER: dict[str, str] = {}
"""The session /resume picks up (made once per test, with a tool result of its own)."""


async def earlier_session(server: FakeModelServer, workspace: Path) -> str:
    server.enqueue(openai_reply(tool_calls=[read("b.py")]), openai_reply("Earlier."))
    agent = make_agent(server, workspace)
    await drive(agent, "an earlier question")
    agent.close()
    return agent.session_id


# ---- the checks -----------------------------------------------------------------------


def rebuilt(agent: Agent, conversation: Conversation | None = None) -> Conversation:
    assert agent.log is not None
    return rebuild_conversation(read_events(agent.log.path), conversation)[0]


def on_the_wire(server: FakeModelServer) -> list[tuple[str, str]]:
    sent = server.requests[-1].body["messages"][1:]  # after the system prompt
    return [(m["role"], m.get("content") or "") for m in sent]


def as_sent(messages: list[Message], marker: str) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in marked(messages, marker)]


async def run_and_compare(agent: Agent, server: FakeModelServer, names: list[str]) -> None:
    for name in names:
        await STEPS[name](agent, server)
        live = agent.conversation
        again = rebuilt(agent)
        assert again.messages == live.messages, f"after {names[: names.index(name) + 1]}"
        assert again.files_changed == live.files_changed
    # And the model is sent exactly what the agent holds.
    before = list(agent.conversation.messages)
    await says_text(agent, server)
    expected = as_sent([*before, Message(role="user", content="say something")], marker(agent))
    assert on_the_wire(server) == expected
    agent.close()
    resumed_from_log = load_conversation(agent.session_id)
    assert resumed_from_log.messages == agent.conversation.messages


def marker(agent: Agent) -> str:
    return agent._dispatcher.runner.marker


async def test_every_kind_of_turn_in_turn_rebuilds_the_live_conversation(
    fake_server: FakeModelServer, workspace: Path
) -> None:
    EARLIER["session"] = await earlier_session(fake_server, workspace)
    agent = make_agent(fake_server, workspace)
    await run_and_compare(agent, fake_server, [*STEPS, "says_text", "several_calls"])


@pytest.mark.parametrize("seed", range(10))
async def test_turns_in_any_order_rebuild_the_live_conversation(
    fake_server: FakeModelServer, workspace: Path, seed: int
) -> None:
    EARLIER["session"] = await earlier_session(fake_server, workspace)
    names = random.Random(seed).choices(list(STEPS), k=8)
    agent = make_agent(fake_server, workspace)
    await run_and_compare(agent, fake_server, names)


async def test_a_resumed_session_goes_on_with_the_conversation_it_rebuilt(
    fake_server: FakeModelServer, workspace: Path
) -> None:
    EARLIER["session"] = await earlier_session(fake_server, workspace)
    first = make_agent(fake_server, workspace)
    await run_and_compare(first, fake_server, ["several_calls", "interrupted_while_asking"])
    flags = {
        "provider": {
            "base_url": fake_server.openai_base_url,
            "model": "m",
            "tool_calling": "native",
        },
        "rate_limit": {"requests_per_minute": 0},
    }
    settings = load_settings(workspace, flags, environ={}).settings
    again = build_agent(settings, workspace, resume=first.session_id)
    assert again.conversation.messages == first.conversation.messages
    await run_and_compare(again, fake_server, ["refused", "resumed", "says_text"])


# ---- a rule changed in one place only is caught ---------------------------------------


class _OneRuleChanged(Conversation):
    """`apply` with one rule changed, for the rebuild only."""

    rule = ""

    def apply(self, event: EventBase) -> None:
        match self.rule, event:
            case "user message dropped", UserMessage():
                return
            case "tool calls dropped", AssistantMessage():
                event = event.model_copy(update={"tool_calls": []})
            case "interrupted text dropped", AssistantMessage(interrupted=True):
                return
            case "errors taken for success", ToolResult():
                event = event.model_copy(update={"ok": True})
            case "results not noting files", ToolResult():
                event = event.model_copy(update={"files_changed": []})
            case "clear ignored", ConversationCleared():
                return
            case "resume appends", ConversationResumed():
                self.messages.extend(self.load(event.session))
                return
        super().apply(event)


RULES = [
    "user message dropped",
    "tool calls dropped",
    "interrupted text dropped",
    "errors taken for success",
    "results not noting files",
    "clear ignored",
    "resume appends",
]


async def test_the_turns_catch_a_rule_changed_in_one_place(
    fake_server: FakeModelServer, workspace: Path
) -> None:
    EARLIER["session"] = await earlier_session(fake_server, workspace)
    agent = make_agent(fake_server, workspace)
    caught: set[str] = set()
    for name in ["says_text", *STEPS, "says_text"]:
        await STEPS[name](agent, fake_server)
        live = agent.conversation
        for rule in RULES:
            changed = _OneRuleChanged()
            changed.rule = rule
            again = rebuilt(agent, changed)
            if (again.messages, again.files_changed) != (live.messages, live.files_changed):
                caught.add(rule)
    agent.close()
    assert sorted(caught) == sorted(RULES)
