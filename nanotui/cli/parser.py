"""The command line's grammar: every command, flag and help text, and which handler runs.

Cheap to import (argparse and the handler modules, which import their heavy parts only when
they run), so that `nanotui --help` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from nanotui.cli.acp_command import cmd_acp
from nanotui.cli.check_commands import (
    cmd_doctor,
    cmd_policy_check,
    cmd_policy_explain,
    cmd_policy_test,
    cmd_sandbox_run,
)
from nanotui.cli.mcp_commands import cmd_mcp_list, cmd_mcp_tools
from nanotui.cli.record_commands import (
    cmd_audit_export,
    cmd_audit_list,
    cmd_audit_replay,
    cmd_audit_show,
    cmd_audit_verify,
    cmd_checkpoints,
    cmd_cost,
)
from nanotui.cli.review_command import cmd_review
from nanotui.cli.serve_commands import add_serve_parser
from nanotui.cli.session_commands import cmd_run, cmd_sessions_list, cmd_sessions_resume, cmd_tui
from nanotui.cli.tool_command import cmd_tool
from nanotui.protocol.basics import MODE_MEANINGS, MODE_ORDER

EPILOG = """\
examples:
  nanotui                                   full-screen session in this folder
  nanotui --demo                            offline demo on a copy of the sample project
  nanotui run "add a docstring to foo.py" --mode auto-edit
  nanotui run --provider demo --mode full-auto "fix the failing test" --json
  nanotui policy check "git status && rm -rf /"
  nanotui tool read_file --args '{"path": "README.md"}'
  nanotui mcp tools docs --accept           approve an MCP server's changed tools

Configuration: ~/.config/nanotui/config.toml (or $NANOTUI_HOME/config.toml), then
.nanotui/config.toml in the workspace (only tightening until you trust the folder), then
NANOTUI_* variables, then these flags.
"""


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


def add_max_cost_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-cost-usd",
        type=float,
        metavar="X",
        help="spend at most X dollars in this run, on top of the configured budgets",
    )


def add_mode_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=list(MODE_ORDER),
        help="; ".join(f"{mode}: {meaning}" for mode, meaning in MODE_MEANINGS.items()),
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
    remote = parser.add_argument_group("team server")
    remote.add_argument(
        "--server",
        metavar="URL",
        help="open a session on the team service at URL (`nanotui serve`); the token comes "
        "from NANOTUI_TOKEN or [remote] token in your config.toml",
    )
    remote.add_argument("--project", help="with --server: the project to work on")
    remote.add_argument(
        "--session",
        metavar="ID",
        help="with --server: attach to this open session of yours (--continue: the latest)",
    )
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
    add_max_cost_flag(run)
    run.add_argument(
        "--server",
        metavar="URL",
        help="run on the team service at URL (`nanotui serve`; token from NANOTUI_TOKEN)",
    )
    run.add_argument("--project", help="with --server: the project to work on")
    run.set_defaults(handler=cmd_run)

    add_acp_parser(sub)

    review = sub.add_parser(
        "review",
        help="review a change (a pull request) and report findings",
        description="The agent reviews the change from the merge base of BASE and HEAD, in plan "
        "mode (it reads; it changes nothing), and reports findings: inline on changed lines, "
        "the rest in a summary. Exit codes: 0 done, 1 error, 3 a budget ended the review "
        "(what was found so far is reported, marked incomplete), 5 a finding at or above "
        "--fail-on.",
    )
    review.add_argument(
        "--base",
        metavar="REF",
        help="default: the pull request's base branch (GITHUB_BASE_REF) or the default branch",
    )
    review.add_argument("--head", metavar="REF", help="default: HEAD")
    review.add_argument(
        "--format", choices=["text", "json", "markdown", "github", "sarif"], default="text"
    )
    review.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    review.add_argument(
        "--fail-on",
        choices=["low", "medium", "high", "critical"],
        help="exit 5 on a finding this serious or worse (default: findings never fail the run)",
    )
    add_max_cost_flag(review)
    review.add_argument(
        "--post",
        action="store_true",
        help="post the review on the pull request (GITHUB_TOKEN; GITHUB_API_URL for Enterprise)",
    )
    review.add_argument("--max-turns", type=int, default=40, metavar="N")
    add_workspace_flag(review)
    add_provider_flags(review)
    review.set_defaults(handler=cmd_review, mode=None)

    tool = sub.add_parser(
        "tool",
        help="call one tool through the agent's decision path",
        description="Call one tool exactly as the agent would: its [[hooks]] (pre_tool and "
        "post_tool), jail, policy, runner. What would need approval in the given mode is "
        "refused (exit 2); a policy refusal or a blocking hook exits 4.",
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
    for action, handler, about in (
        ("check", cmd_policy_check, "judge one shell line: allow, ask or deny"),
        (
            "explain",
            cmd_policy_explain,
            "judge one shell line and say which settings layer each deciding rule came from",
        ),
    ):
        judge = policy_sub.add_parser(action, help=about)
        judge.add_argument("line", help="the shell line, quoted")
        judge.add_argument("--json", action="store_true")
        add_workspace_flag(judge)
        judge.set_defaults(handler=handler)
    policy_test = policy_sub.add_parser(
        "test",
        help="judge a file of example lines against their expected verdicts (exit 1 if any differ)",
        description="Each line of FILE is a verdict (allow, ask or deny) and a shell line, "
        "e.g. `deny  git push --force`; blank lines and # comments are skipped. Keeps a "
        "team's policy under test: run it in CI after changing the rules.",
    )
    policy_test.add_argument("file", metavar="FILE", help="the examples, one per line")
    add_workspace_flag(policy_test)
    policy_test.set_defaults(handler=cmd_policy_test)

    add_mcp_parser(sub)

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

    add_serve_parser(sub)
    return parser


def add_acp_parser(sub: argparse._SubParsersAction) -> None:
    acp = sub.add_parser(
        "acp",
        help="serve an editor (Zed, JetBrains, VS Code, Toad) over the Agent Client Protocol",
        description="Speak the Agent Client Protocol (JSON-RPC over stdin and stdout) to the "
        "editor that started this process; each session works in the folder the editor names, "
        "under the same policy, sandbox, checkpoints, budgets and session log as `nanotui run`. "
        "Approvals are asked in the editor; an answer it cannot give is a refusal. Needs the "
        "[acp] extra: pip install 'nanotui[acp]'.",
    )
    acp.add_argument(
        "--max-turns",
        type=int,
        default=40,
        metavar="N",
        help="most model steps in one prompt (default 40)",
    )
    acp.add_argument(
        "--trust",
        action="store_true",
        help="trust the folders' .nanotui/config.toml for this process only",
    )
    add_provider_flags(acp)
    add_mode_flag(acp)
    add_max_cost_flag(acp)
    acp.set_defaults(handler=cmd_acp)


def add_mcp_parser(sub: argparse._SubParsersAction) -> None:
    mcp = sub.add_parser(
        "mcp",
        help="the MCP servers of this folder and their tools",
        description="MCP servers come from [mcp.servers.NAME] in config.toml (a project's "
        "own only once you trust the folder). Their tools are called as mcp__NAME__TOOL and "
        "judged by rules naming mcp:NAME/TOOL.",
    )
    actions = mcp.add_subparsers(dest="mcp_command", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="every configured server, and why one would not start (nothing starts)"
    )
    listing.add_argument("--json", action="store_true")
    add_workspace_flag(listing)
    listing.set_defaults(handler=cmd_mcp_list)
    tools = actions.add_parser(
        "tools",
        help="start one server in the sandbox and list its tools and their approval",
        description="Start the server NAME as a session would (in the sandbox), list its "
        "tools, and say which definitions are new or changed since they were approved. "
        "--accept approves every definition as it is now, so that its calls stop asking "
        "for it (and headless runs may call it, as the policy allows); at a terminal it "
        "shows them and asks first.",
    )
    tools.add_argument("name", metavar="NAME", help="the server, as in [mcp.servers.NAME]")
    tools.add_argument("--accept", action="store_true", help="approve the definitions shown")
    tools.add_argument("--json", action="store_true")
    add_workspace_flag(tools)
    tools.set_defaults(handler=cmd_mcp_tools)


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


def day_argument(text: str) -> str:
    import datetime

    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None
