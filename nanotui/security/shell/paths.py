"""Where a path named on a command line points, judged from its text alone.

The policy never touches the file system while judging a line: it reads paths the way the
shell would hand them to the program, relative to the workspace root.
"""

from __future__ import annotations

import contextlib
import fnmatch
import posixpath
import re
from pathlib import Path
from typing import Literal

from nanotui.security.jail.workspace import protected_match
from nanotui.security.shell.words import Word

PathPlace = Literal["harmless", "disk", "root", "home", "outside", "protected", "inside", "unknown"]

HARMLESS_DEVICES = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty"}
_DISK_DEVICE = re.compile(r"^/dev/(sd|hd|vd|xvd|nvme|mmcblk|disk|rdisk|loop|md|dm-|mapper/|sr)")
_GLOB = re.compile(r"[*?\[]")
_HOME_VARIABLE = re.compile(r"^\"?\$\{?HOME\b")


class PathJudge:
    """Places paths relative to one workspace and its protected patterns."""

    def __init__(self, workspace: Path | None, protected_paths: list[str]) -> None:
        self.roots = _root_spellings(workspace)
        self.protected_paths = protected_paths
        self._places: dict[tuple[str, bool], PathPlace] = {}

    def place(self, word: Word) -> PathPlace:
        """Where the path in `word` points."""
        key = (word.value, word.literal)
        place = self._places.get(key)
        if place is None:
            if len(self._places) > 4096:
                self._places.clear()
            place = self._places[key] = self._place(word)
        return place

    def _place(self, word: Word) -> PathPlace:
        if not word.literal:
            return "home" if _HOME_VARIABLE.match(word.value) else "unknown"
        value = word.value
        if value == "~" or value.startswith("~"):
            return "home"
        if value.startswith("/"):
            return self._place_absolute(value)
        normal = posixpath.normpath(value)
        if normal == ".." or normal.startswith("../"):
            return "outside"
        return self._inside(normal)

    def _place_absolute(self, value: str) -> PathPlace:
        normal = posixpath.normpath(value)
        if normal in HARMLESS_DEVICES or normal.startswith("/dev/fd/"):
            return "harmless"
        if _DISK_DEVICE.match(normal):
            return "disk"
        for root in self.roots:
            if normal == root:
                return "inside"
            if normal.startswith(root + "/"):
                return self._inside(normal[len(root) + 1 :])
        if normal in ("/", "//") or normal.startswith("/*") or posixpath.dirname(normal) == "/":
            # `/`, `/*` and top-level folders such as `/usr` hold the whole system.
            return "root"
        return "outside"

    def _inside(self, relative: str) -> PathPlace:
        relative = relative.removeprefix("./")
        if any(protected_match(p, relative) for p in self.protected_paths):
            return "protected"
        if _GLOB.search(relative) and self._glob_may_name_protected(relative):
            return "protected"
        return "inside"

    def _glob_may_name_protected(self, glob: str) -> bool:
        """Whether a glob such as `.e*` or `*/id_rsa` could expand to a protected file."""
        if any(part.startswith(".") for part in glob.split("/")):
            return True  # Most protected names are hidden, and only `.x` globs reach them.
        name = glob.rsplit("/", 1)[-1].lower()
        for pattern in self.protected_paths:
            last = pattern.rstrip("/").rsplit("/", 1)[-1].lower()
            examples = {_GLOB.sub("", last), _GLOB.sub("x", last)}
            if any(fnmatch.fnmatchcase(example, name) for example in examples):
                return True
        return False


def _root_spellings(workspace: Path | None) -> list[str]:
    """The workspace as written and as resolved (macOS' /tmp is /private/tmp)."""
    if workspace is None:
        return []
    spellings = {posixpath.normpath(str(workspace))}
    with contextlib.suppress(OSError):
        spellings.add(str(workspace.resolve()))
    return sorted(spellings)
