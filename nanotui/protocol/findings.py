"""What a review finds: each finding as the model reported it, and the review as a whole.

`nanotui review` lets the model report findings through one tool (`report_finding`); nanotui
then places each against the diff: on a changed line it goes inline, elsewhere in the change
to the summary, on a path that does not exist it is dropped (and logged). Every output format
(json, markdown, a GitHub review, SARIF) is made from a `ReviewReport`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
"""Least to most serious: `--fail-on high` fails on high and critical."""


def at_least(severity: str, threshold: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)  # type: ignore[arg-type]


class Finding(BaseModel):
    """One problem the model found, on the new side of the change."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=1000, description="File, relative to the root.")
    line: int = Field(ge=1, description="Line on the new side where the problem is (or ends).")
    start_line: int | None = Field(
        default=None, ge=1, description="First line, when the problem spans several."
    )
    severity: Severity
    title: str = Field(min_length=1, max_length=200, description="One line: what is wrong.")
    explanation: str = Field(
        min_length=1, max_length=4000, description="Why it is a problem and how to fix it."
    )
    suggestion: str | None = Field(
        default=None,
        max_length=20_000,
        description="Optional replacement text for the lines start_line..line, exactly as "
        "they should read (no diff markers).",
    )

    @model_validator(mode="after")
    def _range_in_order(self) -> Finding:
        if self.start_line is not None and self.start_line > self.line:
            raise ValueError("start_line must not be after line")
        if self.start_line == self.line:
            self.start_line = None
        return self

    @property
    def first_line(self) -> int:
        return self.start_line or self.line

    def same_as(self, other: Finding) -> bool:
        """Two reports of one problem: the same place and title (case and spaces aside)."""
        return (self.path, self.first_line, self.line, _words(self.title)) == (
            other.path,
            other.first_line,
            other.line,
            _words(other.title),
        )


def _words(text: str) -> str:
    return " ".join(text.lower().split())


class PlacedFinding(BaseModel):
    """A finding and where it goes: inline on the diff, or in the summary (and why)."""

    finding: Finding
    inline: bool
    note: str = ""
    """For a summary finding: why it is not inline, e.g. "line 3 is not in the change"."""


class ReviewReport(BaseModel):
    """A finished (or budget-cut) review: what every output format is made from."""

    base: str
    """The commit compared from (the merge base)."""
    head: str
    files: list[str] = Field(default_factory=list)
    """Files the change touches."""
    findings: list[PlacedFinding] = Field(default_factory=list)
    dropped: list[str] = Field(default_factory=list)
    """Why each dropped finding was dropped (a path that does not exist)."""
    summary: str = ""
    """The model's closing words."""
    complete: bool = True
    """False when a budget (or an error) ended the review early: what was found so far."""
    status: str = "done"
    cost_usd: float | None = None
    unpriced_requests: int = 0
    session: str = ""
    model: str = ""

    @property
    def inline(self) -> list[Finding]:
        return [p.finding for p in self.findings if p.inline]

    @property
    def in_summary(self) -> list[PlacedFinding]:
        return [p for p in self.findings if not p.inline]

    def worst(self) -> Severity | None:
        found = [p.finding.severity for p in self.findings]
        return max(found, key=SEVERITIES.index) if found else None

    def fails(self, threshold: str | None) -> bool:
        """True when a finding is at or above `threshold` (None: never)."""
        worst = self.worst()
        return threshold is not None and worst is not None and at_least(worst, threshold)
