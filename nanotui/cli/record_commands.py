"""Reading back what nanotui recorded, and taking work back: `nanotui audit ...` (session
logs), `nanotui cost` (the spending ledger), `nanotui checkpoints ...` (snapshots of the work
tree). From the parsed arguments to the readers in audit_commands, cost_report and
checkpoint_commands."""

from __future__ import annotations

import argparse
import json
import sys

from nanotui.cli.workspace import UserError, load_for, resolve_workspace


def cmd_audit_list(args: argparse.Namespace) -> int:
    from nanotui.cli.audit_commands import list_logs

    return list_logs(sys.stdout, as_json=args.json)


def cmd_audit_show(args: argparse.Namespace) -> int:
    from nanotui.cli.audit_commands import show
    from nanotui.engine.past_sessions import find_session

    return show(find_session(args.session), sys.stdout)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from nanotui.cli.audit_commands import verify_target

    return verify_target(args.target, sys.stdout)


def cmd_audit_replay(args: argparse.Namespace) -> int:
    from nanotui.cli.audit_commands import replay
    from nanotui.engine.past_sessions import find_session

    if args.speed < 0:
        raise UserError("--speed must be 0 (no waiting) or more.")
    path = find_session(args.session)
    if not (args.text or args.json) and sys.stdin.isatty() and sys.stdout.isatty():
        from nanotui.tui.replay_app import run_replay

        return run_replay(path, speed=args.speed)
    return replay(path, speed=args.speed, as_json=args.json, out=sys.stdout, err=sys.stderr)


def cmd_audit_export(args: argparse.Namespace) -> int:
    from nanotui.engine.past_sessions import find_session
    from nanotui.governance.audit import read_records

    for record in read_records(find_session(args.session)):
        print(json.dumps(record, ensure_ascii=False))
    return 0


def cmd_cost(args: argparse.Namespace) -> int:
    from nanotui import paths
    from nanotui.governance.cost_report import print_report
    from nanotui.governance.ledger import Ledger

    print_report(Ledger(paths.ledger_file()), sys.stdout, day=args.day, as_json=args.json)
    return 0


def cmd_checkpoints(args: argparse.Namespace) -> int:
    """Every `checkpoints` action: the folder and its checkpoint settings, then the action."""
    from nanotui.cli import checkpoint_commands

    workspace = resolve_workspace(args.workspace)
    args.workspace = workspace
    args.checkpoint_settings = load_for(args, workspace).settings.checkpoints
    command = {
        "list": checkpoint_commands.cmd_checkpoints_list,
        "show": checkpoint_commands.cmd_checkpoints_show,
        "restore": checkpoint_commands.cmd_checkpoints_restore,
    }[args.checkpoints_command]
    return command(args)
