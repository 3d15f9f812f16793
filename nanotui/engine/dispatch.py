"""Running one reply's tool calls: decide each, ask what needs asking, run in order.

Each call is judged when it is read: its pre_tool hooks run first (they may block it or
hand back other arguments, which are then judged from the start like the model's own), and
its post_tool hooks see its result before the model does.

Calls run in the order the model gave them. Consecutive allowed reads run together.
Consecutive changes and commands form a batch whose approvals are all put to the person at
once (a front end can move between them), then the batch runs in order; a second change to
a file already in the batch starts a new batch, because its diff can only be computed after
the first change is applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import posixpath
from collections.abc import Callable
from typing import Literal

from nanotui.engine.approvals import attach_future, os_user, sha256_text
from nanotui.engine.external_changes import ChangeAttribution
from nanotui.engine.hooks import HookRunner, HookVerdict
from nanotui.engine.safety_net import SafetyNet
from nanotui.engine.tool_calls import CallArguments, PreparedCall, ToolCallRunner
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.events import (
    ApprovalRequested,
    ApprovalResolved,
    EventBase,
    Notice,
    PolicyDecision,
    ToolCallProposed,
    ToolResult,
    ToolStarted,
)
from nanotui.protocol.model_io import ToolCall
from nanotui.tools.base import ToolKind

Emit = Callable[[EventBase], None]
Finish = Callable[[ToolResult, PreparedCall], None]
"""Takes each result with the call it answers (what the loop guard counts stays here)."""


class CallDispatcher:
    """Decides and runs the tool calls of one model reply."""

    def __init__(
        self,
        runner: ToolCallRunner,
        emit: Emit,
        sandbox: str,
        safety: SafetyNet | None = None,
        own_changes: ChangeAttribution | None = None,
        hooks: HookRunner | None = None,
    ) -> None:
        self.runner = runner
        self.hooks = hooks
        self._mode = "ask"
        """The mode of the reply being run (what hooks are told)."""
        self.emit = emit
        self.sandbox = sandbox
        self.safety = safety
        self.own_changes = own_changes
        """Told what nanotui writes and when its commands run, so neither reads as external."""
        self._stages: dict[str, str] = {}
        """Call id -> `waiting` (for approval) or `running`, for saying what an interrupt hit."""

    def interruption(self, call: ToolCall) -> ToolResult:
        """The result for a call of the current reply that the user's interrupt left unfinished."""
        return self.runner.interruption(call, self._stages.get(call.id, ""))

    async def run(
        self,
        calls: list[ToolCall],
        mode: str,
        finish: Finish,
        on_headless_refusal: Callable[[], None],
    ) -> None:
        reads: list[PreparedCall] = []
        batch: list[PreparedCall] = []
        batch_paths: set[str] = set()
        self._stages = {}
        self._mode = mode

        async def flush() -> None:
            nonlocal batch, batch_paths
            if reads:
                await self._run_reads(list(reads), finish)
                reads.clear()
            if batch:
                current, batch, batch_paths = batch, [], set()
                await self._run_batch(current, finish, on_headless_refusal)

        for call in calls:
            arguments = CallArguments.decode(call.arguments)
            path = self._write_path(call, arguments)
            if path is not None and path in batch_paths:
                await flush()
            prepared = self.runner.prepare(call, mode, arguments)
            self.emit(
                ToolCallProposed(
                    call_id=call.id,
                    tool=call.name,
                    arguments=call.arguments,
                    summary=prepared.summary,
                )
            )
            if prepared.early_result is None and self._hooked(call, "pre_tool"):
                verdict = await self._pre_tool(prepared)
                if verdict.tool_input is not None:
                    call = call.model_copy(update={"arguments": json.dumps(verdict.tool_input)})
                    arguments = CallArguments.decode(call.arguments)
                    path = self._write_path(call, arguments)
                    if path is not None and path in batch_paths:
                        await flush()
                    # From the start, as if the model had asked for it: the jail, the
                    # arguments' checks and the policy judge what would now run.
                    prepared = self.runner.prepare(call, mode, arguments)
                    prepared.rewritten_by_hook = True
                elif verdict.blocked:
                    prepared.early_result = self.runner.hook_refusal(call, verdict.reason)
            if prepared.early_result is not None:
                await flush()
                finish(self.runner.noted(prepared.early_result, prepared), prepared)
                continue
            decision = prepared.decision
            assert decision is not None
            self.emit(
                PolicyDecision(
                    call_id=call.id,
                    tool=call.name,
                    decision=decision.decision,
                    reasons=decision.reasons,
                )
            )
            if prepared.kind == ToolKind.READ and decision.decision == "allow":
                if batch:
                    await flush()
                reads.append(prepared)
                continue
            if reads:
                await self._run_reads(list(reads), finish)
                reads.clear()
            batch.append(prepared)
            if prepared.change is not None:
                batch_paths.add(prepared.change.path)
        await flush()

    def _write_path(self, call: ToolCall, arguments: CallArguments) -> str | None:
        tool = self.runner.tools.get(call.name)
        if tool is None or tool.kind != ToolKind.WRITE or not isinstance(arguments.value, dict):
            return None
        path = arguments.value.get("path")
        return posixpath.normpath(path) if isinstance(path, str) else None

    async def _run_reads(self, reads: list[PreparedCall], finish: Finish) -> None:
        for prepared in reads:
            self._stages[prepared.call.id] = "running"
            self.emit(
                ToolStarted(
                    call_id=prepared.call.id, tool=prepared.call.name, summary=prepared.summary
                )
            )
        outcomes = await asyncio.gather(*(self.runner.execute(p) for p in reads))
        for prepared, outcome in zip(reads, outcomes, strict=True):
            self._stages.pop(outcome.call_id, None)
            finish(await self._post_tool(prepared, outcome), prepared)

    async def _run_batch(
        self, batch: list[PreparedCall], finish: Finish, on_headless_refusal: Callable[[], None]
    ) -> None:
        asking = [p for p in batch if p.decision is not None and p.decision.decision == "ask"]
        answers = await self._ask_all(asking) if asking else {}
        to_run: list[PreparedCall] = []
        for prepared in batch:
            assert prepared.decision is not None
            if prepared.decision.decision == "deny":
                finish(self.runner.noted(self.runner.refusal(prepared), prepared), prepared)
                continue
            answer = answers.get(prepared.call.id)
            if answer is not None and answer.decision == "reject":
                if answer.by == "headless":
                    on_headless_refusal()
                rejection = self.runner.rejection(prepared, answer)
                finish(self.runner.noted(rejection, prepared), prepared)
                continue
            to_run.append(prepared)
        if to_run:
            await self._run_approved(to_run, finish)

    async def _run_approved(self, batch: list[PreparedCall], finish: Finish) -> None:
        """Run the batch in order, after a checkpoint; one that breaks half-way is rolled back."""
        safety = self.safety
        before = await safety.before_batch(p.summary for p in batch) if safety else None
        landed = started = 0
        try:
            for prepared in batch:
                started += 1
                self._stages[prepared.call.id] = "running"
                self.emit(
                    ToolStarted(
                        call_id=prepared.call.id, tool=prepared.call.name, summary=prepared.summary
                    )
                )
                result = await self._post_tool(prepared, await self._execute(prepared))
                self._stages.pop(prepared.call.id, None)
                finish(result, prepared)
                if result.ok:
                    landed += 1
                elif prepared.kind == ToolKind.WRITE and landed and safety:
                    # A command failing is an answer (tests fail); a write failing after
                    # others landed leaves the files half-changed.
                    with self._acting():
                        await safety.after_broken_batch(
                            before, f"Writing {prepared.summary} failed"
                        )
                    break
        except asyncio.CancelledError:
            # The call cut short may itself have changed files (a command half-way through).
            if started and safety:
                with self._acting():
                    await safety.after_broken_batch(before, "The batch was interrupted")
            raise
        if safety:
            # What the batch changed goes into the next checkpoint's tree while the model
            # reads the results, instead of while the next batch waits for it.
            safety.build_ahead()

    def _hooked(self, call: ToolCall, event: str) -> bool:
        return self.hooks is not None and bool(self.hooks.matching(event, call.name))

    async def _pre_tool(self, prepared: PreparedCall) -> HookVerdict:
        assert self.hooks is not None
        return await self.hooks.pre_tool(
            prepared.call, prepared.arguments.value, self.emit, mode=self._mode
        )

    async def _post_tool(self, prepared: PreparedCall, result: ToolResult) -> ToolResult:
        """The result as the model will read it, once the post_tool hooks have seen it."""
        result = self.runner.noted(result, prepared)
        if not self._hooked(prepared.call, "post_tool"):
            return result
        assert self.hooks is not None
        verdict = await self.hooks.post_tool(
            prepared.call, prepared.arguments.value, result, self.emit, mode=self._mode
        )
        return self.runner.withheld(result, verdict.reason) if verdict.blocked else result

    async def _execute(self, prepared: PreparedCall) -> ToolResult:
        """Run one approved call, telling `own_changes` what it is about to change."""
        change = prepared.change
        if change is not None and self.own_changes is not None:
            self.own_changes.wrote(change.path, change.new_text.encode("utf-8"))
        if prepared.kind == ToolKind.COMMAND:
            with self._acting():
                return await self.runner.execute(prepared)
        return await self.runner.execute(prepared)

    def _acting(self) -> contextlib.AbstractContextManager[None]:
        """While a command or a rollback runs, whatever changes is nanotui's own doing."""
        if self.own_changes is None:
            return contextlib.nullcontext()
        return self.own_changes.acting()

    async def _ask_all(self, asking: list[PreparedCall]) -> dict[str, ApprovalAnswer]:
        """Put every request to the person at once; record each answer as it comes."""
        waiting: dict[asyncio.Future[ApprovalAnswer], tuple[PreparedCall, ApprovalRequested]] = {}
        for prepared in asking:
            event = self._request(prepared)
            waiting[attach_future(event)] = (prepared, event)
            self._stages[prepared.call.id] = "waiting"
            self.emit(event)
        answers: dict[str, ApprovalAnswer] = {}
        pending = set(waiting)
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    prepared, event = waiting[future]
                    answer = future.result()
                    self._stages.pop(prepared.call.id, None)
                    if answer.decision == "always":
                        rule = self.runner.grant(prepared)
                        self.emit(Notice(text=f"Rule added: {rule}."))
                    self.emit(self._resolved(prepared, event, answer))
                    answers[prepared.call.id] = answer
        except asyncio.CancelledError:
            # Esc or quit while requests wait: each is recorded as interrupted, not refused,
            # and its future is cancelled so that a late key press answers nothing.
            for future in pending:
                prepared, event = waiting[future]
                future.cancel()
                self.emit(
                    ApprovalResolved(
                        call_id=prepared.call.id,
                        decision="interrupted",
                        shown_sha256=event.shown_sha256,
                        os_user=os_user(),
                    )
                )
            raise
        return answers

    def _resolved(
        self, prepared: PreparedCall, event: ApprovalRequested, answer: ApprovalAnswer
    ) -> ApprovalResolved:
        """The logged answer, with an approved change narrowed or edited first.

        So the log holds the hash of what will be applied (and, for an edit, how it differs).
        """
        decision = answer.decision
        applied = ""
        if decision != "reject" and prepared.change is not None:
            self.runner.apply_answer(prepared, answer)
            applied = sha256_text(prepared.change.diff)
            if prepared.edit_diff:
                decision = "edit"
        return ApprovalResolved(
            call_id=prepared.call.id,
            decision=decision,
            reason=answer.reason,
            by=answer.by,
            shown_sha256=event.shown_sha256,
            applied_sha256=applied,
            edit_diff=prepared.edit_diff,
            os_user=os_user(),
        )

    def _request(self, prepared: PreparedCall) -> ApprovalRequested:
        change = prepared.change
        return ApprovalRequested(
            call_id=prepared.call.id,
            tool=prepared.call.name,
            kind=_REQUEST_KINDS.get(prepared.kind, "command"),
            summary=prepared.summary,
            reasons=prepared.decision.reasons if prepared.decision else [],
            diff=change.diff if change else None,
            path=change.path if change else None,
            old_sha256=change.old_sha256 if change else None,
            command=prepared.command,
            commands=prepared.decision.commands if prepared.decision else [],
            sandbox=self.sandbox if prepared.kind == ToolKind.COMMAND else None,
            details=prepared.details,
            shown_sha256=sha256_text(prepared.shown_text()),
        )


_REQUEST_KINDS: dict[ToolKind, Literal["write", "command", "external"]] = {
    ToolKind.WRITE: "write",
    ToolKind.EXTERNAL: "external",
}
