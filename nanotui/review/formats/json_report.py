"""The review as JSON for scripts: nanotui's own shape, version 1.

    {"version": 1, "base": "<sha>", "head": "<sha>", "complete": true, "status": "done",
     "session": "<id>", "model": "<name>", "cost_usd": 0.0123 | null, "unpriced_requests": 0,
     "files": ["src/app.py", ...],
     "findings": [{"path", "line", "start_line": int | null, "severity", "title",
                   "explanation", "suggestion": str | null,
                   "inline": bool, "note": str}, ...],
     "dropped": ["why each dropped finding was dropped", ...],
     "summary": "the model's closing words",
     "worst": "low" | "medium" | "high" | "critical" | null,
     "fails": bool}

`line` is where a finding ends (or its only line) on the new side, `start_line` where a range
begins; `inline` says whether it sits on a changed line, `note` why not when it does not.
`cost_usd` is null when no request had a price (never a silent 0); `fails` is whether a
finding reaches `--fail-on` (false without it). A field is only ever added: a change that
removes or renames one raises `version`.
"""

from __future__ import annotations

import json
from typing import Any

from nanotui.protocol.findings import ReviewReport

VERSION = 1


def render(report: ReviewReport, fail_on: str | None, tool_version: str) -> str:
    return json.dumps(as_dict(report, fail_on), indent=2) + "\n"


def as_dict(report: ReviewReport, fail_on: str | None) -> dict[str, Any]:
    return {
        "version": VERSION,
        "base": report.base,
        "head": report.head,
        "complete": report.complete,
        "status": report.status,
        "session": report.session,
        "model": report.model,
        "cost_usd": report.cost_usd,
        "unpriced_requests": report.unpriced_requests,
        "files": report.files,
        "findings": [
            {**placed.finding.model_dump(), "inline": placed.inline, "note": placed.note}
            for placed in report.findings
        ],
        "dropped": report.dropped,
        "summary": report.summary,
        "worst": report.worst(),
        "fails": report.fails(fail_on),
    }
