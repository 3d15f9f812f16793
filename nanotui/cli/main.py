"""The command line. Thin: parse, build from `engine.setup`, call, turn errors into sentences."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from nanotui.protocol.basics import MODE_ORDER, UserFacingError

if TYPE_CHECKING:
    from nanotui.config_loading import LoadedConfig

EPILOG = """\
examples:
  nanotui                                   full-screen session in this folder
  nanotui --demo                            offline demo on a copy of the sample project
  nanotui run "add a docstring to foo.py" --mode auto-edit
  nanotui run --provider demo --mode full-auto "fix the failing test" --json
  nanotui policy check "git status && rm -rf /"
  nanotui tool read_file --args '{"path": "README.md"}'

Configuration: ~/.config/nanotui/config.toml (or $NANOTUI_HOME/config.toml), then
.nanotui/config.toml in the workspace (only tightening until you trust the folder), then
NANOTUI_* variables, then these flags.
"""


class UserError(UserFacingError):
    """Something the user can fix; printed as one sentence, exit code 1."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1: exit 2 means "needed approval" for `nanotui run`.

    Abbreviated options are off: `doctor --mode plan` would otherwise be read as `--model`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: {message}; see --help.\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserFacingError as exc:  # config, provider set-up, a session not found, ...
        print(f"nanotui: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nanotui: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`nanotui audit show X | head`): not an error worth a traceback.
        sys.stderr.close()
        return 0
    except OSError as exc:
        # State folders that cannot be created or read (NANOTUI_HOME pointing at a file, ...).
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"nanotui: {exc.strerror or exc}{where}; check NANOTUI_HOME and its folders.",
            file=sys.stderr,
        )
        return 1


# ---- parser ----------------------------------------------------------------------------


def add_workspace_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace",
        "-w",
        type=Path,
        default=None,
        metavar="DIR",
        help="the folder the agent works in (default: the current folder)",
    )


def add_provider_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--provider",
        choices=["openai-compatible", "anthropic", "demo"],
        help="which API the model speaks",
    )
    group.add_argument("--base-url", metavar="URL", help="endpoint, e.g. http://localhost:11434/v1")
    group.add_argument("--model", metavar="M", help="model name as the endpoint knows it")
    group.add_argument(
        "--demo", action="store_true", help="use the offline demo model (no model needed)"
    )


def add_continue_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--continue",
        dest="continue_last",
        action="store_true",
        help="go on with the latest session in this folder",
    )


def add_mode_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=list(MODE_ORDER),
        help="plan: read-only; ask: approve changes and commands; auto-edit: changes apply, "
        "commands ask; full-auto: what policy allows runs (sandboxed)",
    )


class VersionAction(argparse.Action):
    """`--version`, looking the version up only when asked (it costs start-up time)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        import nanotui

        parser.exit(0, f"nanotui {nanotui.__version__}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="nanotui",
        description="A terminal coding agent: the model proposes; nanotui decides, shows, "
        "records, meters and can take it back.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=VersionAction)
    add_workspace_flag(parser)
    add_provider_flags(parser)
    add_mode_flag(parser)
    add_continue_flag(parser)
    parser.set_defaults(handler=cmd_tui)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    run = sub.add_parser(
        "run",
        help="run one prompt without the screen (scripts, CI)",
        description="Run one prompt headless. Exit codes: 0 done, 1 error, 2 an action needed "
        "approval the mode does not give, 3 a budget would be exceeded, 4 refused by policy "
        "and the model gave up.",
    )
    run.add_argument("prompt", help="what to do")
    run.add_argument("--json", action="store_true", help="one JSON object per event per line")
    run.add_argument(
        "--max-turns",
        type=int,
        default=40,
        metavar="N",
        help="most model steps in this run (default 40)",
    )
    run.add_argument(
        "--trust",
        action="store_true",
        help="trust the folder's .nanotui/config.toml for this run only",
    )
    add_workspace_flag(run)
    add_provider_flags(run)
    add_mode_flag(run)
    add_continue_flag(run)
    run.set_defaults(handler=cmd_run)

    tool = sub.add_parser(
        "tool",
        help="call one tool through the agent's decision path",
        description="Call one tool exactly as the agent would: jail, policy, runner. What "
        "would need approval in the given mode is refused (exit 2); a policy refusal exits 4.",
    )
    tool.add_argument("name", help="tool name, e.g. read_file, edit_file, run_command")
    tool.add_argument("--args", default="{}", metavar="JSON", help="the arguments as JSON")
    tool.add_argument("--json", action="store_true", help="print the result as JSON")
    tool.add_argument("--trust", action="store_true", help="trust the folder for this call")
    add_workspace_flag(tool)
    add_mode_flag(tool)
    tool.set_defaults(handler=cmd_tool)

    policy = sub.add_parser("policy", help="see how the command policy judges a line")
    policy_sub = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    check = policy_sub.add_parser("check", help="judge one shell line: allow, ask or deny")
    check.add_argument("line", help="the shell line, quoted")
    check.add_argument("--json", action="store_true")
    add_workspace_flag(check)
    check.set_defaults(handler=cmd_policy_check)

    sandbox = sub.add_parser("sandbox", help="run a command in the sandbox")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    srun = sandbox_sub.add_parser("run", help="run CMD [ARG...] as the agent would")
    srun.add_argument("--json", action="store_true")
    srun.add_argument("--network", action="store_true", help="allow network access")
    add_workspace_flag(srun)
    srun.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]")
    srun.set_defaults(handler=cmd_sandbox_run)

    sessions = sub.add_parser("sessions", help="past sessions")
    sessions_sub = sessions.add_subparsers(dest="sessions_command", metavar="ACTION", required=True)
    slist = sessions_sub.add_parser("list", help="list sessions, newest first")
    slist.add_argument("--json", action="store_true")
    slist.set_defaults(handler=cmd_sessions_list)
    sresume = sessions_sub.add_parser(
        "resume",
        help="go on with a session in the full-screen app",
        description="Rebuild a session's conversation from its log and go on with it, in "
        "the folder it worked in (or --workspace), appending to the same log.",
    )
    sresume.add_argument("session", help="session id (or a unique prefix)")
    add_workspace_flag(sresume)
    add_provider_flags(sresume)
    add_mode_flag(sresume)
    sresume.set_defaults(handler=cmd_sessions_resume)

    audit = sub.add_parser("audit", help="read session logs")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    alist = audit_sub.add_parser("list", help="list session logs")
    alist.add_argument("--json", action="store_true")
    alist.set_defaults(handler=cmd_audit_list)
    ashow = audit_sub.add_parser("show", help="print a session's timeline")
    ashow.add_argument("session", help="session id (or a unique prefix)")
    ashow.set_defaults(handler=cmd_audit_show)
    averify = audit_sub.add_parser(
        "verify",
        help="check that session logs are whole and unchanged",
        description="Follow each log's hash chain; say OK or name the first line that was "
        "edited, deleted, inserted, moved or cut short. Exit 1 if any log fails.",
    )
    averify.add_argument("target", nargs="?", help="session id, prefix or log path (default: all)")
    averify.set_defaults(handler=cmd_audit_verify)
    areplay = audit_sub.add_parser(
        "replay",
        help="play a session's events again, full screen (or as text)",
        description="Show a logged session's events again, in order, in the timeline and "
        "the conversation, at --speed times the original pace; no model is called. Without "
        "a terminal, or with --text or --json, print them as `nanotui run` did.",
    )
    areplay.add_argument("session", help="session id (or a unique prefix)")
    areplay.add_argument(
        "--speed",
        type=float,
        default=0.0,
        metavar="X",
        help="X times the original pace (default 0: no waiting)",
    )
    areplay.add_argument("--json", action="store_true", help="one JSON object per event")
    areplay.add_argument("--text", action="store_true", help="print the events, no full screen")
    areplay.set_defaults(handler=cmd_audit_replay)
    aexport = audit_sub.add_parser("export", help="a session's records as JSON lines")
    aexport.add_argument("session", help="session id (or a unique prefix)")
    aexport.set_defaults(handler=cmd_audit_export)

    cost = sub.add_parser(
        "cost",
        help="what model requests cost, by day, session and model",
        description="Spending recorded in the ledger by every nanotui process of this user.",
    )
    cost.add_argument("--json", action="store_true")
    cost.add_argument("--day", metavar="YYYY-MM-DD", type=day_argument, help="one day only")
    cost.set_defaults(handler=cmd_cost)

    add_checkpoint_commands(sub)

    doctor = sub.add_parser("doctor", help="check the set-up: config, model endpoint, tools")
    add_workspace_flag(doctor)
    add_provider_flags(doctor)
    doctor.set_defaults(handler=cmd_doctor)
    return parser


def add_checkpoint_commands(sub: argparse._SubParsersAction) -> None:
    checkpoints = sub.add_parser(
        "checkpoints",
        help="list, inspect and restore the snapshots taken before the agent acts",
        description="Checkpoints are taken before every turn that may change files and before "
        "each batch of changes or commands; they hold staged, unstaged and untracked work.",
    )
    actions = checkpoints.add_subparsers(
        dest="checkpoints_command", metavar="ACTION", required=True
    )
    clist = actions.add_parser("list", help="every checkpoint of this work tree, oldest first")
    clist.add_argument("--json", action="store_true")
    add_workspace_flag(clist)
    clist.set_defaults(handler=cmd_checkpoints)
    cshow = actions.add_parser("show", help="a checkpoint and how the work tree differs from it")
    cshow.add_argument("id", help="checkpoint id (session/number, its short form, or a prefix)")
    cshow.add_argument("--patch", action="store_true", help="print the unified diff too")
    add_workspace_flag(cshow)
    cshow.set_defaults(handler=cmd_checkpoints)
    crestore = actions.add_parser(
        "restore",
        help="bring back a checkpoint, or some of its files",
        description="Shows what would change and asks first; a checkpoint of the current "
        "state is taken before anything is written, so a restore can itself be undone. The "
        "index is left as it is. Files that did not exist at the checkpoint are listed and "
        "kept unless you agree to delete them (or pass --delete-new).",
    )
    crestore.add_argument("id", help="checkpoint id (session/number, its short form, or a prefix)")
    crestore.add_argument(
        "--file",
        action="append",
        metavar="PATH",
        help="restore only this file (repeatable); the rest stays as it is",
    )
    crestore.add_argument("--yes", action="store_true", help="do not ask (for scripts)")
    crestore.add_argument(
        "--delete-new",
        action="store_true",
        help="also delete files that did not exist at the checkpoint",
    )
    add_workspace_flag(crestore)
    crestore.set_defaults(handler=cmd_checkpoints)


# ---- shared set-up ---------------------------------------------------------------------


def resolve_workspace(arg: Path | None) -> Path:
    workspace = (arg or Path.cwd()).expanduser()
    if not workspace.is_dir():
        raise UserError(f"The workspace {workspace} is not a folder; pass --workspace DIR.")
    return workspace.resolve()


def provider_flags(args: argparse.Namespace) -> dict[str, Any]:
    provider = "demo" if getattr(args, "demo", False) else getattr(args, "provider", None)
    return {
        "provider": {
            "kind": provider,
            "base_url": getattr(args, "base_url", None),
            "model": getattr(args, "model", None),
        },
        "approval": {"mode": getattr(args, "mode", None)},
    }


def load_for(
    args: argparse.Namespace, workspace: Path, *, trust_once: bool = False, announce: bool = True
) -> LoadedConfig:
    from nanotui.config_loading import load_settings
    from nanotui.security.trust import is_trusted

    trusted = trust_once or is_trusted(workspace)
    loaded = load_settings(workspace, provider_flags(args), trusted=trusted)
    for notice in loaded.notices if announce else ():
        print(f"nanotui: {notice}", file=sys.stderr)
    return loaded


def prepare_demo_workspace(workspace: Path, explicit: bool) -> Path:
    """The demo works on its sample project: a fresh copy unless DIR already is one."""
    from nanotui.providers.demo import demo_copy_notice, demo_workspace

    target = demo_workspace(workspace)
    if notice := demo_copy_notice(workspace, target, explicit=explicit):
        print(f"nanotui: {notice}", file=sys.stderr)
    return target


# ---- commands --------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from nanotui.cli.headless import run_headless
    from nanotui.engine.assembly import build_agent
    from nanotui.engine.past_sessions import latest_session_in
    from nanotui.providers.factory import build_provider

    if args.max_turns < 1:
        raise UserError("--max-turns must be at least 1.")
    workspace = resolve_workspace(args.workspace)
    settings = load_for(args, workspace, trust_once=args.trust).settings
    # The model client first: a missing key or model stops the run before anything is
    # copied, pruned or logged.
    provider = build_provider(settings.provider)
    if settings.provider.kind == "demo":
        workspace = prepare_demo_workspace(workspace, explicit=args.workspace is not None)
    resume = latest_session_in(workspace) if args.continue_last else None
    agent = build_agent(
        settings, workspace, provider=provider, max_steps=args.max_turns, resume=resume
    )

    async def go() -> int:
        try:
            return await run_headless(agent, args.prompt, as_json=args.json)
        finally:
            await agent.provider.aclose()
            agent.close()

    return asyncio.run(go())


def cmd_tool(args: argparse.Namespace) -> int:
    from nanotui.engine.assembly import build_tool_environment
    from nanotui.engine.tool_calls import ToolCallRunner
    from nanotui.protocol.model_io import ToolCall
    from nanotui.tools.registry import default_tools

    workspace = resolve_workspace(args.workspace)
    settings = load_for(args, workspace, trust_once=args.trust).settings
    env = build_tool_environment(settings, workspace)
    tools = default_tools()
    if args.name not in tools:
        raise UserError(f"There is no tool named {args.name!r}; try one of: {', '.join(tools)}.")
    runner = ToolCallRunner(tools, env.context, env.policy)
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


def cmd_sessions_list(args: argparse.Namespace) -> int:
    from nanotui.engine.past_sessions import summarize
    from nanotui.governance.audit import list_sessions

    rows = [
        {
            "session": summary.session,
            "workspace": summary.workspace,
            "model": summary.label,
            "prompt": summary.first_prompt,
        }
        for summary in map(summarize, list_sessions())
    ]
    if getattr(args, "json", False):
        print(json.dumps(rows))
        return 0
    if not rows:
        print("No sessions yet.")
    for row in rows:
        prompt = row["prompt"].replace("\n", " ")
        print(f"{row['session']}  {row['model']:<28.28}  {row['workspace']}  {prompt[:50]}")
    return 0


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


def day_argument(text: str) -> str:
    import datetime

    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None


def cmd_cost(args: argparse.Namespace) -> int:
    from nanotui import paths
    from nanotui.governance.cost_report import print_report
    from nanotui.governance.ledger import Ledger

    print_report(Ledger(paths.ledger_file()), sys.stdout, day=args.day, as_json=args.json)
    return 0


def cmd_checkpoints(args: argparse.Namespace) -> int:
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


def cmd_doctor(args: argparse.Namespace) -> int:
    from nanotui.cli.doctor import run_doctor

    workspace = resolve_workspace(args.workspace)
    return run_doctor(workspace, provider_flags(args))


def cmd_sessions_resume(args: argparse.Namespace) -> int:
    from nanotui.engine.past_sessions import find_session, summarize

    summary = summarize(find_session(args.session))
    if args.workspace is None and not Path(summary.workspace).is_dir():
        raise UserError(
            f"Session {summary.session} worked in {summary.workspace or 'an unknown folder'}, "
            "which is gone; pass --workspace DIR."
        )
    args.workspace = args.workspace or Path(summary.workspace)
    return cmd_tui(args, resume=summary.session)


def cmd_tui(args: argparse.Namespace, resume: str | None = None) -> int:
    from nanotui.engine.past_sessions import latest_session_in
    from nanotui.tui.app import run_app

    workspace = resolve_workspace(args.workspace)
    if getattr(args, "continue_last", False):
        resume = latest_session_in(workspace)
    # The app reads the settings itself, after its first frame (it starts faster).
    return run_app(
        workspace,
        provider_flags(args),
        workspace_explicit=args.workspace is not None,
        resume=resume,
    )


if __name__ == "__main__":
    raise SystemExit(main())
