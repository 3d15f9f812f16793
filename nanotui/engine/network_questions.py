"""Asking whether a running command may reach a name `[sandbox] allowed_domains` lacks.

Three answers allow it: `y` once, `a` for the rest of the session, `p` always for this
project (remembered in the user's config folder, read by the project's next sessions:
`config_remembered_hosts`). Headless, nobody answers: the question is refused at once.
An organisation whose managed file fixes the list (`[managed] ask_unlisted_domains` off)
is never asked past: the proxy refuses such names without a question.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from nanotui.config_remembered_hosts import remember_host
from nanotui.engine.approvals import attach_future, os_user, sha256_text
from nanotui.protocol.events import ApprovalRequested, ApprovalResolved, EventBase, Notice

ANSWERS = "y allows it once, a for this session, p always for this project"


class HostQuestions:
    """The questions of one session, and the names its answers allowed."""

    def __init__(
        self,
        workspace: Path,
        emit: Callable[[EventBase], None],
        answerable: Callable[[], bool],
        sandbox_backend: str,
    ) -> None:
        self.workspace = workspace
        self.emit = emit
        self.answerable = answerable
        """False when nobody can answer now (no turn is running to carry the question)."""
        self.sandbox_backend = sandbox_backend
        self.granted: set[str] = set()
        """Names a command may reach for the rest of the session (`a` or `p`)."""

    async def allow(self, host: str, port: int) -> bool:
        if host in self.granted:
            return True
        if not self.answerable():
            return False
        shown = f"connect to {host}:{port}"
        request = ApprovalRequested(
            call_id=f"network-{uuid.uuid4().hex[:8]}",
            tool="network",
            kind="command",
            summary=f"A command wants to reach {host}, which [sandbox] allowed_domains lacks",
            reasons=[f"ask: {host} is not listed; {ANSWERS}"],
            command=shown,
            commands=[shown],
            sandbox=self.sandbox_backend,
            shown_sha256=sha256_text(shown),
        )
        future = attach_future(request)
        self.emit(request)
        answer = None
        try:
            answer = await future
        finally:
            self.emit(
                ApprovalResolved(
                    call_id=request.call_id,
                    decision=answer.decision if answer else "interrupted",
                    reason=answer.reason if answer else "",
                    by=answer.by if answer else "user",
                    shown_sha256=request.shown_sha256,
                    os_user=os_user(),
                )
            )
        if answer.decision in ("always", "project"):
            self.granted.add(host)
        if answer.decision == "project":
            self._remember(host)
        return answer.decision in ("approve", "always", "project")

    def _remember(self, host: str) -> None:
        try:
            where = remember_host(self.workspace, host)
        except OSError as exc:
            self.emit(
                Notice(
                    level="warning",
                    text=f"Could not remember {host} for this project ({exc.strerror or exc}); "
                    "it is allowed for this session only. Check that the config folder is "
                    "writable.",
                )
            )
            return
        self.emit(
            Notice(
                text=f"{host} is allowed for this project from now on (kept in {where}); "
                "remove it there to be asked again."
            )
        )
