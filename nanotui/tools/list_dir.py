"""list_dir: what one folder holds, folders marked with a trailing `/`, files with sizes."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from nanotui.protocol.basics import plural
from nanotui.security.jail.workspace import PathRefused
from nanotui.tools.base import Tool, ToolArgs, ToolContext, ToolFailure, ToolKind, ToolOutput

MAX_ENTRIES = 500
SKIPPED_NAMES = frozenset({".git"})


class ListDirArgs(ToolArgs):
    path: str = Field(default=".", description="Folder to list, relative to the workspace root.")


def human_size(size: int) -> str:
    """Bytes as a short human-readable size: 512 B, 1.5 KiB, 3.2 MiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


class ListDirTool(Tool):
    """List one folder of the workspace."""

    name: ClassVar[str] = "list_dir"
    description: ClassVar[str] = (
        "List the entries of one folder in the workspace, sorted by name: folders end with `/`, "
        "files show their size, symlinks show where they point. Not recursive; use find_files "
        "to search a whole tree."
    )
    Args: ClassVar[type[ToolArgs]] = ListDirArgs
    kind: ClassVar[ToolKind] = ToolKind.READ

    async def run(self, args: ListDirArgs, ctx: ToolContext) -> ToolOutput:
        try:
            return await asyncio.to_thread(self._list, args, ctx)
        except (ToolFailure, PathRefused) as exc:
            return ToolOutput(ok=False, content=str(exc))
        except OSError as exc:
            return ToolOutput(ok=False, content=f"Could not list {args.path}: {exc.strerror}.")

    def _list(self, args: ListDirArgs, ctx: ToolContext) -> ToolOutput:
        ws = ctx.workspace
        try:
            opened = ws.open_for_read(args.path)
        except FileNotFoundError as exc:
            rel = ws.relative(Path(exc.filename))
            raise ToolFailure(
                f"No folder {rel}; list_dir on its parent shows what exists."
            ) from None
        with opened:
            rel = ws.relative(opened.path)
            if not opened.is_dir:
                raise ToolFailure(f"{rel} is a file, not a folder; use read_file to read it.")
            # Listed from the descriptor the jail checked, so the folder cannot be swapped.
            with os.scandir(opened.fd) as entries:
                found = sorted(
                    (e for e in entries if e.name not in SKIPPED_NAMES), key=lambda e: e.name
                )
            lines = [_describe(entry, opened.fd) for entry in found[:MAX_ENTRIES]]
        data = {"path": rel, "entries": len(found)}
        if not found:
            return ToolOutput(content=f"{rel} is empty.", data=data)
        content = "\n".join(lines)
        if len(found) > MAX_ENTRIES:
            content += (
                f"\n\n({plural(len(found) - MAX_ENTRIES, 'more entry', 'more entries')} not shown; "
                "use find_files with a pattern to narrow down.)"
            )
        return ToolOutput(content=content, data=data)


def _describe(entry: os.DirEntry[str], folder_fd: int) -> str:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return f"{entry.name}  (unreadable)"
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.readlink(entry.name, dir_fd=folder_fd)
        except OSError:
            target = "?"
        return f"{entry.name} -> {target}"
    if stat.S_ISDIR(st.st_mode):
        return f"{entry.name}/"
    if stat.S_ISREG(st.st_mode):
        return f"{entry.name}  {human_size(st.st_size)}"
    return f"{entry.name}  (special file)"
