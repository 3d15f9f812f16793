"""What a person (or the headless runner, or a rule) answered to an approval request.

Plain data, so an answer given in the app reaches a session on a server unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ApprovalAnswer(BaseModel):
    """What the person (or the headless runner) answered."""

    decision: Literal["approve", "reject", "always", "project"]
    """`always`: approve, and the like for the rest of the session; `project`: approve a
    network name for good in this project (only a network question offers it)."""
    reason: str = ""
    """For a rejection: told to the model so it can do better."""
    hunks: list[int] | None = None
    """For a write: the hunks to apply (0-based); None applies all of them."""
    by: Literal["user", "headless", "rule", "editor"] = "user"
    """"editor": an editor driving the session over ACP gave no usable answer (an error, a
    cancelled request, an option that was not offered), so the action is refused."""
    edited_text: str | None = Field(default=None)
    """For a write edited in $EDITOR: the text to write instead of the proposal."""
