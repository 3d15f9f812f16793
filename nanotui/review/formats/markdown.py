"""The review in Markdown for a CI job's summary page (`$GITHUB_STEP_SUMMARY`): a heading,
the verdict, a table of the findings, the model's summary, and what the review cost.

Every piece of model text goes through `markdown_safe`; the pieces here are shared with the
body of the GitHub review.
"""

from __future__ import annotations

from nanotui.protocol.findings import PlacedFinding, ReviewReport
from nanotui.review.formats import markdown_safe
from nanotui.review.formats.wording import (
    cost,
    dropped_notice,
    location,
    verdict,
    why_incomplete,
)

HEADING = "## nanotui review"


def render(report: ReviewReport, fail_on: str | None, tool_version: str) -> str:
    parts = [HEADING, f"**{verdict(report, fail_on)}**", *notices(report)]
    if report.findings:
        parts.append(table(report.findings))
    parts += [summary(report), facts(report)]
    return "\n\n".join(part for part in parts if part) + "\n"


def notices(report: ReviewReport) -> list[str]:
    """The incomplete review's warning and the dropped findings' count, when they apply."""
    found: list[str] = []
    if why := why_incomplete(report):
        found.append(f"> **Incomplete:** {why}; these are the findings made before it stopped.")
    if dropped := dropped_notice(report):
        found.append(dropped)
    return found


def table(findings: list[PlacedFinding]) -> str:
    rows = ["| Severity | Location | Title |", "| --- | --- | --- |"]
    for placed in findings:
        finding = placed.finding
        where = markdown_safe.inline(location(finding))
        rows.append(f"| {finding.severity} | {where} | {markdown_safe.inline(finding.title)} |")
    return "\n".join(rows)


def summary(report: ReviewReport) -> str:
    """The model's closing words, escaped like any of its text."""
    return markdown_safe.block(report.summary) if report.summary.strip() else ""


def facts(report: ReviewReport) -> str:
    said = [f"Cost: {cost(report)}"]
    if report.model:
        said.append(f"model {markdown_safe.inline(report.model)}")
    if report.session:
        said.append(f"session {markdown_safe.inline(report.session)}")
    return ", ".join(said) + "."


def finding_details(placed: PlacedFinding) -> str:
    """One finding in full: title, why it is not inline, explanation, suggested code."""
    finding = placed.finding
    parts = [
        f"**{finding.severity}** {markdown_safe.inline(location(finding))}: "
        f"{markdown_safe.inline(finding.title)}"
    ]
    if placed.note.strip():
        parts.append(f"_{markdown_safe.inline(placed.note)}_")
    parts.append(markdown_safe.block(finding.explanation))
    if finding.suggestion is not None:
        parts.append(f"Suggested text for {markdown_safe.inline(location(finding))}:")
        parts.append(markdown_safe.fence(finding.suggestion))
    return "\n\n".join(parts)
