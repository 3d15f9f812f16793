"""What a front end may ask of the session logs on disk: which there are, and whether one
is intact (its hash chain, held to the anchor the ledger keeps for it)."""

from __future__ import annotations

from pathlib import Path

from nanotui.governance import audit, log_verify
from nanotui.protocol.log_verdict import Verdict


def session_logs() -> list[Path]:
    """Every session's log, newest first."""
    return audit.list_sessions()


def session_ids() -> list[str]:
    """Every session's id, newest first."""
    return [path.stem for path in audit.list_sessions()]


def verify_session_log(path: Path) -> Verdict:
    """What `nanotui audit verify` says of the log at `path` (raises OSError, ValueError
    when it cannot be read)."""
    return log_verify.verify_anchored(path)
