"""What a hook is told and how its answer is read: version 1 of the hook protocol.

The shape follows Claude Code's hooks closely enough that their scripts port with little
change: the event arrives as one JSON object on stdin (`hook_event_name` in Claude Code's
spelling, `session_id`, `cwd`, `tool_name`, `tool_input`, `tool_response`, `prompt`), and
the answer is the exit code (0 go on, 2 block with stderr as the reason) plus optional JSON
on stdout (`{"decision": "block", "reason": ...}`, or Claude Code's `hookSpecificOutput`
with `permissionDecision` and `updatedInput`). A hook can never approve anything: "allow"
and "approve" mean only that it does not object, and the policy still decides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nanotui.protocol.basics import clipped

HOOK_PROTOCOL_VERSION = 1
"""Raised when a field changes meaning or goes away; new fields may come without it."""

CLAUDE_CODE_NAMES = {
    "session_start": "SessionStart",
    "user_prompt": "UserPromptSubmit",
    "pre_tool": "PreToolUse",
    "post_tool": "PostToolUse",
    "stop": "Stop",
}
"""Each event as Claude Code names it (`hook_event_name`), so ported scripts recognise it."""

BLOCKING_EXIT_CODE = 2


class UnreadableAnswer(ValueError):
    """The hook answered something that is not an answer; the sentence says what."""


@dataclass(frozen=True)
class HookAnswer:
    """What one hook decided: block (with its reason), or go on, perhaps with new arguments."""

    block: bool = False
    reason: str = ""
    tool_input: dict[str, Any] | None = None
    """The arguments a pre_tool hook hands back in place of the model's."""


def hook_input(event: str, common: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The JSON object a hook reads on stdin for `event`."""
    return {
        "version": HOOK_PROTOCOL_VERSION,
        "event": event,
        "hook_event_name": CLAUDE_CODE_NAMES[event],
        **common,
        **fields,
    }


def read_answer(event: str, exit_code: int, stdout: str, stderr: str) -> HookAnswer:
    """The answer of a hook that finished with `exit_code` (0 or 2; others are failures)."""
    if exit_code == BLOCKING_EXIT_CODE:
        return HookAnswer(block=True, reason=stderr.strip() or "blocked by a hook (exit code 2)")
    text = stdout.strip()
    if not text:
        return HookAnswer()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise UnreadableAnswer(
            f"it printed something that is not JSON ({clipped(text, 60)!r}); print nothing, "
            "or one JSON object"
        ) from None
    if not isinstance(data, dict):
        raise UnreadableAnswer("its JSON answer is not an object")
    return _answer_from(event, data)


def _answer_from(event: str, data: dict[str, Any]) -> HookAnswer:
    specific = data.get("hookSpecificOutput")
    specific = specific if isinstance(specific, dict) else {}
    decision = data.get("decision", specific.get("permissionDecision"))
    reason = data.get("reason") or specific.get("permissionDecisionReason") or ""
    if data.get("continue") is False:  # Claude Code's "stop everything"
        if event == "stop":
            return HookAnswer()  # the model stops: that is what a stop hook lets happen
        decision, reason = "block", reason or data.get("stopReason") or ""
    if decision in ("block", "deny"):
        return HookAnswer(block=True, reason=str(reason) or "blocked by a hook")
    if decision not in (None, "continue", "approve", "allow", "ask"):
        raise UnreadableAnswer(f'its decision {decision!r} is neither "block" nor "continue"')
    tool_input = data.get("tool_input", specific.get("updatedInput"))
    if tool_input is None:
        return HookAnswer()
    if event != "pre_tool":
        raise UnreadableAnswer(f"only a pre_tool hook may hand back tool_input, not {event}")
    if not isinstance(tool_input, dict):
        raise UnreadableAnswer("the tool_input it handed back is not a JSON object")
    return HookAnswer(tool_input=tool_input)
