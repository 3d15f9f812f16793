"""What one turn came to, as `nanotui run` and the team service report it: the `RunResult`
event with its exit code, and the refusal a run without a person gives what needs one."""

from __future__ import annotations

from nanotui.engine.facade import EngineSession
from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.events import ApprovalRequested, RunResult, TurnFinished

EXIT_CODES = {
    "done": 0,
    "error": 1,
    "stuck": 1,
    "max_turns": 1,
    "cancelled": 1,
    "needs_approval": 2,
    "budget": 3,
    "refused": 4,
}


def headless_refusal(event: ApprovalRequested, mode: str) -> ApprovalAnswer:
    if event.kind == "external":
        reason = (
            f"this MCP tool call needs approval, which {mode} mode cannot give in a headless "
            f'run (add a [policy] allow rule such as "{event.summary.split()[0]}", or rerun '
            "with --mode full-auto)."
        )
    else:
        what = "file change" if event.kind == "write" else "command"
        reason = (
            f"this {what} needs approval, which {mode} mode cannot give in a headless run "
            "(rerun with --mode auto-edit or full-auto, or add a [policy] allow rule)."
        )
    return ApprovalAnswer(decision="reject", by="headless", reason=reason)


async def turn_result(
    session: EngineSession, finished: TurnFinished | None, errors: list[str]
) -> RunResult:
    """The result of the turn that just ended (`finished` None: it ended without saying how;
    `errors` the error sentences it showed), logged in the session."""
    status = finished.status if finished else "error"
    message = (finished.reason if finished else "") or (errors[-1] if errors else "")
    spend = session.spend
    result = RunResult(
        status=status,
        exit_code=EXIT_CODES.get(status, 1),
        usage=session.usage,
        cost_usd=spend.cost_usd,
        unpriced_requests=spend.unpriced_requests,
        files_changed=await session.files_changed_in_turn(),
        checkpoint=session.turn_checkpoint(),
        session=session.session_id,
        message=message,
    )
    session.record(result)
    return result
