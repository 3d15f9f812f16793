"""Preparing, judging and running one tool call.

`prepare` validates the arguments (decoded from the model's JSON once, `CallArguments`),
computes a write's diff before anything is written, and asks the action policy for a
decision. `execute` runs what was decided. Every failure becomes a
`ToolResult` the model can read; nothing here raises into the turn loop.

Every result is made here, so this is where secrets are redacted from what the model reads
and where the output of reads and commands is checked for prompt injection and closed with
the note that it is data, not instructions.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.basics import clipped, plural
from nanotui.protocol.diffs import FileChange, apply_hunks, edit_diff
from nanotui.protocol.events import ToolResult
from nanotui.protocol.model_io import ToolCall
from nanotui.security.injection import (
    InjectionFlag,
    find_injection,
    frame_untrusted,
    new_output_marker,
)
from nanotui.security.jail.workspace import PathRefused
from nanotui.security.policy import ActionDecision, ActionPolicy
from nanotui.security.secrets.redaction import Redactor, session_redactor
from nanotui.tools.base import (
    ExternalTool,
    Tool,
    ToolArgumentError,
    ToolContext,
    ToolFailure,
    ToolKind,
    ToolOutput,
)
from nanotui.tools.file_change import WriteTool, apply_change, make_change

MAX_RESULT_CHARS = 60_000  # what one tool result may put into the model's context


@dataclass(frozen=True)
class CallArguments:
    """A tool call's arguments, decoded from the model's JSON text once for the whole path."""

    raw: str
    value: Any = None
    error: json.JSONDecodeError | None = None
    """Set when `raw` is not JSON; the tool's name goes into the message the model gets."""

    @classmethod
    def decode(cls, raw: str) -> CallArguments:
        try:
            return cls(raw, json.loads(raw or "{}"))
        except json.JSONDecodeError as exc:
            return cls(raw, error=exc)

    @property
    def key(self) -> str:
        """The arguments as the loop guard compares them: key order and spacing do not count."""
        if self.error is not None or not self.raw:
            return self.raw
        return json.dumps(self.value, sort_keys=True)

    def value_for(self, tool: Tool) -> Any:
        """The decoded value, or ToolArgumentError saying the text was not JSON."""
        if self.error is not None:
            raise ToolArgumentError(
                f"The arguments for {tool.name} are not valid JSON ({self.error.msg} at "
                f"character {self.error.pos}); send a single JSON object."
            )
        return self.value


@dataclass
class PreparedCall:
    call: ToolCall
    arguments: CallArguments
    tool: Tool | None = None
    args: Any = None
    kind: ToolKind = ToolKind.READ
    summary: str = ""
    decision: ActionDecision | None = None
    change: FileChange | None = None
    command: str | None = None
    early_result: ToolResult | None = None
    """Set when the call ends before any decision: unknown tool, bad arguments, refused path."""
    malformed: bool = False
    """The arguments could not be used (not JSON, or not what the tool takes)."""
    edit_diff: str | None = None
    """Set when the person edited the change: how what is applied differs from the proposal."""
    rewritten_by_hook: bool = False
    """A pre_tool hook handed back these arguments in place of the model's."""
    details: str | None = None
    """For an MCP tool: its arguments as pretty-printed JSON (`ExternalTool.shown`)."""

    def shown_text(self) -> str:
        """Exactly what an approval shows, hashed into the log."""
        if self.change is not None:
            return self.change.diff
        if self.details is not None:
            return self.details
        return self.command or self.call.arguments

    @property
    def loop_key(self) -> str:
        """The call as the loop guard counts repeats of it: the tool and its arguments."""
        return f"{self.call.name}\0{self.arguments.key}"


class ToolCallRunner:
    def __init__(
        self,
        tools: dict[str, Tool],
        context: ToolContext,
        policy: ActionPolicy,
        marker: str = "",
        redactor: Redactor | None = None,
    ) -> None:
        self.tools = tools
        self.marker = marker or new_output_marker()
        """This session's mark on the notes that end tool output (the system prompt names it)."""
        self.context = context
        self.policy = policy
        # The session's one redactor, shared with its log: the user's own keys (the provider's
        # API key among them, whatever its variable is called) in whatever shape they come.
        self.redactor = redactor or session_redactor()

    def prepare(
        self, call: ToolCall, mode: str, arguments: CallArguments | None = None
    ) -> PreparedCall:
        """Judge `call`; `arguments` are its arguments if the caller decoded them already."""
        if arguments is None:
            arguments = CallArguments.decode(call.arguments)
        prepared = PreparedCall(
            call=call, arguments=arguments, summary=clipped(call.arguments, 100)
        )
        tool = self.tools.get(call.name)
        if tool is None:
            names = ", ".join(sorted(self.tools))
            prepared.early_result = self._result(
                call,
                ok=False,
                content=f"There is no tool named {call.name!r}; use one of: {names}.",
            )
            return prepared
        prepared.tool = tool
        prepared.kind = tool.kind
        try:
            prepared.args = tool.parse_args(arguments.value_for(tool))
        except ToolArgumentError as exc:
            prepared.malformed = True
            prepared.early_result = self._result(call, ok=False, content=str(exc))
            return prepared
        prepared.summary = tool.summary(prepared.args)

        if tool.kind == ToolKind.READ:
            prepared.decision = self.policy.decide("read", mode)
        elif tool.kind == ToolKind.COMMAND:
            prepared.command = prepared.args.command
            prepared.summary = prepared.command
            prepared.decision = self.policy.decide("command", mode, command=prepared.command)
        elif isinstance(tool, ExternalTool):
            prepared.details = tool.shown(prepared.args)
            prepared.decision = self.policy.decide(
                "external", mode, tool=tool.rule_name, unapproved=tool.unapproved()
            )
        else:
            self._prepare_write(prepared, mode)
        return prepared

    def _prepare_write(self, prepared: PreparedCall, mode: str) -> None:
        if mode == "plan":
            prepared.decision = self.policy.decide("write", mode)
            return
        assert isinstance(prepared.tool, WriteTool)
        try:
            prepared.change = prepared.tool.plan(prepared.args, self.context)
        except PathRefused as exc:
            prepared.early_result = self._result(
                prepared.call, ok=False, content=f"Refused: {exc}", refused=True
            )
            return
        except ToolFailure as exc:
            prepared.early_result = self._result(prepared.call, ok=False, content=str(exc))
            return
        prepared.summary = prepared.change.path
        prepared.decision = self.policy.decide("write", mode, path=prepared.change.path)

    def apply_answer(self, prepared: PreparedCall, answer: ApprovalAnswer) -> None:
        """Narrow a write to the chosen hunks, or take the text the user edited."""
        if prepared.change is None:
            return
        if answer.edited_text is not None:
            change = prepared.change
            prepared.edit_diff = edit_diff(change.path, change.new_text, answer.edited_text) or None
            prepared.change = make_change(
                self.context.workspace,
                change.path,
                change.old_text,
                answer.edited_text,
                None if change.old_text is None else change.old_text.encode("utf-8"),
            ).model_copy(update={"old_sha256": change.old_sha256})
        elif answer.hunks is not None:
            prepared.change = apply_hunks(prepared.change, answer.hunks)

    def grant(self, prepared: PreparedCall) -> str:
        if prepared.change is not None:
            return self.policy.grant("write", prepared.change.path)
        if isinstance(prepared.tool, ExternalTool):
            return self.policy.grant("external", prepared.tool.rule_name)
        return self.policy.grant("command", prepared.command or "")

    def refusal(self, prepared: PreparedCall) -> ToolResult:
        reasons = prepared.decision.reasons if prepared.decision else []
        denied = [r for r in reasons if r.startswith("deny")] or reasons
        return self._result(
            prepared.call,
            ok=False,
            content="Refused by policy: " + "; ".join(denied) + ". Try another way or explain "
            "to the user what you need.",
            refused=True,
        )

    def rejection(self, prepared: PreparedCall, answer: ApprovalAnswer) -> ToolResult:
        if answer.by in ("headless", "editor"):  # nobody said no: say why it was refused
            content = f"Refused: {answer.reason}"
        else:
            what = {ToolKind.WRITE: "change.", ToolKind.EXTERNAL: "tool call."}
            content = "The user rejected this " + what.get(prepared.kind, "command.")
            if answer.reason:
                content += f" Their reason: {answer.reason}"
        return self._result(prepared.call, ok=False, content=content, refused=True)

    def hook_refusal(self, call: ToolCall, reason: str) -> ToolResult:
        """The result of a call a pre_tool hook blocked: it did not run."""
        return self._result(
            call,
            ok=False,
            content=f"Blocked by a hook before it ran: {reason}. Try another way or explain "
            "to the user what you need.",
            refused=True,
        )

    def withheld(self, result: ToolResult, reason: str) -> ToolResult:
        """A result a post_tool hook blocked: the call ran, the model does not read its output."""
        content = f"The call ran, but a hook withheld its result: {reason}."
        return result.model_copy(
            update={
                "ok": False,
                "refused": True,
                "content": _capped(self.redactor.redact(content).text),
                "injection": [],
            }
        )

    def noted(self, result: ToolResult, prepared: PreparedCall) -> ToolResult:
        """`result`, saying first what ran when a hook changed the call's arguments: the
        model would otherwise read the result of something it did not ask for."""
        if not prepared.rewritten_by_hook:
            return result
        note = self.redactor.redact(
            "A hook changed the arguments of this call before it was judged; it was judged "
            f"(and, if allowed, run) with {prepared.call.arguments}\n\n"
        ).text
        return result.model_copy(update={"content": note + result.content})

    def interruption(self, call: ToolCall, stage: str) -> ToolResult:
        """The result of a call the user stopped (Esc, quit): `stage` is where it was.

        `waiting` (for approval), `running`, or anything else for a call not reached yet.
        """
        if stage == "waiting":
            content = "Interrupted by the user while it waited for approval; it did not run."
        elif stage == "running":
            content = "Interrupted by the user while it ran; it may have done part of its work."
        else:
            content = "Interrupted by the user before this call ran; it did not run."
        return self._result(call, ok=False, content=content, interrupted=True)

    async def execute(self, prepared: PreparedCall) -> ToolResult:
        assert prepared.tool is not None
        try:
            if prepared.change is not None:
                output = await asyncio.to_thread(apply_change, prepared.change, self.context)
            else:
                output = await prepared.tool.run(prepared.args, self.context)
        except asyncio.CancelledError:
            raise
        except PathRefused as exc:
            output = ToolOutput(ok=False, content=f"Refused: {exc}")
        except Exception as exc:  # a tool bug must reach the model as a result, not crash a turn
            output = ToolOutput(
                ok=False, content=f"{prepared.call.name} failed unexpectedly: {exc}"
            )
        if prepared.edit_diff and output.ok:
            output = _as_edited(output, prepared.edit_diff)
        return self._result(
            prepared.call,
            ok=output.ok,
            content=output.content,
            data=output.data,
            diff=output.diff,
            files_changed=output.files_changed,
            # What a read or a command brings in was written by someone else; a write's
            # result is nanotui's own sentence.
            untrusted=prepared.kind != ToolKind.WRITE,
        )

    def _result(
        self,
        call: ToolCall,
        *,
        ok: bool,
        content: str,
        data: dict[str, Any] | None = None,
        diff: str | None = None,
        files_changed: list[str] | None = None,
        refused: bool = False,
        interrupted: bool = False,
        untrusted: bool = False,
    ) -> ToolResult:
        # Redact before capping: a key cut in half by the cap would no longer be recognised.
        redacted = self.redactor.redact(content)
        content = _capped(redacted.text)
        flags: list[InjectionFlag] = []
        if untrusted:
            flags = find_injection(content)
            content = frame_untrusted(content, flags, self.marker)
        clean_data, data_kinds = self.redactor.redact_nested(dict(data or {}))
        return ToolResult(
            call_id=call.id,
            tool=call.name,
            ok=ok,
            content=content,
            data=clean_data,
            diff=diff,
            files_changed=files_changed or [],
            refused=refused,
            interrupted=interrupted,
            redacted=list(dict.fromkeys([*redacted.kinds, *data_kinds])),
            injection=[flag.describe() for flag in flags],
        )


def _as_edited(output: ToolOutput, change_to_proposal: str) -> ToolOutput:
    """A write the person edited first: the model learns the file is not what it proposed."""
    note = (
        "The user edited your proposed change before it was applied, so the file differs "
        f"from your proposal. Their edits to your proposal:\n\n{change_to_proposal}\n"
    )
    return output.model_copy(
        update={"content": note + output.content, "data": {**output.data, "edited": True}}
    )


def _capped(content: str) -> str:
    if len(content) <= MAX_RESULT_CHARS:
        return content
    cut = len(content) - MAX_RESULT_CHARS
    return content[:MAX_RESULT_CHARS] + f"\n[{plural(cut, 'more character')} not shown]"
