"""Approvals as ACP permission requests: the options offered, and the answer read back.

Only an option nanotui offered and the person chose approves anything. Every other outcome
(the editor answered with an error, cancelled the request, picked an option that was not
offered, or went away) is a refusal that says why, never a silent yes.
"""

from __future__ import annotations

from acp.schema import (
    AllowedOutcome,
    PermissionOption,
    RequestPermissionResponse,
)

from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.events import ApprovalRequested

APPROVE, ALWAYS, REJECT = "approve", "always", "reject"
"""The option ids, named as the answers they stand for."""


def options_for(request: ApprovalRequested) -> list[PermissionOption]:
    """Allow once, allow for the rest of the session (the app's `a`), reject."""
    if request.tool == "network":
        once, always = "Allow this connection", "Allow this host for the rest of the session"
    elif request.kind == "write":
        once = "Apply this change"
        always = f"Apply, and allow changes to {request.path} for the rest of the session"
    elif request.kind == "external":
        once = f"Call {request.tool}"
        always = f"Call, and allow {request.tool} for the rest of the session"
    else:
        once = "Run this command"
        always = "Run, and allow this command for the rest of the session"
    return [
        PermissionOption(option_id=APPROVE, name=once, kind="allow_once"),
        PermissionOption(option_id=ALWAYS, name=always, kind="allow_always"),
        PermissionOption(option_id=REJECT, name="Reject", kind="reject_once"),
    ]


def answer_for(response: RequestPermissionResponse) -> ApprovalAnswer:
    """The approval answer a person gave in the editor, or a refusal saying what went wrong."""
    outcome = response.outcome
    if not isinstance(outcome, AllowedOutcome):
        return refused("the editor cancelled the permission request")
    if outcome.option_id == APPROVE:
        return ApprovalAnswer(decision="approve", by="user")
    if outcome.option_id == ALWAYS:
        return ApprovalAnswer(decision="always", by="user")
    if outcome.option_id == REJECT:
        return ApprovalAnswer(decision="reject", by="user")
    offered = f"({outcome.option_id!r})"
    return refused(f"the editor answered with an option nanotui did not offer {offered}")


def refused(why: str) -> ApprovalAnswer:
    """The answer for a permission request that got no usable answer: nothing runs."""
    return ApprovalAnswer(
        decision="reject", by="editor", reason=f"{why}, so nothing was done; ask the user."
    )
