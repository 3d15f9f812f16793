"""search_text: lines matching a regular expression, with optional context, grep-style.

ripgrep does the work when it is installed; otherwise a Python scan over the same files
(find_files' view: .gitignore honoured, binary files skipped). Both produce the same output:
`path:12: text` for a matching line, `path-11- text` for context, `--` between groups.
Credential files are never searched, whichever backend runs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from nanotui.protocol.basics import plural
from nanotui.security.jail.git_runner import inside_work_tree
from nanotui.security.jail.globs import path_matches
from nanotui.security.jail.workspace import PathRefused, Workspace
from nanotui.tools.base import Tool, ToolArgs, ToolContext, ToolFailure, ToolKind, ToolOutput
from nanotui.tools.file_listing import WALK_SKIPPED_DIRS, list_files
from nanotui.tools.read_file import looks_binary

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_LINE_CHARS = 500


class SearchTextArgs(ToolArgs):
    pattern: str = Field(
        min_length=1,
        description="Regular expression to search for (Python/ripgrep syntax); escape "
        "( [ . * + ? with a backslash to match them literally.",
    )
    path: str = Field(
        default=".", description="Folder or file to search, relative to the workspace root."
    )
    glob: str | None = Field(
        default=None,
        description="Only search files matching this glob, e.g. `*.py` or `src/**/*.ts`.",
    )
    context_lines: int = Field(
        default=0, ge=0, le=10, description="Lines of context to show before and after a match."
    )
    case_sensitive: bool = Field(default=True, description="False to ignore letter case.")
    max_results: int = Field(
        default=200, ge=1, le=5000, description="Stop after this many matching lines."
    )


@dataclass
class _FileHits:
    path: str
    lines: dict[int, tuple[str, bool]] = field(default_factory=dict)
    """Line number -> (text, is a match)."""


@dataclass
class _Search:
    hits: list[_FileHits] = field(default_factory=list)
    matches: int = 0
    limited: bool = False


class SearchTextTool(Tool):
    """Search file contents with a regular expression."""

    name: ClassVar[str] = "search_text"
    description: ClassVar[str] = (
        "Search the contents of files in the workspace for a regular expression. Files ignored "
        "by .gitignore and binary files are skipped. Each matching line comes back as "
        "`path:line: text`; context lines as `path-line- text`."
    )
    Args: ClassVar[type[ToolArgs]] = SearchTextArgs
    kind: ClassVar[ToolKind] = ToolKind.READ

    async def run(self, args: SearchTextArgs, ctx: ToolContext) -> ToolOutput:
        ws = ctx.workspace
        try:
            regex = _compile(args.pattern, args.case_sensitive)
            base = ws.resolve_for_read(args.path)
            base_rel = ws.relative(base)
            if not base.exists():
                raise ToolFailure(f"No file or folder {base_rel}; list_dir shows what exists.")
            if base.is_file():
                _check_single_file(ws, base_rel)
            rg = shutil.which("rg")
            if rg:
                search = await _search_rg(rg, ws, base, args)
            else:
                search = await _search_python(ws, base, regex, args)
        except (ToolFailure, PathRefused) as exc:
            return ToolOutput(ok=False, content=str(exc))
        data = {
            "pattern": args.pattern,
            "path": base_rel,
            "matches": search.matches,
            "files": len(search.hits),
            "limited": search.limited,
            "backend": "ripgrep" if rg else "python",
        }
        if not search.matches:
            where = "the workspace" if base_rel == "." else base_rel
            if args.glob is not None:
                where += f" (files matching {args.glob})"
            return ToolOutput(content=f"No matches for /{args.pattern}/ in {where}.", data=data)
        return ToolOutput(
            content=_format(search, args.context_lines, ctx.max_read_bytes, args.max_results),
            data=data,
        )


def _compile(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    try:
        return re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise ToolFailure(
            f"The pattern is not a valid regular expression ({exc.msg}{where}); escape "
            "characters like ( [ . * with a backslash to search for them literally."
        ) from exc


def _check_single_file(ws: Workspace, rel: str) -> None:
    if ws.is_credential(rel):
        raise ToolFailure(f"{rel} is a protected credential file; it is never searched.")
    with ws.open_for_read(rel) as opened, opened.reader() as handle:
        if looks_binary(handle.read(8192)):
            raise ToolFailure(f"{rel} looks binary (it has NUL bytes); search_text skips it.")


def _wanted(ws: Workspace, rel: str, base_rel: str, glob: str | None) -> bool:
    if ws.is_credential(rel):
        return False
    if glob is None:
        return True
    prefix = "" if base_rel == "." else base_rel.rstrip("/") + "/"
    inner = rel[len(prefix) :] if rel.startswith(prefix) else rel
    return path_matches(glob, inner)


# ---- the Python backend -------------------------------------------------------------------


async def _search_python(
    ws: Workspace, base: Path, regex: re.Pattern[str], args: SearchTextArgs
) -> _Search:
    base_rel = ws.relative(base)
    if base.is_file():
        files = [base_rel]
    else:
        listing = await list_files(ws, base)
        files = [rel for rel in listing.files if _wanted(ws, rel, base_rel, args.glob)]
    return await asyncio.to_thread(_scan_files, ws, files, regex, args)


def _scan_files(
    ws: Workspace, files: list[str], regex: re.Pattern[str], args: SearchTextArgs
) -> _Search:
    search = _Search()
    for rel in files:
        lines = _read_lines(ws, rel)
        if lines is None:
            continue
        found = [i for i, line in enumerate(lines) if regex.search(line)]
        if not found:
            continue
        budget = args.max_results - search.matches
        if budget == 0:
            search.limited = True
            break
        if len(found) > budget:
            found, search.limited = found[:budget], True
        hits = _FileHits(path=rel)
        matched = set(found)
        n = args.context_lines
        for index in found:
            for j in range(max(0, index - n), index):
                hits.lines.setdefault(j + 1, (lines[j], j in matched))
            hits.lines[index + 1] = (lines[index], True)
            for j in range(index + 1, min(len(lines), index + n + 1)):
                if search.limited and index == found[-1] and regex.search(lines[j]):
                    break  # as ripgrep stops: the next match is past the limit
                hits.lines.setdefault(j + 1, (lines[j], j in matched))
        search.hits.append(hits)
        search.matches += len(found)
        if search.limited:
            break
    return search


def _read_lines(ws: Workspace, rel: str) -> list[str] | None:
    try:
        # Links are not followed, as ripgrep does not follow them: each file is searched once.
        if (ws.root / rel).is_symlink():
            return None
        with ws.open_for_read(rel) as opened:
            if opened.is_dir or opened.st.st_size > MAX_FILE_BYTES:
                return None
            data = opened.read_bytes()
    except (PathRefused, OSError):
        return None
    if looks_binary(data):
        return None
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    return [line.rstrip(b"\r").decode("utf-8", errors="replace") for line in raw_lines]


# ---- the ripgrep backend ------------------------------------------------------------------


async def _search_rg(rg: str, ws: Workspace, base: Path, args: SearchTextArgs) -> _Search:
    command = [rg, "--json", "--sort", "path", "--hidden", "--glob", "!.git"]
    command += ["--max-filesize", str(MAX_FILE_BYTES), "-C", str(args.context_lines)]
    if not args.case_sensitive:
        command.append("-i")
    if not await inside_work_tree(base if base.is_dir() else base.parent):
        # Mirror the walk: outside git there is no .gitignore to skip these.
        for name in sorted(WALK_SKIPPED_DIRS - {".git"}):
            command += ["--glob", f"!{name}"]
    command += ["-e", args.pattern, "--", str(base)]
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=ws.root,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=64 * 1024 * 1024,
    )
    base_rel = ws.relative(base)
    search = _Search()
    current: _FileHits | None = None
    last_match = 0
    assert proc.stdout is not None and proc.stderr is not None
    try:
        while line := await proc.stdout.readline():
            message = json.loads(line)
            kind, data = message.get("type"), message.get("data", {})
            if kind not in ("match", "context"):
                continue
            rel = ws.relative(Path(_rg_text(data["path"])))
            if not _wanted(ws, rel, base_rel, args.glob):
                continue
            number = int(data["line_number"])
            text = _rg_text(data["lines"]).rstrip("\n").rstrip("\r")
            if search.matches >= args.max_results:
                # Only the trailing context of the last match still belongs to the result;
                # anything else means more matches lie beyond the limit.
                same_file = current is not None and current.path == rel
                if kind == "match" or not same_file or number > last_match + args.context_lines:
                    search.limited = True
                    break
            if current is None or current.path != rel:
                current = _FileHits(path=rel)
                search.hits.append(current)
            current.lines[number] = (text, kind == "match")
            if kind == "match":
                search.matches += 1
                last_match = number
        else:
            await proc.wait()
            if proc.returncode == 2 and not search.matches:
                error = (await proc.stderr.read()).decode("utf-8", errors="replace").strip()
                raise ToolFailure(f"ripgrep refused the search: {error.splitlines()[-1]}.")
    finally:
        if proc.returncode is None:
            # os.kill, not proc.kill(): Popen's kill reaps a just-exited child behind asyncio's
            # back, which then logs "Unknown child process".
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
    return await asyncio.to_thread(_keep_jailed_lines, ws, search)


def _keep_jailed_lines(ws: Workspace, search: _Search) -> _Search:
    """Keep only the lines that the jail's own read of each file confirms.

    ripgrep opens files by name, so a folder swapped for a symlink while it walks could show
    it a file outside; every line it reports is checked against the file read through the jail.
    """
    kept = _Search(limited=search.limited)
    for hits in search.hits:
        lines = _read_lines(ws, hits.path) or []
        confirmed = _FileHits(path=hits.path)
        for number, (text, is_match) in hits.lines.items():
            if number <= len(lines) and lines[number - 1] == text:
                confirmed.lines[number] = (text, is_match)
                kept.matches += is_match
        if confirmed.lines:
            kept.hits.append(confirmed)
    return kept


def _rg_text(value: dict[str, str]) -> str:
    if "text" in value:
        return value["text"]
    return base64.b64decode(value["bytes"]).decode("utf-8", errors="replace")


# ---- output -------------------------------------------------------------------------------


def _format(search: _Search, context: int, cap: int, max_results: int) -> str:
    out: list[str] = []
    used = 0
    cut = False
    for hits in search.hits:
        previous: int | None = None
        for number in sorted(hits.lines):
            text, is_match = hits.lines[number]
            if context and out and (previous is None or number != previous + 1):
                out.append("--")
            if len(text) > MAX_LINE_CHARS:
                text = text[:MAX_LINE_CHARS] + " …"
            line = f"{hits.path}{':' if is_match else '-'}{number}{':' if is_match else '-'} {text}"
            if used + len(line) + 1 > cap:
                cut = True
                break
            out.append(line)
            used += len(line) + 1
            previous = number
        if cut:
            break
    files = len(search.hits)
    summary = f"{plural(search.matches, 'matching line')} in {plural(files, 'file')}"
    if search.limited:
        summary += f"; stopped at max_results={max_results}, narrow the pattern, path or glob"
    if cut:
        summary += "; output cut at the size limit, narrow the search"
    return "\n".join(out) + f"\n\n({summary}.)"
