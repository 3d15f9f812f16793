"""Sessions: the full-screen app, `nanotui run` (one prompt, no screen) and past sessions."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from nanotui.cli.workspace import (
    UserError,
    capped,
    load_for,
    prepare_demo_workspace,
    provider_flags,
    resolve_workspace,
)

if TYPE_CHECKING:
    from nanotui.engine.facade import EngineSession


def cmd_tui(args: argparse.Namespace, resume: str | None = None) -> int:
    from nanotui.tui.app import run_app

    if getattr(args, "server", None):
        return _tui_on_server(args)
    workspace = resolve_workspace(args.workspace)
    if getattr(args, "continue_last", False):
        # Only here: it brings in the event models (pydantic), which the first frame can do
        # without (a fifth of a second on a slow machine).
        from nanotui.engine.past_sessions import latest_session_in

        resume = latest_session_in(workspace)
    # The app reads the settings itself, after its first frame (it starts faster).
    return run_app(
        workspace,
        provider_flags(args),
        workspace_explicit=args.workspace is not None,
        resume=resume,
    )


def _tui_on_server(args: argparse.Namespace) -> int:
    """`nanotui --server URL`: the same app on a session that runs on a team server."""
    from nanotui.client.remote_session import ServerTarget
    from nanotui.client.service_api import server_token
    from nanotui.tui.app import run_app

    if args.workspace is not None or args.base_url or args.provider:
        raise UserError(
            "With --server the folder and the model are the server's; leave out --workspace, "
            "--provider and --base-url (--project and --model choose among the server's)."
        )
    target = ServerTarget(
        url=args.server,
        token=server_token(),
        project=args.project,
        mode=args.mode,
        model=args.model,
        attach=args.session,
        continue_latest=args.continue_last,
    )
    return run_app(Path.cwd(), server=target)


def open_session(
    args: argparse.Namespace,
    workspace: Path,
    *,
    explicit: bool,
    resume: str | None = None,
    said: list[str] | None = None,
) -> EngineSession:
    """A session in `workspace` as `nanotui run` and `nanotui acp` open one: the folder's
    settings (its own config if trusted, or with --trust), the flags, --max-cost-usd on top,
    --max-turns, and going on with `resume` (a session id) or with --continue the folder's
    latest session. `explicit`: the folder was named (--workspace, an editor's cwd), so the
    demo does not copy its sample project there. The settings' notices go to stderr, and
    into `said` when given."""
    from nanotui.engine.assembly import build_session
    from nanotui.engine.past_sessions import latest_session_in
    from nanotui.providers.factory import build_provider

    loaded = load_for(args, workspace, trust_once=args.trust, said=said)
    settings = capped(loaded.settings, args.max_cost_usd)
    # The model client first: a missing key or model stops the run before anything is
    # copied, pruned or logged.
    provider = build_provider(settings.provider)
    if settings.provider.kind == "demo":
        workspace = prepare_demo_workspace(workspace, explicit=explicit)
    if resume is None and getattr(args, "continue_last", False):
        resume = latest_session_in(workspace)
    return build_session(
        settings, workspace, provider=provider, max_steps=args.max_turns, resume=resume
    )


def check_max_turns(args: argparse.Namespace) -> None:
    if args.max_turns < 1:
        raise UserError("--max-turns must be at least 1.")


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from nanotui.cli.headless import run_headless

    check_max_turns(args)
    if args.server:
        from nanotui.cli.remote_run import run_on_server

        return asyncio.run(
            run_on_server(
                args.server, args.prompt, project=args.project, mode=args.mode, as_json=args.json
            )
        )
    workspace = resolve_workspace(args.workspace)
    session = open_session(args, workspace, explicit=args.workspace is not None)

    async def go() -> int:
        try:
            return await run_headless(session, args.prompt, as_json=args.json)
        finally:
            await session.close()

    return asyncio.run(go())


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
