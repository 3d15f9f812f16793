"""Approval requests: an event carrying a future that a front end resolves.

The engine emits `ApprovalRequested` and awaits its future. The TUI resolves it when a key is
pressed; the headless runner resolves it at once with a refusal, because a mode that needs a
person cannot get one there.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib

from nanotui.protocol.approval_answer import ApprovalAnswer
from nanotui.protocol.events import ApprovalRequested


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def attach_future(event: ApprovalRequested) -> asyncio.Future[ApprovalAnswer]:
    future: asyncio.Future[ApprovalAnswer] = asyncio.get_running_loop().create_future()
    event._future = future
    return future


def resolve(event: ApprovalRequested, answer: ApprovalAnswer) -> bool:
    """Answer a request; returns False if it was already answered or abandoned."""
    future = event.future
    if future is None or future.done():
        return False
    future.set_result(answer)
    return True


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers; the log still records the answer
        return ""
