"""The main screen: conversation and prompt, pending approval and session facts, status bar.

The engine's turn runs in a worker that only posts `EngineEvent` messages; every change to
a widget happens in the handlers below, in the order the events were emitted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from nanotui.protocol.basics import MODE_ORDER, UserFacingError, visible_controls
from nanotui.protocol.events import (
    ApprovalRequested,
    ApprovalResolved,
    AssistantMessage,
    CostUpdated,
    ErrorEvent,
    EventBase,
    FileChangedExternally,
    Notice,
    TextDelta,
    ToolCallProposed,
    ToolResult,
    ToolStarted,
    TurnFinished,
    UsageReported,
    UserMessage,
)
from nanotui.protocol.session_port import SessionPort
from nanotui.tui import collector
from nanotui.tui.editor import edit_in_editor
from nanotui.tui.messages import EngineEvent
from nanotui.tui.modes import MODE_MEANINGS, is_raise, next_mode
from nanotui.tui.palette import CommandEntry
from nanotui.tui.replay_chat import show_earlier_conversation
from nanotui.tui.screens.checkpoints import CheckpointBrowserScreen
from nanotui.tui.screens.slash_handler import SlashHandler
from nanotui.tui.screens.timeline import TimelineScreen
from nanotui.tui.widgets.approval_panel import ApprovalPanel, last_paragraph
from nanotui.tui.widgets.chat_view import ChatView
from nanotui.tui.widgets.cost_meter import CostMeter
from nanotui.tui.widgets.prompt_input import PromptInput
from nanotui.tui.widgets.status_bar import StatusBar
from nanotui.tui.widgets.timeline import Timeline

TURN_GROUP = "turn"
WATCH_GROUP = "watch"
"""The worker that reports edits made outside nanotui (see `watch_workspace`)."""
SETTLE_AFTER_S = 0.25
"""How long after a turn's end its garbage is collected: its last frames are out by then."""
COST_REFRESH_S = 10.0
"""How often, between turns, the cost meter is brought up to date (other processes spend)."""
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
        Binding("ctrl+t", "timeline", "Timeline, full screen", id="nanotui.timeline"),
        Binding("ctrl+b", "checkpoints", "Checkpoints", id="nanotui.checkpoints"),
    ]

    mode: reactive[str] = reactive("ask")
    busy: reactive[bool] = reactive(False)

    def __init__(
        self, session: SessionPort, notices: Sequence[str] = (), *, trusted: bool = False
    ) -> None:
        super().__init__()
        self.session = session
        self.notices = list(notices)
        self.trusted = trusted
        self.slash = SlashHandler(self)
        self._turn_had_error = False
        self._prompt_sent: tuple[str, str | None] = ("", None)
        """The last prompt this screen sent, and how it was typed (`Submitted.typed`)."""
        self._last_reply = ""
        """The model's last finished reply: the approval pane keeps its last paragraph in view."""
        self._settling: Timer | None = None
        """The timer that collects the last turn's garbage a moment after its end."""
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
            UsageReported: self._usage_reported,
            Notice: self._notice,
            ErrorEvent: self._error,
            TurnFinished: self._turn_finished,
            FileChangedExternally: self._file_changed_externally,
        }

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield ChatView(id="chat")
            with Vertical(id="side"):
                yield ApprovalPanel(
                    self.session.workspace if self.session.workspace_is_local else None,
                    answer=self.session.resolve_approval,
                    id="approval",
                )
                yield CostMeter(id="cost")
                yield Timeline(id="timeline")
        yield PromptInput(id="prompt").data_bind(current_mode=MainScreen.mode)
        yield StatusBar(id="status").data_bind(MainScreen.mode, MainScreen.busy)

    async def on_mount(self) -> None:
        session = self.session
        self.mode = session.mode
        status = self.query_one(StatusBar)
        status.model_label = session.model_label
        status.sandbox = session.sandbox_backend
        status.session_id = session.session_id
        status.runs_at = session.runs_at
        status.trusted = self.trusted
        status.managed = session.setting_origins().managed
        meter = self.query_one(CostMeter)
        meter.show_model(session.model_label, is_demo=session.is_demo)
        meter.show_cost(session.cost_status())
        self.set_interval(COST_REFRESH_S, self._refresh_cost)
        await self._welcome()
        self.watch_workspace()
        # From here on, garbage is collected between frames (see collector.py).
        collector.start(self)

    def on_unmount(self) -> None:
        # Before Textual cancels the worker: a stopped watcher thread ends within 50 ms.
        self.session.stop_watching()
        collector.stop()

    async def _welcome(self) -> None:
        chat = self.query_one(ChatView)
        if self.session.resumed:  # --continue, `sessions resume`: what was said, then the greeting
            messages = self.session.message_count
            await show_earlier_conversation(
                chat, self.session.session_id, messages, self.session.earlier_events
            )
        where = display_path(self.session.workspace)
        if self.session.is_demo:
            await chat.add_notice(
                f"Offline demo: a scripted model walks through the sample project in {where}, "
                "whatever you ask. Type anything and press Enter."
            )
        else:
            await chat.add_notice(
                f"Working in {where} with {self.session.model_label}. "
                "Type a request and press Enter."
            )
        await chat.add_notice(f"Mode {self.session.mode}: {MODE_MEANINGS[self.session.mode]}.")
        if warning := self.session.isolation_warning:
            await chat.add_notice(warning, "warning")
        for notice in self.notices:
            await chat.add_notice(notice, "warning")

    # ---- the turn -----------------------------------------------------------------------

    @on(PromptInput.Submitted, "#prompt")
    def send_prompt(self, event: PromptInput.Submitted) -> None:
        event.stop()
        text = event.text  # stripped, never blank
        if self.busy:
            self.notify(
                "A turn is running; wait for it to finish or press Esc to interrupt it.",
                severity="warning",
            )
            return
        prompt = self.query_one(PromptInput)
        prompt.remember(text)
        prompt.clear()
        self._prompt_sent = (text, event.typed)
        self._turn_had_error = False
        self.busy = True
        self.run_turn(text)

    @on(PromptInput.SlashCommand, "#prompt")
    async def slash_command(self, event: PromptInput.SlashCommand) -> None:
        event.stop()
        prompt = self.query_one(PromptInput)
        prompt.remember(event.text)
        prompt.clear()
        await self.slash.run(event.name, event.argument)

    def command_entries(self) -> list[CommandEntry]:
        """What the command palette offers on this screen (read each time it opens)."""
        run = self.slash.run
        entries = [
            CommandEntry(
                "Interrupt", "Stop the model and any running command", self.action_interrupt
            ),
            CommandEntry(
                "Cycle mode", "plan → ask → auto-edit → full-auto", self.action_cycle_mode
            ),
            *(
                CommandEntry(f"Mode: {mode}", MODE_MEANINGS[mode], partial(run, "mode", mode))
                for mode in MODE_ORDER
            ),
            CommandEntry("Model", "Show or change the model", partial(run, "model", "")),
            CommandEntry(
                "Clear conversation", "The model starts afresh", partial(run, "clear", "")
            ),
            CommandEntry("Show cost", "Tokens and spending so far", partial(run, "cost", "")),
            CommandEntry(
                "Show audit log", "Where this session is logged", partial(run, "audit", "")
            ),
            CommandEntry(
                "Timeline", "Every event of this session, filterable", self.action_timeline
            ),
            CommandEntry(
                "Checkpoints",
                "Browse, compare and restore checkpoints of this work tree",
                self.action_checkpoints,
            ),
            CommandEntry("Resume a session", "List recent sessions", partial(run, "resume", "")),
            CommandEntry(
                "Trust this folder", "Apply its project config in full", partial(run, "trust", "")
            ),
        ]
        panel = self.query_one(ApprovalPanel)
        if panel.pending:
            entries += [
                CommandEntry(
                    "Approve",
                    "Apply the selected hunks or run the command (y)",
                    panel.action_approve,
                ),
                CommandEntry("Reject", "Reject, with an optional reason (n)", panel.action_reject),
                CommandEntry(
                    "Always allow",
                    "Apply and allow this kind for the session (a)",
                    panel.action_always,
                ),
                CommandEntry(
                    "Edit in $EDITOR", "Edit the change before applying it (e)", panel.action_edit
                ),
                CommandEntry(
                    "Split / unified diff", "Switch the diff view (s)", panel.action_toggle_view
                ),
                CommandEntry(
                    "Next pending item",
                    "Move to the next approval (tab)",
                    partial(panel.action_switch, 1),
                ),
            ]
        return entries

    @work(group=TURN_GROUP, exclusive=True, exit_on_error=False)
    async def run_turn(self, prompt: str) -> None:
        """Drive one turn; only posts messages, never touches a widget.

        Fragments of text that arrive together (one read from the network holds dozens) go
        out as one message: each message costs the screen a dispatch, and a flood of them
        holds the next frame back.
        """
        pending: list[str] = []

        def post_text() -> None:
            if pending:
                self.post_message(EngineEvent(TextDelta(text="".join(pending))))
                pending.clear()

        try:
            async for event in self.session.turn(prompt):
                if isinstance(event, TextDelta):
                    if not pending:
                        # Runs once the fragments already received have been gathered.
                        asyncio.get_running_loop().call_soon(post_text)
                    pending.append(event.text)
                    continue
                post_text()
                self.post_message(EngineEvent(event))
        finally:
            post_text()  # before the worker's end (a cancel too) closes the reply

    @work(group=WATCH_GROUP, exit_on_error=False)
    async def watch_workspace(self) -> None:
        """Report edits made outside nanotui (the user's editor) for as long as the screen lives."""
        async for event in self.session.watch_workspace():
            self.post_message(EngineEvent(event))

    async def on_engine_event(self, message: EngineEvent) -> None:
        handler = self._handlers.get(type(message.event))
        try:
            self.query_one(Timeline).add_event(message.event)
            if handler is not None:
                await handler(message.event)
        except Exception as exc:  # a display bug must not end the session or show a traceback
            self.log.error(f"Could not show {message.event.type}: {exc!r}")
            await self.query_one(ChatView).add_notice(
                f"Could not show a {message.event.type} event ({exc}); the session goes on.",
                "error",
            )

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed turn worker becomes a readable notice."""
        if event.worker.group == WATCH_GROUP and event.state == WorkerState.ERROR:
            await self.query_one(ChatView).add_notice(
                f"Edits made outside nanotui are no longer watched: {event.worker.error}.",
                "warning",
            )
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
            await approval.clear()
        chat = self.query_one(ChatView)
        await chat.end_reply("", interrupted=interrupted)
        chat.end_turn()
        await chat.fold_earlier_turns()
        self.query_one(CostMeter).end_stream()
        self.busy = False
        self.query_one(PromptInput).focus()
        # Once the frames that end the turn are out: the collection takes tens of ms, and
        # holds the interpreter lock, so the reply's last words, drawn but not yet written
        # by Textual's output thread, waited for it (`call_after_refresh` was too soon).
        self._settling = self.set_timer(
            SETTLE_AFTER_S, self._settle, name="settle the turn's garbage"
        )

    def watch_busy(self, busy: bool) -> None:
        if busy:  # young collections only, until the turn's garbage is settled (`_settle`)
            collector.turn_started()
            if self._settling is not None:
                # A turn started since: it settles at its own end, not in the middle of it
                # or just as it ends (were it over within the delay).
                self._settling.stop()
                self._settling = None

    def _settle(self) -> None:
        self._settling = None
        if not self.busy:
            collector.settle()

    # ---- events -------------------------------------------------------------------------

    async def _user_message(self, event: UserMessage) -> None:
        self._last_reply = ""
        sent, typed = self._prompt_sent
        if event.text == sent:
            self._prompt_sent = ("", None)  # a later prompt of the same words was not typed here
        else:
            typed = None  # another client's prompt on a shared session, or a stop hook's
        await self.query_one(ChatView).add_user(event.text, typed)

    async def _text_delta(self, event: TextDelta) -> None:
        await self.query_one(ChatView).stream_text(event.text)
        self.query_one(CostMeter).add_streamed(event.text)

    async def _assistant_message(self, event: AssistantMessage) -> None:
        self._last_reply = event.text
        await self.query_one(ChatView).end_reply(event.text, interrupted=event.interrupted)

    async def _tool_call_proposed(self, event: ToolCallProposed) -> None:
        await self.query_one(ChatView).add_tool_call(
            event.call_id, event.tool, event.summary, event.arguments
        )

    async def _approval_requested(self, event: ApprovalRequested) -> None:
        block = self.query_one(ChatView).tool_call(event.call_id)
        if block is not None:
            block.status = "waiting"
        await self.query_one(ApprovalPanel).add_request(event, last_paragraph(self._last_reply))

    async def _approval_resolved(self, event: ApprovalResolved) -> None:
        await self.query_one(ApprovalPanel).remove_request(event.call_id)
        block = self.query_one(ChatView).tool_call(event.call_id)
        if block is not None:
            statuses = {"reject": "rejected", "interrupted": "interrupted"}
            block.status = statuses.get(event.decision, "approved")

    async def _tool_started(self, event: ToolStarted) -> None:
        block = self.query_one(ChatView).tool_call(event.call_id)
        if block is not None:
            block.status = "running"

    async def _tool_result(self, event: ToolResult) -> None:
        block = self.query_one(ChatView).tool_call(event.call_id)
        if block is not None:
            block.show_outcome(event)
        if event.files_changed:
            self.query_one(CostMeter).add_files(event.files_changed)

    async def _usage_reported(self, event: UsageReported) -> None:
        self.query_one(CostMeter).show_usage(event.usage)

    async def _cost_updated(self, event: CostUpdated) -> None:
        self.query_one(CostMeter).show_cost(event)

    def _refresh_cost(self) -> None:
        """Between turns: today's spending by other processes, requests leaving the minute."""
        if self.busy:
            return
        try:
            self.query_one(CostMeter).show_cost(self.session.cost_status())
        except Exception as exc:  # the ledger unreadable for a moment: the next tick retries
            self.log.error(f"Could not refresh the cost meter: {exc!r}")

    async def _notice(self, event: Notice) -> None:
        if event.text == self.session.isolation_warning:
            return  # already said when the screen opened
        await self.query_one(ChatView).update_notice(event.text, event.level, slot=event.slot)

    async def _file_changed_externally(self, event: FileChangedExternally) -> None:
        panel = self.query_one(ApprovalPanel)
        request = panel.request
        # A file's name is anyone's text (a command's, an MCP server's, the repository's):
        # shown as it is, never read as markup, its control characters as symbols.
        if panel.recheck_stale(event.paths, everything=event.more > 0) and request is not None:
            self.notify(
                f"{visible_controls(request.path or '', keep='')} changed on disk, so its "
                "pending diff is stale and cannot be approved; press n to reject it and let "
                "the model read the file again.",
                title="Changed outside nanotui",
                severity="warning",
                markup=False,
            )
            return
        names = visible_controls(", ".join(event.paths[:3]), keep="")
        more = len(event.paths) - 3 + event.more
        self.notify(
            names + (f" and {more} more" if more > 0 else ""),
            title="Changed outside nanotui",
            markup=False,
        )

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
        panel = self.query_one(ApprovalPanel)
        if len(panel.pending) <= 1:
            self.query_one(PromptInput).focus()

    @on(ApprovalPanel.EditRequested)
    async def edit_change(self, event: ApprovalPanel.EditRequested) -> None:
        """Open the proposed file in $VISUAL/$EDITOR; saving approves what was saved."""
        if not self.session.workspace_is_local:
            self.notify(
                f"The file is on {self.session.runs_at}, not here, so $EDITOR cannot open it; "
                "approve some hunks (space) or reject with a reason (n).",
                severity="warning",
            )
            return
        outcome = await edit_in_editor(self.app, event.request, self.session.workspace, event.hunks)
        if outcome.error:
            self.notify(outcome.error, severity="warning", markup=False)
        elif outcome.text is None:
            self.notify("No edits were saved; press y to apply the change as shown.")
        else:
            self.query_one(ApprovalPanel).answer_edited(event.request, outcome.text)

    # ---- actions ------------------------------------------------------------------------

    def action_interrupt(self) -> None:
        if self.session.busy:
            self.session.cancel()  # the turn then ends with TurnFinished(status="cancelled")
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

    def action_timeline(self) -> None:
        """Every event of this session from its log, full screen (the side pane stays live)."""
        title = f"Timeline · session {self.session.session_id}"
        self.app.push_screen(
            TimelineScreen(
                self.session.log_path, title=title, verify=self.session.verify_log, live=True
            )
        )

    def action_checkpoints(self) -> None:
        """The checkpoint browser (restoring waits for the turn to end)."""
        screen = CheckpointBrowserScreen(
            self.session.checkpoint_browsing(),
            on_events=self.show_events,
            can_restore=lambda: not self.busy,
        )
        self.app.push_screen(screen)

    def show_events(self, events: Sequence[EventBase]) -> None:
        """Log events that happened outside a turn and show them in the side timeline."""
        timeline = self.query_one(Timeline)
        for event in events:
            timeline.add_event(self.session.record(event))

    async def on_session(self, command: Callable[..., Any], *args: Any) -> Any:
        """Run a session command between turns: at once for a session here, on a thread for
        one on a server (it waits on the network, and the screen must not)."""
        if self.session.runs_at == "local":
            return command(*args)
        return await asyncio.to_thread(command, *args)

    async def action_cycle_mode(self) -> None:
        panel = self.query_one(ApprovalPanel)
        if panel.request is not None and panel.has_focus_within:
            raise SkipAction()  # shift+tab there moves to the previous pending item
        if self.busy:
            self.notify(
                "The mode can change between turns; press Esc to interrupt this one first.",
                severity="warning",
            )
            return
        await self.set_mode(next_mode(self.session.mode, self.session.max_mode))

    def refresh_model_label(self) -> None:
        label = self.session.model_label
        self.query_one(StatusBar).model_label = label
        meter = self.query_one(CostMeter)
        meter.show_model(label, is_demo=self.session.is_demo)
        meter.show_cost(self.session.cost_status())  # the new model's price

    def mark_trusted(self) -> None:
        self.trusted = True
        self.query_one(StatusBar).trusted = True

    async def set_mode(self, new: str) -> None:
        """Change the mode between turns, always with a visible notice."""
        old = self.session.mode
        try:
            change = await self.on_session(self.session.set_mode, new)
        except UserFacingError as exc:  # a server allows at most its own mode
            self.notify(str(exc), title="Mode not changed", severity="warning")
            return
        if change is None:
            return
        self.mode = new
        self.query_one(Timeline).add_event(change)
        raised = is_raise(old, new) and new != "ask"
        self.notify(
            f"Mode {new}: {MODE_MEANINGS[new]}.",
            title="Mode changed",
            severity="warning" if raised else "information",
        )
