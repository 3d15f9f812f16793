"""The checkpoint browser of a session that runs here: listing, comparing, restoring by hand.

Every method here runs git, so a screen calls them on a thread. The browser opens its own
`Checkpoints` engine: the agent's safety net takes checkpoints only during turns and the
browser restores only between them. (The tree the safety net builds ahead after a turn's
last batch may still be in the making as a restore starts: the two builds take turns through
the work tree's lock, and that tree is only a head start for the next checkpoint.) A restore
is marked as nanotui's own doing, so the workspace watcher does not report it as an outside
edit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from nanotui.config import CheckpointsConfig
from nanotui.engine.external_changes import ChangeAttribution
from nanotui.engine.safety_net import restore_events
from nanotui.protocol.checkpoint_views import CheckpointEntry, Comparison
from nanotui.protocol.checkpoints import Checkpoint, RestorePlan, RestoreResult
from nanotui.protocol.events import CheckpointCreated, EventBase
from nanotui.vcs.checkpoints import Checkpoints


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
