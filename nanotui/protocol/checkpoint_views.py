"""What a checkpoint browser shows: the list's rows, a comparison, the steps of a restore.

Plain values and the pure functions that make them, shared by the engine that runs git and
the screens that show them, so a browser does not care whether git runs here or on a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nanotui.protocol.checkpoints import Checkpoint, FileDiff, RestorePlan

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
