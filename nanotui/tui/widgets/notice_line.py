"""A one-line (or short) notice in the conversation: info, warning or error."""

from __future__ import annotations

from typing import Literal

from textual.content import Content
from textual.widgets import Static

NoticeLevel = Literal["info", "warning", "error"]


class NoticeLine(Static):
    """A readable sentence from nanotui itself, coloured by its level."""

    def __init__(self, text: str, level: NoticeLevel = "info") -> None:
        super().__init__(Content(text), classes=f"-{level}")
        self.text = text
        self.level = level
