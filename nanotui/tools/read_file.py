"""read_file: a text file's lines, numbered, whole or by line range."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from nanotui.protocol.basics import plural
from nanotui.security.jail.workspace import OpenedFile, PathRefused
from nanotui.tools.base import Tool, ToolArgs, ToolContext, ToolFailure, ToolKind, ToolOutput

BINARY_SNIFF_BYTES = 8192
MAX_LINE_CHARS = 4000
"""Longer lines (minified code, data) are cut, with a note, so one line cannot flood the context."""


class ReadFileArgs(ToolArgs):
    path: str = Field(description="File to read, relative to the workspace root.")
    start_line: int | None = Field(
        default=None, ge=1, description="First line to show (1-based); omit to start at line 1."
    )
    end_line: int | None = Field(
        default=None, ge=1, description="Last line to show (inclusive); omit to read to the end."
    )


def looks_binary(head: bytes) -> bool:
    """A NUL byte near the start is how git and grep tell binary from text too."""
    return b"\0" in head[:BINARY_SNIFF_BYTES]


def number_line(number: int, text: str) -> str:
    """One line as read_file shows it: the number right-aligned in six columns, a tab, text."""
    return f"{number:>6}\t{text}"


class ReadFileTool(Tool):
    """Read a text file, numbered, whole or by line range."""

    name: ClassVar[str] = "read_file"
    description: ClassVar[str] = (
        "Read a text file in the workspace. Lines come back numbered as `number<TAB>text` "
        "(the number is not part of the file). Large files must be read in parts with "
        "start_line and end_line."
    )
    Args: ClassVar[type[ToolArgs]] = ReadFileArgs
    kind: ClassVar[ToolKind] = ToolKind.READ

    async def run(self, args: ReadFileArgs, ctx: ToolContext) -> ToolOutput:
        try:
            return await asyncio.to_thread(self._read, args, ctx)
        except (ToolFailure, PathRefused) as exc:
            return ToolOutput(ok=False, content=str(exc))
        except OSError as exc:
            return ToolOutput(ok=False, content=f"Could not read {args.path}: {exc.strerror}.")

    def _read(self, args: ReadFileArgs, ctx: ToolContext) -> ToolOutput:
        ws = ctx.workspace
        try:
            opened = ws.open_for_read(args.path)
        except FileNotFoundError as exc:
            rel = ws.relative(Path(exc.filename))
            raise ToolFailure(f"No file {rel}; list_dir or find_files shows what exists.") from None
        # Everything below reads the descriptor the jail checked, never the path again.
        with opened:
            return _read_opened(opened, ws.relative(opened.path), args, ctx.max_read_bytes)


def _read_opened(opened: OpenedFile, rel: str, args: ReadFileArgs, cap: int) -> ToolOutput:
    if opened.is_dir:
        raise ToolFailure(f"{rel} is a directory; use list_dir to see what it holds.")
    if args.start_line and args.end_line and args.end_line < args.start_line:
        raise ToolFailure(
            f"end_line ({args.end_line}) is before start_line ({args.start_line}); "
            "give a range with end_line >= start_line."
        )
    size = opened.st.st_size
    with opened.reader() as handle:
        head = handle.read(BINARY_SNIFF_BYTES)
    if looks_binary(head):
        raise ToolFailure(f"{rel} looks binary (it has NUL bytes); read_file only shows text.")
    ranged = args.start_line is not None or args.end_line is not None
    if not ranged and size > cap:
        lines = _count_lines(opened)
        if size / max(lines, 1) > cap:
            # Line ranges cannot split a line: advising them would send the model in circles.
            shape = "one line" if lines <= 1 else f"{lines} lines, longer than that on average"
            raise ToolFailure(
                f"{rel} is {size} bytes in {shape}, more than the {cap}-byte read limit, and "
                "read_file cannot show part of a line; use search_text to find what you "
                f"need in it, or run_command with `head -c {cap // 2} {rel}`."
            )
        raise ToolFailure(
            f"{rel} is {size} bytes ({lines} lines), more than the {cap}-byte "
            "read limit; read it in parts with start_line and end_line."
        )
    return _numbered(opened, rel, args.start_line or 1, args.end_line, cap)


def _count_lines(opened: OpenedFile) -> int:
    count = 0
    last = b""
    with opened.reader() as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk
    return count + (1 if last and not last.endswith(b"\n") else 0)


def _numbered(opened: OpenedFile, rel: str, start: int, end: int | None, cap: int) -> ToolOutput:
    shown: list[str] = []
    used = 0
    total = 0
    last_shown = start - 1
    cut_at: int | None = None
    invalid_utf8 = False
    crlf = False
    long_lines = 0
    with opened.reader() as handle:
        for total, raw in enumerate(handle, start=1):
            if total < start or (end is not None and total > end) or cut_at is not None:
                continue
            crlf = crlf or raw.endswith(b"\r\n")
            body = raw.rstrip(b"\n").rstrip(b"\r")
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                invalid_utf8 = True
                text = body.decode("utf-8", errors="replace")
            if len(text) > MAX_LINE_CHARS:
                long_lines += 1
                text = text[:MAX_LINE_CHARS] + f" … [cut: {len(text)} characters]"
            line = number_line(total, text)
            if used + len(line) + 1 > cap and shown:
                cut_at = total
                continue
            shown.append(line)
            used += len(line) + 1
            last_shown = total
    data = {"path": rel, "total_lines": total, "start_line": start, "end_line": last_shown}
    if total == 0:
        return ToolOutput(content=f"{rel} is empty.", data=data)
    if start > total:
        raise ToolFailure(
            f"{rel} has only {plural(total, 'line')}; start_line {start} is past the end."
        )
    notes: list[str] = []
    if cut_at is not None:
        notes.append(
            f"Stopped at line {last_shown} (the {cap}-byte read limit); continue with "
            f"start_line={cut_at}."
        )
    elif start > 1 or last_shown < total:
        notes.append(f"Showing lines {start}-{last_shown} of {total}.")
    if invalid_utf8:
        notes.append(f"{rel} is not valid UTF-8; undecodable bytes are shown as U+FFFD.")
    if long_lines:
        notes.append(f"Cut at {MAX_LINE_CHARS} characters: {plural(long_lines, 'long line')}.")
    if crlf:
        notes.append(f"{rel} uses CRLF line endings (not shown).")
    content = "\n".join(shown)
    if notes:
        content += "\n\n(" + " ".join(notes) + ")"
    return ToolOutput(content=content, data=data)
