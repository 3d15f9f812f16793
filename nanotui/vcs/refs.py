"""Checkpoint commits and their refs: metadata in the message, listing, ids, retention."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from nanotui.protocol.checkpoints import (
    REF_PREFIX,
    Checkpoint,
    CheckpointError,
    SkippedFile,
    checkpoint_ref,
)
from nanotui.vcs.gitrunner import GitRunner

METADATA_KEY = "nanotui-checkpoint: "
MAX_SKIPPED_RECORDED = 1000
ZERO_OID = "0" * 40
FIELD, RECORD = "\x1f", "\x1e"
LIST_FORMAT = "%(refname)%1f%(objectname)%1f%(tree)%1f%(contents)%1e"


def session_component(session: str) -> str:
    """`session` made safe as one ref component."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", session).strip(".-") or "session"
    return cleaned.replace("..", "-")


def commit_message(label: str, metadata: dict) -> str:
    """A one-line title from the label, then the metadata as a JSON trailer."""
    title = " ".join(label.split())[:72] or "checkpoint"
    return f"{title}\n\n{METADATA_KEY}{json.dumps(metadata, ensure_ascii=True)}\n"


def create(runner: GitRunner, session: str, commit: str, after: int | None = None) -> int:
    """Point the session's next checkpoint ref at `commit`; its number.

    `after` is the number this process gave the session last: the next one is tried first,
    without listing the session's refs, and they are listed only if another process took it.
    """
    if after is not None:
        try:
            runner.run("update-ref", checkpoint_ref(session, after + 1), commit, ZERO_OID)
            return after + 1
        except CheckpointError:
            pass
    number = next_number(runner, session)
    for _ in range(5):
        try:
            runner.run("update-ref", checkpoint_ref(session, number), commit, ZERO_OID)
            return number
        except CheckpointError:
            number += 1  # another process took that number a moment ago
    raise CheckpointError(f"Could not record a checkpoint for session {session}; try again.")


def next_number(runner: GitRunner, session: str) -> int:
    out = runner.text("for-each-ref", "--format=%(refname)", f"{REF_PREFIX}{session}/")
    numbers = [
        int(ref.rsplit("/", 1)[1]) for ref in out.splitlines() if ref.rsplit("/", 1)[1].isdigit()
    ]
    return max(numbers, default=0) + 1


def list_checkpoints(runner: GitRunner, session: str | None = None) -> list[Checkpoint]:
    """Every checkpoint (of one session if given), oldest first."""
    prefix = f"{REF_PREFIX}{session}/" if session else REF_PREFIX
    out = runner.run("for-each-ref", f"--format={LIST_FORMAT}", prefix).decode(
        "utf-8", errors="replace"
    )
    found = [parse(record) for record in out.split(RECORD) if record.strip()]
    checkpoints = [c for c in found if c is not None]
    return sorted(checkpoints, key=lambda c: (c.created, c.session, c.number))


def parse(record: str) -> Checkpoint | None:
    """A checkpoint from one for-each-ref record; None for refs nanotui did not write."""
    try:
        refname, commit, tree, message = record.strip("\n").split(FIELD, 3)
        session, number = refname.removeprefix(REF_PREFIX).rsplit("/", 1)
        meta = _metadata(message)
        return Checkpoint(
            session=session,
            number=int(number),
            commit=commit,
            tree=tree,
            created=datetime.fromisoformat(meta["time"]),
            label=str(meta.get("label", "")),
            kind=str(meta.get("kind", "turn")),
            turn=meta.get("turn"),
            base=meta.get("base"),
            index_commit=meta.get("index_commit"),
            worktree=str(meta.get("worktree", "")),
            skipped=tuple(SkippedFile(**item) for item in meta.get("skipped", [])),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _metadata(message: str) -> dict:
    for line in reversed(message.splitlines()):
        if line.startswith(METADATA_KEY):
            return json.loads(line[len(METADATA_KEY) :])
    raise ValueError("no checkpoint metadata")


def resolve(checkpoints: Sequence[Checkpoint], wanted: str) -> Checkpoint:
    """The one checkpoint `wanted` names: id, short id, a unique prefix of either, or a commit."""
    wanted = wanted.strip()
    for exact in (lambda c: c.id == wanted, lambda c: c.short_id == wanted):
        matches = [c for c in checkpoints if exact(c)]
        if len(matches) == 1:
            return matches[0]
    matches = [c for c in checkpoints if c.id.startswith(wanted) or c.short_id.startswith(wanted)]
    if not matches and len(wanted) >= 4 and re.fullmatch(r"[0-9a-f]+", wanted):
        matches = [c for c in checkpoints if c.commit.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CheckpointError(
            f"No checkpoint matches {wanted!r}; `nanotui checkpoints list` shows them."
        )
    names = ", ".join(c.short_id for c in matches[:5])
    raise CheckpointError(
        f"{wanted!r} matches more than one checkpoint ({names}); give more of the id."
    )


def expired(
    checkpoints: Iterable[Checkpoint],
    *,
    keep_last: int,
    max_age_days: float,
    now: datetime | None = None,
) -> list[Checkpoint]:
    """Checkpoints retention drops: beyond the last `keep_last` of a session, or too old."""
    now = now or datetime.now(UTC)
    by_session: dict[str, list[Checkpoint]] = {}
    for checkpoint in checkpoints:
        by_session.setdefault(checkpoint.session, []).append(checkpoint)
    doomed = []
    for items in by_session.values():
        items.sort(key=lambda c: c.number)
        overflow = items[: max(0, len(items) - keep_last)] if keep_last > 0 else []
        too_old = [
            c for c in items if max_age_days > 0 and now - c.created > timedelta(days=max_age_days)
        ]
        doomed.extend(dict.fromkeys([*overflow, *too_old]))
    return doomed


def delete(runner: GitRunner, checkpoints: Sequence[Checkpoint]) -> None:
    """Delete the checkpoints' refs in one transaction (each only if it still points there)."""
    if checkpoints:
        lines = "".join(f"delete {c.ref} {c.commit}\n" for c in checkpoints)
        runner.run("update-ref", "--stdin", stdin=lines.encode())
