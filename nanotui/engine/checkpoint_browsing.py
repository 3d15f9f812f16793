"""What a checkpoint browser shows and does: listing, comparing, restoring by hand.

Every method here runs git, so a screen calls them on a thread. The browser opens its own
`Checkpoints` engine: the agent's safety net takes checkpoints only during turns and the
browser restores only between them, so the two never write at once. A restore is marked as
nanotui's own doing, so the workspace watcher does not report it as an outside edit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nanotui.config import CheckpointsConfig
from nanotui.engine.external_changes import ChangeAttribution
from nanotui.engine.safety_net import restore_events
from nanotui.protocol.checkpoints import Checkpoint, FileDiff, RestoreResult
from nanotui.protocol.events import CheckpointCreated, EventBase
from nanotui.vcs.checkpoints import Checkpoints
from nanotui.vcs.restore import RestorePlan

STATUS_WORDS = {"A": "added", "D": "deleted", "M": "modified", "T": "type changed"}
RESTORE_WORDS = {"A": "bring back", "M": "revert", "T": "revert type"}
"""What restoring does to a path, by its status from now to the checkpoint."""


@dataclass(frozen=True)
class CheckpointEntry:
    """One row of the list: a checkpoint and what changed since the one before it."""

    checkpoint: Checkpoint
    files: int
    added: int
    removed: int

    @property
    def excerpt(self) -> str:
        """The label without its "before: " prefix: the prompt or the batch it came before."""
        label = self.checkpoint.label
        return label.removeprefix("before: ").removeprefix("before ") or self.checkpoint.kind


@dataclass(frozen=True)
class Comparison:
    """Per-file changes from `old` to `new` (None: the work tree now)."""

    old: Checkpoint
    new: Checkpoint | None
    files: list[FileDiff]

    @property
    def title(self) -> str:
        to = self.new.short_id if self.new is not None else "now"
        return f"{self.old.short_id} → {to}"


def in_time_order(
    one: Checkpoint, other: Checkpoint | None
) -> tuple[Checkpoint, Checkpoint | None]:
    """The two sides of a comparison, older first (None, the work tree now, is the newest).

    The list's +/- column counts what changed from the checkpoint before to each one, so a
    comparison reads the same way: what was added going forward in time is `+`.
    """
    if other is None:
        return one, None
    if (other.created, other.number) < (one.created, one.number):
        return other, one
    return one, other


class CheckpointBrowsing:
    """The workspace's checkpoints for one session's browser."""

    def __init__(
        self,
        workspace: Path,
        session_id: str,
        settings: CheckpointsConfig | None = None,
        created_by_agent: Sequence[str] = (),
        own_changes: ChangeAttribution | None = None,
    ) -> None:
        self.workspace = workspace
        self.session_id = session_id
        self.settings = settings or CheckpointsConfig()
        self.created_by_agent = created_by_agent
        """Workspace-relative paths the agent created: a restore deletes them without asking."""
        self.own_changes = own_changes
        self._engine: Checkpoints | None = None

    def engine(self) -> Checkpoints:
        if self._engine is None:
            self._engine = Checkpoints(
                self.workspace, self.session_id, **self.settings.engine_options
            )
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()

    # ---- reading -------------------------------------------------------------------------

    def entries(self) -> list[CheckpointEntry]:
        """Every checkpoint of this work tree (all sessions), newest first."""
        engine = self.engine()
        found = engine.list()
        stats = engine.change_stats(found)
        rows = [CheckpointEntry(c, *stats[c.id]) for c in found]
        return sorted(rows, key=lambda row: row.checkpoint.created, reverse=True)

    def compare(self, old: Checkpoint, new: Checkpoint | None = None) -> Comparison:
        return Comparison(old, new, self.engine().diff(old, new))

    def file_patch(self, comparison: Comparison, path: str) -> str:
        return self.engine().patch(comparison.old, comparison.new, [path])

    # ---- changing ------------------------------------------------------------------------

    def take(self, label: str = "taken by hand") -> tuple[Checkpoint, CheckpointCreated]:
        checkpoint = self.engine().snapshot(label, kind="manual")
        return checkpoint, CheckpointCreated(
            checkpoint=checkpoint.id, short_id=checkpoint.short_id, reason=label, kind="manual"
        )

    def preview(self, target: Checkpoint, files: Sequence[str] | None) -> RestorePlan:
        return self.engine().preview_restore(
            target, self._absolute(files), created_by_agent=self._absolute(self.created_by_agent)
        )

    def restore(
        self, target: Checkpoint, files: Sequence[str] | None, delete_also: Sequence[str] = ()
    ) -> tuple[RestoreResult, list[EventBase]]:
        """Restore `target` (or `files` of it); returns the result and the events to log.

        `delete_also` are files that did not exist at the checkpoint which the user agreed
        to delete, besides those the agent created.
        """
        removable = [*self.created_by_agent, *delete_also]
        acting = self.own_changes.acting() if self.own_changes else contextlib.nullcontext()
        with acting:
            result = self.engine().restore(
                target, self._absolute(files), created_by_agent=self._absolute(removable)
            )
        return result, restore_events(target, result)

    def _absolute(self, paths: Sequence[str] | None) -> list[Path] | None:
        return None if paths is None else [self.workspace / path for path in paths]


DELETE_CHOSEN = "delete (you chose)"
"""The action of a file new since the checkpoint once the user asked to delete it too."""


@dataclass(frozen=True)
class PlannedStep:
    """One path of a restore: what happens to it, and which count it falls under."""

    action: str
    path: str
    category: str
    """One of PLAN_CATEGORIES: write, delete, keep or leave."""


PLAN_CATEGORIES = ("write", "delete", "keep", "leave")


def plan_steps(plan: RestorePlan, delete_new: bool = False) -> list[PlannedStep]:
    """Every path the restore touches or leaves, in that order; `delete_new`: the user
    chose to delete the files that did not exist at the checkpoint."""
    steps = [
        PlannedStep(RESTORE_WORDS.get(change.status, "write"), change.path, "write")
        for change in plan.writes
    ]
    steps += [PlannedStep("delete (nanotui made it)", path, "delete") for path in plan.removals]
    if delete_new:
        steps += [PlannedStep(DELETE_CHOSEN, path, "delete") for path in plan.left_in_place]
    else:
        steps += [
            PlannedStep("keep (did not exist then)", path, "keep") for path in plan.left_in_place
        ]
    steps += [
        PlannedStep(f"leave: {skipped.reason}", skipped.path, "leave")
        for skipped in plan.not_restored
    ]
    return steps


def plan_counts(steps: Sequence[PlannedStep]) -> dict[str, int]:
    """How many paths fall under each of PLAN_CATEGORIES (zero included)."""
    counts = dict.fromkeys(PLAN_CATEGORIES, 0)
    for step in steps:
        counts[step.category] += 1
    return counts


def describe_plan(plan: RestorePlan, delete_new: bool = False) -> list[tuple[str, str]]:
    """(what happens, path) for every path the restore touches or leaves, in that order."""
    return [(step.action, step.path) for step in plan_steps(plan, delete_new)]
