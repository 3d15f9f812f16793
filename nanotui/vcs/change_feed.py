"""What changed in the work tree since the last snapshot, as nanotui's file watcher saw it.

`git status` finds changes by checking every file and folder; at 50k files that is most of
a snapshot. The watcher already knows what changed, so the snapshot hands that to git the
way git asks for it: as the answer of an fsmonitor hook (protocol 2), a small script that
prints the paths written here. git then looks only at those paths.

Correctness comes first; the answer is only ever "everything" unless all of this holds:

- the watcher has been watching since the token the private index holds was handed out
  (`watching()`; `lost()` when it stops, fails, or sees a storm big enough to have
  overflowed the kernel's queue);
- the token in the index is this feed's own: another process or engine writing the
  private index leaves its own token (or none), and the hook answers "everything";
- every change made before the snapshot began has reached the feed: the snapshot touches
  the work tree's top folder (its times set to what they are) and waits for the watcher to
  report that, which it does only after everything before it (`settled()`).

A path the watcher reports is passed as itself and as a folder ("p" and "p/"), so a folder
renamed or created with files in it is looked into as a whole.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

MAX_PATHS = 5000
"""A batch this big may have overflowed the kernel's event queue (16,384 events by default),
whose lost events nobody reports: past it, the next snapshot looks at everything."""
SETTLE_TIMEOUT_S = 2.0
"""How long a snapshot waits for the watcher to catch up before looking at everything."""

HOOK = """#!/bin/sh
# nanotui's fsmonitor hook: git asks "what changed since token $2?" (protocol $1).
read -r since < "$0.since"
read -r now < "$0.now"
if [ "$1" = 2 ] && [ "$2" = "$since" ]; then exec cat "$0.answer"; fi
if [ "$1" = 2 ] && [ "$2" = "$now" ]; then exec cat "$0.nothing"; fi
printf '%s\\0/\\0' "$now"
"""


class ChangeFeed:
    """Paths changed in the work tree under `root`, fed by a watcher, read by snapshots.

    Thread-safe: the watcher feeds it on the event loop, snapshots read it in a thread.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._changed = threading.Condition()
        self._live = False
        self._paths: set[str] = set()
        self._handed_out: str | None = None
        """The token the private index holds if the last snapshot used this feed."""
        self._prefix = f"nanotui-{os.getpid()}-{secrets.token_hex(4)}-"
        self._count = 0
        self._marks_asked = 0
        self._marks_seen = 0
        self._incremental = False
        """Whether the last pass trusted the feed (and must wait for the watcher)."""
        self.passes_fed = 0
        """Snapshot passes that looked only where the watcher said."""
        self._folder: Path | None = None

    @property
    def live(self) -> bool:
        with self._changed:
            return self._live

    # ---- the watcher's side ----------------------------------------------------------

    def watching(self) -> None:
        """The watcher is in place: every change from now on reaches `saw`."""
        with self._changed:
            self._live, self._handed_out = True, None
            self._paths.clear()
            self._marks_asked = self._marks_seen = 0

    def lost(self) -> None:
        """The watcher stopped or may have missed changes: snapshots look at everything."""
        with self._changed:
            self._live, self._handed_out = False, None
            self._paths.clear()
            self._changed.notify_all()

    def saw(self, paths: Iterable[str], *, marked: bool = False) -> None:
        """Paths (relative to the root) the watcher reported in one batch; `marked` when
        the batch holds the root folder itself, which `settled()` waits for."""
        with self._changed:
            if not self._live:
                return
            self._paths.update(paths)
            if len(self._paths) > MAX_PATHS:
                self._handed_out = None  # the next pass looks at everything
                self._paths.clear()
            if marked:
                self._marks_seen += 1
            self._changed.notify_all()

    # ---- the snapshot's side ---------------------------------------------------------

    def begin(self) -> list[str] | None:
        """git options for one snapshot pass, with the hook's answer written; None when
        the feed cannot vouch for anything (git then checks every file itself)."""
        with self._changed:
            if not self._live:
                return None
            self._count += 1
            now = f"{self._prefix}{self._count}"
            since, paths = self._handed_out, sorted(self._paths)
            self._paths.clear()
            self._handed_out = now
            self._incremental = since is not None
            if since:
                self._marks_asked += 1
                self.passes_fed += 1
        hook = self._write_answer(since, now, paths)
        if since:
            # Only an incremental pass trusts the feed; a full one sees everything anyway.
            self._touch_root()
        return [
            "-c",
            f"core.fsmonitor={shlex.quote(str(hook))}",
            "-c",
            "core.fsmonitorHookVersion=2",
        ]

    def settled(self, timeout_s: float = SETTLE_TIMEOUT_S) -> bool:
        """After an incremental pass: True when everything changed before it began was in
        its answer (the watcher has caught up and nothing arrived meanwhile)."""
        with self._changed:
            if not self._incremental:
                return True  # a full pass looked at everything itself
            caught_up = self._changed.wait_for(
                lambda: not self._live or self._marks_seen >= self._marks_asked, timeout_s
            )
            if not caught_up:
                # A watcher that does not report the mark (one that polls, or stuck) is
                # trusted no more: the snapshots look at everything, as without one.
                self._live, self._handed_out = False, None
            # No token left means the feed was lost or overflowed meanwhile.
            return self._live and self._handed_out is not None and not self._paths

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _write_answer(self, since: str | None, now: str, paths: list[str]) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="nanotui-fsmonitor-"))
        hook = self._folder / "hook"
        if not hook.exists():
            hook.write_text(HOOK)
            hook.chmod(0o700)
        listed = b"".join(
            os.fsencode(form) + b"\0" for path in paths for form in (path, path + "/")
        )
        token = now.encode() + b"\0"
        Path(f"{hook}.answer").write_bytes(token + listed)
        Path(f"{hook}.nothing").write_bytes(token)
        Path(f"{hook}.since").write_text(f"{since or '-'}\n")
        Path(f"{hook}.now").write_text(f"{now}\n")
        return hook

    def _touch_root(self) -> None:
        """Make the watcher report the root folder: its times set to what they are."""
        try:
            info = os.stat(self.root)
            os.utime(self.root, ns=(info.st_atime_ns, info.st_mtime_ns))
        except OSError:
            self.lost()
