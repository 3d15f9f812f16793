"""The review for a person reading a terminal or a CI log: one line per finding, plain text.

No colour codes (a CI log shows them as litter), and none from the model either: its text
loses control characters, so a title cannot move the cursor or recolour the terminal.
"""

from __future__ import annotations

from nanotui.protocol.findings import Finding, ReviewReport
from nanotui.review.formats.wording import (
    cost,
    dropped_notice,
    incomplete_notice,
    location,
    one_line,
    printable,
    verdict,
)


def render(report: ReviewReport, fail_on: str | None, tool_version: str) -> str:
    lines = [_line(finding) for finding in report.inline]
    if report.in_summary:
        lines.append("not on a changed line:")
        lines += [_line(placed.finding, placed.note) for placed in report.in_summary]
    closing = (
        dropped_notice(report),
        printable(report.summary).strip(),
        incomplete_notice(report),
        f"{verdict(report, fail_on)} Cost: {cost(report)}.",
    )
    lines += [text for text in closing if text]
    return "\n".join(lines) + "\n"


def _line(finding: Finding, note: str = "") -> str:
    """`src/app.py:12-15 high Title`, and why it is not inline when it is not."""
    line = f"{one_line(location(finding))} {finding.severity} {one_line(finding.title)}"
    return f"{line} ({one_line(note)})" if note.strip() else line
