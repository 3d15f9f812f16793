"""The shape of a tool: a name, a description, pydantic arguments and an async `run`.

Tools hold no policy. Whether a call may run is decided in `nanotui.security` before `run`
is called; a tool only does its job, inside the workspace jail it is handed, and reports
failures as a `ToolOutput` with `ok=False` (never by raising to the agent).
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nanotui.protocol.model_io import ToolSpec


class ToolKind(StrEnum):
    READ = "read"
    """Looks, never changes anything: may run in parallel and in plan mode."""
    WRITE = "write"
    """Changes files in the workspace; produces a diff to approve."""
    COMMAND = "command"
    """Runs a shell command; judged by the command policy and run in the sandbox."""
    EXTERNAL = "external"
    """Calls a tool another program provides (an MCP server's); judged by the `mcp:` rules."""


class ToolArgs(BaseModel):
    """Base for tool arguments: unknown keys are an error the model can correct."""

    model_config = ConfigDict(extra="forbid")


class ToolOutput(BaseModel):
    """What a tool call produced. `content` is what the model reads."""

    ok: bool = True
    content: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    """Structured details for front ends (exit code, match count, ...)."""
    diff: str | None = None
    files_changed: list[str] = Field(default_factory=list)


class ToolArgumentError(Exception):
    """The model's arguments could not be used; the message tells the model how to fix them."""


class ToolFailure(Exception):
    """A tool could not do its job; the message is one sentence the model can act on."""


@dataclass
class ToolContext:
    """What a tool may use: the jailed workspace and the command runner."""

    workspace: Any  # nanotui.security.jail.workspace.Workspace
    runner: Any  # nanotui.security.sandbox.CommandRunner
    command_timeout_s: float = 120.0
    max_output_bytes: int = 1_048_576
    max_read_bytes: int = 256 * 1024


@functools.cache
def argument_schema(args: type[ToolArgs]) -> dict[str, Any]:
    """The JSON schema of a tool's arguments, made once per class: every model request
    offers every tool, and making the schemas each time cost 2.4 ms of the event loop.
    Shared by all requests, so read only."""
    schema = args.model_json_schema()
    schema.pop("title", None)
    return schema


class Tool(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[ToolArgs]]
    kind: ClassVar[ToolKind]

    def spec(self) -> ToolSpec:
        return ToolSpec(
            name=self.name, description=self.description, parameters=argument_schema(self.Args)
        )

    def parse_args(self, raw: Any) -> ToolArgs:
        """Validate the model's arguments (decoded from their JSON already), or raise
        ToolArgumentError with one clear sentence."""
        if not isinstance(raw, dict):
            raise ToolArgumentError(f"The arguments for {self.name} must be a JSON object.")
        try:
            return self.Args.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ToolArgumentError(f"Invalid arguments for {self.name}: {problems}.") from exc

    @abstractmethod
    async def run(self, args: Any, ctx: ToolContext) -> ToolOutput:
        """Do the work. Failures come back as ToolOutput(ok=False, content=<one sentence>)."""

    def summary(self, args: Any) -> str:
        """A short one-line description of the call for front ends and logs."""
        dumped = args.model_dump(exclude_defaults=True)
        text = ", ".join(f"{k}={v!r}" for k, v in dumped.items())
        return text if len(text) <= 120 else text[:117] + "..."


class ExternalTool(Tool):
    """A tool another program provides (`nanotui.tools.mcp`): its effects are not known, so
    it is judged by its rule name, the person sees its arguments before it runs, and while
    its definition is not one they approved it is neither offered to the model nor run."""

    kind: ClassVar[ToolKind] = ToolKind.EXTERNAL
    rule_name: str
    """How rules and screens name it, e.g. `mcp:docs/search`."""

    @abstractmethod
    def unapproved(self) -> str:
        """How its definition differs from the one the person approved, or ""."""

    @abstractmethod
    def shown(self, args: Any) -> str:
        """What an approval shows of a call: its arguments, readably."""
