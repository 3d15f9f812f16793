"""git_status and git_diff: the repository's state, read-only."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field

from nanotui.security.jail.git_runner import GitUnavailable, run_git
from nanotui.security.jail.workspace import PathRefused
from nanotui.tools.base import Tool, ToolArgs, ToolContext, ToolKind, ToolOutput

_BRANCH = re.compile(r"^## (?P<head>.*?)(?:\.\.\.(?P<upstream>\S+))?(?: \[(?P<track>[^\]]*)\])?$")


class GitStatusArgs(ToolArgs):
    """git_status takes no arguments."""


class GitDiffArgs(ToolArgs):
    path: str | None = Field(
        default=None, description="Only this file or folder (relative to the workspace root)."
    )
    staged: bool = Field(
        default=False, description="Show staged changes (the index) instead of unstaged ones."
    )


def _not_a_repo(stderr: str) -> bool:
    return "not a git repository" in stderr.lower()


NOT_A_REPO = "The workspace is not inside a git repository, so there is no git status or diff."


def summarize_status(porcelain: str) -> str:
    """A readable summary of `git status --porcelain=v1 -b` output."""
    lines = porcelain.splitlines()
    summary: list[str] = []
    if lines and lines[0].startswith("## "):
        match = _BRANCH.match(lines.pop(0))
        if match:
            head = match["head"]
            if head.startswith("No commits yet on "):
                summary.append(f"On branch {head.removeprefix('No commits yet on ')} (no commits)")
            elif head.startswith("HEAD (no branch)"):
                summary.append("HEAD is detached")
            else:
                summary.append(f"On branch {head}")
            if match["upstream"]:
                track = f", {match['track']}" if match["track"] else ", up to date"
                summary[-1] += f" (tracking {match['upstream']}{track})"
    staged = modified = untracked = conflicted = 0
    for line in lines:
        x, y = line[:1], line[1:2]
        if line.startswith("??"):
            untracked += 1
        elif "U" in (x, y) or (x, y) in (("A", "A"), ("D", "D")):
            conflicted += 1
        else:
            staged += x not in (" ", "!")
            modified += y not in (" ", "!")
    if not lines:
        summary.append("Working tree clean.")
    else:
        counts = [
            f"{staged} staged",
            f"{modified} modified (unstaged)",
            f"{untracked} untracked",
        ]
        if conflicted:
            counts.append(f"{conflicted} with conflicts")
        summary.append(", ".join(counts) + ".")
    return "\n".join(summary)


class GitStatusTool(Tool):
    """Show the branch and the changed files."""

    name: ClassVar[str] = "git_status"
    description: ClassVar[str] = (
        "Show the current git branch and which files are staged, modified or untracked "
        "(porcelain v1 format, with a summary first)."
    )
    Args: ClassVar[type[ToolArgs]] = GitStatusArgs
    kind: ClassVar[ToolKind] = ToolKind.READ

    async def run(self, args: GitStatusArgs, ctx: ToolContext) -> ToolOutput:
        try:
            out = await run_git(["status", "--porcelain=v1", "-b"], ctx.workspace.root)
        except GitUnavailable as exc:
            return ToolOutput(ok=False, content=str(exc))
        if out.returncode != 0:
            if _not_a_repo(out.stderr):
                return ToolOutput(ok=False, content=NOT_A_REPO)
            return ToolOutput(ok=False, content=f"git status failed: {_first_line(out.stderr)}.")
        porcelain = out.stdout.decode("utf-8", errors="replace")
        summary = summarize_status(porcelain)
        return ToolOutput(
            content=f"{summary}\n\n{porcelain.rstrip()}", data={"porcelain": porcelain}
        )


class GitDiffTool(Tool):
    """Show the unstaged (or staged) diff."""

    name: ClassVar[str] = "git_diff"
    description: ClassVar[str] = (
        "Show the git diff of the working tree against the index (unstaged changes), or with "
        "staged=true of the index against HEAD. Optionally limited to one path."
    )
    Args: ClassVar[type[ToolArgs]] = GitDiffArgs
    kind: ClassVar[ToolKind] = ToolKind.READ

    async def run(self, args: GitDiffArgs, ctx: ToolContext) -> ToolOutput:
        ws = ctx.workspace
        command = ["diff", "--no-ext-diff", "--no-textconv", "--no-color"]
        if args.staged:
            command.append("--cached")
        command.append("--")
        try:
            if args.path is not None:
                command.append(ws.relative(ws.resolve_for_read(args.path)))
            # Credential files never reach the model, not even as diff lines.
            command += [_exclude(p) for p in ws.credential_patterns]
            out = await run_git(command, ws.root)
        except (PathRefused, GitUnavailable) as exc:
            return ToolOutput(ok=False, content=str(exc))
        if out.returncode != 0:
            if _not_a_repo(out.stderr):
                return ToolOutput(ok=False, content=NOT_A_REPO)
            return ToolOutput(ok=False, content=f"git diff failed: {_first_line(out.stderr)}.")
        diff = out.stdout.decode("utf-8", errors="replace")
        which = "staged" if args.staged else "unstaged"
        data = {"staged": args.staged, "path": args.path, "bytes": len(out.stdout)}
        if not diff.strip():
            where = f" in {args.path}" if args.path else ""
            return ToolOutput(content=f"No {which} changes{where}.", data=data)
        cap = ctx.max_read_bytes
        if len(diff) > cap:
            diff = (
                diff[:cap] + f"\n[... diff cut at {cap} of {len(diff)} characters; "
                "ask for one path at a time ...]"
            )
        return ToolOutput(content=diff, data=data)


def _exclude(pattern: str) -> str:
    # Same reach as the jail's matching: a pattern without "/" names a file at any depth.
    body = pattern.lstrip("/") if pattern.startswith("/") else f"**/{pattern}"
    return f":(exclude,glob,icase){body}"


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].rstrip(".") if lines else "no message"
