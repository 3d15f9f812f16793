"""The checkpoint engine: snapshot, list, diff, restore and prune a workspace's checkpoints.

Inside a git repository checkpoints are commits under `refs/nanotui/checkpoints/<session>/<n>`
sharing the repository's objects; in a plain folder they live in a shadow repository under
nanotui's state folder. Taking one never changes the work tree, the index, HEAD, branches,
the stash, hooks or config, and runs no hooks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from nanotui.protocol.checkpoints import (
    Checkpoint,
    CheckpointError,
    FileDiff,
    RestorePlan,
    RestoreResult,
)
from nanotui.vcs import refs
from nanotui.vcs.diff import file_diffs, patch, raw_changes
from nanotui.vcs.location import locate
from nanotui.vcs.restore import RestoreWriter, plan_restore
from nanotui.vcs.snapshot import EMPTY_TREE, TreeBuilder, TreeSnapshot

DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024
DEFAULT_KEEP_LAST = 50
DEFAULT_MAX_AGE_DAYS = 30

OPERATIONS_IN_PROGRESS = (
    ("MERGE_HEAD", "A merge is in progress in this repository; finish or abort it"),
    ("rebase-merge", "A rebase is in progress in this repository; continue or abort it"),
    ("rebase-apply", "A rebase or `git am` is in progress; continue or abort it"),
    ("CHERRY_PICK_HEAD", "A cherry-pick is in progress; continue or abort it"),
    ("REVERT_HEAD", "A revert is in progress; continue or abort it"),
)


class Checkpoints:
    """One workspace's checkpoints, as seen from one session."""

    def __init__(
        self,
        workspace: Path | str,
        session_id: str | None = None,
        *,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        include: Sequence[str] = (),
        keep_last: int = DEFAULT_KEEP_LAST,
        max_age_days: float = DEFAULT_MAX_AGE_DAYS,
    ) -> None:
        self.workspace = Path(workspace).resolve()
        self.session_id = refs.session_component(session_id) if session_id else None
        self.keep_last = keep_last
        self.max_age_days = max_age_days
        self.storage, self.runner = locate(self.workspace)
        self.builder = TreeBuilder(
            self.storage, self.runner, max_file_bytes=max_file_bytes, include=include
        )
        self._pruned = False
        self._numbers: dict[str, int] = {}
        """The number each session's last checkpoint got here: the next is one more."""

    @property
    def root(self) -> Path:
        """The folder checkpoints cover; every path in results is relative to it."""
        return self.storage.root

    def close(self) -> None:
        self.builder.close()
        self.runner.close()

    def __enter__(self) -> Checkpoints:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- taking and finding ----------------------------------------------------------

    def snapshot(self, label: str = "", turn: int | None = None, kind: str = "turn") -> Checkpoint:
        """Record the whole work tree now (kind: turn, write, command, manual or safety)."""
        return self.record(self.builder.build(), label, turn, kind)

    def list(self, session: str | None = None) -> list[Checkpoint]:
        """Checkpoints of this work tree (of one session if given), oldest first."""
        found = refs.list_checkpoints(
            self.runner, refs.session_component(session) if session else None
        )
        return [c for c in found if c.worktree == self.storage.worktree]

    def get(self, wanted: str) -> Checkpoint:
        """The checkpoint `wanted` names (id, short id, unique prefix, or commit prefix)."""
        return refs.resolve(self.list(), wanted)

    # ---- comparing -----------------------------------------------------------------

    def diff(self, a: str | Checkpoint, b: str | Checkpoint | None = None) -> list[FileDiff]:
        """Per-file changes from checkpoint `a` to checkpoint `b` (default: the work tree now)."""
        return file_diffs(self.runner, self._tree(a), self._tree(b))

    def changed_files(self, a: str | Checkpoint, b: str | Checkpoint | None = None) -> int:
        """How many files differ from checkpoint `a` to `b` (default: the work tree now)."""
        return self.changed_between_trees(self._tree(a), self._tree(b))

    def changed_between_trees(self, old: str, new: str) -> int:
        """How many files differ from tree `old` to tree `new` (snapshots' trees)."""
        return len(raw_changes(self.runner, old, new))

    def patch(
        self,
        a: str | Checkpoint,
        b: str | Checkpoint | None = None,
        paths: Sequence[str] | None = None,
    ) -> str:
        """The unified diff from checkpoint `a` to `b` (default: the work tree now), of
        `paths` (workspace-relative) or of every file."""
        return patch(self.runner, self._tree(a), self._tree(b), paths)

    def change_stats(self, checkpoints: Sequence[Checkpoint]) -> dict[str, tuple[int, int, int]]:
        """Per checkpoint id: (files, added, removed) since the session's previous checkpoint."""
        stats = {}
        previous: dict[str, str] = {}
        for checkpoint in sorted(checkpoints, key=lambda c: (c.session, c.number)):
            before = previous.get(checkpoint.session) or self._base_tree(checkpoint)
            diffs = file_diffs(self.runner, before, checkpoint.tree)
            stats[checkpoint.id] = (
                len(diffs),
                sum(d.added for d in diffs),
                sum(d.removed for d in diffs),
            )
            previous[checkpoint.session] = checkpoint.tree
        return stats

    # ---- restoring -----------------------------------------------------------------

    def preview_restore(
        self,
        wanted: str | Checkpoint,
        files: Iterable[str | Path] | None = None,
        created_by_agent: Iterable[str | Path] = (),
    ) -> RestorePlan:
        """What restore() would write, remove and leave, without changing anything."""
        target = self._checkpoint(wanted)
        selected = self._selection(files)
        return plan_restore(
            self.runner,
            self.builder.build(),
            target,
            selected,
            set(self._relative_paths(created_by_agent)),
        )

    def restore(
        self,
        wanted: str | Checkpoint,
        files: Iterable[str | Path] | None = None,
        created_by_agent: Iterable[str | Path] = (),
    ) -> RestoreResult:
        """Bring back a checkpoint (or some of its files) after a safety checkpoint of now.

        Files the checkpoint does not have are removed only when listed in
        `created_by_agent`; the others come back in `left_in_place`. The index is untouched.
        """
        target = self._checkpoint(wanted)
        self._refuse_during_operation()
        selected = self._selection(files)
        if selected:
            self._check_selection_exists(selected, target)
        removable = set(self._relative_paths(created_by_agent))
        current = self.builder.build()
        safety = self.record(
            current, f"before restoring {target.short_id}", None, "safety", session=target.session
        )
        plan = plan_restore(self.runner, current, target, selected, removable)
        applied = RestoreWriter(self.root, self.runner, self.storage.scratch_dir).apply(plan)
        return RestoreResult(
            safety_checkpoint=safety,
            restored=applied.restored,
            removed=applied.removed,
            left_in_place=plan.left_in_place,
            not_restored=[*plan.not_restored, *applied.not_restored],
        )

    # ---- retention -------------------------------------------------------------------

    def prune(
        self, keep_last: int | None = None, max_age_days: float | None = None
    ) -> list[Checkpoint]:
        """Delete checkpoints beyond the last `keep_last` per session or older than the limit."""
        doomed = refs.expired(
            refs.list_checkpoints(self.runner),
            keep_last=self.keep_last if keep_last is None else keep_last,
            max_age_days=self.max_age_days if max_age_days is None else max_age_days,
        )
        refs.delete(self.runner, doomed)
        if doomed and self.storage.shadow:
            self.runner.run("gc", "--auto", "--quiet")  # the shadow repository is nanotui's own
        return doomed

    # ---- helpers -------------------------------------------------------------------

    def record(
        self,
        snap: TreeSnapshot,
        label: str,
        turn: int | None,
        kind: str,
        session: str | None = None,
    ) -> Checkpoint:
        """Store a snapshot already built as the session's next checkpoint, then prune.

        Split from `snapshot` so a caller can build first and skip recording when the tree
        matches its last checkpoint. The first record of this engine prunes all sessions by
        age and count; later ones only trim this session to `keep_last`.
        """
        session = session or self.session_id
        if not session:
            raise CheckpointError("A checkpoint needs a session id; this one was opened without.")
        created = datetime.now(UTC)
        metadata = {
            "time": created.isoformat(),
            "turn": turn,
            "label": label[:200],
            "kind": kind,
            "base": snap.base,
            "index_commit": snap.index_commit,
            "worktree": self.storage.worktree,
            "skipped": [vars(s) for s in snap.skipped[: refs.MAX_SKIPPED_RECORDED]],
        }
        parents = [p for p in (snap.base, snap.index_commit) if p]
        commit = self.runner.text(
            "commit-tree",
            snap.tree,
            *(arg for parent in parents for arg in ("-p", parent)),
            "-m",
            refs.commit_message(label, metadata),
        )
        number = refs.create(self.runner, session, commit, self._numbers.get(session))
        self._numbers[session] = number
        if not self._pruned:
            self._pruned = True
            self.prune()
        elif number > self.keep_last > 0:
            refs.delete(self.runner, self.list(session)[: -self.keep_last])
        return Checkpoint(
            session=session,
            number=number,
            commit=commit,
            tree=snap.tree,
            created=created,
            label=metadata["label"],
            kind=kind,
            turn=turn,
            base=snap.base,
            index_commit=snap.index_commit,
            worktree=self.storage.worktree,
            skipped=snap.skipped,
        )

    def _checkpoint(self, wanted: str | Checkpoint) -> Checkpoint:
        return wanted if isinstance(wanted, Checkpoint) else self.get(wanted)

    def _tree(self, which: str | Checkpoint | None) -> str:
        return self.builder.build().tree if which is None else self._checkpoint(which).tree

    def _base_tree(self, checkpoint: Checkpoint) -> str:
        return f"{checkpoint.base}^{{tree}}" if checkpoint.base else EMPTY_TREE

    def _refuse_during_operation(self) -> None:
        if self.storage.shadow:
            return
        for marker, problem in OPERATIONS_IN_PROGRESS:
            if (self.storage.git_dir / marker).exists():
                raise CheckpointError(f"{problem} before restoring.")

    def _relative_paths(self, given: Iterable[str | Path]) -> list[str]:
        """Paths relative to the checkpoint root, from absolute or workspace-relative ones."""
        result = []
        for item in given:
            path = Path(item)
            absolute = path if path.is_absolute() else self.workspace / path
            normal = Path(os.path.normpath(absolute))
            try:
                relative = normal.relative_to(self.root).as_posix()
            except ValueError:
                raise CheckpointError(f"{item} is outside {self.root}.") from None
            result.append(relative)
        return result

    def _selection(self, files: Iterable[str | Path] | None) -> list[str] | None:
        """The chosen paths, or None for everything (also when the root itself is chosen)."""
        if files is None:
            return None
        selected = self._relative_paths(files)
        return None if "." in selected else selected

    def _check_selection_exists(self, selected: Sequence[str], target: Checkpoint) -> None:
        for path in selected:
            in_target = self.runner.run("ls-tree", "--name-only", target.tree, "--", path)
            if not in_target.strip() and not os.path.lexists(self.root / path):
                raise CheckpointError(
                    f"{path} is neither in checkpoint {target.short_id} nor in the work tree."
                )
