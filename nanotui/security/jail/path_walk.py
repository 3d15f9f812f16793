"""The component walk behind the path jail, made on file descriptors.

Each component is opened with `O_PATH | O_NOFOLLOW` relative to the descriptor of the folder
before it, so what is judged is what is held: a folder swapped for a symlink after it was
checked cannot redirect the walk, because the walk never looks the folder up by name again.
Symlinks are read from the descriptor of the link itself and resolved here, inside the jail,
with a hop limit. `..` steps back to the folder descriptor the walk came through.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_SYMLINK_HOPS = 40
"""As the kernel's own limit: a longer chain is a loop or an attack."""

_HOLD = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
"""Holds an inode without reading it, so merely looking at a FIFO or device has no effect."""

RootFinder = Callable[[str], tuple[str, list[str]]]
"""Maps an absolute path to (its real root, the components after it); refuses otherwise."""


class WalkRefused(Exception):
    """The walk left the jail or could not be made; the message ends a sentence about the path."""


@dataclass
class WalkEnd:
    """Where a walk ended; owns the descriptors it holds until `close()`."""

    path: str
    """The real absolute path (no symlinks in it); it may not exist."""
    folder_fd: int | None
    """The folder holding the last component, held open; None when that folder is missing."""
    name: str | None
    """The last component inside `folder_fd`; None when the path names that folder itself."""
    fd: int | None
    """The last component held with O_PATH; None when it does not exist."""
    st: os.stat_result | None
    """The stat of `fd`."""
    last_is_link: bool
    """The last component named (or reached through links) was a symlink."""

    def close(self) -> None:
        for fd in {self.fd, self.folder_fd} - {None}:
            with contextlib.suppress(OSError):
                os.close(fd)  # type: ignore[arg-type]

    def __enter__(self) -> WalkEnd:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass
class _Folder:
    fd: int
    path: str
    is_root: bool


class _Walk:
    """One walk of one path; `run()` returns its end and closes every other descriptor."""

    def __init__(
        self, path: str, roots: tuple[str, RootFinder], follow_last: bool, create_parents: bool
    ) -> None:
        main_root, self.find_root = roots
        self.follow_last = follow_last
        self.create_parents = create_parents
        self.stack: list[_Folder] = []
        self.missing: list[str] = []
        """Components below the first missing one: nothing below it exists, nor any link."""
        self.hops = 0
        self.just_created: str | None = None
        self.last_is_link = False
        root, rest = self.find_root(path) if path.startswith("/") else (main_root, path.split("/"))
        self.parts = deque(rest)
        self.start = root

    def run(self) -> WalkEnd:
        try:
            self._enter_root(self.start)
            end = self._walk()
        except OSError as exc:
            self._close_stack(keep=None)
            raise WalkRefused(f"cannot be checked: {exc.strerror}") from exc
        except BaseException:
            self._close_stack(keep=None)
            raise
        self._close_stack(keep=end.folder_fd)
        return end

    def _walk(self) -> WalkEnd:
        while self.parts:
            part = self.parts.popleft()
            if part in ("", "."):
                continue
            if part == "..":
                self._step_up()
                continue
            if self.missing:
                self.missing.append(part)
                continue
            end = self._step_into(part, is_last=self._is_last())
            if end is not None:
                return end
        return self._end_without_last_component()

    def _is_last(self) -> bool:
        # "a/." and "a/" name `a`; "a/.." does not.
        return all(part in ("", ".") for part in self.parts)

    def _step_up(self) -> None:
        if self.missing:
            self.missing.pop()
            return
        if self.stack[-1].is_root:
            raise WalkRefused("'..' leads outside the workspace")
        os.close(self.stack.pop().fd)

    def _step_into(self, part: str, is_last: bool) -> WalkEnd | None:
        folder = self.stack[-1]
        try:
            fd = os.open(part, _HOLD, dir_fd=folder.fd)
        except (FileNotFoundError, NotADirectoryError):
            return self._missing(part, is_last)
        except OSError as exc:
            raise WalkRefused(f"cannot be checked: {exc.strerror}") from exc
        st = os.fstat(fd)
        if stat.S_ISLNK(st.st_mode):
            return self._follow_link(fd, part, is_last)
        if is_last:
            return WalkEnd(
                path=_join(folder.path, part),
                folder_fd=folder.fd,
                name=part,
                fd=fd,
                st=st,
                last_is_link=self.last_is_link,
            )
        if not stat.S_ISDIR(st.st_mode):
            # As the kernel says ENOTDIR: nothing exists below a file.
            os.close(fd)
            self.missing.append(part)
            return None
        self.stack.append(_Folder(fd, _join(folder.path, part), is_root=False))
        self.just_created = None
        return None

    def _missing(self, part: str, is_last: bool) -> WalkEnd | None:
        if is_last or not self.create_parents:
            self.missing.append(part)
            return None
        if part == self.just_created:
            raise WalkRefused("a folder on the way vanished as soon as it was created")
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o777, dir_fd=self.stack[-1].fd)
        self.just_created = part
        self.parts.appendleft(part)  # and walk into it like any other folder
        return None

    def _follow_link(self, fd: int, part: str, is_last: bool) -> WalkEnd | None:
        try:
            target = os.readlink("", dir_fd=fd)  # the link held, not whatever has its name now
        finally:
            os.close(fd)
        if is_last and not self.follow_last:
            folder = self.stack[-1]
            return WalkEnd(_join(folder.path, part), folder.fd, part, None, None, True)
        self._count_hop("its symlinks form a loop")
        self.last_is_link = self.last_is_link or is_last
        if target.startswith("/"):
            try:
                root, rest = self.find_root(target)
            except WalkRefused:
                raise WalkRefused("a symlink in it leads outside the workspace") from None
            self._close_stack(keep=None)
            self._enter_root(root)
            self.parts.extendleft(reversed(rest))
        else:
            self.parts.extendleft(reversed(target.split("/")))
        return None

    def _end_without_last_component(self) -> WalkEnd:
        folder = self.stack[-1]
        if not self.missing:
            # The path names a folder the walk holds (".", "src/..", a root).
            fd = os.open(".", _HOLD, dir_fd=folder.fd)
            return WalkEnd(folder.path, folder.fd, None, fd, os.fstat(fd), self.last_is_link)
        path = _join(folder.path, *self.missing)
        if len(self.missing) == 1:
            return WalkEnd(path, folder.fd, self.missing[0], None, None, self.last_is_link)
        return WalkEnd(path, None, None, None, None, self.last_is_link)

    def _count_hop(self, refusal: str) -> None:
        self.hops += 1
        if self.hops > MAX_SYMLINK_HOPS:
            raise WalkRefused(refusal)

    def _enter_root(self, root: str) -> None:
        fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.stack.append(_Folder(fd, root, is_root=True))

    def _close_stack(self, keep: int | None) -> None:
        for folder in self.stack:
            if folder.fd != keep:
                with contextlib.suppress(OSError):
                    os.close(folder.fd)
        self.stack = []


def walk(
    path: str,
    main_root: str,
    find_root: RootFinder,
    *,
    follow_last: bool,
    create_parents: bool = False,
) -> WalkEnd:
    """Walk `path` (relative to `main_root`, or absolute) one held component at a time.

    Raises WalkRefused when the walk would leave the jail or cannot be made.
    """
    return _Walk(path, (main_root, find_root), follow_last, create_parents).run()


def _join(folder: str, *names: str) -> str:
    return "/".join([folder.rstrip("/"), *names])
