"""The sentences every format shares, so a review reads the same in a log, a summary and a PR.

Model text arrives here untrusted: `one_line` and `printable` take out what could drive a
terminal (escape sequences, other control characters) before any format adds its own escaping.
"""

from __future__ import annotations

import re

from nanotui.protocol.basics import plural
from nanotui.protocol.findings import Finding, ReviewReport
from nanotui.protocol.spend import Spend

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 and C1 control characters (ESC among them) except tab and newline."""

_STOPPED_BY = {
    "budget": "a budget ended the review",
    "max_turns": "the turn limit ended the review",
    "error": "an error ended the review",
    "cancelled": "the review was cancelled",
    "stuck": "the review stopped making progress",
}


def printable(text: str) -> str:
    """`text` without control characters; newlines and tabs stay."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def one_line(text: str) -> str:
    """`text` on one line: a title that holds a newline must not start a line of its own."""
    return " ".join(printable(text).split())


def location(finding: Finding) -> str:
    """`src/app.py:12`, or `src/app.py:12-15` for a range."""
    if finding.start_line is None:
        return f"{finding.path}:{finding.line}"
    return f"{finding.path}:{finding.start_line}-{finding.line}"


def verdict(report: ReviewReport, fail_on: str | None) -> str:
    """`No findings.` or `3 findings, the worst high; fails --fail-on medium.`"""
    if not report.findings:
        return "No findings."
    said = f"{plural(len(report.findings), 'finding')}, the worst {report.worst()}"
    if fail_on is not None:
        said += f"; {'fails' if report.fails(fail_on) else 'passes'} --fail-on {fail_on}"
    return said + "."


def why_incomplete(report: ReviewReport) -> str | None:
    """`a budget ended the review`, or None for a review that finished."""
    if report.complete:
        return None
    return _STOPPED_BY.get(report.status, f"the review stopped early ({report.status})")


def incomplete_notice(report: ReviewReport) -> str | None:
    """`incomplete: a budget ended the review`, or None for a review that finished."""
    why = why_incomplete(report)
    return f"incomplete: {why}" if why else None


def dropped_notice(report: ReviewReport) -> str | None:
    """How many findings named a path that does not exist (they are in the log, not here)."""
    if not report.dropped:
        return None
    return f"{plural(len(report.dropped), 'finding')} dropped: on a path that does not exist."


def cost(report: ReviewReport) -> str:
    return Spend(report.cost_usd, report.unpriced_requests).text()
