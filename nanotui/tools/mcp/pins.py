"""Pinned tool definitions: what each MCP tool said the first time, per project.

A server that changes what a tool says (its description, which the model reads as
instructions, or its input schema) after the user started using it is a known attack. So
the first `tools/list` of a server in a project is hashed per tool (name, description,
input schema) and kept under nanotui's state folder, out of the repository's reach; later a
tool that is new, or whose hash differs, is not approved until the person accepts it
(`/mcp accept NAME` in the app, or `nanotui mcp tools NAME --accept`). A definition that reads
like instructions to the model, or hides text from the person (`injection_flags`), is not
pinned unseen even the first time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from nanotui import paths
from nanotui.protocol.atomic_write import write_atomically
from nanotui.protocol.basics import visible_controls
from nanotui.security.injection import find_injection


@dataclass(frozen=True)
class ToolDefinition:
    """What a server says of one tool, as the model is told it."""

    name: str
    description: str
    input_schema: dict[str, Any]

    @cached_property
    def _text(self) -> str:
        return json.dumps(
            {"name": self.name, "description": self.description, "schema": self.input_schema},
            sort_keys=True,
        )

    @property
    def digest(self) -> str:
        return hashlib.sha256(self._text.encode()).hexdigest()

    @property
    def size(self) -> int:
        """How long it is, in characters, all told."""
        return len(self._text)

    @cached_property
    def injection_flags(self) -> str:
        """What in its description or schema addresses the model, or hides from the person,
        in words, or ""."""
        text = "\n".join([self.description, *_texts(self.input_schema)])
        said = [f"{flag.label}: {flag.snippet!r}" for flag in find_injection(text)]
        if visible_controls(text) != text:
            # Escape sequences could hide words on the person's screen the model still reads.
            said.append("terminal control characters, which could hide text from you")
        return "; ".join(said)


def _texts(value: Any) -> list[str]:
    """Every string in a JSON schema (property names, descriptions, titles, enum values):
    the model reads them all, so instructions can hide in any of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [str(key), *_texts(item)]]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


def pins_file(workspace: Path) -> Path:
    """Where the pins of the project in `workspace` are kept (one file per project)."""
    key = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:24]
    return paths.state_dir() / "mcp-pins" / f"{key}.json"


class PinStore:
    """The pinned definitions of one project's servers: server -> tool -> digest."""

    def __init__(self, workspace: Path) -> None:
        self.file = pins_file(workspace)
        self.workspace = workspace.resolve()
        self._parsed: tuple[tuple[int, int, int], dict[str, dict[str, str]]] | None = None
        """The file as last parsed, with the stamp it had then."""

    def _read(self) -> dict[str, dict[str, str]]:
        """The pins as the file holds them now. Every tool of every request asks, so the file
        is parsed again only when its stamp changed (an acceptance by `nanotui mcp tools
        --accept` in another process replaces it, and so changes it)."""
        try:
            info = self.file.stat()
        except OSError:
            return {}  # none yet
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        if self._parsed is not None and self._parsed[0] == stamp:
            return self._parsed[1]
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None  # a damaged file pins nothing: every tool asks again
        servers = data.get("servers") if isinstance(data, dict) else None
        servers = servers if isinstance(servers, dict) else {}
        self._parsed = (stamp, servers)
        return servers

    def knows(self, server: str) -> bool:
        """Whether the server's tools were ever pinned in this project."""
        return server in self._read()

    def standing(self, server: str, definition: ToolDefinition) -> str:
        """ "approved" when `definition` is the one pinned, else "new" or "changed"."""
        pinned = self._read().get(server, {}).get(definition.name)
        if pinned is None:
            return "new"
        return "approved" if pinned == definition.digest else "changed"

    def problem(self, server: str, definition: ToolDefinition) -> str:
        """ "" when `definition` is the one pinned, else what is wrong with it, in words."""
        standing = self.standing(server, definition)
        if standing == "new":
            return f"mcp:{server}/{definition.name} is a new tool, not approved yet"
        if standing == "changed":
            return (
                f"the definition of mcp:{server}/{definition.name} (its description or input "
                "schema) changed since it was approved"
            )
        return ""

    def pin(self, server: str, definitions: list[ToolDefinition]) -> None:
        """Remember these definitions as approved (others of the server stay as they are)."""
        servers = dict(self._read())  # the parsed copy is shared with later reads
        tools = dict(servers.get(server, {}))
        tools.update({d.name: d.digest for d in definitions})
        servers[server] = tools
        paths.ensure_private_dir(self.file.parent)
        body = {"workspace": str(self.workspace), "servers": servers}
        write_atomically(self.file, json.dumps(body, indent=2, sort_keys=True) + "\n")
