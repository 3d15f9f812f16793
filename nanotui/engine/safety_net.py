"""The agent's safety net: checkpoints before it acts, and the way back when a batch breaks.

A checkpoint is taken before every turn that may change files (any mode but plan) and
before each batch of changes or commands that is about to run. When nothing changed since
the last one it is not taken again: the last one still describes the work tree. A batch
that fails half-way (a write fails after others landed) or is aborted can be rolled back to
the checkpoint taken before it: automatically with `[checkpoints] rollback_on_failure`,
otherwise the user is told which checkpoint to restore.

Git work runs in a thread, one operation at a time, so the screen keeps drawing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from nanotui.config import CheckpointsConfig
from nanotui.engine.builds_ahead import BuildsAhead
from nanotui.protocol.basics import plural
from nanotui.protocol.checkpoints import Checkpoint, CheckpointError, RestoreResult
from nanotui.protocol.events import CheckpointCreated, CheckpointRestored, EventBase, Notice
from nanotui.vcs.checkpoints import Checkpoints
from nanotui.vcs.snapshot import TreeSnapshot

Emit = Callable[[EventBase], None]
T = TypeVar("T")


class SafetyNet:
    """Takes the session's checkpoints and rolls a broken batch back."""

    def __init__(
        self,
        workspace: Path,
        session_id: str,
        settings: CheckpointsConfig,
        emit: Emit,
    ) -> None:
        self.workspace = workspace
        self.session_id = session_id
        self.settings = settings
        self.emit = emit
        self.turn = 0
        self.last: Checkpoint | None = None
        self.first_of_turn: Checkpoint | None = None
        """The checkpoint taken before the current turn: what undoes the whole turn."""
        self.created: set[str] = set()
        """Workspace-relative paths the agent's file tools created: a restore may delete them."""
        self._checkpoints: Checkpoints | None = None
        self._broken = False
        self._closed = False
        self._preparing: asyncio.Task[None] | None = None
        self._feed_pending = False
        """`prepare()` asked the engine to have the kernel tell it which files change, and
        another build held the work tree then: the next build ahead asks again."""
        self._ahead = BuildsAhead(self._quietly, self._build_tree)
        self._built_ahead: TreeSnapshot | None = None
        """The tree built after the last batch, while the model answered (see build_ahead)."""
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self.settings.enabled and not self._broken

    def checkpoints(self) -> Checkpoints:
        """The engine, opened on first use (it runs git, so never on the event loop)."""
        if self._checkpoints is None:
            self._checkpoints = Checkpoints(
                self.workspace, self.session_id, **self.settings.engine_options
            )
        return self._checkpoints

    def close(self) -> None:
        self._closed = True
        if self._preparing is not None:
            self._preparing.cancel()  # its thread ends on its own and closes what it opened
        self._ahead.cancel()
        if self._checkpoints is not None:
            self._checkpoints.close()

    def prepare_soon(self) -> None:
        """Start `prepare()` as a task of the running loop (once)."""
        if self._preparing is None:
            self._preparing = asyncio.create_task(self.prepare())

    async def prepare(self) -> None:
        """Open the engine, have the kernel tell it which files change, and build the work
        tree once (seeding nanotui's index), so the session's first checkpoint costs what a
        later one does. A front end that stays open calls this as the session starts."""
        if self.enabled:
            await self._quietly(self._prepare)

    def _prepare(self) -> None:
        self._feed_pending = True
        self._build_tree()

    def build_ahead(self) -> asyncio.Task[None] | None:
        """A batch just ran: build the work tree now, on a thread, while the model answers.
        The next checkpoint then updates only what changed since (at 50k files a batch's
        hundreds of files cost 0.15-0.25 s to take in, a few files since then 0.02 s).
        The task doing it, which the next checkpoint waits for through the lock."""
        if not self.enabled or self._closed:
            return None
        return self._ahead.after_batch()

    def outside_change(self) -> asyncio.Task[None] | None:
        """Files changed outside nanotui (the workspace watcher said so): build the tree
        ahead as after a batch, so the next checkpoint does not take them in while the agent
        waits (spaced and limited: see `builds_ahead`). The task, or None."""
        if not self.enabled or self._closed:
            return None
        return self._ahead.after_outside_change()

    async def _quietly(
        self, work: Callable[[], T], locked: Callable[[], None] | None = None
    ) -> T | None:
        """Git work nobody waits for, on a thread under the lock (`locked` is called once it
        is held); its result, or None. What goes wrong is left for the next checkpoint, which
        does the work again and says what is wrong."""
        async with self._lock:
            if locked is not None:
                locked()
            if self._closed:
                return None
            try:
                return await asyncio.to_thread(work)
            except (CheckpointError, OSError):
                return None

    def _build_tree(self) -> bool:
        """Build the work tree ahead; whether that stored a tree (not the one before)."""
        # Neither step waits for another build (another nanotui's): the session may end
        # meanwhile, and its exit waits for this thread.
        engine = self.checkpoints()
        try:
            if self._feed_pending and not self._closed:
                self._feed_pending = engine.builder.watch_changes(wait=False) is None
            # A tree no checkpoint names yet: git prunes it if it stays unused.
            built = None if self._closed else engine.builder.build_if_free()
            if built is None or self._closed:
                return False
            self._built_ahead = _counted_from_the_first(engine, self._built_ahead, built)
            return built.tree != built.previous_tree
        finally:
            if self._closed:  # the session ended meanwhile
                engine.close()

    # ---- taking ----------------------------------------------------------------------

    async def before_turn(self, prompt: str, emit: Emit | None = None) -> Checkpoint | None:
        """The turn's first checkpoint; its events go to `emit` when given (the agent holds
        them while the reply streams), else to the session's."""
        self.turn += 1
        turn = self.turn
        self.first_of_turn = None  # until it is in: never the turn before's
        checkpoint = await self._take(f"before: {_one_line(prompt)}", "turn", emit, turn)
        if self.turn == turn:  # a snapshot left by an ending turn may finish in the next
            self.first_of_turn = checkpoint
        return checkpoint

    async def before_batch(self, summaries: Iterable[str]) -> Checkpoint | None:
        return await self._take(f"before {_one_line('; '.join(summaries))}", "batch")

    async def changed_in_turn(self) -> list[str] | None:
        """Workspace-relative paths that differ between the turn's first checkpoint and the
        work tree now, whoever changed them (file tools and commands alike); None when there
        is no checkpoint to compare with."""
        first = self.first_of_turn
        if first is None or not self.enabled:
            return None
        async with self._lock:
            try:
                diffs = await asyncio.to_thread(self.checkpoints().diff, first)
            except (CheckpointError, OSError):
                return None
        root, workspace = self.checkpoints().root, self.workspace.resolve()
        paths = []
        for diff in diffs:
            try:
                paths.append((root / diff.path).relative_to(workspace).as_posix())
            except ValueError:
                continue  # outside the workspace, in the same repository
        return paths

    def note_result(self, data: dict[str, object]) -> None:
        """Remember a file the agent created, from a file tool's result data."""
        if data.get("created") and isinstance(data.get("path"), str):
            self.created.add(str(data["path"]))

    async def _take(
        self, label: str, kind: str, emit: Emit | None = None, turn: int | None = None
    ) -> Checkpoint | None:
        turn = self.turn if turn is None else turn
        if not self.enabled:
            return None
        emit = emit or self.emit
        async with self._lock:
            self._ahead.checkpoint_looks()  # what changes from now on is the next's
            try:
                checkpoint, files = await asyncio.to_thread(self._snapshot, label, kind, turn)
            except (CheckpointError, OSError) as exc:
                # Say it once and go on: the user keeps working, without the net.
                self._broken = True
                emit(
                    Notice(
                        level="warning",
                        text=f"Checkpoints are off for this session: {exc}",
                    )
                )
                return None
        if checkpoint is not self.last:
            emit(
                CheckpointCreated(
                    checkpoint=checkpoint.id,
                    short_id=checkpoint.short_id,
                    reason=label,
                    kind=kind,
                    turn=turn,
                    files=files,
                    skipped=[s.path for s in checkpoint.skipped],
                )
            )
        self.last = checkpoint
        return checkpoint

    def _snapshot(self, label: str, kind: str, turn: int) -> tuple[Checkpoint, int]:
        """A new checkpoint and how many files differ from the last, or the last if none do."""
        engine = self.checkpoints()
        last = self.last
        snap = engine.builder.build()
        ahead, self._built_ahead = self._built_ahead, None
        if ahead is not None and snap.previous_tree == snap.tree == ahead.tree:
            snap = replace(snap, previous_tree=ahead.previous_tree, changed=ahead.changed)
        if last is not None and (snap.tree, snap.base, snap.index_commit) == (
            last.tree,
            last.base,
            last.index_commit,
        ):
            return last, 0
        checkpoint = engine.record(snap, label, turn, kind)
        if last is None:
            return checkpoint, 0
        if snap.previous_tree is not None and snap.previous_tree == last.tree:
            return checkpoint, snap.changed  # the builder counted them: no diff to run
        return checkpoint, engine.changed_files(last, checkpoint)

    # ---- rolling back ----------------------------------------------------------------

    async def after_broken_batch(self, before: Checkpoint | None, what: str) -> None:
        """A batch stopped half-way: roll back to `before` if configured, else say how."""
        if before is None:
            return
        async with self._lock:
            try:
                changed = await asyncio.shield(asyncio.to_thread(self._changed_since, before))
            except (CheckpointError, OSError):
                changed = True
        if not changed:
            return
        if not self.settings.rollback_on_failure:
            self.emit(
                Notice(
                    level="warning",
                    text=f"{what} and had changed files. `nanotui checkpoints restore "
                    f"{before.short_id}` (or /checkpoints) brings back the files as they were "
                    "before it.",
                )
            )
            return
        async with self._lock:
            try:
                # Shielded: a rollback started because of an interruption must not be cut too.
                result = await asyncio.shield(asyncio.to_thread(self._restore, before))
            except (CheckpointError, OSError) as exc:
                self.emit(Notice(level="warning", text=f"{what}; rolling back failed: {exc}"))
                return
        for event in restore_events(before, result, self.turn):
            self.emit(event)
        safety = result.safety_checkpoint
        undo = f" `nanotui checkpoints restore {safety.short_id}` undoes it." if safety else ""
        left = f" Left in place: {', '.join(result.left_in_place)}." if result.left_in_place else ""
        self.emit(
            Notice(
                level="warning",
                text=f"{what}, so it was rolled back to checkpoint {before.short_id}: "
                f"{plural(len(result.restored), 'file')} restored, "
                f"{len(result.removed)} removed.{left}"
                f"{undo}",
            )
        )

    def _changed_since(self, before: Checkpoint) -> bool:
        return self.checkpoints().changed_files(before) > 0

    def _restore(self, before: Checkpoint) -> RestoreResult:
        created = [self.workspace / path for path in self.created]
        return self.checkpoints().restore(before, created_by_agent=created)


def _counted_from_the_first(
    engine: Checkpoints, earlier: TreeSnapshot | None, later: TreeSnapshot
) -> TreeSnapshot:
    """`later`, built right after `earlier` with no checkpoint between, counted from the tree
    `earlier` started from: the checkpoint that takes it then needs no tree diff while the
    agent waits (the diff runs here, on the build's thread)."""
    if earlier is None or earlier.previous_tree is None or later.previous_tree != earlier.tree:
        return later
    if later.tree == earlier.tree:
        changed = earlier.changed
    else:
        changed = engine.changed_between_trees(earlier.previous_tree, later.tree)
    return replace(later, previous_tree=earlier.previous_tree, changed=changed)


def restore_events(
    target: Checkpoint, result: RestoreResult, turn: int | None = None
) -> list[EventBase]:
    """What a restore leaves in the log: the safety checkpoint taken first, then the restore."""
    safety = result.safety_checkpoint
    events: list[EventBase] = []
    if safety is not None:
        events.append(
            CheckpointCreated(
                checkpoint=safety.id,
                short_id=safety.short_id,
                reason=safety.label,
                kind="safety",
                turn=turn,
            )
        )
    events.append(
        CheckpointRestored(
            checkpoint=target.id,
            short_id=target.short_id,
            restored=result.restored,
            removed=result.removed,
            left_in_place=result.left_in_place,
            safety_checkpoint=safety.short_id if safety else None,
        )
    )
    return events


def _one_line(text: str, limit: int = 120) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
