"""Opening a proposed change in the user's own editor ($VISUAL, then $EDITOR)."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from textual.app import App, SuspendNotSupported

from nanotui.protocol.diff_parse import PatchError
from nanotui.protocol.events import ApprovalRequested
from nanotui.tui.approval_checks import proposed_text


@dataclass
class EditOutcome:
    text: str | None = None
    """What the user saved; None when they saved nothing new."""
    error: str = ""


async def edit_in_editor(
    app: App[object], request: ApprovalRequested, workspace: Path, hunks: list[int] | None = None
) -> EditOutcome:
    """Open the file as the chosen `hunks` of the change would leave it; return what was saved."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        return EditOutcome(error="Set $EDITOR (or $VISUAL) to edit a change before applying it.")
    try:
        proposal = proposed_text(request, workspace, hunks)
    except (PatchError, OSError, UnicodeDecodeError) as exc:
        return EditOutcome(error=f"Cannot rebuild the proposed file for editing: {exc}.")
    suffix = Path(request.path or "change.txt").suffix
    with tempfile.TemporaryDirectory(prefix="nanotui-edit-") as folder:
        draft = Path(folder) / f"proposed{suffix}"
        draft.write_text(proposal, encoding="utf-8")
        command = [*shlex.split(editor), str(draft)]
        try:
            try:
                with app.suspend():
                    done = subprocess.run(command, check=False)
            except SuspendNotSupported:
                # No terminal to hand over (tests, some embedded drivers): run it plainly.
                done = await asyncio.to_thread(subprocess.run, command, check=False)
        except OSError as exc:
            return EditOutcome(error=f"Could not start the editor `{editor}`: {exc.strerror}.")
        if done.returncode != 0:
            return EditOutcome(
                error=f"The editor exited with code {done.returncode}; nothing was applied."
            )
        edited = draft.read_text(encoding="utf-8")
    return EditOutcome(text=None if edited == proposal else edited)
