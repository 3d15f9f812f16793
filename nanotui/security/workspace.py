"""The path jail: every path a tool touches is resolved here, inside the workspace, or refused.

Paths are resolved one component at a time from a trusted root, the way the kernel does it,
so that `..`, symlinks (chains and dangling ones included) and absolute link targets are
judged where they occur instead of by a lexical guess. Nothing is ever decoded: `%2e%2e` and
`a\\b` are names like any other.

Remaining gap (closed by the security issue): `resolve_for_read` / `resolve_for_write` return a
*path*, and the caller opens it by name later. Between the check and the use, a process that
can write in the workspace could swap a checked directory for a symlink. The component walk in
`_walk` is written so that it can become an `openat(dir_fd, part, O_NOFOLLOW)` walk that hands
back a file descriptor instead of a path.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from nanotui.security.globs import glob_match

MAX_SYMLINK_HOPS = 40
"""As the kernel's own limit: a longer chain is a loop or an attack."""

# Protected patterns under these prefixes guard the repository's machinery against writes;
# the files are not secrets, so the model may read them.
_NOT_CREDENTIAL_PREFIXES = (".git/", ".nanotui/")


class PathRefused(Exception):
    """A path was refused by the jail; the message says which path and why, in one sentence."""


@dataclass(frozen=True)
class _Walked:
    path: str
    """The real absolute path (no symlinks in it)."""
    exists: bool
    last_is_link: bool
    """The last component named by the caller (or reached through its links) was a symlink."""


class Workspace:
    """The folder the agent works in, plus any extra roots the user allowed."""

    def __init__(
        self, root: Path, protected_paths: list[str], extra_roots: list[Path] | None = None
    ) -> None:
        given = Path(os.path.abspath(root))
        self.root = _real_folder(given)
        self.protected_paths = list(protected_paths)
        self.extra_roots = [_real_folder(Path(os.path.abspath(r))) for r in extra_roots or []]
        self._roots: list[str] = [str(self.root), *(str(r) for r in self.extra_roots)]
        # A caller may name a root by the path it was given (e.g. /tmp/x when /tmp is a link);
        # both spellings map to the real root.
        aliases = [(str(given), str(self.root))]
        aliases += [
            (os.path.abspath(r), str(real))
            for r, real in zip(extra_roots or [], self.extra_roots, strict=True)
        ]
        self._prefixes: list[tuple[list[str], str]] = []
        for spelled, real in [*aliases, *((r, r) for r in self._roots)]:
            self._prefixes.append((_parts(spelled), real))
        # Longest prefix first, so a root nested in another is matched as itself.
        self._prefixes.sort(key=lambda item: len(item[0]), reverse=True)

    # ---- resolution -------------------------------------------------------------------

    def resolve_for_read(self, path: str) -> Path:
        """The real path `path` names inside the jail; it may not exist (callers report that)."""
        walked = self._walk(path)
        if walked.exists:
            self._check_kind(path, walked.path)
        return Path(walked.path)

    def resolve_for_write(self, path: str) -> Path:
        """The real path to write `path` at, refusing protected paths and risky targets."""
        walked = self._walk(path)
        if walked.last_is_link:
            raise PathRefused(
                f"Writing '{path}' is refused: it is a symlink, and nanotui does not write "
                "through links; edit the file it points to instead."
            )
        rel = self.relative(Path(walked.path))
        if self.is_protected(self._rel_to_own_root(walked.path)):
            raise PathRefused(
                f"Writing '{rel}' is refused: it is a protected path (see policy.protected_paths)."
            )
        if walked.exists:
            st = self._check_kind(path, walked.path)
            if stat.S_ISDIR(st.st_mode):
                raise PathRefused(f"Writing '{rel}' is refused: it is a directory.")
            if st.st_nlink > 1:
                raise PathRefused(
                    f"Writing '{rel}' is refused: it has {st.st_nlink} hard links, so other "
                    "names (maybe outside the workspace) share its content."
                )
        return Path(walked.path)

    def relative(self, path: Path) -> str:
        """`path` as the model should see it: posix, relative to the root ("." for the root).

        A path in an extra root is given absolute, since it has no name relative to the root.
        """
        text = os.path.abspath(path)
        for root in self._roots:
            if text == root:
                return "." if root == self._roots[0] else root
            if text.startswith(root.rstrip("/") + "/"):
                rest = text[len(root.rstrip("/")) + 1 :]
                return rest if root == self._roots[0] else f"{root.rstrip('/')}/{rest}"
        raise PathRefused(f"'{path}' is outside the workspace {self.root}.")

    # ---- classification ---------------------------------------------------------------

    def is_protected(self, rel: str) -> bool:
        """True when `rel` (posix, relative to its root) matches a protected pattern."""
        return any(protected_match(p, rel) for p in self.protected_paths)

    @property
    def credential_patterns(self) -> list[str]:
        """The protected patterns that name secrets (all but the .git/ and .nanotui/ ones)."""
        return [
            p
            for p in self.protected_paths
            if not p.lstrip("/").startswith(_NOT_CREDENTIAL_PREFIXES)
        ]

    def is_credential(self, rel: str) -> bool:
        """True for files never read into the model's context (protected, minus .git/.nanotui)."""
        return any(protected_match(p, rel) for p in self.credential_patterns)

    # ---- the walk ---------------------------------------------------------------------

    def _walk(self, path: str) -> _Walked:
        _check_text(path)
        if os.path.isabs(path):
            current, rest = self._split_root(path, f"'{path}' is outside the workspace")
        else:
            current, rest = self._roots[0], path.split("/")
        parts = deque(rest)
        exists = True
        last_is_link = False
        hops = 0
        while parts:
            part = parts.popleft()
            if part in ("", "."):
                continue
            if part == "..":
                if current in self._roots:
                    raise PathRefused(f"'{path}' is refused: '..' leads outside the workspace.")
                current = os.path.dirname(current)
                continue
            candidate = os.path.join(current, part)
            if not exists:
                # Below a missing component nothing exists, so there is no link to follow.
                current = candidate
                continue
            try:
                st = os.lstat(candidate)
            except (FileNotFoundError, NotADirectoryError):
                exists = False
                current = candidate
                continue
            except OSError as exc:
                raise PathRefused(f"'{path}' cannot be checked: {exc.strerror}.") from exc
            if not stat.S_ISLNK(st.st_mode):
                current = candidate
                continue
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise PathRefused(f"'{path}' is refused: its symlinks form a loop.")
            last_is_link = last_is_link or not parts
            target = os.readlink(candidate)
            if "\0" in target:  # pragma: no cover - the kernel does not allow it
                raise PathRefused(f"'{path}' is refused: a symlink has a NUL byte.")
            if os.path.isabs(target):
                current, target_parts = self._split_root(
                    target, f"'{path}' is refused: a symlink in it leads outside the workspace"
                )
            else:
                target_parts = target.split("/")
            parts.extendleft(reversed(target_parts))
        return _Walked(path=current, exists=exists, last_is_link=last_is_link)

    def _split_root(self, absolute: str, refusal: str) -> tuple[str, list[str]]:
        """The real root an absolute path starts with, and the components after it."""
        parts = _parts(absolute)
        for prefix, real in self._prefixes:
            if parts[: len(prefix)] == prefix:
                return real, parts[len(prefix) :]
        raise PathRefused(f"{refusal}.")

    def _check_kind(self, path: str, real: str) -> os.stat_result:
        try:
            st = os.lstat(real)
        except OSError as exc:
            raise PathRefused(f"'{path}' cannot be checked: {exc.strerror}.") from exc
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            raise PathRefused(
                f"'{path}' is refused: it is a {_kind_name(st.st_mode)}, not a file or directory."
            )
        return st

    def _rel_to_own_root(self, real: str) -> str:
        for root in sorted(self._roots, key=len, reverse=True):
            if real == root:
                return "."
            if real.startswith(root.rstrip("/") + "/"):
                return real[len(root.rstrip("/")) + 1 :]
        raise PathRefused(f"'{real}' is outside the workspace {self.root}.")


def _real_folder(path: Path) -> Path:
    try:
        real = path.resolve(strict=True)
    except OSError as exc:
        raise PathRefused(
            f"The folder {path} cannot be used as a workspace: {exc.strerror}."
        ) from exc
    if not real.is_dir():
        raise PathRefused(f"The folder {path} cannot be used as a workspace: not a directory.")
    return real


def _check_text(path: str) -> None:
    if not path:
        raise PathRefused("An empty path is refused; use '.' for the workspace root.")
    if "\0" in path:
        raise PathRefused("A path with a NUL byte is refused.")
    if path.startswith("~"):
        raise PathRefused(
            f"'{path}' is refused: '~' is not expanded; give a path relative to the workspace."
        )


def _parts(absolute: str) -> list[str]:
    # "" and "." are no-ops for the kernel too; ".." is kept so that it never matches a root.
    return [p for p in absolute.split("/") if p not in ("", ".")]


def protected_match(pattern: str, rel: str) -> bool:
    """Whether the relative path `rel` falls under the protected pattern."""
    # Case-insensitive because macOS and Windows file systems are: `.ENV` is `.env` there.
    if rel in ("", "."):
        return False
    if "/" not in pattern.rstrip("/"):
        return glob_match(pattern.rstrip("/"), rel.rsplit("/", 1)[-1], ignore_case=True)
    if pattern.startswith("/"):
        return glob_match(pattern[1:], rel, ignore_case=True)
    # `.ssh/**` protects a .ssh folder wherever it is, not only at the top.
    parts = rel.split("/")
    return any(
        glob_match(pattern, "/".join(parts[i:]), ignore_case=True) for i in range(len(parts))
    )


def _kind_name(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    return "special file"
