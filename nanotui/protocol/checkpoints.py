"""The values the checkpoint engine hands out: checkpoints, file diffs, restore plans and
results (plain data, so a session on a server can send them over HTTP too)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nanotui.protocol.basics import UserFacingError


class CheckpointError(UserFacingError):
    """A checkpoint operation that cannot go on; the message is one sentence for the user."""


@dataclass(frozen=True)
class SkippedFile:
    """A file a checkpoint left out, and why (too large, a nested repository)."""

    path: str
    reason: str
    size: int = 0


@dataclass(frozen=True)
class Checkpoint:
    """One snapshot of the whole working tree, kept as a commit under `refs/nanotui/`."""

    session: str
    number: int
    commit: str
    tree: str
    created: datetime
    label: str = ""
    kind: str = "turn"
    turn: int | None = None
    base: str | None = None
    """The commit HEAD pointed at when the snapshot was taken (None in an empty repository)."""
    index_commit: str | None = None
    """A commit of the user's staged content, kept when it differed from HEAD."""
    worktree: str = ""
    skipped: tuple[SkippedFile, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.session}/{self.number}"

    @property
    def short_id(self) -> str:
        """Typeable: the session's last four characters (random in generated ids) and the number."""
        return short_checkpoint_id(self.id)

    @property
    def ref(self) -> str:
        return checkpoint_ref(self.session, self.number)


def short_checkpoint_id(checkpoint_id: str) -> str:
    """The short id of a full one (`20261205-060512-44be/2` is `44be/2`), as the browser,
    `nanotui checkpoints list` and the timeline show it; an id of another form is kept."""
    session, _, number = checkpoint_id.rpartition("/")
    if not session:
        return checkpoint_id
    return f"{session if len(session) <= 6 else session[-4:]}/{number}"


def checkpoint_ref(session: str, number: int) -> str:
    return f"{REF_PREFIX}{session}/{number}"


REF_PREFIX = "refs/nanotui/checkpoints/"


@dataclass(frozen=True)
class FileDiff:
    """How one file differs between two states: A(dded), D(eleted), M(odified), T(ype changed)."""

    path: str
    status: str
    added: int = 0
    removed: int = 0
    binary: bool = False


@dataclass
class RestoreResult:
    """What a restore did; every list holds paths relative to the checkpoint root."""

    safety_checkpoint: Checkpoint | None
    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    left_in_place: list[str] = field(default_factory=list)
    """Files absent from the checkpoint that nanotui did not create: the caller decides."""
    not_restored: list[SkippedFile] = field(default_factory=list)
    """Files a restore would have overwritten without a safety copy, so left alone."""


@dataclass(frozen=True)
class RawChange:
    """One path that differs between trees `old` and `new` (modes and blobs of each side)."""

    path: str
    status: str
    old_mode: str
    new_mode: str
    old_blob: str
    new_blob: str


@dataclass
class RestorePlan:
    """What restoring a checkpoint over the current state would do."""

    writes: list[RawChange] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)
    left_in_place: list[str] = field(default_factory=list)
    not_restored: list[SkippedFile] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.writes or self.removals)


# ---- as JSON: a session on a server sends these values to the app that shows them ------


def to_json(value: Checkpoint | FileDiff | RestorePlan | RestoreResult) -> dict[str, Any]:
    """The value as plain JSON (times as ISO text; a checkpoint's server folder left out)."""
    data = dataclasses.asdict(value)

    def clean(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: clean(v) for k, v in item.items() if k != "worktree"}
        if isinstance(item, list | tuple):
            return [clean(v) for v in item]
        if isinstance(item, datetime):
            return item.isoformat()
        return item

    return clean(data)


def checkpoint_from_json(data: dict[str, Any]) -> Checkpoint:
    fields = dict(data)
    fields["created"] = datetime.fromisoformat(fields["created"])
    fields["skipped"] = tuple(SkippedFile(**s) for s in fields.get("skipped") or ())
    return Checkpoint(**fields)


def restore_plan_from_json(data: dict[str, Any]) -> RestorePlan:
    return RestorePlan(
        writes=[RawChange(**change) for change in data["writes"]],
        removals=list(data["removals"]),
        left_in_place=list(data["left_in_place"]),
        not_restored=[SkippedFile(**s) for s in data["not_restored"]],
    )


def restore_result_from_json(data: dict[str, Any]) -> RestoreResult:
    safety = data.get("safety_checkpoint")
    return RestoreResult(
        safety_checkpoint=checkpoint_from_json(safety) if safety else None,
        restored=list(data["restored"]),
        removed=list(data["removed"]),
        left_in_place=list(data["left_in_place"]),
        not_restored=[SkippedFile(**s) for s in data["not_restored"]],
    )
