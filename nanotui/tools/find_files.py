"""find_files: file paths matching a glob, honouring .gitignore."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from nanotui.protocol.basics import plural
from nanotui.security.jail.globs import path_matches
from nanotui.security.jail.workspace import PathRefused
from nanotui.tools.base import Tool, ToolArgs, ToolContext, ToolKind, ToolOutput
from nanotui.tools.file_listing import list_files

MAX_RESULTS = 1000


class FindFilesArgs(ToolArgs):
    pattern: str = Field(
        description=(
            "Glob to match, e.g. `**/*.py` or `src/**/test_*.ts`. `*` stays within one folder, "
            "`**` spans folders; a pattern without `/` (like `*.md`) matches file names at any "
            "depth."
        ),
        min_length=1,
    )
    path: str = Field(
        default=".",
        description="Folder to search in, relative to the workspace root; the pattern is "
        "matched against paths relative to it.",
    )


class FindFilesTool(Tool):
    """Find files by glob, skipping what .gitignore ignores."""

    name: ClassVar[str] = "find_files"
    description: ClassVar[str] = (
        "Find files in the workspace whose paths match a glob pattern. Files ignored by "
        ".gitignore are skipped. Returns paths relative to the workspace root, sorted."
    )
    Args: ClassVar[type[ToolArgs]] = FindFilesArgs
    kind: ClassVar[ToolKind] = ToolKind.READ

    async def run(self, args: FindFilesArgs, ctx: ToolContext) -> ToolOutput:
        ws = ctx.workspace
        try:
            base = ws.resolve_for_read(args.path)
            base_rel = ws.relative(base)
        except PathRefused as exc:
            return ToolOutput(ok=False, content=str(exc))
        if not base.is_dir():
            what = "a file" if base.exists() else "missing"
            return ToolOutput(
                ok=False, content=f"{base_rel} is {what}, not a folder; give a folder as path."
            )
        listing = await list_files(ws, base)
        prefix = "" if base_rel == "." else base_rel.rstrip("/") + "/"
        matches = [
            rel
            for rel in listing.files
            if rel.startswith(prefix) and path_matches(args.pattern, rel[len(prefix) :])
        ]
        data = {"pattern": args.pattern, "path": base_rel, "count": len(matches)}
        if not matches:
            where = "in the workspace" if base_rel == "." else f"under {base_rel}"
            return ToolOutput(content=f"No files match {args.pattern!r} {where}.", data=data)
        content = "\n".join(matches[:MAX_RESULTS])
        if len(matches) > MAX_RESULTS:
            content += (
                f"\n\n({plural(len(matches) - MAX_RESULTS, 'more match', 'more matches')}"
                " not shown; use a narrower pattern or path.)"
            )
        return ToolOutput(content=content, data=data)
