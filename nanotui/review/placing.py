"""Checking each finding against the change: inline, in the summary, or dropped.

The model's word is not taken for where a problem is. A finding goes inline only when every
line it names is one the diff shows on its new side (a review comment elsewhere is refused
by GitHub, and would point at code the change did not touch); a finding on a file of the
repository outside the change, or on lines outside the diff, goes to the summary with the
reason; a finding on a path that does not exist at `head` (or outside the repository) is
dropped and the reason logged. The same finding reported twice is kept once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import PurePosixPath

from nanotui.protocol.findings import Finding, PlacedFinding
from nanotui.review.change import Change


def clean_path(path: str) -> str | None:
    """The path relative to the repository's root, or None when it leaves it."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if not parts or parts[0] == "/" or ".." in parts:
        return None
    kept = [p for p in parts if p != "."]
    return "/".join(kept) or None


def place(
    findings: Sequence[Finding], change: Change, exists: Callable[[str], bool]
) -> tuple[list[PlacedFinding], list[str]]:
    """Each finding placed (in the order reported, duplicates merged) and the reasons of
    those dropped; `exists(path)` says whether a file is in the head commit."""
    placed: list[PlacedFinding] = []
    dropped: list[str] = []
    kept: list[Finding] = []
    for finding in findings:
        path = clean_path(finding.path)
        if path is None:
            dropped.append(f"{finding.path!r} is outside the repository: {finding.title}")
            continue
        finding = finding.model_copy(update={"path": path})
        if any(finding.same_as(earlier) for earlier in kept):
            continue
        kept.append(finding)
        changed = change.files.get(path)
        if changed is None:
            if not exists(path):
                dropped.append(f"{path} does not exist at {change.head[:12]}: {finding.title}")
                continue
            placed.append(PlacedFinding(finding=finding, inline=False, note="not in the change"))
            continue
        wanted = range(finding.first_line, finding.line + 1)
        missing = [n for n in wanted if n not in changed.shown]
        if not missing:
            placed.append(PlacedFinding(finding=finding, inline=True))
            continue
        where = (
            f"line {finding.line}"
            if finding.start_line is None
            else f"lines {finding.first_line}-{finding.line}"
        )
        note = "the file was deleted" if changed.status == "D" else f"{where} not in the diff"
        placed.append(PlacedFinding(finding=finding, inline=False, note=note))
    return placed, dropped
