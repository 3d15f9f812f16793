"""edit_file: replace an exact piece of text in a file, once or everywhere."""

from __future__ import annotations

import difflib
from typing import ClassVar

from pydantic import Field

from nanotui.protocol.diffs import FileChange
from nanotui.tools.base import ToolArgs, ToolContext, ToolFailure
from nanotui.tools.file_change import WriteTool, make_change, read_for_change
from nanotui.tools.read_file import looks_binary, number_line
from nanotui.tools.write_file import to_crlf, uses_crlf

CLOSEST_MIN_SIMILARITY = 0.4
"""Below this, showing a "closest region" would mislead more than help."""
CLOSEST_MAX_CANDIDATES = 200
MAX_LISTED_LINES = 10


class EditFileArgs(ToolArgs):
    path: str = Field(description="File to edit, relative to the workspace root.")
    old_string: str = Field(
        description="The exact text to replace, copied from the file with its indentation "
        "(without read_file's line numbers). It must occur exactly once unless replace_all."
    )
    new_string: str = Field(description="The text to put in its place.")
    replace_all: bool = Field(
        default=False, description="Replace every occurrence instead of exactly one."
    )


class EditFileTool(WriteTool):
    """Replace an exact piece of text in a file."""

    name: ClassVar[str] = "edit_file"
    description: ClassVar[str] = (
        "Edit a file by replacing an exact piece of text (old_string) with new text "
        "(new_string). old_string must match the file exactly, whitespace included, and occur "
        "once; include a few surrounding lines to make it unique, or set replace_all. Read the "
        "file first. Use write_file to create files."
    )
    Args: ClassVar[type[ToolArgs]] = EditFileArgs

    def plan(self, args: EditFileArgs, ctx: ToolContext) -> FileChange:
        ws = ctx.workspace
        if not args.old_string:
            raise ToolFailure(
                "old_string is empty; use write_file to create a file or replace all of it."
            )
        if args.old_string == args.new_string:
            raise ToolFailure("old_string and new_string are the same; there is nothing to change.")
        # Read through the folder the jail holds: the diff's "before" is never from outside.
        try:
            rel, old_bytes = read_for_change(ws, args.path)
        except OSError as exc:
            raise ToolFailure(f"Could not read {args.path}: {exc.strerror}.") from exc
        if old_bytes is None:
            raise ToolFailure(f"No file {rel}; use write_file to create it.")
        if looks_binary(old_bytes):
            raise ToolFailure(f"{rel} is a binary file; edit_file only edits text.")
        try:
            text = old_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ToolFailure(
                f"{rel} is not valid UTF-8, so editing it as text could corrupt it."
            ) from exc

        old, new = args.old_string, args.new_string
        if uses_crlf(text) and to_crlf(old) in text:
            # The model writes \n; the file says \r\n. Match and write in the file's style.
            old, new = to_crlf(old), to_crlf(new)
        count = text.count(old)
        if count == 0:
            raise ToolFailure(_not_found_message(rel, text, args.old_string))
        if count > 1 and not args.replace_all:
            lines = _occurrence_lines(text, old)
            listed = ", ".join(str(n) for n in lines[:MAX_LISTED_LINES])
            more = "" if len(lines) <= MAX_LISTED_LINES else ", ..."
            raise ToolFailure(
                f"old_string occurs {count} times in {rel} (at lines {listed}{more}); include "
                "more surrounding lines to make it unique, or set replace_all to change them all."
            )
        new_text = text.replace(old, new) if args.replace_all else text.replace(old, new, 1)
        return make_change(ws, rel, text, new_text, old_bytes)


def _occurrence_lines(text: str, needle: str) -> list[int]:
    lines: list[int] = []
    start = text.find(needle)
    while start != -1:
        lines.append(text.count("\n", 0, start) + 1)
        start = text.find(needle, start + len(needle))
    return lines


def _not_found_message(rel: str, text: str, old_string: str) -> str:
    found = closest_region(text, old_string)
    if found is None:
        return f"old_string was not found in {rel}; read the file again and copy the text exactly."
    first, shown, ratio = found
    last = first + len(shown) - 1
    numbered = "\n".join(number_line(first + i, line) for i, line in enumerate(shown))
    return (
        f"old_string was not found in {rel}. The closest region is lines {first}-{last} "
        f"({ratio:.0%} similar):\n{numbered}\nCopy the text exactly as it is there (whitespace "
        "included) and try again."
    )


def closest_region(text: str, wanted: str) -> tuple[int, list[str], float] | None:
    """(first line number, lines, similarity) of the window of `text` most like `wanted`."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    target = wanted.replace("\r\n", "\n").strip("\n")
    size = max(1, target.count("\n") + 1)
    if not lines or len(lines) * len(target) > 50_000_000:
        return None  # too big to compare usefully in a moment
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    scored: list[tuple[float, int]] = []
    for start in range(max(1, len(lines) - size + 1)):
        matcher.set_seq1("\n".join(lines[start : start + size]))
        scored.append((matcher.quick_ratio(), start))
    # quick_ratio is an upper bound of ratio: candidates are tried best bound first, and the
    # search ends once no bound can beat the best exact ratio found.
    scored.sort(reverse=True)
    best_ratio, best_start = 0.0, 0
    for bound, start in scored[:CLOSEST_MAX_CANDIDATES]:
        if bound <= best_ratio:
            break
        matcher.set_seq1("\n".join(lines[start : start + size]))
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best_ratio, best_start = ratio, start
    if best_ratio < CLOSEST_MIN_SIMILARITY:
        return None
    return best_start + 1, lines[best_start : best_start + size], best_ratio
