"""write_file: create a file, or replace a file's whole content."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field

from nanotui.protocol.diffs import FileChange
from nanotui.tools.base import ToolArgs, ToolContext, ToolFailure
from nanotui.tools.file_change import WriteTool, make_change, read_for_change
from nanotui.tools.read_file import looks_binary

_BARE_LF = re.compile(r"(?<!\r)\n")


class WriteFileArgs(ToolArgs):
    path: str = Field(description="File to write, relative to the workspace root.")
    content: str = Field(description="The complete new content of the file.")


def uses_crlf(text: str) -> bool:
    """True when most line endings in `text` are CRLF."""
    crlf = text.count("\r\n")
    return crlf > 0 and crlf >= text.count("\n") - crlf


def to_crlf(text: str) -> str:
    """Turn every bare `\\n` into `\\r\\n`, leaving existing CRLF alone."""
    return _BARE_LF.sub("\r\n", text)


class WriteFileTool(WriteTool):
    """Create a file or replace its whole content."""

    name: ClassVar[str] = "write_file"
    description: ClassVar[str] = (
        "Create a new file, or replace the whole content of an existing one (parent folders "
        "are created). To change part of an existing file, prefer edit_file. An existing "
        "file's CRLF line endings are kept."
    )
    Args: ClassVar[type[ToolArgs]] = WriteFileArgs

    def plan(self, args: WriteFileArgs, ctx: ToolContext) -> FileChange:
        ws = ctx.workspace
        # Read through the folder the jail holds: the diff's "before" is never from outside.
        try:
            rel, old_bytes = read_for_change(ws, args.path)
        except OSError as exc:
            raise ToolFailure(f"Could not read {args.path}: {exc.strerror}.") from exc
        if old_bytes is None:
            return make_change(ws, rel, None, args.content, None)
        if looks_binary(old_bytes):
            raise ToolFailure(f"{rel} is a binary file; write_file only replaces text files.")
        try:
            old_text = old_bytes.decode("utf-8")
        except UnicodeDecodeError:
            # Rebuilding unapproved hunks from a lossy decode would corrupt bytes nobody saw.
            raise ToolFailure(
                f"{rel} is not valid UTF-8, so replacing it as text could corrupt it; "
                "leave it as it is or ask the user to convert it."
            ) from None
        new_text = to_crlf(args.content) if uses_crlf(old_text) else args.content
        if new_text == old_text:
            raise ToolFailure(f"{rel} already has exactly this content; nothing to write.")
        return make_change(ws, rel, old_text, new_text, old_bytes)
