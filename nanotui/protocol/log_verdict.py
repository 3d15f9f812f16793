"""What checking a session log's hash chain found, as every front end reports it."""

from __future__ import annotations

from dataclasses import dataclass

from nanotui.protocol.basics import plural


@dataclass(frozen=True)
class Verdict:
    """What `verify_log` found. `bad_line` is 1-based, as an editor shows it."""

    ok: bool
    lines: int
    problem: str | None = None
    bad_line: int | None = None
    torn_tail: bool = False
    closed: bool = False
    anchored: bool = True
    """Whether the log was checked against an anchor kept outside it (see `log_anchor.py`)."""

    def sentence(self) -> str:
        if not self.ok:
            return f"TAMPERED: line {self.bad_line} {self.problem}."
        notes = []
        if self.torn_tail:
            notes.append("the last line was cut short by a crash (not tampering)")
        if not self.closed:
            notes.append("the session did not close cleanly (a crash, or lines cut at the end)")
        if not self.anchored:
            notes.append("the ledger holds no anchor for it (it predates them)")
        extra = f"; {'; '.join(notes)}" if notes else ""
        return f"OK: {plural(self.lines, 'line')}, each linked to the one before{extra}."
