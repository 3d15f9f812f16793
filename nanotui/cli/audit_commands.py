"""`nanotui audit list | show | verify | replay`: reading session logs back."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from nanotui.cli.headless import print_readable
from nanotui.governance.audit import list_sessions, read_records, session_path
from nanotui.governance.log_anchor import Anchor, anchors_since, read_anchors
from nanotui.governance.log_verify import verify_against_anchor
from nanotui.protocol.basics import plural
from nanotui.protocol.event_summary import SKIPPED_TYPES, describe_line
from nanotui.protocol.events import parse_event
from nanotui.protocol.replay_pace import replay_wait

SHOW_CHARS = 110
"""`audit show` cuts each summary here, to keep one event on one line."""


def list_logs(out: TextIO, *, as_json: bool = False) -> int:
    """`nanotui audit list`: the session logs, and the sessions whose log is gone although
    the ledger anchored it (marked missing), newest first."""
    from nanotui.engine.past_sessions import summarize

    rows: list[dict[str, Any]] = [
        {
            "session": summary.session,
            "workspace": summary.workspace,
            "model": summary.label,
            "prompt": summary.first_prompt,
            "missing": False,
        }
        for summary in map(summarize, list_sessions())
    ]
    gone = {anchor.session: anchor for anchor in missing_sessions()}
    rows += [
        {"session": name, "workspace": "", "model": "", "prompt": "", "missing": True}
        for name in gone
    ]
    rows.sort(key=lambda row: row["session"], reverse=True)
    if as_json:
        print(json.dumps(rows), file=out)
        return 0
    if not rows:
        print("No sessions yet.", file=out)
    for row in rows:
        if row["missing"]:
            print(f"{row['session']}  {missing_sentence(gone[row['session']])}", file=out)
            continue
        prompt = row["prompt"].replace("\n", " ")
        print(
            f"{row['session']}  {row['model']:<28.28}  {row['workspace']}  {prompt[:50]}",
            file=out,
        )
    return 0


def show(path: Path, out: TextIO) -> int:
    """A readable timeline: one line per event (streamed text left out: the reply holds it)."""
    for number, record in enumerate(read_records(path), start=1):
        kind = str(record.get("type", "?"))
        if kind in SKIPPED_TYPES:
            continue
        _, summary = describe_line(kind, record.get("payload"), SHOW_CHARS)
        seq, ts = record.get("seq", f"#{number}"), str(record.get("ts", ""))
        print(f"{seq:>5}  {ts[11:19]:<8}  {kind:<20} {summary}", file=out)
    return 0


def verify_target(target: str | None, out: TextIO) -> int:
    """`nanotui audit verify [SESSION|PATH]`: every log (and every anchored session whose log
    is gone) when `target` is None, else the one it names."""
    from nanotui.engine.past_sessions import SessionNotFound, find_session

    anchors = read_anchors()
    if target is None:
        return verify(list_sessions(), out, missing=missing_sessions(anchors), anchors=anchors)
    if Path(target).is_file():
        return verify([Path(target)], out, anchors=anchors)
    try:
        return verify([find_session(target)], out, anchors=anchors)
    except SessionNotFound:
        gone = [a for a in missing_sessions(anchors) if a.session.startswith(target)]
        if len(gone) != 1:
            raise
        return verify([], out, missing=gone, anchors=anchors)


def verify(
    paths: list[Path],
    out: TextIO,
    *,
    missing: list[Anchor] | None = None,
    anchors: dict[str, Anchor] | None = None,
) -> int:
    """One line per log: OK, or the first bad line, each log held to its anchor in the
    ledger; one line per `missing` log. 1 when any fails."""
    anchors = read_anchors() if anchors is None else anchors
    missing = missing or []
    if not paths and not missing:
        print("No session logs yet.", file=out)
        return 0
    since = anchors_since()
    failed = len(missing)
    for path in paths:
        verdict = verify_against_anchor(path, anchors.get(path.stem), since)
        failed += not verdict.ok
        print(f"{path.stem}: {verdict.sentence()}", file=out)
    for anchor in missing:
        print(f"{anchor.session}: {missing_sentence(anchor)}", file=out)
    return 1 if failed else 0


def missing_sentence(anchor: Anchor) -> str:
    return (
        f"MISSING: the ledger anchored {plural(anchor.lines, 'line')} for this session, "
        "but its log is gone."
    )


def missing_sessions(anchors: dict[str, Anchor] | None = None) -> list[Anchor]:
    """Anchored sessions whose log is gone (and was not pruned by retention), newest first."""
    anchors = read_anchors() if anchors is None else anchors
    gone = [a for a in anchors.values() if not a.pruned and not session_path(a.session).exists()]
    return sorted(gone, key=lambda a: a.session, reverse=True)


def replay(path: Path, *, speed: float, as_json: bool, out: TextIO, err: TextIO) -> int:
    """Print a logged session's events again, in order, at `speed` times the original pace."""
    previous: datetime | None = None
    at_line_start = True
    for record in read_records(path):
        try:
            event = parse_event({"type": record["type"], **record["payload"]})
        except (KeyError, TypeError, ValueError):
            continue  # the header, and records this version cannot read
        when = _timestamp(record)
        if wait := replay_wait(previous, when, speed):
            time.sleep(wait)
        previous = when or previous
        if as_json:
            out.write(event.to_json_line() + "\n")
            out.flush()
        else:
            at_line_start = print_readable(event, out, err, at_line_start)
    if not at_line_start:
        out.write("\n")
    return 0


def _timestamp(record: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(record["ts"]))
    except (KeyError, ValueError):
        return None
