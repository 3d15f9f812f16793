"""The checkpoint browser of a session on a server: the same values as a local browser's,
asked for over HTTP. The browser screen calls every method on a thread, so these block."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from nanotui.client.service_api import call_sync
from nanotui.protocol.basics import UserFacingError
from nanotui.protocol.checkpoint_views import CheckpointEntry, Comparison
from nanotui.protocol.checkpoints import (
    Checkpoint,
    CheckpointError,
    FileDiff,
    RestorePlan,
    RestoreResult,
    checkpoint_from_json,
    restore_plan_from_json,
    restore_result_from_json,
)
from nanotui.protocol.events import CheckpointCreated, EventBase


class RemoteCheckpoints:
    """One session's checkpoints on the server (a `CheckpointBrowser`)."""

    def __init__(self, client: httpx.Client, session_id: str, workspace: Path) -> None:
        self._client = client
        self._base = f"/v1/sessions/{session_id}"
        self.workspace = workspace
        """The project's name as a path: what the browser's title shows."""

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return call_sync(self._client, method, self._base + path, **kwargs)
        except UserFacingError as exc:  # what the browser shows as a failed step
            raise CheckpointError(str(exc)) from exc

    def entries(self) -> list[CheckpointEntry]:
        rows = self._call("GET", "/checkpoints")
        return [
            CheckpointEntry(
                checkpoint_from_json(row["checkpoint"]), row["files"], row["added"], row["removed"]
            )
            for row in rows
        ]

    def _sides(self, old: Checkpoint, new: Checkpoint | None) -> dict[str, str]:
        return {"old": old.id, **({"new": new.id} if new is not None else {})}

    def compare(self, old: Checkpoint, new: Checkpoint | None = None) -> Comparison:
        files = self._call("GET", "/checkpoints/compare", params=self._sides(old, new))
        return Comparison(old, new, [FileDiff(**diff) for diff in files])

    def file_patch(self, comparison: Comparison, path: str) -> str:
        params = {**self._sides(comparison.old, comparison.new), "path": path}
        try:
            answer = self._client.get(self._base + "/checkpoints/patch", params=params)
        except httpx.TransportError as exc:
            raise CheckpointError(f"The service did not answer: {exc}.") from exc
        if answer.status_code >= 400:
            return self._call("GET", "/checkpoints/patch", params=params)  # its sentence
        return answer.text

    def take(self, label: str = "taken by hand") -> tuple[Checkpoint, CheckpointCreated]:
        checkpoint = checkpoint_from_json(self._call("POST", "/checkpoints", json={"label": label}))
        return checkpoint, CheckpointCreated(
            checkpoint=checkpoint.id, short_id=checkpoint.short_id, reason=label, kind="manual"
        )

    def preview(self, target: Checkpoint, files: Sequence[str] | None) -> RestorePlan:
        body = {"checkpoint": target.id, "files": list(files) if files is not None else None}
        return restore_plan_from_json(self._call("POST", "/restore/preview", json=body))

    def restore(
        self, target: Checkpoint, files: Sequence[str] | None, delete_also: Sequence[str] = ()
    ) -> tuple[RestoreResult, list[EventBase]]:
        """Restore on the server. The events it logged come on the session's event stream
        (to every client following it), so none is returned to be logged again here."""
        body = {
            "checkpoint": target.id,
            "files": list(files) if files is not None else None,
            "delete_also": list(delete_also),
        }
        return restore_result_from_json(self._call("POST", "/restore", json=body)), []

    def close(self) -> None:
        """Nothing to close: the session's client stays open for the session."""
