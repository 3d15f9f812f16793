"""The change under review: the commits compared, the files touched, and, per file, the lines
of the new side a review comment may sit on.

A review compares the merge base of `base` and `head` with `head`, as a pull request does.
The lines an inline comment may sit on are those the diff shows on its new side (added lines
and their context), which is what GitHub accepts for a review comment; a finding elsewhere
goes to the summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nanotui.protocol.basics import UserFacingError
from nanotui.protocol.diff_parse import LineKind, parse_diff
from nanotui.security.jail.git_runner import GitUnavailable, run_git_sync

CONTEXT_LINES = 3
"""As GitHub shows a pull request's diff: what an inline comment may sit on."""
DEFAULT_BRANCHES = ("origin/HEAD", "origin/main", "origin/master", "main", "master")


class ChangeError(UserFacingError):
    """The change cannot be worked out (no repository, an unknown ref)."""


@dataclass
class ChangedFile:
    path: str
    status: str
    """A(dded), M(odified), D(eleted) (a rename shows as a deletion and an addition)."""
    shown: set[int] = field(default_factory=set)
    """New-side line numbers the diff shows (added and context)."""
    added: set[int] = field(default_factory=set)


@dataclass
class Change:
    base: str
    """The merge base, a full commit id."""
    head: str
    files: dict[str, ChangedFile]
    diff: str
    """The whole diff, as the model is first shown it."""


def _git(root: Path, *args: str) -> str:
    try:
        done = run_git_sync(args, root)
    except GitUnavailable as exc:
        raise ChangeError(str(exc)) from exc
    if done.returncode != 0:
        raise ChangeError(f"git {args[0]} failed: {done.stderr.strip() or 'no reason given'}.")
    return done.stdout.decode("utf-8", errors="replace")


def _resolves(root: Path, ref: str) -> bool:
    done = run_git_sync(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    return done.returncode == 0


def default_base(root: Path, environ: dict[str, str]) -> str:
    """The pull request's base branch in CI (GITHUB_BASE_REF), else the default branch."""
    wanted = environ.get("GITHUB_BASE_REF")
    candidates = [f"origin/{wanted}", wanted] if wanted else list(DEFAULT_BRANCHES)
    for ref in candidates:
        if ref and _resolves(root, ref):
            return ref
    raise ChangeError(
        "No base to review against was found (tried "
        + ", ".join(c for c in candidates if c)
        + "); name one with --base REF (and fetch it: actions/checkout needs fetch-depth: 0)."
    )


def load_change(root: Path, base: str, head: str = "HEAD") -> Change:
    """The change from the merge base of `base` and `head` to `head`."""
    for ref in (base, head):
        if not _resolves(root, ref):
            raise ChangeError(f"{ref!r} is no commit here; fetch it or name another.")
    head_id = _git(root, "rev-parse", f"{head}^{{commit}}").strip()
    base_id = _git(root, "merge-base", base, head_id).strip()
    diff = _git(
        root, "diff", f"--unified={CONTEXT_LINES}", "--no-renames", "--no-color", base_id, head_id
    )
    return Change(base_id, head_id, _files_of(diff), diff)


def _files_of(diff: str) -> dict[str, ChangedFile]:
    files: dict[str, ChangedFile] = {}
    for section in _file_sections(diff):
        parsed = parse_diff(section)
        path = parsed.new_path or parsed.old_path
        if path is None:
            continue
        status = "D" if parsed.new_path is None else "A" if parsed.old_path is None else "M"
        changed = ChangedFile(path, status)
        for hunk in parsed.hunks:
            for line in hunk.lines:
                if line.new_no is None:
                    continue
                changed.shown.add(line.new_no)
                if line.kind is LineKind.ADDED:
                    changed.added.add(line.new_no)
        files[path] = changed
    return files


def _file_sections(diff: str) -> list[str]:
    """The diff cut into one piece per file (each from its `diff --git` line)."""
    sections: list[str] = []
    for line in diff.splitlines(keepends=True):
        if line.startswith("diff --git ") or not sections:
            sections.append("")
        sections[-1] += line
    return [s for s in sections if s.startswith("diff --git ")]


def exists_at(root: Path, commit: str, path: str) -> bool:
    """True when `path` is a file in `commit`'s tree."""
    done = run_git_sync(["cat-file", "-e", f"{commit}:{path}"], root)
    return done.returncode == 0
