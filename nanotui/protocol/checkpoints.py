"""The values the checkpoint engine hands out: checkpoints, file diffs, restore results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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
