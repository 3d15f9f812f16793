"""The review as SARIF 2.1.0, for code-scanning dashboards (GitHub's among them).

One rule, `review-finding`, for every result: the model words each title afresh, so a rule
per title would give the same problem a new rule on every run, and a dashboard that tracks
an alert by rule and place would close it and open a "new" one each time. What varies
lives on the result: `level` from the severity (critical and high are errors, medium a
warning, low a note), the exact severity in `properties`, and the title and explanation in
its message.

A suggestion becomes a `fix`: the finding's whole lines replaced by the suggested text. An
incomplete review is an invocation that did not succeed, with a notification saying why.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from nanotui.protocol.findings import Finding, PlacedFinding, ReviewReport
from nanotui.review.formats.wording import dropped_notice, incomplete_notice

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
RULE_ID = "review-finding"
SOURCE_ROOT = "%SRCROOT%"
"""Paths are relative to the repository's root, which the reader of the log supplies."""
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}

RULE = {
    "id": RULE_ID,
    "name": "ReviewFinding",
    "shortDescription": {"text": "A problem the review of the change found."},
    "fullDescription": {
        "text": "A problem the model found reviewing the change: the result's message says "
        "what and why, its severity property how serious it is."
    },
    "defaultConfiguration": {"level": "warning"},
}


def render(report: ReviewReport, fail_on: str | None, tool_version: str) -> str:
    return json.dumps(log(report, tool_version), indent=2) + "\n"


def log(report: ReviewReport, tool_version: str = "") -> dict[str, Any]:
    driver: dict[str, Any] = {"name": "nanotui"}
    if tool_version:
        driver["version"] = tool_version
    driver["rules"] = [RULE]
    run = {
        "tool": {"driver": driver},
        "invocations": [invocation(report)],
        "results": [result(placed) for placed in report.findings],
        "properties": {
            "base": report.base,
            "head": report.head,
            "session": report.session,
            "model": report.model,
            "summary": report.summary,
            "dropped": report.dropped,
        },
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def invocation(report: ReviewReport) -> dict[str, Any]:
    said = [notice for notice in (incomplete_notice(report), dropped_notice(report)) if notice]
    ran: dict[str, Any] = {"executionSuccessful": report.complete}
    if said:
        ran["toolExecutionNotifications"] = [
            {"level": "warning", "message": {"text": text}} for text in said
        ]
    return ran


def result(placed: PlacedFinding) -> dict[str, Any]:
    finding = placed.finding
    found: dict[str, Any] = {
        "ruleId": RULE_ID,
        "ruleIndex": 0,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.title}\n\n{finding.explanation}"},
        "locations": [{"physicalLocation": where(finding)}],
        "properties": {"severity": finding.severity, "inline": placed.inline},
    }
    if placed.note:
        found["properties"]["note"] = placed.note
    if finding.suggestion is not None:
        found["fixes"] = [fix(finding)]
    return found


def where(finding: Finding) -> dict[str, Any]:
    return {"artifactLocation": artifact(finding), "region": lines(finding)}


def artifact(finding: Finding) -> dict[str, str]:
    # A URI, not a path: a space or "#" in a file's name is percent-encoded.
    return {"uri": quote(finding.path, safe="/"), "uriBaseId": SOURCE_ROOT}


def lines(finding: Finding) -> dict[str, int]:
    """Whole lines: with no columns a SARIF region runs from the start of `startLine` to the
    end of `endLine`, its line break excluded."""
    return {"startLine": finding.first_line, "endLine": finding.line}


def fix(finding: Finding) -> dict[str, Any]:
    """The suggestion as a replacement of the finding's lines. The region leaves out the last
    line break, so the inserted text does too."""
    suggested = (finding.suggestion or "").removesuffix("\n")
    return {
        "description": {"text": f"Replace the lines with the suggested text: {finding.title}"},
        "artifactChanges": [
            {
                "artifactLocation": artifact(finding),
                "replacements": [
                    {"deletedRegion": lines(finding), "insertedContent": {"text": suggested}}
                ],
            }
        ],
    }
