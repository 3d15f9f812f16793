"""Trying nanotui's guard rails in a folder, with no model: how the command policy judges a
line (`policy check`), what the sandbox makes of a command (`sandbox run`), and whether the
set-up works (`doctor`)."""

from __future__ import annotations

import argparse
import json
import sys

from nanotui.cli.workspace import UserError, load_for, provider_flags, resolve_workspace


def cmd_policy_check(args: argparse.Namespace) -> int:
    from nanotui.engine.assembly import command_policy

    workspace = resolve_workspace(args.workspace)
    settings = load_for(args, workspace).settings
    policy = command_policy(settings, workspace)
    decision = policy.decide(args.line)
    if args.json:
        print(
            json.dumps(
                {
                    "decision": decision.decision,
                    "reasons": decision.reasons,
                    "commands": decision.commands,
                }
            )
        )
    else:
        print(decision.decision)
        for reason in decision.reasons:
            print(f"  {reason}")
    return 0


def cmd_sandbox_run(args: argparse.Namespace) -> int:
    import asyncio
    import shlex

    from nanotui.security.sandbox.cgroup import limit_scopes
    from nanotui.security.sandbox.choose import make_runner

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise UserError("Give the command after --, e.g. nanotui sandbox run -- ls -la.")
    workspace = resolve_workspace(args.workspace)
    settings = load_for(args, workspace).settings
    runner = make_runner(settings.sandbox, workspace, settings.policy.protected_paths)
    result = asyncio.run(
        runner.run(
            shlex.join(argv),
            cwd=workspace,
            timeout_s=settings.sandbox.timeout_s,
            max_output_bytes=settings.sandbox.max_output_bytes,
            network=True if args.network else None,
        )
    )
    if result.notice:
        print(f"nanotui: {result.notice}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "exit_code": result.exit_code,
                    "stdout": result.stdout,
                    "stderr": result.stderr,
                    "timed_out": result.timed_out,
                    "truncated": result.truncated,
                    "stopped": result.stopped or None,
                    "backend": result.backend,
                    "limits_apply_to": limit_scopes(),
                }
            )
        )
    else:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if result.timed_out:
            print(f"nanotui: timed out after {settings.sandbox.timeout_s:g} s.", file=sys.stderr)
        if result.stopped:
            print(f"nanotui: stopped: {result.stopped}.", file=sys.stderr)
    return result.exit_code if result.exit_code is not None else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    from nanotui.cli.doctor import run_doctor

    workspace = resolve_workspace(args.workspace)
    return run_doctor(workspace, provider_flags(args))
