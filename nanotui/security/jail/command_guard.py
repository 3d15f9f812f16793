"""One command between two looks at the files that make programs run later (`control_files`).

Before the command: the work tree is searched for repositories and `.envrc` files
(`repositories.scan`) and their control files recorded. After it, in this order:

1. a root `.git` folder the command moved or swapped (for a `gitdir:` file, a link, another
   folder) is found by its identity and moved back, so the user's history stays theirs;
2. what changed among the control files of repositories that were there before, `.envrc`
   and `.nanotui` is put back;
3. a repository that appeared or was replaced is made harmless (no active hooks, no config
   that runs programs), and a `.git` file or link pointing outside the workspace is removed.

Each step that did something adds one sentence to the command's result.
"""

from __future__ import annotations

import math
from pathlib import Path

from nanotui.security.jail import control_files, repositories
from nanotui.security.jail.control_files import ROOT, Snapshot
from nanotui.security.jail.watched_scan import WatchedScan


class Guard:
    """Taken just before a command runs; `finish()` just after, also when it failed."""

    def __init__(
        self, workspace: Path, looks: WatchedScan | None = None, start_watch: bool = False
    ) -> None:
        """`looks`: the work tree's looks for repositories, kept by the kernel's watch
        between commands (the runner's); without it every look lists the whole tree.
        `start_watch`: this look may set the watch up (off the event loop only)."""
        self.workspace = workspace
        self.looks = looks or WatchedScan(workspace, watch_after_s=math.inf)
        found = self.looks.look(may_start_watch=start_watch)
        self.hooks = control_files.hooks_folders(workspace, found)
        self.before = control_files.take(workspace, self.hooks, found)

    def finish(self) -> list[str]:
        """Put back and neutralise what the command did; the sentences for its result.
        Never raises: it runs in a `finally`, after a timeout or a cancellation too."""
        try:
            return self._finish()
        except (OSError, ValueError, RecursionError) as exc:
            return [
                f"nanotui could not check the git files the command may have changed ({exc}); "
                "look at them before running git here."
            ]

    def _finish(self) -> list[str]:
        said: list[str] = []
        after = control_files.take(self.workspace, self.hooks, self.looks.look())
        moved = self._bring_back_root(after)
        if moved:
            said.append(f"The command moved the repository's .git folder; nanotui {moved}.")
            after = control_files.take(self.workspace, self.hooks, self.looks.look())
        made = control_files.made_or_replaced(self.before, after)
        old_root = self.before.get(ROOT)
        if ROOT in made and old_root is not None:
            if old_root.kind == "dir" and after[ROOT].kind == "dir":
                said.append(
                    "The command replaced the repository's .git folder and nanotui could not "
                    "find the original: restore it from a backup."
                )
            else:
                # A `gitdir:` file or link (a worktree's, a submodule's) is put back as it
                # was; a stand-in for a folder that is gone is removed, and put_back says so.
                made.remove(ROOT)
        gone = [m for m in control_files.markers(self.before) if m not in after and m != ROOT]
        gitdirs = {m: repositories.gitdir_of(self.workspace, m) for m in made}
        apart = [*made, *gone, *(g for m, g in gitdirs.items() if g and _outside_root(m, g))]
        paths = control_files.changed(self.before, after, apart)
        failed = control_files.put_back(self.workspace, self.before, paths, after) if paths else []
        if paths or failed:
            said.append(control_files.notice(paths or [ROOT], failed))
        done = self._neutralise(made, gitdirs, after)
        if done:
            said.append(f"The command made or changed a git repository; nanotui {'; '.join(done)}.")
        before_unlisted = control_files.unlisted(self.before)
        hidden = sorted(
            folder
            for folder, stamp in control_files.unlisted(after).items()
            if before_unlisted.get(folder) != stamp
        )
        if hidden:
            # Made unreadable, or changed while unreadable: whatever the command made in
            # there was not seen, and would pass for the user's own at the next command's
            # look once the folder can be read.
            said.append(
                f"The command changed {control_files.some_of(hidden, 3)}, which nanotui "
                "cannot read, so it could not look there for repositories the command made: "
                "look inside before running git there."
            )
        if control_files.INCOMPLETE in after:
            said.append(
                f"The work tree holds more than {repositories.MAX_SCAN_FOLDERS:,} folders; "
                "repositories deeper in it were not checked: look before running git there."
            )
        return said

    def _bring_back_root(self, after: Snapshot) -> str:
        """Move the user's `.git` folder back if the command moved or swapped it."""
        old, new = self.before.get(ROOT), after.get(ROOT)
        if old is None or old.kind != "dir" or (new is not None and new.data == old.data):
            return ""
        hint = repositories.gitdir_of(self.workspace, ROOT) if new is not None else None
        try:
            original = repositories.find_folder(self.workspace, old.data, hint)
            if original is None:
                return ""  # gone: put_back says so
            return "; ".join(repositories.bring_back_root(self.workspace, original))
        except OSError as exc:
            return f"could not move it back ({exc.strerror or exc}): put it back by hand"

    def _neutralise(
        self, made: list[str], gitdirs: dict[str, str | None], after: Snapshot
    ) -> list[str]:
        """Make each repository the command made harmless; the phrases for what was done."""
        kept = [m for m in control_files.markers(after) if m not in made]
        guarded = [self.workspace / g for g in map(self._gitdir, kept) if g]
        done: list[str] = []
        for marker in made:
            gitdir = gitdirs[marker]
            path = self.workspace / marker
            try:
                if gitdir is None and not path.is_dir():
                    path.unlink(missing_ok=True)
                    done.append(f"removed {marker}, which pointed git outside the workspace")
                elif gitdir is not None and _outside_root(marker, gitdir):
                    done += repositories.neutralise_repository(
                        self.workspace, self.workspace / gitdir, guarded
                    )
            except OSError as exc:
                done.append(f"could not check {marker} ({exc.strerror or exc})")
        return done

    def _gitdir(self, marker: str) -> str | None:
        return repositories.gitdir_of(self.workspace, marker)


def _outside_root(marker: str, gitdir: str) -> bool:
    """Whether `gitdir` is its own, not the root repository's (a submodule's or worktree's
    folder inside the root `.git`, whose files are put back instead)."""
    return marker == ROOT or not (gitdir == ROOT or gitdir.startswith(ROOT + "/"))
