"""`nanotui review`: the agent reviews a change, and the findings come out as text, JSON,
Markdown, a GitHub review or SARIF (and, with --post, as a review on the pull request).

The review runs in plan mode: the model reads and runs only read-only, allowed commands and
writes nothing. A GitHub token is taken out of the environment before the agent is built, so
neither its tools, its sandbox, its prompt nor its log can see it; it is used once, after the
agent has finished, to post the review.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from nanotui.cli.workspace import UserError, capped, load_for, resolve_workspace

if TYPE_CHECKING:
    from nanotui.protocol.findings import ReviewReport

FINDINGS_EXIT = 5
"""A finding at or above --fail-on: the check goes red."""


def cmd_review(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from nanotui.engine.assembly import build_session
    from nanotui.engine.run_result import EXIT_CODES
    from nanotui.providers.factory import build_provider
    from nanotui.review.change import default_base, exists_at, load_change
    from nanotui.review.github import TOKEN_VARIABLES, token_from_environment
    from nanotui.review.runner import run_review
    from nanotui.tools.report_finding import ReportFindingTool

    root = resolve_workspace(args.workspace)
    environ = dict(os.environ)
    token = token_from_environment(environ)
    # Out of the environment before anything is built from it: the agent never holds it.
    for name in TOKEN_VARIABLES:
        os.environ.pop(name, None)
    if args.post and not token:
        raise UserError("--post needs GITHUB_TOKEN (the workflow's token) to post the review.")
    pull = _pull_request(environ, args.post)
    change = load_change(root, args.base or default_base(root, environ), args.head or "HEAD")
    settings = load_for(args, root).settings
    settings = capped(settings, args.max_cost_usd)
    settings = settings.model_copy(
        update={"approval": settings.approval.model_copy(update={"mode": "plan"})}
    )
    provider = build_provider(settings.provider)
    session = build_session(
        settings,
        root,
        provider=provider,
        max_steps=args.max_turns,
        extra_tools=[ReportFindingTool()],
    )

    async def go() -> ReviewReport:
        try:
            return await run_review(
                session,
                change,
                lambda path: exists_at(root, change.head, path),
                title=pull.title if pull else "",
                body=(pull.body or "") if pull else "",
                err=sys.stderr,
            )
        finally:
            await session.close()

    report = asyncio.run(go())
    _write(report, args)
    if args.post:
        assert pull is not None and token is not None
        from nanotui.review.formats import render
        from nanotui.review.github import post_review

        review = json.loads(render(report, "github", fail_on=args.fail_on))
        url = post_review(
            review,
            repository=pull.repository,
            number=pull.number,
            token=token,
            api_url=environ.get("GITHUB_API_URL", ""),
        )
        print(f"nanotui: posted the review: {url}", file=sys.stderr)
    print(_one_line(report), file=sys.stderr)
    if report.fails(args.fail_on):
        return FINDINGS_EXIT
    return EXIT_CODES.get(report.status, 1)


def _pull_request(environ: dict[str, str], post: bool):
    """The pull request under review in a pull_request workflow (its title and description
    go to the model as untrusted data); None elsewhere, where --post cannot work."""
    from nanotui.review.github import pull_request_from_environment

    pull = pull_request_from_environment(environ)
    if pull is None and post:
        raise UserError(
            "--post works in a pull_request workflow (GITHUB_EVENT_PATH and GITHUB_REPOSITORY "
            "name the pull request); outside one, leave it out."
        )
    return pull


def _write(report: ReviewReport, args: argparse.Namespace) -> None:
    from nanotui.protocol.atomic_write import write_atomically
    from nanotui.review.formats import render

    text = render(report, args.format, fail_on=args.fail_on)
    if args.output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    try:
        write_atomically(Path(args.output), text)
    except OSError as exc:
        raise UserError(f"Could not write {args.output}: {exc.strerror or exc}.") from exc


def _one_line(report: ReviewReport) -> str:
    """The run's last line on stderr: what was found, whether complete, and the cost."""
    from nanotui.protocol.spend import Spend

    inline, summary = len(report.inline), len(report.in_summary)
    state = "complete" if report.complete else f"incomplete ({report.status})"
    cost = Spend(report.cost_usd, report.unpriced_requests).text()
    worst = report.worst() or "none"
    return (
        f"[review {state}] {inline} inline, {summary} in the summary, "
        f"{len(report.dropped)} dropped; worst {worst}; {cost}; session {report.session}"
    )
