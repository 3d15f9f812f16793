"""The path jail: every path a tool touches is resolved here, inside the workspace, or refused.

Paths are walked one component at a time on file descriptors (see `path_walk`), so that `..`,
symlinks (chains and dangling ones included) and absolute link targets are judged where they
occur, and so that what is checked is what is opened: readers get the descriptor the check
was made on (`open_for_read`), writers a held folder to write in (`open_dir_for_write`).
Nothing is ever decoded: `%2e%2e` and `a\\b` are names like any other.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from nanotui.security.jail.globs import glob_match
from nanotui.security.jail.opened import (
    OpenedFile,
    PathRefused,
    WriteTarget,
    open_checked_for_read,
    refuse_for_write,
    refuse_special,
)
from nanotui.security.jail.path_walk import MAX_SYMLINK_HOPS, WalkEnd, WalkRefused, walk

__all__ = ["MAX_SYMLINK_HOPS", "OpenedFile", "PathRefused", "Workspace", "WriteTarget"]

# Protected patterns under these prefixes guard the repository's machinery against writes;
# the files are not secrets, so the model may read them.
_NOT_CREDENTIAL_PREFIXES = (".git/", ".nanotui/")
# Looking for the credential file a hard link shares its content with.
HARD_LINK_SCAN_SKIPS = {".git", "node_modules", ".venv", "__pycache__"}
HARD_LINK_SCAN_LIMIT = 100_000


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
        """The real path `path` names inside the jail; it may not exist (callers report that).

        For callers that only need a name (listings, git); a reader uses `open_for_read`.
        """
        with self._walk(path, follow_last=True) as end:
            if end.st is not None:
                refuse_special(path, end.st)
            return Path(end.path)

    def resolve_for_write(self, path: str) -> Path:
        """The real path to write `path` at, refusing protected paths and risky targets."""
        with self._walk(path, follow_last=False) as end:
            self._check_write(path, end)
            return Path(end.path)

    def open_for_read(self, path: str) -> OpenedFile:
        """Open a file or folder for reading through the jail; the check is on the open file.

        Raises PathRefused (outside, special file, credential file) or FileNotFoundError
        (with the real path as its filename).
        """
        with self._walk(path, follow_last=True) as end:
            if end.st is None or end.folder_fd is None:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", end.path)
            refuse_special(path, end.st)
            rel = self._rel_to_own_root(end.path)
            if stat.S_ISREG(end.st.st_mode) and self.is_credential(rel):
                raise PathRefused(
                    f"{self.relative(Path(end.path))} is a protected credential file; nanotui "
                    "never reads it into the conversation."
                )
            if stat.S_ISREG(end.st.st_mode) and end.st.st_nlink > 1:
                self._refuse_credential_alias(path, end.st)
            fd = open_checked_for_read(path, end.folder_fd, end.name, end.st)
        return OpenedFile(fd, Path(end.path), os.fstat(fd))

    def open_dir_for_write(self, path: str, create_parents: bool = False) -> WriteTarget:
        """Hold the folder `path` is written in, checked, so the write stays in it.

        Missing folders on the way are created when `create_parents` is set, each inside the
        folder held before it. Raises PathRefused, or FileNotFoundError for a missing folder.
        """
        if create_parents:
            self.resolve_for_write(path)  # refuse before creating any folder
        end = self._walk(path, follow_last=False, create_parents=create_parents)
        try:
            self._check_write(path, end)
            if end.folder_fd is None or end.name is None:
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", end.path)
            shown = self.relative(Path(end.path))
            target = WriteTarget(end.folder_fd, end.name, Path(end.path), shown)
        except BaseException:
            end.close()
            raise
        end.folder_fd = None  # now owned by the target
        end.close()
        return target

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

    def _refuse_credential_alias(self, path: str, st: os.stat_result) -> None:
        """Refuse a hard link to a credential file: the same content under an innocent name.

        Only files with more than one name get here (rare in a work tree), so looking for the
        credential files among the workspace's files is affordable; past a bound, refuse.
        """
        seen = 0
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if d not in HARD_LINK_SCAN_SKIPS]
            for name in files:
                seen += 1
                if seen > HARD_LINK_SCAN_LIMIT:
                    raise PathRefused(
                        f"{path} has other names (hard links) that could not all be checked "
                        "for credential files; read it through its original name."
                    )
                full = os.path.join(folder, name)
                rel = os.path.relpath(full, self.root).replace(os.sep, "/")
                if not self.is_credential(rel):
                    continue
                try:
                    other = os.lstat(full)
                except OSError:
                    continue
                if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                    raise PathRefused(
                        f"{path} is another name (a hard link) for the protected credential "
                        f"file {rel}; nanotui never reads it into the conversation."
                    )

    # ---- the walk ---------------------------------------------------------------------

    def _walk(self, path: str, follow_last: bool, create_parents: bool = False) -> WalkEnd:
        _check_text(path)
        try:
            return walk(
                path,
                self._roots[0],
                self._find_root,
                follow_last=follow_last,
                create_parents=create_parents,
            )
        except WalkRefused as exc:
            raise PathRefused(f"'{path}' is refused: {exc}.") from None

    def _find_root(self, absolute: str) -> tuple[str, list[str]]:
        """The real root an absolute path starts with, and the components after it."""
        parts = _parts(absolute)
        for prefix, real in self._prefixes:
            if parts[: len(prefix)] == prefix:
                return real, parts[len(prefix) :]
        raise WalkRefused("it is outside the workspace")

    def _check_write(self, path: str, end: WalkEnd) -> None:
        if end.last_is_link:
            raise PathRefused(
                f"Writing '{path}' is refused: it is a symlink, and nanotui does not write "
                "through links; edit the file it points to instead."
            )
        rel = self.relative(Path(end.path))
        if self.is_protected(self._rel_to_own_root(end.path)):
            raise PathRefused(
                f"Writing '{rel}' is refused: it is a protected path (see policy.protected_paths)."
            )
        if end.name is None and end.st is not None:
            raise PathRefused(f"Writing '{rel}' is refused: it is a directory.")
        if end.st is not None:
            refuse_for_write(rel, end.st)

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
