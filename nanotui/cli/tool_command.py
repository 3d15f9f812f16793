"""`nanotui tool`: one tool call through the agent's decision path (hooks, jail, policy,
runner), as `engine.one_call` runs it.

Nobody is there to approve: what would need approval in the mode is refused (exit 2), a
policy refusal or a blocking hook exits 4, a failed call 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nanotui.cli.workspace import UserError, load_for, resolve_workspace


def cmd_tool(args: argparse.Namespace) -> int:
    import asyncio

    from nanotui.engine.one_call import run_one_call
    from nanotui.tools.registry import default_tools

    workspace = resolve_workspace(args.workspace)
    settings = load_for(args, workspace, trust_once=args.trust).settings
    tools = default_tools()
    if args.name not in tools:
        raise UserError(f"There is no tool named {args.name!r}; try one of: {', '.join(tools)}.")
    mode = settings.approval.mode
    outcome = asyncio.run(run_one_call(settings, workspace, args.name, args.args, mode))
    result = outcome.result

    def report(payload: dict[str, Any], text: str, code: int) -> int:
        if args.json:
            print(json.dumps(payload, ensure_ascii=False))
        else:
            print(text, file=sys.stdout if code == 0 else sys.stderr)
        return code

    if outcome.decision is None:  # refused before the policy judged it (hook, jail, arguments)
        return report({"error": result.content}, result.content, 4 if result.refused else 1)
    if outcome.decision == "deny":
        return report({"error": result.content, "reasons": outcome.reasons}, result.content, 4)
    if outcome.decision == "ask":
        message = (
            f"This call needs approval in {mode} mode, which `nanotui tool` "
            "cannot give; pass --mode auto-edit or full-auto, or add a [policy] allow rule."
        )
        return report({"error": message, "reasons": outcome.reasons}, message, 2)
    payload = result.model_dump(mode="json", exclude={"type"})
    return report(payload, result.output, 0 if result.ok else 4 if result.refused else 1)
