"""The timeline's integrity badge: what `nanotui audit verify` says about the log shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import work
from textual.message import Message
from textual.widgets import Static

from nanotui.protocol.basics import plural
from nanotui.protocol.log_verdict import Verdict

STATES = ("-pending", "-ok", "-broken")
Verifier = Callable[[Path], Verdict]


class IntegrityBadge(Static):
    """ "not verified yet", "verifying…", "✓ verified", or "✗ broken at line N".

    `verify(path)` follows the log's hash chain on a thread (100,000 lines take about half
    a second), so the screen goes on meanwhile.
    """

    class Checked(Message):
        """What verifying found: a verdict, or why the log could not be read."""

        def __init__(self, verdict: Verdict | None, error: str = "") -> None:
            super().__init__()
            self.verdict = verdict
            self.error = error

    def __init__(self, verify: Verifier, *, id: str | None = None) -> None:
        super().__init__("not verified yet", id=id, markup=False, classes="-pending")
        self.verdict: Verdict | None = None
        self._verify_log = verify
        """The session's `verify_log`: the chain, held to the ledger's anchor where there is one."""

    def _show(self, text: str, state: str, tooltip: str | None = None) -> None:
        self.remove_class(*STATES)
        self.add_class(state)
        self.update(text)
        self.tooltip = tooltip

    def show_unchecked(self, why: str = "not verified yet") -> None:
        self.verdict = None
        self._show(why, "-pending")

    def show_checking(self) -> None:
        self._show("verifying…", "-pending", self.tooltip)

    def show_verdict(self, verdict: Verdict) -> None:
        self.verdict = verdict
        if verdict.ok:
            lines = plural(verdict.lines, "line")
            self._show(f"✓ verified · {lines}", "-ok", verdict.sentence())
        else:
            self._show(f"✗ broken at line {verdict.bad_line}", "-broken", verdict.sentence())

    def show_error(self, text: str) -> None:
        self.verdict = None
        self._show("not verified: the log cannot be read", "-broken", text)

    def verify(self, path: Path) -> None:
        self.show_checking()
        self._verify(path)

    @work(thread=True, exclusive=True, group="integrity", exit_on_error=False)
    def _verify(self, path: Path) -> None:
        try:
            verdict = self._verify_log(path)
        except (OSError, ValueError) as exc:
            self.post_message(self.Checked(None, f"{path} could not be read: {exc}"))
        else:
            self.post_message(self.Checked(verdict))

    def on_integrity_badge_checked(self, message: Checked) -> None:
        if message.verdict is not None:
            self.show_verdict(message.verdict)
        else:
            self.show_error(message.error)
