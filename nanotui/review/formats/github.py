"""The review as the JSON body of a GitHub pull-request review
(`POST /repos/{owner}/{repo}/pulls/{number}/reviews`).

Inline findings become comments on the new side of the diff (a range gets `start_line`), a
suggestion becomes a ```suggestion block GitHub can apply; the body carries the verdict, the
findings that are not on a changed line (with why), and the incomplete notice. The review
requests changes only when a finding reaches `--fail-on`.
"""

from __future__ import annotations

import json
from typing import Any

from nanotui.protocol.findings import Finding, ReviewReport
from nanotui.review.formats import markdown_safe
from nanotui.review.formats.markdown import finding_details, notices, summary
from nanotui.review.formats.wording import verdict


def render(report: ReviewReport, fail_on: str | None, tool_version: str) -> str:
    return json.dumps(review(report, fail_on), indent=2) + "\n"


def review(report: ReviewReport, fail_on: str | None) -> dict[str, Any]:
    return {
        "commit_id": report.head,
        "event": "REQUEST_CHANGES" if report.fails(fail_on) else "COMMENT",
        "body": body(report, fail_on),
        "comments": [comment(finding) for finding in report.inline],
    }


def body(report: ReviewReport, fail_on: str | None) -> str:
    parts = [f"**nanotui review:** {verdict(report, fail_on)}", *notices(report), summary(report)]
    if report.in_summary:
        parts.append("### Not on a changed line")
        parts += [finding_details(placed) for placed in report.in_summary]
    return "\n\n".join(part for part in parts if part)


def comment(finding: Finding) -> dict[str, Any]:
    """One inline comment on the new side (`RIGHT`): on `line`, or from `start_line` to it."""
    placed: dict[str, Any] = {"path": finding.path}
    if finding.start_line is not None:
        placed |= {"start_line": finding.start_line, "start_side": "RIGHT"}
    placed |= {"line": finding.line, "side": "RIGHT", "body": comment_body(finding)}
    return placed


def comment_body(finding: Finding) -> str:
    parts = [
        f"**{finding.severity}**: {markdown_safe.inline(finding.title)}",
        markdown_safe.block(finding.explanation),
    ]
    if finding.suggestion is not None:
        # GitHub replaces the commented lines with the block's text when someone applies it.
        parts.append(markdown_safe.fence(finding.suggestion, "suggestion"))
    return "\n\n".join(parts)
