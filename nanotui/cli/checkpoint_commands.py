"""`nanotui checkpoints list | show | restore`: browsing and restoring checkpoints by hand."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any, TextIO

from nanotui.cli.asking import ask_yes
from nanotui.protocol.basics import plural
from nanotui.protocol.checkpoints import Checkpoint, CheckpointError, RestorePlan
from nanotui.vcs.checkpoints import Checkpoints

MAX_LISTED = 20
"""Paths printed per group before "and N more"."""


def cmd_checkpoints_list(args: argparse.Namespace) -> int:
    """One line per checkpoint of this work tree (all sessions), oldest first; or JSON."""
    return _guarded(_list, args)


def cmd_checkpoints_show(args: argparse.Namespace) -> int:
    """A checkpoint's details and how the work tree differs from it (the patch with --patch)."""
    return _guarded(_show, args)


def cmd_checkpoints_restore(args: argparse.Namespace) -> int:
    """Restore a checkpoint, or --file paths of it, after showing what changes and asking."""
    return _guarded(_restore, args)


# ---- the commands ----------------------------------------------------------------------


def _list(args: argparse.Namespace, out: TextIO) -> int:
    with open_checkpoints(args) as checkpoints:
        found = checkpoints.list()
        stats = checkpoints.change_stats(found)
    if getattr(args, "json", False):
        print(json.dumps([_as_json(c, stats[c.id]) for c in found]), file=out)
        return 0
    if not found:
        print("No checkpoints in this work tree yet.", file=out)
        return 0
    print(
        f"{'ID':<12} {'TIME':<16} {'KIND':<7} {'TURN':>4} {'FILES':>5} {'+/-':<13} LABEL", file=out
    )
    for checkpoint in found:
        files, added, removed = stats[checkpoint.id]
        turn = "" if checkpoint.turn is None else str(checkpoint.turn)
        print(
            f"{checkpoint.short_id:<12} {_local_time(checkpoint):<16} {checkpoint.kind:<7} "
            f"{turn:>4} {files:>5} {f'+{added} -{removed}':<13} {checkpoint.label[:60]}",
            file=out,
        )
    return 0


def _show(args: argparse.Namespace, out: TextIO) -> int:
    with open_checkpoints(args) as checkpoints:
        checkpoint = checkpoints.get(args.id)
        diffs = checkpoints.diff(checkpoint)
        text = checkpoints.patch(checkpoint) if getattr(args, "patch", False) else ""
    print(f"Checkpoint {checkpoint.id} ({checkpoint.short_id}), {checkpoint.kind}", file=out)
    print(f"  taken     {_local_time(checkpoint)}", file=out)
    if checkpoint.turn is not None:
        print(f"  turn      {checkpoint.turn}", file=out)
    if checkpoint.label:
        print(f"  label     {checkpoint.label}", file=out)
    print(f"  commit    {checkpoint.commit}", file=out)
    for skipped in checkpoint.skipped:
        print(f"  left out  {skipped.path} ({skipped.reason})", file=out)
    if not diffs:
        print("The work tree matches this checkpoint.", file=out)
    else:
        print(f"Changed in the work tree since then ({plural(len(diffs), 'file')}):", file=out)
        for diff in diffs:
            counts = "binary" if diff.binary else f"+{diff.added} -{diff.removed}"
            print(f"  {diff.status}  {counts:<12} {diff.path}", file=out)
    if text:
        print(file=out)
        out.write(text)
    return 0


def _restore(args: argparse.Namespace, out: TextIO) -> int:
    files = _absolute(getattr(args, "file", None))
    with open_checkpoints(args) as checkpoints:
        checkpoint = checkpoints.get(args.id)
        plan = checkpoints.preview_restore(checkpoint, files)
        if plan.empty and not plan.left_in_place:
            print(
                f"Nothing to restore: the work tree already matches {checkpoint.short_id}.",
                file=out,
            )
            return 0
        _describe(plan, checkpoint, out)
        decision = _decide(args, plan)
        if decision is None:
            print("Nothing was changed.", file=out)
            return 1
        deletable = [checkpoints.root / path for path in decision]
        result = checkpoints.restore(checkpoint, files, created_by_agent=deletable)
    undo = result.safety_checkpoint.short_id if result.safety_checkpoint else "?"
    print(
        f"Restored {plural(len(result.restored), 'file')} and removed {len(result.removed)} from "
        f"{checkpoint.short_id}; `{restore_command(undo, _workspace(args))}` undoes this.",
        file=out,
    )
    _print_paths(
        "Left in place (not in the checkpoint; --delete-new removes them)",
        result.left_in_place,
        out,
    )
    _print_paths(
        "Not restored",
        [f"{s.path}: {s.reason}" for s in result.not_restored],
        out,
    )
    return 0


# ---- restore's questions -------------------------------------------------------------


def _describe(plan: RestorePlan, checkpoint: Checkpoint, out: TextIO) -> None:
    print(
        f"Restoring {checkpoint.short_id} ({checkpoint.label or checkpoint.kind}) would:", file=out
    )
    _print_paths("  write", [c.path for c in plan.writes], out)
    _print_paths("  leave or delete (did not exist at the checkpoint)", plan.left_in_place, out)
    _print_paths("  not touch", [f"{s.path}: {s.reason}" for s in plan.not_restored], out)


def _decide(args: argparse.Namespace, plan: RestorePlan) -> list[str] | None:
    """The files the user agreed to delete; None when the restore should not happen."""
    delete_new = bool(getattr(args, "delete_new", False))
    if getattr(args, "yes", False):
        return plan.left_in_place if delete_new else []
    if not sys.stdin.isatty():
        raise CheckpointError(
            "Restoring changes files, so it needs a yes: run it in a terminal or pass --yes."
        )
    if not ask_yes("Restore? A checkpoint of the current state is taken first. [y/N] "):
        return None
    if plan.left_in_place and (
        delete_new
        or ask_yes(
            f"Also delete the {plural(len(plan.left_in_place), 'file')} that did not exist "
            "then? [y/N] "
        )
    ):
        return plan.left_in_place
    return []


# ---- helpers -------------------------------------------------------------------------


def restore_command(checkpoint_id: str, workspace: Path, cwd: Path | None = None) -> str:
    """The restore command for `checkpoint_id`, as it works typed in `cwd` (default: here).

    Checkpoints are found through the work tree, so outside `workspace` (the demo's copy, a
    --workspace elsewhere) the command names it, quoted for the shell.
    """
    command = f"nanotui checkpoints restore {shlex.quote(checkpoint_id)}"
    here = (cwd or Path.cwd()).resolve()
    if Path(workspace).resolve() != here:
        command += f" --workspace {shlex.quote(str(workspace))}"
    return command


def open_checkpoints(args: argparse.Namespace) -> Checkpoints:
    """Checkpoints of --workspace (default: here), with `args.checkpoint_settings` if given.

    The settings, when the caller sets them, are the `[checkpoints]` config section.
    """
    settings = getattr(args, "checkpoint_settings", None)
    options = settings.engine_options if settings is not None else {}
    return Checkpoints(_workspace(args), **options)


def _workspace(args: argparse.Namespace) -> Path:
    """--workspace, or the current folder."""
    return Path(getattr(args, "workspace", None) or Path.cwd()).expanduser()


def _guarded(command, args: argparse.Namespace) -> int:
    try:
        return command(args, sys.stdout)
    except CheckpointError as exc:
        print(f"nanotui: {exc}", file=sys.stderr)
        return 1


def _absolute(files: list[str] | None) -> list[Path] | None:
    """--file paths as typed, relative to the current folder."""
    return None if not files else [Path.cwd() / Path(f).expanduser() for f in files]


def _as_json(checkpoint: Checkpoint, stats: tuple[int, int, int]) -> dict[str, Any]:
    files, added, removed = stats
    return {
        "id": checkpoint.id,
        "short_id": checkpoint.short_id,
        "session": checkpoint.session,
        "number": checkpoint.number,
        "time": checkpoint.created.isoformat(),
        "kind": checkpoint.kind,
        "turn": checkpoint.turn,
        "label": checkpoint.label,
        "files_changed": files,
        "added": added,
        "removed": removed,
        "commit": checkpoint.commit,
        "skipped": [vars(s) for s in checkpoint.skipped],
    }


def _local_time(checkpoint: Checkpoint) -> str:
    return checkpoint.created.astimezone().strftime("%Y-%m-%d %H:%M")


def _print_paths(title: str, paths: list[str], out: TextIO) -> None:
    if not paths:
        return
    print(f"{title}:", file=out)
    for path in paths[:MAX_LISTED]:
        print(f"    {path}", file=out)
    if len(paths) > MAX_LISTED:
        print(f"    and {len(paths) - MAX_LISTED} more", file=out)
