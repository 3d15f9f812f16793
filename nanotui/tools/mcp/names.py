"""The names an MCP tool goes by: the model's (`mcp__docs__search`) and the rules'
(`mcp:docs/search`).

Providers take tool names of letters, digits, `_` and `-` only, 64 at most (OpenAI's
`^[a-zA-Z0-9_-]{1,64}$`; Anthropic's is the same); MCP tool names may hold dots, slashes or
anything else. Other characters become `_`, and a name that would be too long, or that
two tools would share after that, keeps a short hash of the original to stay apart.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 64
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")


def model_tool_name(server: str, tool: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """The name the model calls `tool` of `server` by; not among `taken`."""
    name = f"mcp__{server}__{_NOT_ALLOWED.sub('_', tool)}"
    if len(name) <= MAX_NAME and name not in taken:
        return name
    digest = hashlib.sha256(f"{server}/{tool}".encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9]}_{digest}"
