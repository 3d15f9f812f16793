"""One tool call made by hand (`nanotui tool`), down the agent's own path.

The call goes through the same dispatcher as a model's: its pre_tool hooks first (they may
block it or hand back other arguments, judged from the start), then the jail and the policy,
the runner, and its post_tool hooks. Nobody is there to approve, so what would ask is
refused, as in a headless run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nanotui.config import Settings
from nanotui.engine.approvals import resolve
from nanotui.engine.assembly import build_tool_environment, redactor_for, session_hooks
from nanotui.engine.dispatch import CallDispatcher
from nanotui.engine.run_result import headless_refusal
from nanotui.engine.tool_calls import PreparedCall, ToolCallRunner
from nanotui.protocol.basics import new_session_id
from nanotui.protocol.events import ApprovalRequested, EventBase, ToolResult
from nanotui.protocol.model_io import ToolCall
from nanotui.tools.registry import default_tools


@dataclass
class OneCallOutcome:
    result: ToolResult
    decision: str | None
    """The policy's verdict (allow, ask, deny); None when the call was refused before it
    was judged (a hook blocked it, the jail refused its path, its arguments were wrong)."""
    reasons: list[str] = field(default_factory=list)
    events: list[EventBase] = field(default_factory=list)
    """Everything the dispatcher said on the way (the hooks' runs among it)."""


async def run_one_call(
    settings: Settings, workspace: Path, name: str, arguments: str, mode: str
) -> OneCallOutcome:
    """Run the tool `name` with `arguments` (JSON text) as the agent would in `mode`."""
    env = build_tool_environment(settings, workspace)
    redactor = redactor_for(settings)
    runner = ToolCallRunner(default_tools(), env.context, env.policy, redactor=redactor)
    events: list[EventBase] = []

    def emit(event: EventBase) -> None:
        if isinstance(event, ApprovalRequested):
            resolve(event, headless_refusal(event, mode))
        events.append(event)

    finished: list[tuple[ToolResult, PreparedCall]] = []
    dispatcher = CallDispatcher(
        runner, emit, env.backend, hooks=session_hooks(settings, env, new_session_id(), redactor)
    )
    try:
        await dispatcher.run(
            [ToolCall(id="cli", name=name, arguments=arguments)],
            mode,
            lambda result, prepared: finished.append((result, prepared)),
            lambda: None,
        )
    finally:
        if env.proxy is not None:
            await env.proxy.close()
    [(result, prepared)] = finished
    verdict = prepared.decision
    return OneCallOutcome(
        result=result,
        decision=verdict.decision if verdict and prepared.early_result is None else None,
        reasons=verdict.reasons if verdict else [],
        events=events,
    )
