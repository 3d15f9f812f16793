"""`nanotui review`'s output formats, each made from real reports: several findings in several
files, a range, a suggestion that itself holds ```, a finding whose title and explanation try
to break out (a `|`, `<script>`, newlines, a terminal escape), an incomplete review and an
empty one.
"""

from __future__ import annotations

import json

import pytest

from nanotui.protocol.basics import UserFacingError
from nanotui.protocol.findings import Finding, PlacedFinding, ReviewReport
from nanotui.review.formats import FORMATS, render

BASE, HEAD = "1" * 40, "2" * 40

SQL = Finding(
    path="src/db.py",
    line=42,
    severity="critical",
    title="SQL built from user input",
    explanation="The name is pasted into the query; pass it as a parameter.",
    suggestion='cursor.execute("SELECT * FROM users WHERE name = %s", (name,))',
)
FENCED_SUGGESTION = 'def get():\n    """Fetch one.\n\n    ```python\n    get()\n    ```\n    """\n'
DOCSTRING = Finding(
    path="src/api.py",
    start_line=10,
    line=14,
    severity="medium",
    title="The docstring's example never runs",
    explanation="The example calls `get` with no argument.",
    suggestion=FENCED_SUGGESTION,
)
SPACED = Finding(
    path="docs/read me.md",
    line=1,
    severity="low",
    title="Typo in the heading",
    explanation="It says 'teh'.",
    suggestion="# The guide",
)
HOSTILE_TITLE = "Stale | <script>alert(1)</script> @octocat\x1b[31m"
HOSTILE = Finding(
    path="docs/guide.md",
    line=3,
    severity="low",
    title=HOSTILE_TITLE,
    explanation="line one\n| a | b |\n<img src=x onerror=alert(1)>\n- not a list\n# not a heading",
)
RETRIES = Finding(
    path="src/api.py",
    line=30,
    severity="high",
    title="Retries forever\nwithout a limit",
    explanation="A server that is down keeps the job looping.",
)

FULL = ReviewReport(
    base=BASE,
    head=HEAD,
    files=["src/db.py", "src/api.py", "docs/guide.md", "docs/read me.md"],
    findings=[
        PlacedFinding(finding=SQL, inline=True),
        PlacedFinding(finding=DOCSTRING, inline=True),
        PlacedFinding(finding=SPACED, inline=True),
        PlacedFinding(finding=RETRIES, inline=False, note="line 30 is not in the change"),
        PlacedFinding(finding=HOSTILE, inline=False, note="line 3 is not in the change"),
    ],
    dropped=["ghost.py: no such file in the head commit"],
    summary="Two problems in the data layer.\nThe rest reads well.",
    cost_usd=0.0123,
    unpriced_requests=1,
    session="20261205-120000-ab12",
    model="claude-test",
)
INCOMPLETE = ReviewReport(
    base=BASE,
    head=HEAD,
    files=["src/db.py"],
    findings=[PlacedFinding(finding=RETRIES, inline=True)],
    complete=False,
    status="budget",
    cost_usd=0.5,
)
EMPTY = ReviewReport(base=BASE, head=HEAD, files=["README.md"], cost_usd=None, unpriced_requests=2)


# --- choosing a format ---------------------------------------------------------------------


def test_the_formats_by_name() -> None:
    assert FORMATS == ("text", "json")


def test_an_unknown_format_or_severity_is_one_clear_sentence() -> None:
    with pytest.raises(UserFacingError, match="no review format 'xml'; use one of text, json"):
        render(FULL, "xml")
    with pytest.raises(UserFacingError, match="--fail-on takes a severity"):
        render(FULL, "json", fail_on="severe")


# --- text ----------------------------------------------------------------------------------


def test_text_is_one_line_per_finding_then_the_rest() -> None:
    assert render(FULL, "text", fail_on="high") == (
        "src/db.py:42 critical SQL built from user input\n"
        "src/api.py:10-14 medium The docstring's example never runs\n"
        "docs/read me.md:1 low Typo in the heading\n"
        "not on a changed line:\n"
        "src/api.py:30 high Retries forever without a limit (line 30 is not in the change)\n"
        "docs/guide.md:3 low Stale | <script>alert(1)</script> @octocat[31m"
        " (line 3 is not in the change)\n"
        "1 finding dropped: on a path that does not exist.\n"
        "Two problems in the data layer.\nThe rest reads well.\n"
        "5 findings, the worst critical; fails --fail-on high. Cost: $0.0123 + 1 unpriced.\n"
    )


def test_text_says_an_incomplete_review_is_incomplete() -> None:
    assert render(INCOMPLETE, "text") == (
        "src/api.py:30 high Retries forever without a limit\n"
        "incomplete: a budget ended the review\n"
        "1 finding, the worst high. Cost: $0.5000.\n"
    )


def test_text_of_an_empty_review() -> None:
    assert render(EMPTY, "text", fail_on="low") == "No findings. Cost: unpriced (2 requests).\n"


def test_no_format_lets_the_models_terminal_escape_through() -> None:
    assert "\x1b" not in render(FULL, "text")


# --- json ----------------------------------------------------------------------------------


def test_json_holds_the_whole_report_in_its_documented_shape() -> None:
    got = json.loads(render(FULL, "json", fail_on="critical"))
    assert list(got) == [
        "version",
        "base",
        "head",
        "complete",
        "status",
        "session",
        "model",
        "cost_usd",
        "unpriced_requests",
        "files",
        "findings",
        "dropped",
        "summary",
        "worst",
        "fails",
    ]
    assert got["version"] == 1
    assert (got["base"], got["head"], got["complete"], got["status"]) == (BASE, HEAD, True, "done")
    assert (got["session"], got["model"]) == ("20261205-120000-ab12", "claude-test")
    assert (got["cost_usd"], got["unpriced_requests"]) == (0.0123, 1)
    assert got["files"] == FULL.files
    assert got["findings"][1] == {
        "path": "src/api.py",
        "line": 14,
        "start_line": 10,
        "severity": "medium",
        "title": "The docstring's example never runs",
        "explanation": "The example calls `get` with no argument.",
        "suggestion": FENCED_SUGGESTION,
        "inline": True,
        "note": "",
    }
    assert got["findings"][4]["title"] == HOSTILE_TITLE  # data, kept exactly as reported
    assert [(f["path"], f["inline"], f["note"]) for f in got["findings"]][3:] == [
        ("src/api.py", False, "line 30 is not in the change"),
        ("docs/guide.md", False, "line 3 is not in the change"),
    ]
    assert got["dropped"] == ["ghost.py: no such file in the head commit"]
    assert got["summary"] == FULL.summary
    assert (got["worst"], got["fails"]) == ("critical", True)


def test_json_of_an_incomplete_and_an_empty_review() -> None:
    cut = json.loads(render(INCOMPLETE, "json", fail_on="critical"))
    assert (cut["complete"], cut["status"], cut["worst"], cut["fails"]) == (
        False,
        "budget",
        "high",
        False,
    )
    empty = json.loads(render(EMPTY, "json", fail_on="low"))
    assert (empty["findings"], empty["worst"], empty["fails"]) == ([], None, False)
    assert (empty["cost_usd"], empty["unpriced_requests"]) == (None, 2)
