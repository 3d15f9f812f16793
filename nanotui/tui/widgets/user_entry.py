"""What the user asked, as it appears in the conversation."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class UserEntry(Static):
    """One prompt the user sent; shown literally (no markup)."""

    def __init__(self, text: str) -> None:
        super().__init__(Content(text))
        self.text = text
