"""The turn loop: prompt -> model -> tool calls -> decisions -> results, until the model stops.

`Agent.turn(prompt)` is an async iterator of events. Every event is applied to the
conversation and appended to the session log before a front end sees it: the conversation
changes only through events, so the log rebuilds it exactly (`engine/session`). Approval
requests carry a future; the loop waits on it, so a front end may take as long as the
person needs. `Agent.cancel()` interrupts the turn at once: the model stream is closed and
any running command's process group is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nanotui import __version__
from nanotui.config import CheckpointsConfig
from nanotui.engine.conversation import Conversation
from nanotui.engine.dispatch import CallDispatcher
from nanotui.engine.external_changes import ChangeAttribution, WorkspaceWatcher
from nanotui.engine.hooks import HookRunner
from nanotui.engine.network_questions import HostQuestions
from nanotui.engine.output_marker import marked
from nanotui.engine.safety_net import SafetyNet
from nanotui.engine.tool_calls import PreparedCall, ToolCallRunner
from nanotui.engine.turn_checkpoint import TurnCheckpoint
from nanotui.engine.turn_guard import TurnState
from nanotui.engine.turn_hooks import TurnHooks
from nanotui.governance.audit import SessionLog
from nanotui.governance.cost import (
    BudgetExceeded,
    SessionCost,
    estimate_input_tokens,
    find_price,
)
from nanotui.governance.ratelimit import (
    RequestRateLimiter,
    RetryPolicy,
    retry_notice,
    stream_with_retries,
)
from nanotui.paths import config_dir, state_dir
from nanotui.protocol.events import (
    AssistantMessage,
    ConversationCleared,
    ConversationResumed,
    CostUpdated,
    ErrorEvent,
    EventBase,
    FileChangedExternally,
    NetworkConnection,
    Notice,
    SessionStarted,
    TextDelta,
    ToolResult,
    TurnFinished,
    UsageReported,
    UserMessage,
)
from nanotui.protocol.model_io import (
    CUT_OFF_KINDS,
    ChatRequest,
    ProviderError,
    TextPiece,
    ToolCall,
    ToolCallPiece,
    Usage,
    UsagePiece,
)
from nanotui.protocol.observer import EventObserver
from nanotui.providers.base import Provider, provider_layers
from nanotui.security.network.proxy import ConnectionDecision
from nanotui.security.policy import ActionPolicy
from nanotui.security.sandbox.choose import isolation_warning
from nanotui.security.sandbox.runners import GuardedRunner
from nanotui.security.secrets.redaction import Redactor
from nanotui.tools.base import ExternalTool, Tool, ToolContext, ToolKind
from nanotui.tools.mcp.adapter import McpTool
from nanotui.tools.mcp.hub import McpHub

_END = object()


YIELD_EVERY_S = 0.001
"""How long reading a streamed reply may hold the event loop before it lets the screen run.

Every task of the loop runs once per turn of it, and a frame is drawn only a turn or two after
it is due, so the turn must stay short: at 5 ms a fast stream left the terminal silent for up
to 60-70 ms at a time, at 1 ms under 50. Yielding costs about 10 µs."""


@dataclass
class AgentOptions:
    mode: str = "ask"
    max_mode: str = "full-auto"
    """The loosest mode `mode` may be switched to (`approval.max_mode`)."""
    max_steps: int = 40
    max_output_tokens: int = 8192
    temperature: float | None = None
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_retries=4, max_wait_s=60))
    limiter: RequestRateLimiter | None = None
    """Requests per minute, shared by every agent talking to the same endpoint."""


class Agent:
    """One session's agent: conversation, tools, policy, cost and log."""

    def __init__(
        self,
        *,
        session_id: str,
        workspace: Path,
        provider: Provider,
        tools: dict[str, Tool],
        tool_context: ToolContext,
        policy: ActionPolicy,
        cost: SessionCost,
        system_prompt: Callable[[str], str],
        options: AgentOptions,
        redactor: Redactor,
        log: SessionLog | None = None,
        conversation: Conversation | None = None,
        sandbox_backend: str = "plain",
        sandbox_network: str = "none",
        checkpoints: CheckpointsConfig | None = None,
        output_marker: str = "",
        hooks: HookRunner | None = None,
        mcp: McpHub | None = None,
    ) -> None:
        self.session_id = session_id
        self.workspace = workspace
        self.provider = provider
        self.tools = tools
        self._commands = tool_context.runner
        self.policy = policy
        self.cost = cost
        self.options = options
        self.log = log
        self.conversation = conversation or Conversation()
        self.sandbox_backend = sandbox_backend
        self.sandbox_network = sandbox_network
        """[sandbox] network: "none", "allowlist" or "full"."""
        self._system_prompt = system_prompt
        self.safety = (
            SafetyNet(workspace, session_id, checkpoints, self._emit) if checkpoints else None
        )
        """Checkpoints before turns and batches; None when this agent takes none."""
        self.own_changes = ChangeAttribution(workspace)
        """What nanotui itself changes in the workspace; wrap other writes in `acting()`."""
        self.redactor = redactor
        """The session's one redactor (its log's too): tool results and error text pass it."""
        self.output_marker = output_marker
        """The mark on the notes that close untrusted data (the system prompt names it)."""
        self.mcp = mcp
        """The session's MCP servers, started with its first turn; None without any."""
        self.turn_hooks = TurnHooks(hooks, self._emit)
        """The `[[hooks]]` around each turn (those of tool calls run in the dispatcher)."""
        self._dispatcher = CallDispatcher(
            ToolCallRunner(tools, tool_context, policy, output_marker, self.redactor),
            self._emit,
            sandbox_backend,
            self.safety,
            self.own_changes,
            hooks,
        )
        self.watcher: WorkspaceWatcher | None = None
        """The running `watch_workspace()`'s watcher, if any."""
        self._warming_up: asyncio.Task[None] | None = None
        """The command guard's warm-up, waiting for that watcher's watches to be set."""
        self.observers: list[EventObserver] = []
        """Told of every event after the log (telemetry); they cannot change the session."""
        self._queue: asyncio.Queue[Any] | None = None
        self.host_questions = HostQuestions(
            workspace, self._emit, lambda: self._queue is not None, sandbox_backend
        )
        """Questions about names the network allowlist lacks, and what their answers allowed."""
        self._streamed_text: list[str] = []
        """The reply streaming now; kept if the turn is interrupted mid-stream."""
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._turn_checkpoint = TurnCheckpoint(self.record)
        self.resumed = False
        """True when this agent goes on with a logged session (`sessions resume`)."""

    # ---- public -------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self.options.mode

    @mode.setter
    def mode(self, value: str) -> None:
        self.options.mode = value

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def session_started_event(self, *, resumed: bool = False) -> SessionStarted:
        return SessionStarted(
            session=self.session_id,
            workspace=str(self.workspace),
            provider=self.provider.kind,
            model=self.provider.model,
            label=self.provider.label,
            mode=self.mode,
            sandbox=self.sandbox_backend,
            nanotui_version=__version__,
            resumed=resumed,
        )

    def cost_status(self, request_usd: float | None = None) -> CostUpdated:
        """The spending so far against the budgets and the rate limit, as a cost meter shows it.

        Emitted after each request (with that request's cost); a front end may also ask for
        it when it opens, or to see today's spending by other processes.
        """
        cost, limiter = self.cost, self.options.limiter
        today = cost.spend_today()
        return CostUpdated(
            request_usd=request_usd,
            session_usd=cost.spend.cost_usd,
            session_usage=cost.usage,
            priced=cost.price is not None,
            price_source=cost.price.source if cost.price else "unpriced",
            session_unpriced_requests=cost.unpriced_requests,
            day_usd=today.cost_usd if today else None,
            day_unpriced_requests=today.unpriced_requests if today else 0,
            session_budget_usd=cost.budget.session_usd,
            day_budget_usd=cost.budget.day_usd,
            warn_at_percent=cost.budget.warn_at_percent,
            output_usd_per_mtok=cost.output_usd_per_mtok(),
            requests_last_minute=limiter.requests_in_last_minute() if limiter else None,
            requests_per_minute=limiter.requests_per_minute if limiter else None,
        )

    async def turn(self, prompt: str) -> AsyncIterator[EventBase]:
        """Run one user turn, yielding every event as it happens."""
        if self.busy:
            raise RuntimeError("a turn is already running")
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run_turn(prompt))
        self._task.add_done_callback(lambda _: self._queue.put_nowait(_END))  # type: ignore[union-attr]
        try:
            while True:
                item = await self._queue.get()
                if item is _END:
                    break
                yield item
            await self._task  # re-raise a bug in the loop rather than hide it
        finally:
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    def record(self, event: EventBase) -> EventBase:
        """Apply and log an event that happens between turns (the front end shows it itself)."""
        self.conversation.apply(event)
        self._log(event)
        return event

    def clear_conversation(self) -> None:
        """Start over: the model sees nothing said so far (the log keeps it all)."""
        self.record(ConversationCleared())

    def resume_conversation(self, session_id: str) -> int:
        """Continue an earlier session's conversation; returns how many messages it holds."""
        resumed = ConversationResumed(session=session_id)
        self.conversation.apply(resumed)
        resumed.messages = len(self.conversation.messages)  # known once its log is read
        self._log(resumed)
        return resumed.messages

    def switch_model(self, name: str) -> None:
        """Use another model of the same provider for the rest of the session, priced anew."""
        for layer in provider_layers(self.provider):
            layer.model = name
        self.cost.price = find_price(
            name, self.cost.prices, is_demo=self.provider.is_demo, api_url=self.cost.api_url
        )
        self.cost.model = name
        self.record(Notice(text=f"Model switched to {name}."))

    def cancel(self) -> None:
        """Interrupt the running turn: closes the model stream and kills running commands."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def end_turn(self) -> None:
        """Interrupt the running turn, if any, and wait until its end is logged: a session
        closed mid-turn records the turn as cancelled before it records its own close."""
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def watch_workspace(self) -> AsyncIterator[EventBase]:
        """Files changed outside nanotui, as they happen, until `stop_watching()`.

        Each event is logged before it is yielded; a front end that stays open between turns
        runs this beside them (`nanotui run` does not). If watching cannot start or breaks
        down, one warning Notice says so and the iterator ends.
        """
        self.stop_watching()
        # nanotui's own state may live inside the workspace (NANOTUI_HOME in the repo).
        watcher = WorkspaceWatcher(
            self.workspace, self.own_changes, ignored_folders=(state_dir(), config_dir())
        )
        self.watcher = watcher
        if self.safety is not None:
            self.safety.prepare_soon()  # beside the watcher: its first edits are seen at once
        if isinstance(self._commands, GuardedRunner):
            # The looks for repositories around each command, once the watcher's own watches
            # are in place: both take inotify watches, and the account's limit may not
            # hold both (the watcher's are the ones the user sees).
            self._warming_up = asyncio.create_task(
                _when_set(watcher.watching, self._commands.warm_up_soon)
            )
        async for event in watcher.events():
            if watcher.stopped:
                break  # the log may be closing
            if isinstance(event, FileChangedExternally) and self.safety and self.mode != "plan":
                # Taken into the next checkpoint's tree now, not while the agent waits.
                self.safety.outside_change()
            yield self.record(event)

    def stop_watching(self) -> None:
        """End `watch_workspace()` within a few milliseconds."""
        if self.watcher is not None:
            self.watcher.stop()
        if self._warming_up is not None:
            self._warming_up.cancel()  # the watcher never came up: no warm-up either

    def close(self) -> None:
        self.stop_watching()
        if self.safety is not None:
            self.safety.close()
        if self.log is not None:
            self.log.close()

    # ---- the loop -----------------------------------------------------------------------

    def _log(self, event: EventBase) -> None:
        if self.log is not None:
            self.log.append(event)
        for observer in self.observers:
            observer.observe(event)

    def _emit(self, event: EventBase) -> None:
        if isinstance(event, TurnFinished):
            self._emit_observer_notices()
        self.record(event)
        assert self._queue is not None
        self._queue.put_nowait(event)

    async def allow_unlisted_host(self, host: str, port: int) -> bool:
        """Ask the person whether a running command may reach `host`, which [sandbox]
        allowed_domains lacks (`network_questions`); headless, refused at once."""
        return await self.host_questions.allow(host, port)

    def record_connection(self, decision: ConnectionDecision) -> None:
        """A command's connection through the allowlist proxy: logged, and shown while a
        turn runs (the proxy serves commands, which only run within one)."""
        event = NetworkConnection(
            host=decision.host,
            port=decision.port,
            method=decision.method,
            allowed=decision.allowed,
            reason=decision.reason,
        )
        if self._queue is not None:
            self._emit(event)
        else:
            self.record(event)

    def _emit_observer_notices(self) -> None:
        """An observer's warning (telemetry that could not be sent), said once in the turn."""
        for observer in self.observers:
            if (notice := observer.notice()) is not None:
                self._emit(notice)

    def _emit_error(self, text: str, kind: str = "error") -> None:
        # Provider and tool errors can quote a request or a config line holding a key.
        self._emit(ErrorEvent(text=self.redactor.redact(text).text, kind=kind))

    async def _run_turn(self, prompt: str) -> None:
        state = TurnState()
        step = 0
        try:
            if not self._started:
                self._started = True
                self._emit(self.session_started_event(resumed=self.resumed))
                if warning := isolation_warning(self.sandbox_backend, self.sandbox_network):
                    # In the log and in headless output, not only on the screen.
                    self._emit(Notice(level="warning", text=warning))
                await self._start_mcp()
            refused = await self.turn_hooks.refusal(prompt, mode=self.mode, resumed=self.resumed)
            if refused is not None:
                self._emit(refused)
                return
            self._emit(UserMessage(text=prompt))
            self._emit_observer_notices()
            if self.safety is not None and self.mode != "plan":
                # Only tool calls need the turn's checkpoint: it is taken while the first
                # request goes out, so a fast model's first words do not wait for git. The
                # reply's end, every tool call and the turn's end wait for it.
                self._turn_checkpoint.start(self.safety, prompt)
            for step in range(1, self.options.max_steps + 1):
                finished = await self._step(step, state)
                await self._turn_checkpoint_taken()
                if finished is not None and finished.status == "done":
                    finished = await self.turn_hooks.at_stop(
                        finished, state, self._last_reply(), mode=self.mode
                    )
                if finished is not None:
                    self._emit(finished)
                    return
            self._emit(
                TurnFinished(
                    status="max_turns",
                    reason=f"Stopped after {self.options.max_steps} model steps (--max-turns); "
                    "ask again to continue.",
                    steps=step,
                )
            )
        except asyncio.CancelledError:
            for event in await self._turn_checkpoint.taken_as_the_turn_ends():
                self._emit(event)
            self._settle_after_interrupt()
            self._emit(TurnFinished(status="cancelled", reason="Interrupted.", steps=step))
        except Exception as exc:  # a bug must end the turn readably, never hang the front end
            for event in await self._turn_checkpoint.taken_as_the_turn_ends():
                self._emit(event)
            self._emit_error(f"Internal error: {exc!r}; the turn was stopped.")
            self._emit(TurnFinished(status="error", reason=str(exc), steps=step))

    async def _turn_checkpoint_taken(self) -> None:
        for event in await self._turn_checkpoint.taken():
            self._emit(event)

    async def _step(self, step: int, state: TurnState) -> TurnFinished | None:
        """One model request and the tool calls it asks for; a TurnFinished ends the turn."""
        await self._settle_mcp()
        request = self._build_request()
        try:
            request = self.cost.fit_request(request)
        except BudgetExceeded as exc:
            await self._turn_checkpoint_taken()
            self._emit_error(str(exc), "budget")
            return TurnFinished(status="budget", reason=str(exc), steps=step)
        # A server may ignore max_tokens: the client cuts the stream where the budget ends.
        request.output_allowance = self.cost.output_allowance(request)

        try:
            text, calls, usage, error = await self._stream_reply(request)
        except BaseException:
            self.cost.release()  # cancelled mid-stream: the held worst case is given back
            raise
        if usage is None:
            self.cost.release()  # nothing reported to record it with
        # In the log the checkpoint still follows the prompt and precedes the reply.
        try:
            await self._turn_checkpoint_taken()
        except BaseException:
            # Interrupted or failed while the checkpoint was still being taken: the reply
            # was paid for all the same, and an interrupt keeps the text that streamed.
            if usage is not None:
                self._record_usage(usage)
            raise
        self._streamed_text = []
        # A reply cut off keeps its text like one that broke off; one with none leaves nothing.
        interrupted = error is not None and (
            error.kind == "interrupted" or (error.kind in CUT_OFF_KINDS and bool(text))
        )
        if text or calls or interrupted:
            self._emit(AssistantMessage(text=text, tool_calls=calls, interrupted=interrupted))
        if usage is not None:
            self._record_usage(usage)
        if error is not None:
            self._emit_error(str(error), error.kind)
            status = "budget" if error.kind == "budget" else "error"
            return TurnFinished(status=status, reason=str(error), steps=step)
        if not calls:
            return TurnFinished(status=state.final_status(), steps=step)

        await self._run_calls(calls, state, step)
        if (stop := state.stop()) is None:
            return None
        status, reason = stop
        self._emit_error(reason, "loop_guard")
        return TurnFinished(status=status, reason=reason, steps=step)

    def _last_reply(self) -> str:
        last = self.conversation.messages[-1] if self.conversation.messages else None
        return last.content if last is not None and last.role == "assistant" else ""

    def _settle_after_interrupt(self) -> None:
        """Leave a conversation the model can continue from after an interruption.

        The text that had streamed is kept (marked interrupted), and every tool call that was
        asked for but got no result is answered as interrupted (by the user: not refused, and
        saying whether it waited for approval or ran): APIs reject a history with an
        unanswered tool call.
        """
        if self._streamed_text:
            text = "".join(self._streamed_text)
            self._streamed_text = []
            self._emit(AssistantMessage(text=text, interrupted=True))
            return
        for call in self.conversation.unanswered_calls():
            self._emit(self._dispatcher.interruption(call))

    async def _start_mcp(self) -> None:
        """Start the MCP servers with the session; their tools join the built-in ones."""
        if self.mcp is None:
            return
        self._mcp_notices(await self.mcp.start())

    async def _settle_mcp(self) -> None:
        """A server that said its tools changed is listed again before the model is asked."""
        if self.mcp is not None:
            self._mcp_notices(await self.mcp.settle())

    def _mcp_notices(self, sentences: list[str]) -> None:
        for sentence in sentences:
            self._emit(Notice(level="warning", text=self.redactor.redact(sentence).text))

    def _offer_mcp_tools(self) -> None:
        """The MCP tools as their servers last listed them (a server may change its list)."""
        if self.mcp is None:
            return
        for name in [n for n, t in self.tools.items() if isinstance(t, McpTool)]:
            del self.tools[name]
        self.tools.update(self.mcp.tools)

    def _build_request(self) -> ChatRequest:
        self._offer_mcp_tools()
        tools = [
            tool.spec()
            for tool in self.tools.values()
            # Plan mode offers commands and MCP tools too: the policy runs only known
            # read-only commands there, and the MCP tools an allow rule names.
            if (
                self.mode != "plan"
                or tool.kind in (ToolKind.READ, ToolKind.COMMAND, ToolKind.EXTERNAL)
            )
            # A definition the person has not accepted never reaches the model: what a
            # description says is read as instructions.
            and not (isinstance(tool, ExternalTool) and tool.unapproved())
            # Nor the tools of a server that has died: every call would fail.
            and not (isinstance(tool, McpTool) and tool.connection.state != "running")
        ]
        return ChatRequest(
            system=self._system_prompt(self.mode),
            # Every note closing a tool result carries this session's marker, also those of
            # a conversation logged under another (a resumed one).
            messages=marked(self.conversation.messages, self._dispatcher.runner.marker),
            tools=tools,
            max_tokens=self.options.max_output_tokens,
            temperature=self.options.temperature,
        )

    async def _stream_reply(
        self, request: ChatRequest
    ) -> tuple[str, list[ToolCall], Usage | None, ProviderError | None]:
        text_parts = self._streamed_text = []
        calls: list[ToolCall] = []
        usage: Usage | None = None

        async def on_retry(error: ProviderError, wait_s: float, attempt: int) -> None:
            if error.usage is not None:
                # The broken attempt's output was generated and is paid for: count it. The
                # retry is a request like any other: sent only if its worst case still fits
                # the budgets (and held in the ledger), and it streams only what they have left.
                self._record_usage(_with_input(error.usage, request))
                try:
                    self.cost.fit_request(request)
                except BudgetExceeded as exc:
                    why = str(exc)
                    raise ProviderError(
                        f"The reply broke off and was not retried: {why[:1].lower()}{why[1:]}",
                        kind="budget",
                    ) from None
                request.output_allowance = self.cost.output_allowance(request)
            self._emit(retry_notice(error, wait_s, attempt, self.options.retry))

        try:
            stream = stream_with_retries(
                lambda: self.provider.stream(request),
                self.options.retry,
                on_retry=on_retry,
                limiter=self.options.limiter,
                tokens=estimate_input_tokens(request) + request.max_tokens,
            )
            held_since = time.monotonic()
            async for item in stream:
                # A burst the socket has already buffered is read without ever waiting, so
                # without this the loop would not draw a frame until the burst was through.
                if time.monotonic() - held_since > YIELD_EVERY_S:
                    await asyncio.sleep(0)
                    held_since = time.monotonic()
                if isinstance(item, TextPiece):
                    text_parts.append(item.text)
                    self._emit(TextDelta(text=item.text))
                elif isinstance(item, ToolCallPiece):
                    calls.append(item.call)
                elif isinstance(item, UsagePiece):
                    usage = item.usage
        except ProviderError as error:
            if error.kind == "interrupted" and not error.partial_text:
                error.partial_text = "".join(text_parts)
            if error.usage is not None and usage is None:
                # A reply cut off was paid for: count it.
                usage = _with_input(error.usage, request)
            return "".join(text_parts), [], usage, error
        return "".join(text_parts), calls, usage, None

    def _record_usage(self, usage: Usage) -> None:
        self._emit(UsageReported(usage=usage, model=self.provider.model))
        self._emit(self.cost_status(request_usd=self.cost.record(usage)))
        if warning := self.cost.warning():
            self._emit(Notice(text=warning, level="warning"))

    # ---- tool calls ---------------------------------------------------------------------

    async def _run_calls(self, calls: list[ToolCall], state: TurnState, step: int) -> None:
        def needed_approval() -> None:
            state.needed_approval = True

        await self._dispatcher.run(
            calls,
            self.mode,
            lambda result, prepared: self._finish(result, prepared, state, step),
            needed_approval,
        )

    def _finish(
        self, result: ToolResult, prepared: PreparedCall, state: TurnState, step: int
    ) -> ToolResult:
        # Into the conversation at once, so an interruption later in the batch keeps it.
        self._emit(result)
        if self.safety is not None and result.ok:
            self.safety.note_result(result.data)
        state.note(result, prepared)
        return result


async def _when_set(event: asyncio.Event, then: Callable[[], object]) -> None:
    await event.wait()
    then()


def _with_input(usage: Usage, request: ChatRequest) -> Usage:
    """A broken reply's usage, with the prompt estimated if the provider had not said."""
    if usage.input_tokens:
        return usage
    return usage.model_copy(update={"input_tokens": estimate_input_tokens(request)})
