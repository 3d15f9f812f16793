"""A session log checked as `nanotui audit verify` and the app's integrity badge check it:
its hash chain, held to the anchor the ledger keeps outside the log (`log_anchor`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from nanotui.governance.audit import read_records
from nanotui.governance.audit_chain import verify_log
from nanotui.governance.log_anchor import Anchor, anchors_since, read_anchors
from nanotui.protocol.log_verdict import Verdict


def verify_anchored(path: Path) -> Verdict:
    """The log at `path` checked against its own session's anchor, read from the ledger."""
    return verify_against_anchor(path, read_anchors().get(path.stem), anchors_since())


def verify_against_anchor(path: Path, anchor: Anchor | None, since: float | None) -> Verdict:
    """The log's chain checked, and held to `anchor`; a log with no anchor that began after
    the ledger started keeping them was not written by nanotui here."""
    verdict = verify_log(path, (anchor.lines, anchor.head) if anchor else None)
    if not verdict.ok or anchor is not None or since is None:
        return verdict
    started = _started_at(path)
    if started is not None and started < since:
        return verdict  # older than anchoring: the chain is all there is
    return Verdict(
        ok=False,
        lines=verdict.lines,
        bad_line=1,
        problem="starts a session the ledger never anchored, though anchoring had begun: "
        "the log was made, renamed or rewritten outside nanotui",
    )


def _started_at(path: Path) -> float | None:
    """When the log's header was written (a Unix time), or None if it cannot be read."""
    for record in read_records(path):
        try:
            return datetime.fromisoformat(str(record["ts"])).timestamp()
        except (KeyError, ValueError):
            return None
    return None
