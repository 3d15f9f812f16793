"""report_finding: how a reviewing model reports one problem (only `nanotui review` offers it).

It changes nothing, so plan mode allows it. The finding travels in the tool result's `data`,
from where the review collects it; where it lands (inline, summary, dropped) is decided
afterwards against the diff, not by the model.
"""

from __future__ import annotations

from typing import Any, ClassVar

from nanotui.protocol.findings import Finding
from nanotui.tools.base import Tool, ToolArgs, ToolContext, ToolKind, ToolOutput


class ReportFindingArgs(Finding, ToolArgs):
    """A finding's fields, as the model fills them in."""


class ReportFindingTool(Tool):
    name: ClassVar[str] = "report_finding"
    description: ClassVar[str] = (
        "Report one problem in the change under review: the file, the line (and start_line "
        "for a range) on the NEW side of the diff, a severity (low, medium, high, critical), "
        "a one-line title, an explanation, and optionally a suggestion: the replacement text "
        "for those lines. Call it once per problem, then end with a short summary."
    )
    Args: ClassVar[type[ToolArgs]] = ReportFindingArgs
    kind: ClassVar[ToolKind] = ToolKind.READ

    async def run(self, args: Any, ctx: ToolContext) -> ToolOutput:
        finding = Finding.model_validate(args.model_dump())
        where = f"{finding.path}:{finding.first_line}"
        return ToolOutput(
            content=f"Recorded ({finding.severity}) {finding.title} at {where}.",
            data={"finding": finding.model_dump(mode="json")},
        )

    def summary(self, args: Any) -> str:
        return f"{args.severity} {args.path}:{args.line} {args.title}"[:120]
