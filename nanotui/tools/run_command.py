"""run_command: one shell command line, run by the context's runner (the sandbox)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from nanotui.security.jail.workspace import PathRefused
from nanotui.security.sandbox.base import CommandResult
from nanotui.security.sandbox.process import CommandStartError
from nanotui.tools.base import Tool, ToolArgs, ToolContext, ToolKind, ToolOutput

MODEL_STREAM_CHARS = 20_000
"""How much of each of stdout and stderr the model reads; the rest is cut from the middle."""


class RunCommandArgs(ToolArgs):
    command: str = Field(
        min_length=1,
        description="The shell command line to run with bash, e.g. `pytest -q tests/test_x.py`.",
    )
    timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Seconds before the command is killed; capped by the configured limit.",
    )
    cwd: str = Field(default=".", description="Folder to run in, relative to the workspace root.")


def trim_for_model(text: str, limit: int = MODEL_STREAM_CHARS) -> str:
    """Keep the head and the (usually more telling) tail of long output, saying what was cut."""
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters cut ...]\n{text[-tail:]}"


class RunCommandTool(Tool):
    """Run a shell command in the workspace."""

    name: ClassVar[str] = "run_command"
    description: ClassVar[str] = (
        "Run a shell command (bash) in the workspace and get its exit code, stdout and stderr. "
        "Use it for tests, builds and linters. It has no terminal and no input; interactive "
        "programs will not work, and it is killed after its timeout."
    )
    Args: ClassVar[type[ToolArgs]] = RunCommandArgs
    kind: ClassVar[ToolKind] = ToolKind.COMMAND

    async def run(self, args: RunCommandArgs, ctx: ToolContext) -> ToolOutput:
        ws = ctx.workspace
        try:
            cwd = ws.resolve_for_read(args.cwd)
        except PathRefused as exc:
            return ToolOutput(ok=False, content=str(exc))
        if not cwd.is_dir():
            return ToolOutput(
                ok=False, content=f"{ws.relative(cwd)} is not a folder; give an existing folder."
            )
        timeout = min(args.timeout_s or ctx.command_timeout_s, ctx.command_timeout_s)
        try:
            result = await ctx.runner.run(
                args.command,
                cwd=cwd,
                timeout_s=timeout,
                max_output_bytes=ctx.max_output_bytes,
            )
        except CommandStartError as exc:
            return ToolOutput(ok=False, content=str(exc))
        except OSError as exc:
            return ToolOutput(ok=False, content=f"The command could not run: {exc.strerror}.")
        return ToolOutput(
            ok=result.exit_code == 0 and not result.timed_out and not result.stopped,
            content=describe_result(result, timeout, ctx.max_output_bytes),
            data=result.model_dump(),
        )


def describe_result(result: CommandResult, timeout_s: float, max_output_bytes: int) -> str:
    """The result as the model reads it: status first, then each stream, then the notes."""
    if result.stopped:
        status = f"stopped: {result.stopped}"
    elif result.timed_out:
        status = f"timed out after {timeout_s:g} s; the command and its children were killed"
    elif result.exit_code is not None and result.exit_code < 0:
        status = f"killed by signal {-result.exit_code}"
    else:
        status = f"exit code {result.exit_code}"
    parts = [status]
    for label, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        if text:
            parts.append(f"{label}:\n{trim_for_model(text).rstrip()}")
        else:
            parts.append(f"{label}: (empty)")
    if result.truncated:
        parts.append(
            f"(The output passed {max_output_bytes} bytes; its middle was cut where marked, "
            "the beginning and the end are kept.)"
        )
    if result.notice:
        parts.append(f"(Note: {result.notice})")
    return "\n\n".join(parts)
