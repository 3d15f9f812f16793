"""Running the `[[hooks]]` of an event: in the sandbox, one after another, each run logged.

A hook is a shell line run by the same runner as the model's commands (the same sandbox,
limits and scrubbed environment), in the workspace, with the event as JSON on stdin
(`hook_protocol`). The hooks of an event run in the order the settings list them; the
first that blocks ends it, and a pre_tool hook that hands back arguments hands them to the
next hook and, in the end, to the policy, which judges them from the start.

Fail closed: a hook that cannot start, exits with a code other than 0 or 2, times out or
answers something unreadable has failed, and a failed hook blocks unless its
`on_failure` is "allow".
"""

from __future__ import annotations

import fnmatch
import json
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanotui.config import HookConfig
from nanotui.engine.hook_protocol import (
    BLOCKING_EXIT_CODE,
    HookAnswer,
    UnreadableAnswer,
    hook_input,
    read_answer,
)
from nanotui.protocol.events import EventBase, HookRan, ToolResult
from nanotui.protocol.model_io import ToolCall
from nanotui.protocol.tool_output import unframed
from nanotui.security.sandbox.base import CommandRunner
from nanotui.security.sandbox.process import CommandStartError
from nanotui.security.secrets.redaction import Redactor

Emit = Callable[[EventBase], None]

INPUT_CHUNK_BYTES = 100_000
"""The input is handed over in environment variables of this size at most: Linux refuses one
longer than 128 KiB, and the sandbox takes no stdin of its own, so a pipe is made inside."""
MAX_INPUT_BYTES = 500_000
"""Beyond this the input is not handed over (the hook fails): the environment of one process
is limited to about 2 MB, arguments included."""
HOOK_OUTPUT_BYTES = 1_048_576
"""A hook may hand back arguments as large as any it was given."""
RESPONSE_STREAM_CHARS = 20_000
"""How much of a command's stdout and of its stderr a post_tool hook is shown."""


@dataclass(frozen=True)
class HookVerdict:
    """What the hooks of one event came to, together."""

    blocked: bool = False
    reason: str = ""
    tool_input: dict[str, Any] | None = None
    """The arguments the last pre_tool hook that changed them handed back."""


class HookRunner:
    """The hooks of a session, run for each event as it happens."""

    def __init__(
        self,
        hooks: Sequence[HookConfig],
        runner: CommandRunner,
        workspace: Path,
        session_id: str,
        redactor: Redactor,
        transcript_path: Path | None = None,
    ) -> None:
        self.hooks = list(hooks)
        self.runner = runner
        self.workspace = workspace
        self.session_id = session_id
        self.redactor = redactor
        self.transcript_path = transcript_path

    def matching(self, event: str, tool: str | None = None) -> list[HookConfig]:
        """The hooks of `event`, and for a tool's events only those whose matcher takes it."""
        return [
            hook
            for hook in self.hooks
            if hook.event == event and (tool is None or tool_matches(hook.matcher, tool))
        ]

    async def run(
        self,
        event: str,
        fields: dict[str, Any],
        emit: Emit,
        *,
        mode: str,
        call: ToolCall | None = None,
    ) -> HookVerdict:
        """Run the hooks of `event` in order, telling each `fields` (and what all are told)."""
        tool = call.name if call is not None else None
        changed: dict[str, Any] | None = None
        for hook in self.matching(event, tool):
            told = fields if changed is None else {**fields, "tool_input": changed}
            payload = hook_input(event, self._common(mode), told)
            answer, ran = await self._run_one(hook, event, payload, call)
            emit(ran)
            if answer.block:
                return HookVerdict(blocked=True, reason=answer.reason)
            if answer.tool_input is not None:
                changed = answer.tool_input
        return HookVerdict(tool_input=changed)

    async def pre_tool(
        self, call: ToolCall, arguments: Any, emit: Emit, *, mode: str
    ) -> HookVerdict:
        """The pre_tool hooks of a call whose arguments (decoded) are `arguments`."""
        fields = {"tool_name": call.name, "tool_input": arguments, "tool_use_id": call.id}
        return await self.run("pre_tool", fields, emit, mode=mode, call=call)

    async def post_tool(
        self, call: ToolCall, arguments: Any, result: ToolResult, emit: Emit, *, mode: str
    ) -> HookVerdict:
        """The post_tool hooks of a call that ran, shown its result."""
        fields = {
            "tool_name": call.name,
            "tool_input": arguments,
            "tool_use_id": call.id,
            "tool_response": tool_response(result),
        }
        return await self.run("post_tool", fields, emit, mode=mode, call=call)

    def _common(self, mode: str) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "transcript_path": str(self.transcript_path) if self.transcript_path else None,
            "cwd": str(self.workspace),
            "permission_mode": mode,
        }

    async def _run_one(
        self, hook: HookConfig, event: str, payload: dict[str, Any], call: ToolCall | None
    ) -> tuple[HookAnswer, HookRan]:
        started = time.monotonic()
        exit_code: int | None = None
        answer: HookAnswer | None = None
        failure = ""
        text = json.dumps(payload)  # ASCII: `_piped` may cut it anywhere
        if len(text) > MAX_INPUT_BYTES:
            failure = (
                f"its input is {len(text):,} bytes, more than the "
                f"{MAX_INPUT_BYTES:,} a hook can be given"
            )
        else:
            script, env = _piped(hook.command, text)
            env.update(NANOTUI_PROJECT_DIR=str(self.workspace), NANOTUI_HOOK_EVENT=event)
            # Claude Code's name for the same folder, so that ported scripts find it.
            env["CLAUDE_PROJECT_DIR"] = str(self.workspace)
            try:
                result = await self.runner.run(
                    script,
                    cwd=self.workspace,
                    timeout_s=hook.timeout_s,
                    max_output_bytes=HOOK_OUTPUT_BYTES,
                    env=env,
                )
            except (CommandStartError, OSError) as exc:
                failure = f"it could not start: {exc}"
            else:
                exit_code = result.exit_code
                if result.timed_out:
                    failure = f"timed out after {hook.timeout_s:g} s"
                elif result.stopped:
                    failure = f"stopped: {result.stopped}"
                elif result.truncated:
                    failure = f"its output passed {HOOK_OUTPUT_BYTES:,} bytes"
                elif exit_code not in (0, BLOCKING_EXIT_CODE):
                    said = _last_line(result.stderr)
                    failure = f"exit code {exit_code}" + (f": {said}" if said else "")
                else:
                    try:
                        answer = read_answer(event, exit_code or 0, result.stdout, result.stderr)
                    except UnreadableAnswer as exc:
                        failure = str(exc)
        if answer is None:
            answer = _after_failure(hook, event, failure)
        decision = "block" if answer.block else "modify" if answer.tool_input else "continue"
        ran = HookRan(
            hook_event=event,  # type: ignore[arg-type]
            command=hook.command,
            decision=decision,
            reason=self.redactor.redact(answer.reason).text,
            failure=self.redactor.redact(failure).text,
            call_id=call.id if call is not None else None,
            tool=call.name if call is not None else None,
            tool_input=answer.tool_input,
            exit_code=exit_code,
            duration_s=round(time.monotonic() - started, 3),
        )
        return HookAnswer(answer.block, ran.reason, answer.tool_input), ran


def tool_matches(matcher: str, tool: str) -> bool:
    """A matcher is a glob on the tool name; "" or "*" take every tool, and "a|b" either
    (Claude Code's matchers are often written that way)."""
    return any(fnmatch.fnmatchcase(tool, part.strip() or "*") for part in matcher.split("|"))


def tool_response(result: ToolResult) -> dict[str, Any]:
    """A tool's result as a post_tool hook sees it: what the model reads, and a command's
    exit code and streams (trimmed)."""
    response: dict[str, Any] = {
        "ok": result.ok,
        "content": unframed(result.content),
        "files_changed": result.files_changed,
    }
    for key in ("exit_code", "timed_out"):
        if key in result.data:
            response[key] = result.data[key]
    for key in ("stdout", "stderr"):
        if isinstance(result.data.get(key), str):
            response[key] = result.data[key][-RESPONSE_STREAM_CHARS:]
    return response


def _piped(command: str, text: str) -> tuple[str, dict[str, str]]:
    """The shell line that gives `command` the input on stdin, and the variables holding it.

    `text` is ASCII (JSON with its escapes), so it can be cut anywhere."""
    env = {
        f"NANOTUI_HOOK_INPUT_{n}": text[start : start + INPUT_CHUNK_BYTES]
        for n, start in enumerate(range(0, len(text) or 1, INPUT_CHUNK_BYTES))
    }
    pieces = " ".join(f'"${name}"' for name in env)
    return f"printf '%s' {pieces} | bash -c {shlex.quote(command)}", env


def _after_failure(hook: HookConfig, event: str, failure: str) -> HookAnswer:
    if hook.on_failure == "allow":
        return HookAnswer()
    return HookAnswer(
        block=True,
        reason=f"the {event} hook `{hook.command}` failed ({failure}), and a hook that fails "
        'blocks (its on_failure = "allow" would let it pass)',
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
