"""Decides whether a tool call may run: allow, ask or deny, with reasons.

This is the one place where the approval mode, the command policy, the workspace jail and
the rules the user granted during the session meet. Tools never decide for themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from nanotui.security.external_rules import ExternalToolRules
from nanotui.security.shell.commands import CommandPolicy

Verdict = Literal["allow", "ask", "deny"]
ActionKind = Literal["read", "write", "command", "external"]


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
    external_tools: set[str] = field(default_factory=set)

    def describe_write(self, path: str) -> str:
        return f"changes to {path} are allowed for the rest of this session"

    def describe_command(self, command: str) -> str:
        return f"the command `{command}` is allowed for the rest of this session"

    def describe_external(self, name: str) -> str:
        return f"calls to {name} are allowed for the rest of this session"


class ActionPolicy:
    """Combines the mode, the command rules and the session's grants into one decision."""

    def __init__(
        self,
        commands: CommandPolicy,
        grants: SessionGrants | None = None,
        external: ExternalToolRules | None = None,
    ) -> None:
        self.commands = commands
        self.grants = grants or SessionGrants()
        self.external = external or ExternalToolRules()
        """The `mcp:` rules of the same lists (`external_rules`)."""

    def decide(
        self,
        kind: ActionKind,
        mode: str,
        *,
        path: str | None = None,
        command: str | None = None,
        tool: str | None = None,
        unapproved: str = "",
    ) -> ActionDecision:
        """`tool` names an MCP tool (`mcp:server/tool`); `unapproved` says how its definition
        differs from the one pinned, when it does."""
        if kind == "read":
            return ActionDecision("allow", ["allow: reading inside the workspace"])
        if kind == "write":
            return self._decide_write(mode, path or "")
        if kind == "external":
            return self._decide_external(mode, tool or "", unapproved)
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

    def _decide_external(self, mode: str, name: str, unapproved: str) -> ActionDecision:
        """An MCP tool: its effects are not known (a server's own "read-only" hint is not
        believed), so it runs unasked only where a rule or full-auto says so, and never
        with a definition the person has not accepted (such a tool is not even offered to
        the model; this holds for a call that names it anyway)."""
        verdict, rule = self.external.match(name)
        if verdict == "deny":
            return ActionDecision("deny", [f"deny: the rule {rule!r} denies {name}"])
        if unapproved:
            return ActionDecision("deny", [f"deny: {unapproved}"])
        if mode == "plan":
            if verdict == "allow":
                return ActionDecision("allow", [f"allow: the rule {rule!r} allows {name}"])
            return ActionDecision(
                "deny",
                [
                    "deny: plan mode calls only the MCP tools an allow rule names (what the "
                    "others do is not known); switch to ask mode to call others"
                ],
            )
        if verdict == "allow":
            return ActionDecision("allow", [f"allow: the rule {rule!r} allows {name}"])
        if verdict == "ask":
            return ActionDecision("ask", [f"ask: the rule {rule!r} asks about {name}"])
        if name in self.grants.external_tools:
            return ActionDecision("allow", [f"allow: {self.grants.describe_external(name)}"])
        if self.commands.default == "deny":
            return ActionDecision(
                "deny", [f'deny: [policy] default = "deny" and no rule allows {name}']
            )
        if mode == "full-auto":
            return ActionDecision(
                "allow", ["allow: full-auto mode runs what no rule denies or asks about"]
            )
        return ActionDecision("ask", [f"ask: {mode} mode shows every MCP tool call first"])

    def grant(self, kind: ActionKind, key: str) -> str:
        """Record an `always` answer; returns the rule in words for the log and the screen."""
        if kind == "write":
            self.grants.write_paths.add(key)
            return self.grants.describe_write(key)
        if kind == "external":
            self.grants.external_tools.add(key)
            return self.grants.describe_external(key)
        self.grants.commands.add(key)
        return self.grants.describe_command(key)


def describe(decision: ActionDecision) -> dict[str, Any]:
    return {"decision": decision.decision, "reasons": decision.reasons}
