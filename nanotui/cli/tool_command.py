"""`nanotui tool`: one tool call through the agent's decision path (jail, policy, runner).

Nobody is there to approve: what would need approval in the mode is refused (exit 2), a
policy refusal exits 4, a failed call 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nanotui.cli.workspace import UserError, load_for, resolve_workspace


def cmd_tool(args: argparse.Namespace) -> int:
    import asyncio

    from nanotui.engine.assembly import build_tool_environment, redactor_for
    from nanotui.engine.tool_calls import ToolCallRunner
    from nanotui.protocol.model_io import ToolCall
    from nanotui.tools.registry import default_tools

    workspace = resolve_workspace(args.workspace)
    settings = load_for(args, workspace, trust_once=args.trust).settings
    env = build_tool_environment(settings, workspace)
    tools = default_tools()
    if args.name not in tools:
        raise UserError(f"There is no tool named {args.name!r}; try one of: {', '.join(tools)}.")
    runner = ToolCallRunner(tools, env.context, env.policy, redactor=redactor_for(settings))
    prepared = runner.prepare(
        ToolCall(id="cli", name=args.name, arguments=args.args), settings.approval.mode
    )

    def report(payload: dict[str, Any], text: str, code: int) -> int:
        if args.json:
            print(json.dumps(payload, ensure_ascii=False))
        else:
            print(text, file=sys.stdout if code == 0 else sys.stderr)
        return code

    if prepared.early_result is not None:
        result = prepared.early_result
        code = 4 if result.refused else 1
        return report({"error": result.content}, result.content, code)
    decision = prepared.decision
    assert decision is not None
    if decision.decision == "deny":
        message = runner.refusal(prepared).content
        return report({"error": message, "reasons": decision.reasons}, message, 4)
    if decision.decision == "ask":
        message = (
            f"This call needs approval in {settings.approval.mode} mode, which `nanotui tool` "
            "cannot give; pass --mode auto-edit or full-auto, or add a [policy] allow rule."
        )
        return report({"error": message, "reasons": decision.reasons}, message, 2)
    result = asyncio.run(runner.execute(prepared))
    payload = result.model_dump(mode="json", exclude={"type"})
    return report(payload, result.output, 0 if result.ok else 1)
