"""One session's events as spans and metrics, following the GenAI semantic conventions.

A turn is an `invoke_agent` span; each model request inside it a `chat {model}` span and
each tool call an `execute_tool {name}` span. The engine emits no "request sent" event, so
a request is taken to start when the event before its reply was emitted (the prompt, the
previous tool result): the spans are made with those times. Every span carries the session
id and the session log's record (seq and line hash) that closed it, so each can be matched
to the tamper-evident log. Content is left out unless a redactor is given
(`include_content`), and then only redacted content goes out.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any, get_args

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from nanotui.protocol.diff_parse import parse_diff
from nanotui.protocol.events import (
    ApprovalRequested,
    ApprovalResolved,
    AssistantMessage,
    CheckpointCreated,
    CheckpointRestored,
    CostUpdated,
    ErrorEvent,
    EventBase,
    Notice,
    PolicyDecision,
    SessionStarted,
    TextDelta,
    ToolCallProposed,
    ToolResult,
    TurnFinished,
    UsageReported,
    UserMessage,
)
from nanotui.protocol.model_io import CUT_OFF_KINDS, ErrorKind
from nanotui.security.secrets.redaction import Redactor
from nanotui.telemetry.exporting import Telemetry

PROVIDER_NAMES = {"anthropic": "anthropic", "openai-compatible": "openai", "demo": "nanotui.demo"}
"""`gen_ai.provider.name` for each provider kind: an OpenAI-compatible server speaks OpenAI's
API, whoever runs it."""
ANSWER_TO_DECISION = {
    "approve": "allow",
    "edit": "allow",
    "always": "allow",
    "project": "allow",
    "reject": "deny",
}
COMMAND_IN_REASON = re.compile(r"`[^`]*`")
MAX_REASON_CHARS = 120
REQUEST_FAILURES = frozenset(get_args(ErrorKind)) - CUT_OFF_KINDS
"""`ErrorEvent` kinds that are a model request's failure (a provider's error), as opposed to
a refusal before it was sent (budget), a hook or the loop guard; a reply nanotui cut off
itself was reported with its usage and has its span already."""


class SessionTelemetry:
    """Turns one session's events into telemetry (an `EventObserver`)."""

    def __init__(
        self,
        telemetry: Telemetry,
        *,
        session_id: str,
        user: str,
        redactor: Redactor | None,
        chain_position: Callable[[], tuple[int, str] | None],
    ) -> None:
        self._telemetry = telemetry
        self._tracer = telemetry.tracer
        self._metrics = telemetry.instruments
        self._session_id = session_id
        self._user = user
        self._redactor = redactor
        self._chain_position = chain_position
        self._provider = "unknown"
        self._model = "unknown"
        self._turn: Span | None = None
        self._turn_context: Any = None
        self._idle_since_ns = time.time_ns()
        """When the last event not part of a model's reply was emitted: a request follows it."""
        self._request_started_ns: int | None = None
        self._chat_made = False
        """Whether the latest request has its chat span; a prompt or a tool's result (what a
        request follows) clears it."""
        self._broken_reply_usage: UsageReported | None = None
        """What a reply that broke off used: its span waits for the error that broke it."""
        self._finish_reason: str | None = None
        self._reply: str | None = None
        self._tools: dict[str, Span] = {}
        self._approval_asked: dict[str, float] = {}
        self._hunks_shown: dict[str, int] = {}
        """Hunks of each change waiting for its answer, or approved and not yet applied."""
        self._broken = False
        self._handlers: dict[type[EventBase], Callable[[Any], None]] = {
            SessionStarted: self._session_started,
            UserMessage: self._user_message,
            AssistantMessage: self._assistant_message,
            UsageReported: self._usage_reported,
            CostUpdated: self._cost_updated,
            ErrorEvent: self._error,
            ToolCallProposed: self._tool_proposed,
            PolicyDecision: self._policy_decision,
            ApprovalRequested: self._approval_requested,
            ApprovalResolved: self._approval_resolved,
            ToolResult: self._tool_result,
            CheckpointCreated: self._checkpoint_created,
            CheckpointRestored: self._checkpoint_restored,
            Notice: self._notice,
            TurnFinished: self._turn_finished,
        }

    # ---- EventObserver ------------------------------------------------------------------

    def observe(self, event: EventBase) -> None:
        if type(event) is TextDelta:  # the hot path: pieces of a streaming reply
            self._request_started()
            return
        if self._broken:
            return
        handler = self._handlers.get(type(event))
        try:
            if self._reply_awaits_usage() and type(event) is not UsageReported:
                # The server sent no usage (some OpenAI-compatible ones never do): the reply
                # was whole all the same, and the next request must get a span of its own.
                self._end_chat(usage=None, response_model=self._model)
            if handler is not None:
                handler(event)
        except Exception:  # telemetry must never break a session: it stops instead
            self._broken = True
        if type(event) not in (AssistantMessage, UsageReported) and not _is_retry(event):
            self._idle_since_ns = time.time_ns()

    def notice(self) -> Notice | None:
        text = self._telemetry.failure_notice()
        return Notice(level="warning", text=text) if text else None

    # ---- the turn -----------------------------------------------------------------------

    def _session_started(self, event: SessionStarted) -> None:
        self._provider = PROVIDER_NAMES.get(event.provider, event.provider)
        self._model = event.model
        isolates = event.sandbox != "plain"
        self._metrics.sandbox_sessions.add(
            1, {"nanotui.sandbox.backend": event.sandbox, "nanotui.sandbox.isolates": isolates}
        )

    def _user_message(self, event: UserMessage) -> None:
        self._chat_made = False
        if self._turn is not None:
            return  # a stop hook sent the model on: the same turn goes on (turn_hooks.py)
        span = self._tracer.start_span(
            "invoke_agent",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "nanotui",
                "gen_ai.provider.name": self._provider,
                "gen_ai.request.model": self._model,
                "gen_ai.conversation.id": self._session_id,
                **self._identity(),
            },
        )
        if self._redactor is not None:
            span.set_attribute("gen_ai.input.messages", _messages("user", self._redact(event.text)))
        self._turn = span
        self._turn_context = trace.set_span_in_context(span)

    def _turn_finished(self, event: TurnFinished) -> None:
        self._metrics.turns.add(1, {"nanotui.turn.status": event.status})
        if self._request_started_ns is not None:
            self._end_failed_chat(event.status)
        for call_id in list(self._tools):
            self._end_tool(call_id, ok=False, why=f"turn ended: {event.status}")
        if self._turn is not None:
            self._turn.set_attribute("nanotui.turn.steps", event.steps)
        self._end_turn(event.status, event.reason)

    def _end_turn(self, status: str, reason: str) -> None:
        if self._turn is None:
            return
        span, self._turn = self._turn, None
        span.set_attribute("nanotui.turn.status", status)
        span.set_attributes(self._chain())
        if status == "error":
            span.set_status(Status(StatusCode.ERROR, reason[:MAX_REASON_CHARS]))
            span.set_attribute("error.type", "turn_error")
        span.end()

    # ---- model requests -----------------------------------------------------------------

    def _request_started(self) -> None:
        if self._request_started_ns is None:
            self._request_started_ns = self._idle_since_ns

    def _reply_awaits_usage(self) -> bool:
        """A whole reply has come and its span waits for the usage that follows it."""
        return self._finish_reason not in (None, "interrupted")

    def _assistant_message(self, event: AssistantMessage) -> None:
        self._request_started()
        self._finish_reason = (
            "interrupted" if event.interrupted else "tool_calls" if event.tool_calls else "stop"
        )
        if self._redactor is not None and event.text:
            self._reply = self._redact(event.text)

    def _usage_reported(self, event: UsageReported) -> None:
        self._request_started()
        if self._finish_reason == "interrupted":
            self._broken_reply_usage = event  # its error comes next: one span with both
            return
        self._end_chat(usage=event, response_model=event.model)

    def _error(self, event: ErrorEvent) -> None:
        # A request that failed before any reply (refused, a 500 after its retries, a bad
        # key) was sent all the same: it gets its chat span, with no response model.
        failed_unseen = event.kind in REQUEST_FAILURES and not self._chat_made
        if self._request_started_ns is not None or failed_unseen:
            self._end_failed_chat(event.kind)

    def _end_failed_chat(self, error: str) -> None:
        """The request's span, in error: with what it used when a broken reply said, and
        without a response model when no reply came at all."""
        usage, self._broken_reply_usage = self._broken_reply_usage, None
        replied = usage.model if usage else self._model if self._finish_reason else None
        self._end_chat(usage=usage, response_model=replied, error=error)

    def _end_chat(
        self, *, usage: UsageReported | None, response_model: str | None, error: str | None = None
    ) -> None:
        started = self._request_started_ns or self._idle_since_ns
        ended = time.time_ns()
        self._request_started_ns = None
        self._chat_made = True
        common = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": self._provider,
            "gen_ai.request.model": self._model,
        }
        if response_model is not None:
            common["gen_ai.response.model"] = response_model
        if error is not None:
            common["error.type"] = error
        attributes: dict[str, Any] = {**common, **self._identity(), **self._chain()}
        if usage is not None:
            attributes["gen_ai.usage.input_tokens"] = usage.usage.input_tokens
            attributes["gen_ai.usage.output_tokens"] = usage.usage.output_tokens
            attributes["gen_ai.usage.cache_read.input_tokens"] = usage.usage.cached_input_tokens
        if self._finish_reason:  # none when no reply came
            attributes["gen_ai.response.finish_reasons"] = [self._finish_reason]
        if self._reply is not None:
            attributes["gen_ai.output.messages"] = _messages("assistant", self._reply)
        self._finish_reason = self._reply = None
        span = self._tracer.start_span(
            f"chat {self._model}",
            context=self._turn_context,
            kind=SpanKind.CLIENT,
            start_time=started,
            attributes=attributes,
        )
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=ended)
        self._metrics.operation_duration.record((ended - started) / 1e9, common)
        if usage is not None:
            for kind, tokens in (
                ("input", usage.usage.input_tokens),
                ("output", usage.usage.output_tokens),
            ):
                self._metrics.token_usage.record(tokens, {**common, "gen_ai.token.type": kind})

    def _cost_updated(self, event: CostUpdated) -> None:
        labels = {"gen_ai.request.model": self._model, "nanotui.user": self._user}
        if event.request_usd is not None:
            self._metrics.cost.add(
                event.request_usd, {**labels, "nanotui.price.source": event.price_source}
            )
        elif not event.priced:
            self._metrics.unpriced_requests.add(1, labels)
        for scope, budget, spent in (
            ("session", event.session_budget_usd, event.session_usd),
            ("day", event.day_budget_usd, event.day_usd),
        ):
            if budget is not None and spent is not None:
                remaining = max(budget - spent, 0.0)
                self._metrics.budget_remaining.set(
                    remaining, {"nanotui.budget.scope": scope, "nanotui.user": self._user}
                )

    def _notice(self, event: Notice) -> None:
        if event.retry is None:
            return
        self._request_started()
        reason = event.retry.reason
        labels = {"gen_ai.provider.name": self._provider, "nanotui.retry.reason": reason}
        self._metrics.retries.add(1, labels)
        self._metrics.retry_wait.record(event.retry.wait_s, labels)

    # ---- tools --------------------------------------------------------------------------

    def _tool_proposed(self, event: ToolCallProposed) -> None:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": event.tool,
            "gen_ai.tool.call.id": event.call_id,
            "gen_ai.tool.type": "function",
            **self._identity(),
        }
        if self._redactor is not None:
            attributes["gen_ai.tool.call.arguments"] = self._redact(event.arguments)
        self._tools[event.call_id] = self._tracer.start_span(
            f"execute_tool {event.tool}",
            context=self._turn_context,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        )

    def _policy_decision(self, event: PolicyDecision) -> None:
        labels = {"gen_ai.tool.name": event.tool, "nanotui.decision": event.decision}
        self._metrics.tool_decisions.add(1, {**labels, "nanotui.decided_by": "policy"})
        if event.decision == "deny":
            self._metrics.policy_denials.add(
                1, {"gen_ai.tool.name": event.tool, "nanotui.reason": _denial_reason(event)}
            )
        if span := self._tools.get(event.call_id):
            span.set_attribute("nanotui.policy.decision", event.decision)

    def _approval_requested(self, event: ApprovalRequested) -> None:
        self._approval_asked[event.call_id] = time.monotonic()
        if event.diff:
            self._hunks_shown[event.call_id] = len(parse_diff(event.diff).hunks)

    def _approval_resolved(self, event: ApprovalResolved) -> None:
        answer = {"nanotui.answer": event.decision, "nanotui.decided_by": event.by}
        self._metrics.approvals.add(1, answer)
        asked = self._approval_asked.pop(event.call_id, None)
        if asked is not None:
            self._metrics.approval_wait.record(time.monotonic() - asked, answer)
        if event.decision in ("reject", "interrupted"):
            self._count_hunks(event.call_id, applied_diff=None)
        if decision := ANSWER_TO_DECISION.get(event.decision):
            span = self._tools.get(event.call_id)
            tool = span.name.removeprefix("execute_tool ") if span is not None else "unknown"
            labels = {"gen_ai.tool.name": tool, "nanotui.decision": decision}
            self._metrics.tool_decisions.add(1, {**labels, "nanotui.decided_by": event.by})

    def _count_hunks(self, call_id: str, applied_diff: str | None) -> None:
        """A change's hunks, accepted (those in the diff applied) and rejected (the rest)."""
        shown = self._hunks_shown.pop(call_id, None)
        if shown is None:
            return
        accepted = min(len(parse_diff(applied_diff).hunks), shown) if applied_diff else 0
        for verdict, count in (("accepted", accepted), ("rejected", shown - accepted)):
            if count:
                self._metrics.hunks.add(count, {"nanotui.hunk.verdict": verdict})

    def _tool_result(self, event: ToolResult) -> None:
        self._chat_made = False
        self._count_hunks(event.call_id, event.diff if event.ok else None)
        extra: dict[str, Any] = {"nanotui.tool.refused": event.refused}
        if self._redactor is not None:
            extra["gen_ai.tool.call.result"] = self._redact(event.output)
        why = "refused" if event.refused else "failed"
        self._end_tool(event.call_id, ok=event.ok, why=why, extra=extra)

    def _end_tool(
        self, call_id: str, *, ok: bool, why: str, extra: dict[str, Any] | None = None
    ) -> None:
        span = self._tools.pop(call_id, None)
        if span is None:
            return
        span.set_attributes({**(extra or {}), **self._chain()})
        if not ok:
            span.set_status(Status(StatusCode.ERROR, why))
            span.set_attribute("error.type", why.split(":")[0])
        span.end()

    # ---- checkpoints --------------------------------------------------------------------

    def _checkpoint_created(self, event: CheckpointCreated) -> None:
        self._metrics.checkpoints.add(1, {"nanotui.checkpoint.kind": event.kind})

    def _checkpoint_restored(self, event: CheckpointRestored) -> None:
        self._metrics.restores.add(1)

    # ---- helpers ------------------------------------------------------------------------

    def _identity(self) -> dict[str, Any]:
        return {"nanotui.session.id": self._session_id, "nanotui.user": self._user}

    def _chain(self) -> dict[str, Any]:
        """Where the session log stood when this span ended: the record just written."""
        position = self._chain_position()
        if position is None:
            return {}
        seq, line_hash = position
        return {"nanotui.audit.seq": seq, "nanotui.audit.line_hash": line_hash}

    def _redact(self, text: str) -> str:
        assert self._redactor is not None
        return self._redactor.redact(text).text


def _messages(role: str, text: str) -> str:
    """Content as the conventions' `gen_ai.*.messages` attributes hold it (JSON text)."""
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def _denial_reason(event: PolicyDecision) -> str:
    """Why the policy refused, without the command itself (content, and a label per command)."""
    reason = next((r for r in event.reasons if r.startswith("deny")), "deny")
    return COMMAND_IN_REASON.sub("`…`", reason, count=1)[:MAX_REASON_CHARS]


def _is_retry(event: EventBase) -> bool:
    return type(event) is Notice and event.retry is not None  # type: ignore[attr-defined]
