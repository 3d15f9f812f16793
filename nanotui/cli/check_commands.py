"""Trying nanotui's guard rails in a folder, with no model: how the command policy judges a
line (`policy check`), what the sandbox makes of a command (`sandbox run`), and whether the
set-up works (`doctor`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nanotui.cli.workspace import UserError, load_for, provider_flags, resolve_workspace


def cmd_policy_check(args: argparse.Namespace, *, explain: bool = False) -> int:
    from nanotui.engine.assembly import command_policy

    workspace = resolve_workspace(args.workspace)
    loaded = load_for(args, workspace)
    decision = command_policy(loaded.settings, workspace).decide(args.line)
    # `explain`: each configured rule that decided, and the layer that first named it.
    rules = [
        {"setting": setting, "rule": rule, "layer": loaded.rule_sources[setting].get(rule, "?")}
        for setting, rule in decision.rules
    ]
    if args.json:
        answer = {
            "decision": decision.decision,
            "reasons": decision.reasons,
            "commands": decision.commands,
        }
        print(json.dumps({**answer, "rules": rules} if explain else answer))
        return 0
    print(decision.decision)
    for reason in decision.reasons:
        print(f"  {reason}")
    if explain:
        for rule in rules:
            print(f"  {rule['setting']} `{rule['rule']}` comes from {rule['layer']}")
        if not rules:
            print("  no configured rule decided: the built-in rules and the mode did")
    return 0


def cmd_policy_explain(args: argparse.Namespace) -> int:
    return cmd_policy_check(args, explain=True)


VERDICTS = ("allow", "ask", "deny")


def cmd_policy_test(args: argparse.Namespace) -> int:
    """Judge each example line of FILE ("VERDICT  shell line", # comments) and report the
    ones the policy judges otherwise: exit 0 when all agree, 1 when some do not."""
    from nanotui.engine.assembly import command_policy

    examples = _read_examples(args.file)
    workspace = resolve_workspace(args.workspace)
    policy = command_policy(load_for(args, workspace).settings, workspace)
    wrong = 0
    for number, expected, line in examples:
        decision = policy.decide(line)
        if decision.decision == expected:
            print(f"ok    {expected:<5} {line}")
            continue
        wrong += 1
        print(f"FAIL  {expected:<5} {line}")
        print(f"      line {number}: expected {expected}, judged {decision.decision}:")
        for reason in decision.reasons:
            print(f"        {reason}")
    total = len(examples)
    print(f"{total - wrong} of {total} examples judged as expected.")
    return 1 if wrong else 0


def _read_examples(path: str) -> list[tuple[int, str, str]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; save it as UTF-8.") from None
    examples = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        verdict, _, line = stripped.partition(" ")
        if verdict not in VERDICTS or not line.strip():
            raise UserError(
                f"{path}, line {number}: expected a verdict (allow, ask or deny), then the "
                f"shell line, e.g. `deny  git push --force`; got {stripped[:60]!r}."
            )
        examples.append((number, verdict, line.strip()))
    if not examples:
        raise UserError(f"{path} holds no examples; write one per line: `allow  pytest -q`.")
    return examples


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
