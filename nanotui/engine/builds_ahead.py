"""When the next checkpoint's tree is built ahead, so the agent does not wait for it.

Two things ask (`SafetyNet` holds one `BuildsAhead`): a batch of tool calls that just ran,
and the workspace watcher telling of files changed outside nanotui. The rules:

- a build may already be running, and may have looked at the work tree before what asks
  now: the next build waits for it; those asking meanwhile share that next one until it
  holds the lock (it has not looked yet);
- a build asked for before a checkpoint looks at the work tree, and not started by then,
  does nothing: the checkpoint took in all it was asked for;
- builds for outside changes start at least OUTSIDE_BUILD_GAP_S apart, and only
  OUTSIDE_BUILDS_PER_CHECKPOINT of them that store a tree run between checkpoints; a
  batch's build is held back by neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

OUTSIDE_BUILDS_PER_CHECKPOINT = 2
"""Builds for files changed outside nanotui that store a tree, between two checkpoints.
Each stores what it finds in the repository's objects, and what a later one replaces is
left for git to prune: a log file written on and on would otherwise be stored again at
every build, for as long as the session stayed open. Two: the second takes in what a long
write had not finished when the first looked."""
OUTSIDE_BUILD_GAP_S = 1.0
"""A build for files changed outside nanotui starts at least this long after the last build
started (or four times that build's length, if longer): the second of a long write's builds
then comes after more of it has landed, and git is never kept busy back to back."""

Build = Callable[[], bool]
"""Builds the tree (on a thread, under the lock); whether it stored one not built before."""
RunLocked = Callable[[Build, Callable[[], None]], Awaitable[bool | None]]
"""Runs a build on a thread under the safety net's lock, calling the second argument once
the lock is held; the build's answer, or None when it failed or the session closed."""


class BuildsAhead:
    """The schedule of builds ahead for one session."""

    def __init__(self, run_locked: RunLocked, build: Build) -> None:
        self._run_locked = run_locked
        self._build = build
        self._running: asyncio.Task[None] | None = None
        """The build that last took the lock."""
        self._next: asyncio.Task[None] | None = None
        """A build asked for that has not taken the lock yet."""
        self._hurry = asyncio.Event()
        """Set when the next build must not wait for the gap (a batch asked for it)."""
        self._spaced_from = 0.0
        """The `time.monotonic()` before which a build for outside changes waits."""
        self._outside_left = OUTSIDE_BUILDS_PER_CHECKPOINT
        """Outside builds that may still store trees before the next checkpoint."""
        self._checkpoints_looked = 0
        self._asked_after = 0
        """How many checkpoints had looked at the work tree when a build was last asked."""

    def after_batch(self) -> asyncio.Task[None]:
        """The build that starts after this call, at once (after any running one)."""
        return self._ask(spaced=False)

    def after_outside_change(self) -> asyncio.Task[None] | None:
        """The build that starts after this call, spaced and within the allowance; None
        when the allowance is spent (the next checkpoint takes the change in itself)."""
        if self._outside_left <= 0 and (self._next is None or self._next.done()):
            return None
        return self._ask(spaced=True)

    def checkpoint_looks(self) -> None:
        """A checkpoint is about to look at the work tree (called under the lock): what
        was asked before is taken in, and a new allowance starts."""
        self._checkpoints_looked += 1
        self._outside_left = OUTSIDE_BUILDS_PER_CHECKPOINT

    def cancel(self) -> None:
        for task in (self._running, self._next):
            if task is not None:
                task.cancel()  # its thread ends on its own and closes what it opened

    def _ask(self, *, spaced: bool) -> asyncio.Task[None]:
        self._asked_after = self._checkpoints_looked
        if self._next is None or self._next.done():
            self._hurry = asyncio.Event()
            self._next = asyncio.create_task(self._when_free())
        if not spaced:
            self._hurry.set()
        return self._next

    async def _when_free(self) -> None:
        hurry = self._hurry  # this build's: an ask after it takes the lock makes a new one
        running = self._running
        if running is not None and not running.done():
            await asyncio.wait([running])
        gap = self._spaced_from - time.monotonic()
        if gap > 0 and not hurry.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hurry.wait(), gap)
        allowed = True

        def takes_the_lock() -> None:
            # Decided here, with no other build running and the last one's count in: asks
            # queued meanwhile each saw an older count.
            nonlocal allowed
            self._next = None
            self._running = asyncio.current_task()
            allowed = hurry.is_set() or self._outside_left > 0

        stored = await self._run_locked(
            lambda: allowed and self._build_unless_taken(), takes_the_lock
        )
        if stored and not hurry.is_set():
            # Only a build that stored something counts: one for ignored files (a build
            # folder, a log git ignores) or one that found a checkpoint had looked stores
            # nothing, and must not use up the next real edit's.
            self._outside_left -= 1

    def _build_unless_taken(self) -> bool:
        """On the build's thread: the build, unless a checkpoint has looked since the last
        ask; timed for the gap without the lock's wait."""
        if self._checkpoints_looked > self._asked_after:
            return False
        started = time.monotonic()
        stored = self._build()
        self._spaced_from = started + max(OUTSIDE_BUILD_GAP_S, 4 * (time.monotonic() - started))
        return stored
