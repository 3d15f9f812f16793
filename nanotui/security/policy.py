"""Decides whether a tool call may run: allow, ask or deny, with reasons.

This is the one place where the approval mode, the command policy, the workspace jail and
the rules the user granted during the session meet. Tools never decide for themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from nanotui.security.shell.commands import CommandPolicy

Verdict = Literal["allow", "ask", "deny"]
ActionKind = Literal["read", "write", "command"]


@dataclass
class ActionDecision:
    decision: Verdict
    reasons: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    """For commands: each sub-command as parsed."""


@dataclass
class SessionGrants:
    """What the user allowed "for the rest of the session" (the `always` answer)."""

    write_paths: set[str] = field(default_factory=set)
    commands: set[str] = field(default_factory=set)

    def describe_write(self, path: str) -> str:
        return f"changes to {path} are allowed for the rest of this session"

    def describe_command(self, command: str) -> str:
        return f"the command `{command}` is allowed for the rest of this session"


class ActionPolicy:
    """Combines the mode, the command rules and the session's grants into one decision."""

    def __init__(self, commands: CommandPolicy, grants: SessionGrants | None = None) -> None:
        self.commands = commands
        self.grants = grants or SessionGrants()

    def decide(
        self, kind: ActionKind, mode: str, *, path: str | None = None, command: str | None = None
    ) -> ActionDecision:
        if kind == "read":
            return ActionDecision("allow", ["allow: reading inside the workspace"])
        if kind == "write":
            return self._decide_write(mode, path or "")
        return self._decide_command(mode, command or "")

    def _decide_write(self, mode: str, path: str) -> ActionDecision:
        if mode == "plan":
            return ActionDecision(
                "deny", ["deny: plan mode is read-only; switch to ask or auto-edit to change files"]
            )
        if path in self.grants.write_paths:
            return ActionDecision("allow", [f"allow: {self.grants.describe_write(path)}"])
        if mode in ("auto-edit", "full-auto"):
            return ActionDecision("allow", [f"allow: {mode} mode applies changes in the workspace"])
        return ActionDecision("ask", [f"ask: ask mode shows every change to {path} first"])

    def _decide_command(self, mode: str, command: str) -> ActionDecision:
        judged = self.commands.decide(command)
        reasons = list(judged.reasons)
        if judged.decision == "deny":
            return ActionDecision("deny", reasons, judged.commands)
        if mode == "plan":
            if judged.decision == "allow" and judged.read_only:
                reasons.append("allow: plan mode runs known read-only commands")
                return ActionDecision("allow", reasons, judged.commands)
            reasons.append(
                "deny: plan mode runs only known read-only commands (ls, cat, grep, git log, "
                "...); switch to ask mode to run others"
            )
            return ActionDecision("deny", reasons, judged.commands)
        if command in self.grants.commands:
            reasons.append(f"allow: {self.grants.describe_command(command)}")
            return ActionDecision("allow", reasons, judged.commands)
        if mode == "full-auto" and not judged.needs_person:
            reasons.append("allow: full-auto mode runs what no rule denies or asks about")
            return ActionDecision("allow", reasons, judged.commands)
        return ActionDecision(judged.decision, reasons, judged.commands)

    def grant(self, kind: ActionKind, key: str) -> str:
        """Record an `always` answer; returns the rule in words for the log and the screen."""
        if kind == "write":
            self.grants.write_paths.add(key)
            return self.grants.describe_write(key)
        self.grants.commands.add(key)
        return self.grants.describe_command(key)


def describe(decision: ActionDecision) -> dict[str, Any]:
    return {"decision": decision.decision, "reasons": decision.reasons}
