"""The main screen: conversation and prompt, pending approval and session facts, status bar.

The engine's turn runs in a worker that only posts `EngineEvent` messages; every change to
a widget happens in the handlers below, in the order the events were emitted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from nanotui.engine.agent import Agent
from nanotui.engine.events import (
    ApprovalRequested,
    ApprovalResolved,
    AssistantMessage,
    CostUpdated,
    ErrorEvent,
    EventBase,
    Notice,
    TextDelta,
    ToolCallProposed,
    ToolResult,
    ToolStarted,
    TurnFinished,
    UserMessage,
)
from nanotui.tui.messages import EngineEvent
from nanotui.tui.modes import MODE_MEANINGS, is_raise, next_mode
from nanotui.tui.widgets.approval_panel import ApprovalPanel
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.session_panel import SessionPanel, format_cost
from nanotui.tui.widgets.status_bar import StatusBar

TURN_GROUP = "turn"
FINISH_MESSAGES = {
    "cancelled": "Interrupted.",
    "needs_approval": "The turn ended: an action needed an approval that was not given.",
    "refused": "The turn ended after a refusal.",
    "max_turns": "The turn reached its step limit; ask again to continue.",
}


def display_path(path: Path) -> str:
    """A path as a person reads it: the home folder shown as ~."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


class MainScreen(Screen[None]):
    """One session with the agent."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    AUTO_FOCUS = "#prompt"

    BINDINGS = [
        Binding("escape", "interrupt", "Interrupt", id="nanotui.interrupt"),
        Binding("shift+tab", "cycle_mode", "Mode", priority=True, id="nanotui.cycle_mode"),
    ]

    mode: reactive[str] = reactive("ask")
    busy: reactive[bool] = reactive(False)

    def __init__(self, agent: Agent, notices: Sequence[str] = ()) -> None:
        super().__init__()
        self.agent = agent
        self.notices = list(notices)
        self._turn_had_error = False
        self._handlers: dict[type[EventBase], Callable[[Any], Awaitable[None]]] = {
            UserMessage: self._user_message,
            TextDelta: self._text_delta,
            AssistantMessage: self._assistant_message,
            ToolCallProposed: self._tool_call_proposed,
            ApprovalRequested: self._approval_requested,
            ApprovalResolved: self._approval_resolved,
            ToolStarted: self._tool_started,
            ToolResult: self._tool_result,
            CostUpdated: self._cost_updated,
            Notice: self._notice,
            ErrorEvent: self._error,
            TurnFinished: self._turn_finished,
        }

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield ChatView(id="chat")
            with Vertical(id="side"):
                yield ApprovalPanel(id="approval")
                yield SessionPanel(id="session")
        yield PromptInput(id="prompt")
        yield StatusBar(id="status").data_bind(MainScreen.mode, MainScreen.busy)

    async def on_mount(self) -> None:
        agent = self.agent
        self.mode = agent.mode
        status = self.query_one(StatusBar)
        status.model_label = agent.provider.label
        status.sandbox = agent.sandbox_backend
        status.session_id = agent.session_id
        session = self.query_one(SessionPanel)
        session.model_label = agent.provider.label
        session.input_tokens = agent.cost.usage.input_tokens
        session.output_tokens = agent.cost.usage.output_tokens
        session.cost = self._cost_text(agent.cost.spent_usd, agent.cost.price is not None)
        await self._welcome()

    async def _welcome(self) -> None:
        chat = self.query_one(ChatView)
        where = display_path(self.agent.workspace)
        if self.agent.provider.is_demo:
            await chat.add_notice(
                f"Offline demo: a scripted model walks through the sample project in {where}, "
                "whatever you ask. Type anything and press Enter."
            )
        else:
            await chat.add_notice(
                f"Working in {where} with {self.agent.provider.label}. "
                "Type a request and press Enter."
            )
        await chat.add_notice(f"Mode {self.agent.mode}: {MODE_MEANINGS[self.agent.mode]}.")
        if self.agent.sandbox_backend == "plain":
            await chat.add_notice(
                "Commands run without a sandbox (backend: plain); the policy and your "
                "approvals still apply.",
                "warning",
            )
        for notice in self.notices:
            await chat.add_notice(notice, "warning")

    def _cost_text(self, spent_usd: float, priced: bool) -> str:
        return format_cost(spent_usd, priced=priced, is_demo=self.agent.provider.is_demo)

    # ---- the turn -----------------------------------------------------------------------

    @on(Input.Submitted, "#prompt")
    def send_prompt(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            return
        if self.busy:
            self.notify(
                "A turn is running; wait for it to finish or press Esc to interrupt it.",
                severity="warning",
            )
            return
        prompt = self.query_one(PromptInput)
        prompt.remember(text)
        prompt.value = ""
        self._turn_had_error = False
        self.busy = True
        self.run_turn(text)

    @work(group=TURN_GROUP, exclusive=True, exit_on_error=False)
    async def run_turn(self, prompt: str) -> None:
        """Drive one turn; only posts messages, never touches a widget."""
        async for event in self.agent.turn(prompt):
            self.post_message(EngineEvent(event))

    async def on_engine_event(self, message: EngineEvent) -> None:
        handler = self._handlers.get(type(message.event))
        if handler is None:
            return
        try:
            await handler(message.event)
        except Exception as exc:  # a display bug must not end the session or show a traceback
            self.log.error(f"Could not show {message.event.type}: {exc!r}")
            await self.query_one(ChatView).add_notice(
                f"Could not show a {message.event.type} event ({exc}); the session goes on.",
                "error",
            )

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed turn worker becomes a readable notice."""
        if event.worker.group != TURN_GROUP:
            return
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            await self.query_one(ChatView).add_notice(
                f"The turn stopped on an internal error: {error}.", "error"
            )
            await self._turn_over(interrupted=True)
        elif event.state in (WorkerState.SUCCESS, WorkerState.CANCELLED) and self.busy:
            await self._turn_over(interrupted=event.state == WorkerState.CANCELLED)

    async def _turn_over(self, *, interrupted: bool = False) -> None:
        """Leave no turn state behind: no open approval, no open reply, prompt focused."""
        approval = self.query_one(ApprovalPanel)
        if approval.request is not None:
            approval.clear()
        await self.query_one(ChatView).end_reply("", interrupted=interrupted)
        self.busy = False
        self.query_one(PromptInput).focus()

    # ---- events -------------------------------------------------------------------------

    async def _user_message(self, event: UserMessage) -> None:
        await self.query_one(ChatView).add_user(event.text)

    async def _text_delta(self, event: TextDelta) -> None:
        await self.query_one(ChatView).stream_text(event.text)

    async def _assistant_message(self, event: AssistantMessage) -> None:
        await self.query_one(ChatView).end_reply(event.text, interrupted=event.interrupted)

    async def _tool_call_proposed(self, event: ToolCallProposed) -> None:
        await self.query_one(ChatView).add_tool_call(
            event.call_id, event.tool, event.summary, event.arguments
        )

    async def _approval_requested(self, event: ApprovalRequested) -> None:
        block = self.query_one(ChatView).tool_call(event.call_id)
        if block is not None:
            block.status = "waiting"
        self.query_one(ApprovalPanel).show_request(event)

    async def _approval_resolved(self, event: ApprovalResolved) -> None:
        block = self.query_one(ChatView).tool_call(event.call_id)
        if block is not None:
            block.status = "rejected" if event.decision == "reject" else "approved"

    async def _tool_started(self, event: ToolStarted) -> None:
        block = self.query_one(ChatView).tool_call(event.call_id)
        if block is not None:
            block.status = "running"

    async def _tool_result(self, event: ToolResult) -> None:
        block = self.query_one(ChatView).tool_call(event.call_id)
        if block is not None:
            block.set_result(event.content, event.diff)
            if event.ok:
                block.status = "ok"
            elif event.refused:
                block.status = "rejected" if block.status == "rejected" else "refused"
            else:
                block.status = "failed"
        if event.files_changed:
            session = self.query_one(SessionPanel)
            session.files_changed = tuple(
                dict.fromkeys([*session.files_changed, *event.files_changed])
            )

    async def _cost_updated(self, event: CostUpdated) -> None:
        session = self.query_one(SessionPanel)
        session.input_tokens = event.session_usage.input_tokens
        session.output_tokens = event.session_usage.output_tokens
        session.cost = self._cost_text(event.session_usd, event.priced)

    async def _notice(self, event: Notice) -> None:
        await self.query_one(ChatView).add_notice(event.text, event.level)

    async def _error(self, event: ErrorEvent) -> None:
        self._turn_had_error = True
        await self.query_one(ChatView).add_notice(event.text, "error")

    async def _turn_finished(self, event: TurnFinished) -> None:
        chat = self.query_one(ChatView)
        if event.status == "cancelled":
            for block in chat.unfinished_tool_calls():
                block.status = "interrupted"
        if event.status != "done" and not self._turn_had_error:
            text = event.reason or FINISH_MESSAGES.get(event.status, f"Turn {event.status}.")
            await chat.add_notice(text, "warning")
        await self._turn_over(interrupted=event.status == "cancelled")

    @on(ApprovalPanel.Answered)
    def approval_answered(self, event: ApprovalPanel.Answered) -> None:
        self.query_one(PromptInput).focus()

    # ---- actions ------------------------------------------------------------------------

    def action_interrupt(self) -> None:
        if self.agent.busy:
            self.agent.cancel()  # the turn then ends with TurnFinished(status="cancelled")
        elif self.busy:  # the worker has not reached the engine yet
            self.workers.cancel_group(self, TURN_GROUP)
            self.notify("Interrupted.")

    async def stop_turn(self) -> None:
        """Interrupt a running turn and wait for its worker to end (used when quitting)."""
        self.action_interrupt()
        for worker in list(self.workers):
            if worker.group == TURN_GROUP and worker.is_running:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(worker.wait(), timeout=5)

    def action_cycle_mode(self) -> None:
        if self.busy:
            self.notify(
                "The mode can change between turns; press Esc to interrupt this one first.",
                severity="warning",
            )
            return
        old = self.agent.mode
        new = next_mode(old)
        self.agent.mode = new
        self.mode = new
        raised = is_raise(old, new) and new != "ask"
        self.notify(
            f"Mode {new}: {MODE_MEANINGS[new]}.",
            title="Mode changed",
            severity="warning" if raised else "information",
        )
