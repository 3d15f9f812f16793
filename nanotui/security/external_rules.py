"""Rules for the tools of MCP servers: `mcp:SERVER/TOOL` globs in [policy] allow, ask, deny.

They sit in the same lists as the command rules (`deny = ["curl *", "mcp:*/delete_*"]`), so
every layer's lists add up for them as for commands, a managed deny holds, and an untrusted
folder cannot add an allow rule. The command policy never sees them (`command_rules`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

RULE_PREFIX = "mcp:"
Verdict = Literal["allow", "ask", "deny"]


def rule_name(server: str, tool: str) -> str:
    """How rules, the log and the screens name a server's tool: `mcp:docs/search`."""
    return f"{RULE_PREFIX}{server}/{tool}"


def command_rules(rules: Sequence[str]) -> list[str]:
    """The rules that judge shell lines: all but those naming MCP tools."""
    return [rule for rule in rules if not rule.startswith(RULE_PREFIX)]


@dataclass(frozen=True)
class ExternalToolRules:
    """The `mcp:` rules of the allow, ask and deny lists; deny > ask > allow."""

    allow: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    @classmethod
    def from_lists(
        cls, allow: Sequence[str], ask: Sequence[str], deny: Sequence[str]
    ) -> ExternalToolRules:
        def ours(rules: Sequence[str]) -> tuple[str, ...]:
            return tuple(rule for rule in rules if rule.startswith(RULE_PREFIX))

        return cls(ours(allow), ours(ask), ours(deny))

    def match(self, name: str) -> tuple[Verdict | None, str]:
        """The strictest verdict a rule gives `name` (`mcp:server/tool`), and that rule.

        The server names its tools: deny and ask rules hold whatever their case
        (`mcp:*/delete_*` also stops `Delete_all`), allow rules name exactly what they allow.
        """
        for rule in self.deny:
            if fnmatchcase(name.casefold(), rule.casefold()):
                return "deny", rule
        for rule in self.ask:
            if fnmatchcase(name.casefold(), rule.casefold()):
                return "ask", rule
        for rule in self.allow:
            if fnmatchcase(name, rule):
                return "allow", rule
        return None, ""
